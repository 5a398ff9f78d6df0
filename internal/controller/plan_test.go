package controller_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kguard/kguard/internal/audit"
	"github.com/kguard/kguard/internal/controller"
	"github.com/kguard/kguard/pkg/apis/wgpolicyk8s/v1alpha2"
)

// rep is a report of kguard's name in ns ("" for the ClusterPolicyReport)
// with one result per resource name given, failing.
func rep(ns string, managed bool, fails ...string) v1alpha2.PolicyReport {
	kind := v1alpha2.KindPolicyReport
	if ns == "" {
		kind = v1alpha2.KindClusterPolicyReport
	}
	r := v1alpha2.PolicyReport{TypeMeta: metav1.TypeMeta{APIVersion: v1alpha2.GroupVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Name: audit.ReportName, Namespace: ns, UID: types.UID("uid-" + ns)}}
	if managed {
		r.Labels = map[string]string{controller.ManagedByLabel: controller.ManagedBy}
	}
	for _, name := range fails {
		r.Summary.Fail++
		r.Results = append(r.Results, v1alpha2.PolicyReportResult{Source: audit.ReportSource, Policy: "PodSecurity", Result: v1alpha2.ResultFail,
			Resources: []corev1.ObjectReference{{APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: name}}})
	}
	return r
}

// scopes names the reports' scopes: "a", "(cluster)".
func scopes(rs []v1alpha2.PolicyReport) string {
	var out []string
	for _, r := range rs {
		if r.Namespace == "" {
			out = append(out, "(cluster)")
		} else {
			out = append(out, r.Namespace)
		}
	}
	return fmt.Sprint(out)
}

func TestPlanReports(t *testing.T) {
	tests := []struct {
		name                   string
		wanted, existing       []v1alpha2.PolicyReport
		apply, delete, foreign string
	}{
		{name: "first run: every report is applied", wanted: []v1alpha2.PolicyReport{rep("", false), rep("a", false, "p")},
			apply: "[(cluster) a]", delete: "[]", foreign: "[]"},
		{name: "a report that says the same is not written again", wanted: []v1alpha2.PolicyReport{rep("a", false, "p")},
			existing: []v1alpha2.PolicyReport{rep("a", true, "p")}, apply: "[]", delete: "[]", foreign: "[]"},
		{name: "a changed report is applied", wanted: []v1alpha2.PolicyReport{rep("a", false, "p", "q")},
			existing: []v1alpha2.PolicyReport{rep("a", true, "p")}, apply: "[a]", delete: "[]", foreign: "[]"},
		{name: "kguard's report of a namespace without results is deleted", wanted: []v1alpha2.PolicyReport{rep("a", false, "p")},
			existing: []v1alpha2.PolicyReport{rep("a", true, "p"), rep("b", true, "x"), rep("", true)}, apply: "[]", delete: "[b (cluster)]", foreign: "[]"},
		{name: "a report kguard did not create is neither written nor deleted", wanted: []v1alpha2.PolicyReport{rep("a", false, "p")},
			existing: []v1alpha2.PolicyReport{rep("a", false, "other"), rep("b", false, "x")}, apply: "[]", delete: "[]", foreign: "[a]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := controller.PlanReports(tc.wanted, tc.existing)
			if got := scopes(p.Apply); got != tc.apply {
				t.Errorf("apply %s, want %s", got, tc.apply)
			}
			if got := scopes(p.Delete); got != tc.delete {
				t.Errorf("delete %s, want %s", got, tc.delete)
			}
			if got := fmt.Sprint(p.Foreign); got != tc.foreign {
				t.Errorf("foreign %s, want %s", got, tc.foreign)
			}
			for _, r := range p.Apply {
				if !controller.Managed(&r) {
					t.Errorf("report %s to apply is not labelled %s=%s", r.Namespace, controller.ManagedByLabel, controller.ManagedBy)
				}
			}
		})
	}
	t.Run("the wanted reports are not changed", func(t *testing.T) {
		wanted := []v1alpha2.PolicyReport{rep("a", false, "p")}
		controller.PlanReports(wanted, nil)
		if wanted[0].Labels != nil {
			t.Errorf("PlanReports labelled the caller's report: %v", wanted[0].Labels)
		}
	})
}
