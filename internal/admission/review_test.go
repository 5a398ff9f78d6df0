package admission_test

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/podsecuritypolicy"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
)

// A body that is not an admission.k8s.io/v1 AdmissionReview is refused with an
// error naming what it is, whether or not it decodes as an AdmissionReview.
func TestReviewRefusesOtherBodies(t *testing.T) {
	c := chainFor(t, podsecuritypolicy.PluginName, podsecurity.PluginName)
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
		out, err := c.Review(context.Background(), []byte(tc.body), admission.PhaseBoth)
		if err == nil || !errors.Is(err, admission.ErrReview) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: answer %s, error %v; want an admission.ErrReview containing %q", tc.name, out, err, tc.want)
		}
	}
}

// reviewOf builds an AdmissionReview UPDATE of pod "web" in the restricted
// namespace "shop" through subresource sub, the new pod carrying an
// ephemeral container with the given security context.
func reviewOf(sub, ephemeralSC string) []byte {
	base := `"metadata":{"name":"web","namespace":"shop"},"spec":{"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},` +
		`"containers":[{"name":"app","image":"app","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]`
	old := `{"apiVersion":"v1","kind":"Pod",` + base + `}}`
	obj := `{"apiVersion":"v1","kind":"Pod",` + base + `,"ephemeralContainers":[{"name":"debugger","image":"busybox","securityContext":` + ephemeralSC + `}]}}`
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",` +
		`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"subResource":"` + sub + `",` +
		`"name":"web","namespace":"shop","operation":"UPDATE","userInfo":{"username":"alice"},"object":` + obj + `,"oldObject":` + old + `}}`)
}

// `kubectl debug --profile=sysadmin` adds a privileged ephemeral container
// through pods/ephemeralcontainers: PodSecurity evaluates it as the built-in
// does (it used to be admitted before evaluation); PodSecurityPolicy, as in
// v1.24, ignores subresources; exec and the like carry no pod and pass.
func TestReviewEphemeralContainers(t *testing.T) {
	privileged := `{"privileged":true}`
	restricted := `{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}`
	for _, tc := range []struct {
		name    string
		plugins []string
		sub, sc string
		phase   admission.Phase
		allowed bool
		want    string
	}{
		{"privileged debug container", []string{podsecurity.PluginName}, "ephemeralcontainers", privileged, admission.PhaseValidate, false, "privileged"},
		{"privileged debug container, both plugins", []string{podsecuritypolicy.PluginName, podsecurity.PluginName}, "ephemeralcontainers", privileged, admission.PhaseValidate, false, "privileged"},
		{"restricted debug container", []string{podsecurity.PluginName}, "ephemeralcontainers", restricted, admission.PhaseValidate, true, ""},
		{"an unknown pod subresource is evaluated", []string{podsecurity.PluginName}, "futurething", privileged, admission.PhaseValidate, false, "privileged"},
		{"PodSecurityPolicy ignores subresources", []string{podsecuritypolicy.PluginName}, "ephemeralcontainers", privileged, admission.PhaseMutate, true, ""},
		{"mutating pass of PodSecurity", []string{podsecurity.PluginName}, "ephemeralcontainers", privileged, admission.PhaseMutate, true, ""},
		{"status carries no spec change", []string{podsecurity.PluginName}, "status", privileged, admission.PhaseValidate, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := chainFor(t, tc.plugins...)
			out, err := c.Review(context.Background(), reviewOf(tc.sub, tc.sc), tc.phase)
			if err != nil {
				t.Fatal(err)
			}
			var review admissionv1.AdmissionReview
			if err := json.Unmarshal(out, &review); err != nil {
				t.Fatal(err)
			}
			r := review.Response
			if r.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v: %+v", r.Allowed, tc.allowed, r.Result)
			}
			if !tc.allowed && !strings.Contains(r.Result.Message, tc.want) {
				t.Errorf("message %q does not mention %q", r.Result.Message, tc.want)
			}
			if r.Patch != nil {
				t.Errorf("a subresource update got a patch: %s", r.Patch)
			}
		})
	}
}

// A field of a newer Kubernetes that kguard's types do not know: ignored with
// a warning by default, as upstream webhooks decode; a pod is denied with
// --strict-decoding; Pod Security never denies a pod controller either way.
func TestReviewUnknownFields(t *testing.T) {
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop"},"spec":{"futureField":{"x":1},` +
		`"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},` +
		`"containers":[{"name":"app","image":"app","futureContainerField":true,"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`
	deployment := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop"},"spec":{"futureField":1,` +
		`"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"app","image":"app","securityContext":{"privileged":true}}]}}}}`
	brokenDeployment := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop"},"spec":{"replicas":"three"}}`
	review := func(group, resource, kind, obj string) []byte {
		return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",` +
			`"kind":{"group":"` + group + `","version":"v1","kind":"` + kind + `"},"resource":{"group":"` + group + `","version":"v1","resource":"` + resource + `"},` +
			`"name":"web","namespace":"shop","operation":"CREATE","userInfo":{"username":"alice"},"object":` + obj + `}}`)
	}
	before := admission.UnknownFieldObjects.Load()
	for _, tc := range []struct {
		name       string
		strict     bool
		body       []byte
		allowed    bool
		warning    string
		annotation string
	}{
		{"pod, lenient", false, review("", "pods", "Pod", pod), true, "spec.futureField, spec.containers[0].futureContainerField", ""},
		{"pod, strict", true, review("", "pods", "Pod", pod), false, "", ""},
		{"deployment, lenient", false, review("apps", "deployments", "Deployment", deployment), true, "spec.futureField", ""},
		{"deployment, strict", true, review("apps", "deployments", "Deployment", deployment), true, "", "could not read the pod template"},
		{"unreadable deployment", false, review("apps", "deployments", "Deployment", brokenDeployment), true, "could not read the pod template", "could not read the pod template"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := chainFor(t, podsecurity.PluginName).WithStrictDecoding(tc.strict)
			out, err := c.Review(context.Background(), tc.body, admission.PhaseValidate)
			if err != nil {
				t.Fatal(err)
			}
			var r admissionv1.AdmissionReview
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatal(err)
			}
			if r.Response.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v: %+v", r.Response.Allowed, tc.allowed, r.Response.Result)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(r.Response.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %q do not mention %q", r.Response.Warnings, tc.warning)
			}
			if tc.annotation != "" && !strings.Contains(r.Response.AuditAnnotations[admission.AuditKeyError], tc.annotation) {
				t.Errorf("audit annotations %v do not mention %q", r.Response.AuditAnnotations, tc.annotation)
			}
			if !tc.allowed && !strings.Contains(r.Response.Result.Message, `unknown field "spec.futureField"`) {
				t.Errorf("strict denial does not name the field: %s", r.Response.Result.Message)
			}
		})
	}
	if got := admission.UnknownFieldObjects.Load() - before; got != 2 {
		t.Errorf("UnknownFieldObjects grew by %d, want 2 (the two lenient reviews carrying unknown fields)", got)
	}
}

// With no mutating plugin (PodSecurity alone) the mutating pass answers
// without decoding the pod — half of kguard's CPU per pod under a real
// kube-apiserver (docs/performance.md) — and the validating pass still reads
// and judges it: a pod that does not decode is denied there.
func TestMutatePassWithoutMutators(t *testing.T) {
	unreadable := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",` +
		`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},` +
		`"name":"web","namespace":"shop","operation":"CREATE","userInfo":{"username":"alice"},"object":{"apiVersion":"v1","kind":"Pod","spec":{"containers":"none"}}}}`)
	answer := func(c *admission.Chain, phase admission.Phase) *admissionv1.AdmissionResponse {
		out, err := c.Review(context.Background(), unreadable, phase)
		if err != nil {
			t.Fatal(err)
		}
		var r admissionv1.AdmissionReview
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatal(err)
		}
		return r.Response
	}
	pss := chainFor(t, podsecurity.PluginName)
	if r := answer(pss, admission.PhaseMutate); !r.Allowed || r.Patch != nil {
		t.Errorf("PodSecurity alone, mutating pass: %+v, want allowed without a patch", r)
	}
	if r := answer(pss, admission.PhaseValidate); r.Allowed {
		t.Error("PodSecurity alone, validating pass: an unreadable pod was allowed")
	}
	both := chainFor(t, podsecuritypolicy.PluginName, podsecurity.PluginName)
	if r := answer(both, admission.PhaseMutate); r.Allowed {
		t.Error("with PodSecurityPolicy, mutating pass: an unreadable pod was allowed")
	}
}
