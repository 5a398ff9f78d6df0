package podsecurity

import (
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/policy"
)

// PodSecurity judges the creation and update of pods, never a CONNECT
// (exec, attach), whose object is not a pod.
func TestHandles(t *testing.T) {
	p, err := newPlugin(admission.Inputs{Policies: &policy.Set{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		op   admissionv1.Operation
		sub  string
		want bool
	}{
		{admissionv1.Create, "", true},
		{admissionv1.Update, "", true},
		{admissionv1.Update, "ephemeralcontainers", true},
		{admissionv1.Connect, "exec", false},
		{admissionv1.Connect, "attach", false},
		{admissionv1.Delete, "", false},
	} {
		if got := p.Handles(tc.op, tc.sub); got != tc.want {
			t.Errorf("Handles(%s, %q) = %v, want %v", tc.op, tc.sub, got, tc.want)
		}
	}
}
