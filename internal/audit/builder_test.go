package audit_test

import (
	"fmt"
	"testing"

	"github.com/kguard/kguard/internal/audit"
	"github.com/kguard/kguard/pkg/apis/wgpolicyk8s/v1alpha2"
)

// TestReportBuilderTrims streams more results than twice the cap, so that the
// builder drops some while adding: the failures added last still come first,
// the summary counts everything, and the count left out is exact.
func TestReportBuilderTrims(t *testing.T) {
	b := audit.NewReportBuilder(3)
	for i := range 50 {
		b.Add(&audit.Result{Object: obj("Pod", "a", fmt.Sprintf("ok%02d", i)), Status: audit.Admitted})
	}
	b.Add(&audit.Result{Object: obj("Pod", "a", "bad"), Status: audit.Denied, Plugin: "PodSecurity", Message: "no"})
	b.Add(&audit.Result{Object: obj("Pod", "a", "web-1"), Status: audit.Owned})
	got := b.Reports()
	if len(got) != 1 {
		t.Fatalf("%d reports, want 1", len(got))
	}
	r := got[0]
	if want := (v1alpha2.Summary{Pass: 50, Fail: 1}); r.Summary != want {
		t.Errorf("summary %+v, want %+v", r.Summary, want)
	}
	if left := r.Annotations[audit.AnnotationLeftOut]; left != "48" {
		t.Errorf("left out %q, want 48", left)
	}
	var names []string
	for _, res := range r.Results {
		names = append(names, res.Resources[0].Name)
	}
	if fmt.Sprint(names) != "[bad ok00 ok01]" {
		t.Errorf("kept %v, want [bad ok00 ok01]", names)
	}
}

func TestTopController(t *testing.T) {
	type entry struct {
		uid string
		ref *audit.ControllerRef
	}
	objects := map[string]entry{
		"ReplicaSet/web-1": {uid: "rs1", ref: &audit.ControllerRef{Kind: "Deployment", Name: "web", UID: "d1"}},
		"Deployment/web":   {uid: "d1"},
		"ReplicaSet/old":   {uid: "rs2", ref: &audit.ControllerRef{Kind: "Deployment", Name: "web", UID: "gone"}},
		"ReplicaSet/loop1": {uid: "l1", ref: &audit.ControllerRef{Kind: "ReplicaSet", Name: "loop2"}},
		"ReplicaSet/loop2": {uid: "l2", ref: &audit.ControllerRef{Kind: "ReplicaSet", Name: "loop1"}},
	}
	find := func(ns, kind, name string) (string, *audit.ControllerRef, bool) {
		e, ok := objects[kind+"/"+name]
		return e.uid, e.ref, ok && ns == "a"
	}
	tests := []struct {
		name string
		ref  *audit.ControllerRef
		want string
	}{
		{name: "a pod of a Deployment's ReplicaSet is reported through the Deployment", ref: &audit.ControllerRef{Kind: "ReplicaSet", Name: "web-1", UID: "rs1"}, want: "Deployment/web"},
		{name: "a controller of another UID stops the walk where it still matches", ref: &audit.ControllerRef{Kind: "ReplicaSet", Name: "old"}, want: "ReplicaSet/old"},
		{name: "a controller that is not there", ref: &audit.ControllerRef{Kind: "Job", Name: "j"}, want: "<nil>"},
		{name: "a UID mismatch on the first step", ref: &audit.ControllerRef{Kind: "ReplicaSet", Name: "web-1", UID: "other"}, want: "<nil>"},
		{name: "a cycle", ref: &audit.ControllerRef{Kind: "ReplicaSet", Name: "loop1"}, want: "<nil>"},
		{name: "no controller", want: "<nil>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := "<nil>"
			if o := audit.TopController("a", tc.ref, find); o != nil {
				got = o.Kind + "/" + o.Name
			}
			if got != tc.want {
				t.Errorf("TopController = %s, want %s", got, tc.want)
			}
		})
	}
}
