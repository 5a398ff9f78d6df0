package admission

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// A body that is not an admission.k8s.io/v1 AdmissionReview is refused with an
// error naming what it is, whether or not it decodes as an AdmissionReview.
func TestReviewRefusesOtherBodies(t *testing.T) {
	c := chainFor(t, PluginPodSecurityPolicy, PluginPodSecurity)
	for _, tc := range []struct{ name, body, want string }{
		{"v1beta1", `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`,
			"admission.k8s.io/v1beta1 AdmissionReview, want admission.k8s.io/v1 AdmissionReview"},
		{"another kind", `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"alice"}}`,
			"authorization.k8s.io/v1 SubjectAccessReview, want admission.k8s.io/v1 AdmissionReview"},
		{"another kind that does not decode as a review", `{"apiVersion":"v1","kind":"Pod","request":"not an object"}`,
			"v1 Pod, want admission.k8s.io/v1 AdmissionReview"},
		{"a review that does not decode", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":"not an object"}`,
			"malformed JSON"},
		{"not JSON", `{"apiVersion":`, "malformed JSON"},
		{"no request", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, "no request"},
	} {
		out, err := c.Review(context.Background(), []byte(tc.body), PhaseBoth)
		if err == nil || !errors.Is(err, ErrReview) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: answer %s, error %v; want an ErrReview containing %q", tc.name, out, err, tc.want)
		}
	}
}
