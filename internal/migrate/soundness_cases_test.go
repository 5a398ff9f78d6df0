package migrate

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/pod-security-admission/api"

	"github.com/kguard/kguard/internal/admission/psp"
	"github.com/kguard/kguard/internal/policy"
)

// admitsBeyondGrade fails when the policy admits pod and the pod fails the
// level the policy is graded on a check its plan does not list as required
// of manifests: the counterexamples TestSoundnessRandom found. It returns
// the required checks the pod fails.
func admitsBeyondGrade(t *testing.T, yaml string, pod *corev1.Pod) (required []string) {
	t.Helper()
	s, err := policy.Read(strings.NewReader(yaml), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := s.PodSecurityPolicies[0]
	pl, err := NewPlanner("latest")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pl.PlanPolicy(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	engine := policyEngine(t, p)
	res := engine.Admit(context.Background(), psp.Attributes{Operation: "CREATE", Pod: pod, Namespace: pod.Namespace, User: &user.DefaultInfo{Name: "u"}})
	if !res.Allowed {
		t.Fatalf("the policy refuses the pod: %s", res.Message)
	}
	syncProfiles(res.Pod)
	for _, r := range pl.evaluator.EvaluatePod(api.LevelVersion{Level: api.Level(plan.Level), Version: pl.version}, &res.Pod.ObjectMeta, &res.Pod.Spec) {
		switch {
		case r.Allowed:
		case strings.Contains(","+checks(plan.Requires)+",", ","+r.ForbiddenReason+","):
			required = append(required, r.ForbiddenReason)
		default:
			t.Errorf("graded %s, but it admits a pod %s forbids: %s (%s)", plan.Level, plan.Level, r.ForbiddenReason, r.ForbiddenDetail)
		}
	}
	return required
}

// MustRunAsNonRoot sets runAsNonRoot only on containers with no runAsUser,
// and no policy requires it: restricted asks it of manifests, and the plan
// says so.
func TestMustRunAsNonRootWithRunAsUser(t *testing.T) {
	pod := compliantPod()
	pod.Spec.SecurityContext.RunAsNonRoot = nil
	pod.Spec.Containers[0].SecurityContext.RunAsUser = int64Ptr(1)
	if got := admitsBeyondGrade(t, strict, pod); strings.Join(got, ",") != "runAsNonRoot != true" {
		t.Errorf("the pod fails the required checks %v, want runAsNonRoot != true, named in the plan", got)
	}
}

// A policy that allows one AppArmor profile other than runtime/default and
// no seccomp profile admitted no probe pod but the unset ones.
func TestAppArmorOnlyPolicyWithoutSeccomp(t *testing.T) {
	const yaml = `apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: aa
  annotations:
    seccomp.security.alpha.kubernetes.io/allowedProfileNames: ""
    apparmor.security.beta.kubernetes.io/allowedProfileNames: localhost/a
spec:
  hostPID: true
  allowPrivilegeEscalation: false
  requiredDropCapabilities: [ALL]
  volumes: [secret]
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
`
	pod := compliantPod()
	pod.Spec.SecurityContext.SeccompProfile = nil
	pod.Annotations[corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+"c"] = "localhost/a"
	pod.Spec.HostPID = true
	admitsBeyondGrade(t, yaml, pod)
}
