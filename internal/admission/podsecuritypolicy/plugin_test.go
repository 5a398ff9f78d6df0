package podsecuritypolicy

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"sigs.k8s.io/yaml"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/authz/rbac"
	"github.com/kguard/kguard/internal/podspec"
	"github.com/kguard/kguard/internal/policy"
)

const apparmorPolicy = `apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: apparmor
  annotations:
    apparmor.security.beta.kubernetes.io/defaultProfileName: runtime/default
    apparmor.security.beta.kubernetes.io/allowedProfileNames: runtime/default,localhost/custom
spec:
  seLinux: {rule: RunAsAny}
  runAsUser: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: ['*']
---
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use-all}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use]}]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use-all}
subjects: [{kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: use-all, apiGroup: rbac.authorization.k8s.io}
`

// testPlugin is the plugin over the policies and grants of policyYAML, with
// configuration cfg.
func testPlugin(t *testing.T, policyYAML string, cfg any) admission.Plugin {
	t.Helper()
	s, err := policy.Read(strings.NewReader(policyYAML), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	az := rbac.New(s)
	p, err := newPlugin(admission.Inputs{Policies: s, Authorizer: az, RuleResolver: az, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mutate(t *testing.T, cfg any, podYAML string) *corev1.Pod {
	t.Helper()
	p := testPlugin(t, apparmorPolicy, cfg)
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict([]byte(podYAML), &pod); err != nil {
		t.Fatal(err)
	}
	r := &admission.Request{Operation: admissionv1.Create, Workload: &podspec.Workload{Object: &pod}, Namespace: "ns",
		User: &user.DefaultInfo{Name: "alice", Groups: []string{"system:authenticated"}}}
	d := p.(admission.Mutator).Mutate(context.Background(), r, pod.DeepCopy())
	if d.Denied {
		t.Fatalf("denied: %s", d.Reason)
	}
	return d.Pod
}

// The AppArmor annotation a policy adds gets its field too (no deprecation
// warning from kube-apiserver >= 1.30); v1.24's annotation alone on request.
func TestAppArmorField(t *testing.T) {
	const two = "metadata: {name: p}\nspec: {containers: [{name: a, image: i}, {name: b, image: i, securityContext: {appArmorProfile: {type: Localhost, localhostProfile: custom}}}]}"
	got := mutate(t, nil, two)
	if got.Annotations["container.apparmor.security.beta.kubernetes.io/a"] != "runtime/default" {
		t.Fatalf("annotation not set: %v", got.Annotations)
	}
	if f := got.Spec.Containers[0].SecurityContext; f == nil || f.AppArmorProfile == nil || f.AppArmorProfile.Type != corev1.AppArmorProfileTypeRuntimeDefault {
		t.Errorf("container a: field not set beside the annotation: %+v", f)
	}
	if f := got.Spec.Containers[1].SecurityContext.AppArmorProfile; f.Type != corev1.AppArmorProfileTypeLocalhost || *f.LocalhostProfile != "custom" {
		t.Errorf("container b: its own field was changed to %+v", f)
	}
	if v, ok := got.Annotations["container.apparmor.security.beta.kubernetes.io/b"]; ok {
		t.Errorf("container b: annotation %q written beside its own field", v)
	}

	only := mutate(t, Config{AppArmorAnnotationOnly: true}, two)
	if only.Annotations["container.apparmor.security.beta.kubernetes.io/a"] != "runtime/default" {
		t.Fatalf("annotation-only: annotation not set: %v", only.Annotations)
	}
	if sc := only.Spec.Containers[0].SecurityContext; sc != nil && sc.AppArmorProfile != nil {
		t.Errorf("annotation-only: field set: %+v", sc.AppArmorProfile)
	}

	// A pod-level profile equal to the default: the API server copies nothing; neither does kguard.
	podLevel := mutate(t, nil, "metadata: {name: p}\nspec: {securityContext: {appArmorProfile: {type: RuntimeDefault}}, containers: [{name: a, image: i}]}")
	if sc := podLevel.Spec.Containers[0].SecurityContext; sc != nil && sc.AppArmorProfile != nil {
		t.Errorf("pod-level profile: container field set: %+v", sc.AppArmorProfile)
	}
	// An annotation the user wrote is the user's: left as written.
	mine := mutate(t, nil, "metadata: {name: p, annotations: {container.apparmor.security.beta.kubernetes.io/a: localhost/custom}}\nspec: {containers: [{name: a, image: i}]}")
	if sc := mine.Spec.Containers[0].SecurityContext; sc != nil && sc.AppArmorProfile != nil {
		t.Errorf("user's annotation: field set by kguard: %+v", sc.AppArmorProfile)
	}
}

// A container's profile set with the appArmorProfile field (its own, else
// the pod's) is judged as v1.24 judged the annotation, which kube-apiserver
// v1.37 never writes for it: an allowed profile is admitted, not refused as
// unset or overwritten by the policy's default, a forbidden one is refused,
// and no annotation is added for it, in either pass or on UPDATE.
func TestAppArmorFieldJudged(t *testing.T) {
	allowedOnly := strings.Replace(apparmorPolicy, "    apparmor.security.beta.kubernetes.io/defaultProfileName: runtime/default\n", "", 1)
	const aa = "container.apparmor.security.beta.kubernetes.io/"
	for _, tc := range []struct {
		name, policy, pod string
		denied            string // part of the message; "" admitted
	}{
		{"container field, no default", allowedOnly, "spec: {containers: [{name: a, image: i, securityContext: {appArmorProfile: {type: RuntimeDefault}}}]}", ""},
		{"pod field, no default", allowedOnly, "spec: {securityContext: {appArmorProfile: {type: Localhost, localhostProfile: custom}}, initContainers: [{name: init, image: i}], containers: [{name: a, image: i}]}", ""},
		{"container field wins over the pod's", allowedOnly, "spec: {securityContext: {appArmorProfile: {type: Unconfined}}, containers: [{name: a, image: i, securityContext: {appArmorProfile: {type: RuntimeDefault}}}]}", ""},
		{"unset, no default", allowedOnly, "spec: {containers: [{name: a, image: i}]}", "AppArmor profile must be set"},
		{"unconfined field", apparmorPolicy, "spec: {containers: [{name: a, image: i, securityContext: {appArmorProfile: {type: Unconfined}}}]}", "unconfined is not an allowed profile"},
		{"pod field unconfined", apparmorPolicy, "spec: {securityContext: {appArmorProfile: {type: Unconfined}}, containers: [{name: a, image: i}]}", "unconfined is not an allowed profile"},
		{"other localhost profile", apparmorPolicy, "spec: {containers: [{name: a, image: i, securityContext: {appArmorProfile: {type: Localhost, localhostProfile: other}}}]}", "localhost/other is not an allowed profile"},
		{"windows pods are not synced", allowedOnly, "spec: {os: {name: windows}, containers: [{name: a, image: i, securityContext: {appArmorProfile: {type: RuntimeDefault}}}]}", "AppArmor profile must be set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPlugin(t, tc.policy, nil)
			var pod corev1.Pod
			if err := yaml.UnmarshalStrict([]byte("metadata: {name: p}\n"+tc.pod), &pod); err != nil {
				t.Fatal(err)
			}
			alice := &user.DefaultInfo{Name: "alice", Groups: []string{"system:authenticated"}}
			for _, phase := range []admission.Phase{admission.PhaseMutate, admission.PhaseValidate, admission.PhaseBoth} {
				for _, op := range []admissionv1.Operation{admissionv1.Create, admissionv1.Update} {
					if op == admissionv1.Update && phase == admission.PhaseMutate {
						continue // judges nothing (TestUpdateMutatingPassEvaluatesNothing)
					}
					r := &admission.Request{Operation: op, Workload: &podspec.Workload{Object: &pod}, Namespace: "ns", Phase: phase, User: alice}
					if op == admissionv1.Update {
						r.OldPod = pod.DeepCopy()
						r.OldPod.Labels = map[string]string{"before": "relabelled"} // not a GC-only update
					}
					in := pod.DeepCopy()
					var d admission.Decision
					if phase == admission.PhaseValidate {
						d = p.(admission.Validator).Validate(context.Background(), r, in)
					} else {
						d = p.(admission.Mutator).Mutate(context.Background(), r, in)
					}
					if (tc.denied != "") != d.Denied || !strings.Contains(d.Reason, tc.denied) {
						t.Fatalf("phase %d %s: denied=%v %q, want denied with %q", phase, op, d.Denied, d.Reason, tc.denied)
					}
					if d.Denied {
						continue
					}
					for k := range in.Annotations {
						if strings.HasPrefix(k, aa) {
							t.Errorf("phase %d %s: the request's pod got %s", phase, op, k)
						}
					}
					if d.Pod != nil {
						for k, v := range d.Pod.Annotations {
							if strings.HasPrefix(k, aa) {
								t.Errorf("phase %d %s: annotation %s=%s added for a profile the field sets", phase, op, k, v)
							}
						}
					}
				}
			}
		})
	}
}

// The garbage collector's updates are not judged (v1.24), whatever the
// policies say now, also for a pod whose AppArmor profile is its field.
func TestAppArmorFieldGCUpdate(t *testing.T) {
	p := testPlugin(t, apparmorPolicy, nil)
	var old corev1.Pod
	if err := yaml.UnmarshalStrict([]byte("metadata: {name: p, finalizers: [x]}\nspec: {containers: [{name: a, image: i, securityContext: {privileged: true, appArmorProfile: {type: RuntimeDefault}}}]}"), &old); err != nil {
		t.Fatal(err)
	}
	pod := old.DeepCopy()
	pod.Finalizers = nil
	r := &admission.Request{Operation: admissionv1.Update, Workload: &podspec.Workload{Object: pod}, OldPod: &old, Namespace: "ns",
		Phase: admission.PhaseValidate, User: &user.DefaultInfo{Name: "system:serviceaccount:kube-system:generic-garbage-collector"}}
	if d := p.(admission.Validator).Validate(context.Background(), r, pod.DeepCopy()); d.Denied {
		t.Fatalf("the garbage collector's update was judged: %s", d.Reason)
	}
}

// On UPDATE the mutating webhook pass evaluates nothing, as v1.24's Admit
// ("only mutate if this is a CREATE request. On updates we only
// validate."): no denial, no admit-policy audit annotation; the validating
// pass judges the final pod (which later mutating webhooks may have fixed).
func TestUpdateMutatingPassEvaluatesNothing(t *testing.T) {
	p := testPlugin(t, apparmorPolicy, nil)
	const annotated = "metadata: {name: p, annotations: {kubernetes.io/psp: apparmor, container.apparmor.security.beta.kubernetes.io/a: runtime/default}}\n"
	var old, image, privileged corev1.Pod
	if err := yaml.UnmarshalStrict([]byte(annotated+"spec: {containers: [{name: a, image: i}]}"), &old); err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict([]byte(annotated+"spec: {containers: [{name: a, image: j}]}"), &image); err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict([]byte(annotated+"spec: {containers: [{name: a, image: k, securityContext: {privileged: true}}]}"), &privileged); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		phase      admission.Phase
		pod        *corev1.Pod
		denied     bool
		annotation string
	}{
		{admission.PhaseMutate, &privileged, false, ""},
		{admission.PhaseMutate, &image, false, ""},
		{admission.PhaseValidate, &privileged, true, ""},
		{admission.PhaseValidate, &image, false, "apparmor"},
		{admission.PhaseBoth, &privileged, true, ""}, // offline: the one pass judges
	} {
		r := &admission.Request{Operation: admissionv1.Update, Workload: &podspec.Workload{Object: tc.pod}, OldPod: &old,
			Namespace: "ns", Phase: tc.phase, User: &user.DefaultInfo{Name: "alice", Groups: []string{"system:authenticated"}}}
		var d admission.Decision
		if tc.phase == admission.PhaseValidate {
			d = p.(admission.Validator).Validate(context.Background(), r, tc.pod.DeepCopy())
		} else {
			d = p.(admission.Mutator).Mutate(context.Background(), r, tc.pod.DeepCopy())
		}
		got := d.AuditAnnotations[AuditKeyAdmitPolicy] + d.AuditAnnotations[AuditKeyValidatePolicy]
		if d.Denied != tc.denied || got != tc.annotation {
			t.Errorf("phase %d, image %s: denied=%v (%s), audit %v; want denied=%v, audit %q",
				tc.phase, tc.pod.Spec.Containers[0].Image, d.Denied, d.Reason, d.AuditAnnotations, tc.denied, tc.annotation)
		}
	}
}

// A policy's seccomp profile takes effect on today's clusters: the plugin
// sets the seccompProfile fields of the annotations of a pod it admits on
// create (v1.24's engine writes the default as the pod's annotation, which
// the kubelet ignores from v1.27, and kube-apiserver no longer copies it),
// as kube-apiserver v1.24 did; a field already set is kept.
func TestSeccompFields(t *testing.T) {
	policyYAML := strings.Replace(apparmorPolicy, `    apparmor.security.beta.kubernetes.io/defaultProfileName: runtime/default
    apparmor.security.beta.kubernetes.io/allowedProfileNames: runtime/default,localhost/custom`,
		`    seccomp.security.alpha.kubernetes.io/defaultProfileName: runtime/default
    seccomp.security.alpha.kubernetes.io/allowedProfileNames: runtime/default,docker/default,localhost/prof`, 1)
	p := testPlugin(t, policyYAML, nil)
	profile := func(sp *corev1.SeccompProfile) string {
		if sp == nil {
			return ""
		}
		return profileString(string(sp.Type), sp.LocalhostProfile)
	}
	for _, tc := range []struct {
		name, pod        string
		op               admissionv1.Operation
		podField, cField string // want
		annotation       string
	}{
		{name: "the policy's default", pod: "metadata: {name: p}\nspec: {containers: [{name: a, image: i}]}",
			op: admissionv1.Create, podField: "RuntimeDefault", annotation: "runtime/default"},
		{name: "the pod's own annotations", pod: "metadata: {name: p, annotations: {seccomp.security.alpha.kubernetes.io/pod: localhost/prof, container.seccomp.security.alpha.kubernetes.io/a: docker/default}}\nspec: {containers: [{name: a, image: i}]}",
			op: admissionv1.Create, podField: "Localhost/prof", cField: "RuntimeDefault", annotation: "localhost/prof"},
		{name: "a field already set", pod: "metadata: {name: p}\nspec: {securityContext: {seccompProfile: {type: Localhost, localhostProfile: prof}}, containers: [{name: a, image: i}]}",
			op: admissionv1.Create, podField: "Localhost/prof", annotation: "localhost/prof"},
	} {
		var pod corev1.Pod
		if err := yaml.UnmarshalStrict([]byte(tc.pod), &pod); err != nil {
			t.Fatal(err)
		}
		r := &admission.Request{Operation: tc.op, Phase: admission.PhaseMutate, Workload: &podspec.Workload{Object: &pod}, Namespace: "ns",
			User: &user.DefaultInfo{Name: "alice", Groups: []string{"system:authenticated"}}}
		d := p.(admission.Mutator).Mutate(context.Background(), r, pod.DeepCopy())
		if d.Denied || d.Pod == nil {
			t.Fatalf("%s: denied: %s", tc.name, d.Reason)
		}
		var podField, cField string
		if sc := d.Pod.Spec.SecurityContext; sc != nil {
			podField = profile(sc.SeccompProfile)
		}
		if sc := d.Pod.Spec.Containers[0].SecurityContext; sc != nil {
			cField = profile(sc.SeccompProfile)
		}
		if podField != tc.podField || cField != tc.cField || d.Pod.Annotations[corev1.SeccompPodAnnotationKey] != tc.annotation {
			t.Errorf("%s: pod field %q, container field %q, annotation %q; want %q, %q, %q", tc.name,
				podField, cField, d.Pod.Annotations[corev1.SeccompPodAnnotationKey], tc.podField, tc.cField, tc.annotation)
		}
	}
}

// profileString is a profile as the tests spell it: its type, and
// "/name" for a localhost profile.
func profileString(typ string, localhost *string) string {
	if localhost != nil {
		return typ + "/" + *localhost
	}
	return typ
}
