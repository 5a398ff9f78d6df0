package securitycontextdeny

import (
	"context"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/podspec"
)

// The cases of v1.24's scdeny tests, each on a container, on an init
// container where it applies, plus the fields they left out.
func TestValidate(t *testing.T) {
	const (
		runAsUser  = "pod.Spec.SecurityContext.RunAsUser is forbidden"
		seLinux    = "pod.Spec.SecurityContext.SELinuxOptions is forbidden"
		suppGroups = "pod.Spec.SecurityContext.SupplementalGroups is forbidden"
		fsGroup    = "pod.Spec.SecurityContext.FSGroup is forbidden"
		cRunAsUser = "SecurityContext.RunAsUser is forbidden"
		cSELinux   = "SecurityContext.SELinuxOptions is forbidden"
	)
	cases := []struct {
		name string
		spec string // the pod's spec
		want string // the denial's reason; "" allows
	}{
		{"unset", `{containers: [{name: a, image: i}]}`, ""},
		{"empty container securityContext", `{containers: [{name: a, image: i, securityContext: {}}]}`, ""},
		{"empty pod securityContext", `{securityContext: {}, containers: [{name: a, image: i}]}`, ""},
		{"other container fields", `{containers: [{name: a, image: i, securityContext: {privileged: true, capabilities: {add: [NET_ADMIN]}, runAsNonRoot: true}}]}`, ""},
		{"other pod fields", `{securityContext: {runAsNonRoot: true, sysctls: [{name: a, value: b}]}, containers: [{name: a, image: i}]}`, ""},
		{"container runAsUser", `{containers: [{name: a, image: i, securityContext: {runAsUser: 1}}]}`, cRunAsUser},
		{"container seLinuxOptions", `{containers: [{name: a, image: i, securityContext: {seLinuxOptions: {}}}]}`, cSELinux},
		{"init container runAsUser", `{initContainers: [{name: a, image: i, securityContext: {runAsUser: 0}}], containers: [{name: b, image: i}]}`, cRunAsUser},
		{"init container seLinuxOptions", `{initContainers: [{name: a, image: i, securityContext: {seLinuxOptions: {level: "s0:c1"}}}], containers: [{name: b, image: i}]}`, cSELinux},
		{"pod runAsUser", `{securityContext: {runAsUser: 1}, containers: [{name: a, image: i}]}`, runAsUser},
		{"pod seLinuxOptions", `{securityContext: {seLinuxOptions: {}}, containers: [{name: a, image: i}]}`, seLinux},
		{"pod supplementalGroups", `{securityContext: {supplementalGroups: [1234]}, containers: [{name: a, image: i}]}`, suppGroups},
		{"pod fsGroup", `{securityContext: {fsGroup: 1001}, containers: [{name: a, image: i}]}`, fsGroup},
		{"pod fields in upstream's order", `{securityContext: {fsGroup: 1, runAsUser: 1, seLinuxOptions: {}, supplementalGroups: [1]}, containers: [{name: a, image: i}]}`, suppGroups},
		{"pod before containers", `{securityContext: {fsGroup: 1}, containers: [{name: a, image: i, securityContext: {runAsUser: 1}}]}`, fsGroup},
		{"seLinuxOptions before runAsUser in a container", `{containers: [{name: a, image: i, securityContext: {runAsUser: 1, seLinuxOptions: {}}}]}`, cSELinux},
		// Not refused by v1.24 either.
		{"pod runAsGroup", `{securityContext: {runAsGroup: 1}, containers: [{name: a, image: i}]}`, ""},
		{"container runAsGroup", `{containers: [{name: a, image: i, securityContext: {runAsGroup: 1}}]}`, ""},
		{"ephemeral container runAsUser", `{containers: [{name: a, image: i}], ephemeralContainers: [{name: d, image: i, securityContext: {runAsUser: 0}}]}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var pod corev1.Pod
			if err := yaml.UnmarshalStrict([]byte("metadata: {name: p}\nspec: "+tc.spec), &pod); err != nil {
				t.Fatal(err)
			}
			p, err := newPlugin(admission.Inputs{})
			if err != nil {
				t.Fatal(err)
			}
			r := &admission.Request{Operation: admissionv1.Create, Namespace: "ns", Workload: &podspec.Workload{Object: &pod}}
			d := p.(admission.Validator).Validate(context.Background(), r, &pod)
			if d.Denied != (tc.want != "") || d.Reason != tc.want {
				t.Errorf("denied=%v reason %q, want %q", d.Denied, d.Reason, tc.want)
			}
		})
	}
}

func TestHandles(t *testing.T) {
	cases := []struct {
		name        string
		op          admissionv1.Operation
		subresource string
		want        bool
	}{
		{"create", admissionv1.Create, "", true},
		{"update", admissionv1.Update, "", true},
		{"delete", admissionv1.Delete, "", false},
		{"connect", admissionv1.Connect, "", false},
		{"ephemeralcontainers, ignored as upstream ignored subresources", admissionv1.Update, "ephemeralcontainers", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := (plugin{}).Handles(tc.op, tc.subresource); got != tc.want {
				t.Errorf("Handles(%s, %q) = %v, want %v", tc.op, tc.subresource, got, tc.want)
			}
		})
	}
}

func TestNotAMutator(t *testing.T) {
	if _, ok := admission.Plugin(plugin{}).(admission.Mutator); ok {
		t.Fatal("SecurityContextDeny mutates; upstream only validated")
	}
}
