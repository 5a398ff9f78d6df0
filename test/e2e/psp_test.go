//go:build e2e

package e2e

import (
	"os"
	"strings"
	"testing"
	"time"
)

// crd turns a policy/v1beta1 PodSecurityPolicy file into kguard's CRD object.
func crd(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(string(b), "apiVersion: policy/v1beta1", "apiVersion: kguard.io/v1alpha1", 1)
}

// testNamespace creates namespace ns, deleted (without waiting) when the test ends.
func testNamespace(t *testing.T, ns string) {
	t.Helper()
	mustKubectl(t, "create", "namespace", ns)
	t.Cleanup(func() { kubectl(t, "delete", "namespace", ns, "--wait=false") })
}

func mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectl(t, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Scenario 1: the PodSecurityPolicy walkthrough of seed 000, step by step with
// kubectl, kguard as the mutating and validating webhook in cluster mode.
func TestPSPWalkthrough(t *testing.T) {
	defer kguardLogs(t)
	const ns = "psp-example"
	testNamespace(t, ns)
	mustKubectl(t, "create", "serviceaccount", "-n", ns, "fake-user")
	mustKubectl(t, "create", "rolebinding", "-n", ns, "fake-editor", "--clusterrole=edit", "--serviceaccount="+ns+":fake-user")
	admin := func(args ...string) (string, error) { return kubectl(t, append([]string{"-n", ns}, args...)...) }
	user := func(args ...string) (string, error) {
		return kubectl(t, append([]string{"--as=system:serviceaccount:" + ns + ":fake-user", "-n", ns}, args...)...)
	}

	// The example policy, as a kguard.io PodSecurityPolicy.
	if out, err := kubectlIn(t, crd(t, "../../examples/psp/policies/example-psp.yaml"), "apply", "-f", "-"); err != nil {
		t.Fatalf("creating the example policy: %v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "podsecuritypolicies.kguard.io", "example", "--ignore-not-found") })

	// Without `use`, the pause pod is forbidden.
	eventually(t, 30*time.Second, "the pause pod is forbidden without use", func() (bool, string) {
		out, err := user("create", "-f", "../../examples/psp/pods/pause.yaml")
		return err != nil && strings.Contains(out, `pods "pause" is forbidden`), out
	})
	if out, _ := user("auth", "can-i", "use", "podsecuritypolicy/example"); answer(out) != "no" {
		t.Fatalf("can-i use before the grant: %q", out)
	}

	// The grant of the walkthrough. `kubectl create role --verb=use` accepts
	// the verb only for the built-in policy group, so the Role is applied as
	// YAML; it grants `use` in both groups kguard honours, so that
	// `kubectl auth can-i use podsecuritypolicy/example` (which resolves to
	// the kguard.io CRD) agrees.
	role := `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: "psp:unprivileged", namespace: psp-example}
rules: [{apiGroups: [policy, kguard.io], resources: [podsecuritypolicies], resourceNames: [example], verbs: [use]}]
`
	if out, err := kubectlIn(t, role, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := admin("create", "rolebinding", "fake-user:psp:unprivileged", "--role=psp:unprivileged", "--serviceaccount="+ns+":fake-user"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, _ := user("auth", "can-i", "use", "podsecuritypolicy/example"); answer(out) != "yes" {
		t.Fatalf("can-i use after the grant: %q", out)
	}
	eventually(t, 30*time.Second, "the pause pod is created after the grant", func() (bool, string) {
		out, err := user("create", "-f", "../../examples/psp/pods/pause.yaml")
		return err == nil, out
	})
	if out := mustKubectl(t, "-n", ns, "get", "pod", "pause", "-o", `jsonpath={.metadata.annotations.kubernetes\.io/psp}`); out != "example" {
		t.Fatalf("the pod is annotated with %q, want the chosen policy example", out)
	}

	// The privileged pod is denied with the field error.
	out, err := user("create", "-f", "../../examples/psp/pods/privileged.yaml")
	if err == nil || !strings.Contains(out, `pods "privileged" is forbidden: unable to validate against any pod security policy`) ||
		!strings.Contains(out, "spec.containers[0].securityContext.privileged: Invalid value: true: Privileged containers are not allowed") {
		t.Fatalf("privileged pod: %v\n%s", err, out)
	}
	mustKubectl(t, "-n", ns, "delete", "pod", "pause", "--wait=false")

	// A Deployment: its ReplicaSet may not create the pod until the pod's
	// ServiceAccount (default) may use a policy.
	if out, err := user("create", "deployment", "pause", "--image=k8s.gcr.io/pause"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	eventually(t, 90*time.Second, "the ReplicaSet reports FailedCreate", func() (bool, string) {
		out, _ := admin("get", "events", "--field-selector", "reason=FailedCreate", "-o", "jsonpath={.items[*].message}")
		return strings.Contains(out, "no providers available to validate pod request"), out
	})
	if out, err := admin("create", "rolebinding", "default:psp:unprivileged", "--role=psp:unprivileged", "--serviceaccount="+ns+":default"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	eventually(t, 3*time.Minute, "the controller creates the pod", func() (bool, string) {
		out, _ := admin("get", "pods", "-l", "app=pause", "-o", `jsonpath={.items[*].metadata.annotations.kubernetes\.io/psp}`)
		return strings.TrimSpace(out) == "example", out
	})
}

// Scenario 5: in cluster mode, editing a PodSecurityPolicy or a RoleBinding
// with kubectl changes the next decisions within seconds.
func TestHotReloadClusterMode(t *testing.T) {
	defer kguardLogs(t)
	const ns = "hot-reload"
	policy := `apiVersion: kguard.io/v1alpha1
kind: PodSecurityPolicy
metadata: {name: hot}
spec:
  privileged: false
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  runAsUser: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: ['*']
`
	dev := pspNamespace(t, ns, "hot", policy)
	pod := func(name string, privileged bool) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"},"spec":{"containers":[{"name":"c","image":"k8s.gcr.io/pause","securityContext":{"privileged":` +
			map[bool]string{true: "true", false: "false"}[privileged] + `}}]}}`
	}
	eventually(t, 30*time.Second, "an unprivileged pod is admitted through the grant", func() (bool, string) {
		out, err := dev(pod("plain", false))
		return err == nil, out
	})
	if out, err := dev(pod("priv-1", true)); err == nil || !strings.Contains(out, "Privileged containers are not allowed") {
		t.Fatalf("privileged pod before the policy change: %v\n%s", err, out)
	}

	// Edit the policy: privileged pods become admissible.
	mustKubectl(t, "patch", "podsecuritypolicies.kguard.io", "hot", "--type=merge", "-p", `{"spec":{"privileged":true}}`)
	i := 0
	eventually(t, 30*time.Second, "the edited policy admits a privileged pod", func() (bool, string) {
		i++
		out, err := dev(pod("priv-"+string(rune('a'+i%26))+strings.Repeat("x", i/26), true))
		return err == nil, out
	})

	// Delete the RoleBinding: the user (and the pod's ServiceAccount) may use nothing.
	mustKubectl(t, "-n", ns, "delete", "rolebinding", "dev-use-hot")
	j := 0
	eventually(t, 30*time.Second, "the removed grant refuses the next pod", func() (bool, string) {
		j++
		out, err := dev(pod("after-"+string(rune('a'+j%26))+strings.Repeat("x", j/26), false))
		return err != nil && strings.Contains(out, "no providers available to validate pod request"), out
	})
}

// pspNamespace creates namespace ns with a ServiceAccount dev that may edit
// it and use the kguard.io PodSecurityPolicy of policyYAML (named name) and
// nothing else, and returns a func creating objects as dev.
func pspNamespace(t *testing.T, ns, name, policyYAML string) (asDev func(stdin string) (string, error)) {
	t.Helper()
	testNamespace(t, ns)
	mustKubectl(t, "create", "serviceaccount", "-n", ns, "dev")
	mustKubectl(t, "create", "rolebinding", "-n", ns, "dev-edit", "--clusterrole=edit", "--serviceaccount="+ns+":dev")
	if out, err := kubectlIn(t, policyYAML, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "podsecuritypolicies.kguard.io", name, "--ignore-not-found") })
	if out, err := kubectlIn(t, `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"use-`+name+`","namespace":"`+ns+`"},
"rules":[{"apiGroups":["kguard.io"],"resources":["podsecuritypolicies"],"resourceNames":["`+name+`"],"verbs":["use"]}]}`, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	mustKubectl(t, "-n", ns, "create", "rolebinding", "dev-use-"+name, "--role=use-"+name, "--serviceaccount="+ns+":dev")
	return func(stdin string) (string, error) {
		return kubectlIn(t, stdin, "--as=system:serviceaccount:"+ns+":dev", "-n", ns, "create", "-f", "-")
	}
}

// answer is the yes or no of `kubectl auth can-i`, after any warnings.
func answer(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	word, _, _ := strings.Cut(last, " ")
	return word
}

// A policy's default seccomp profile takes effect: v1.24's engine writes it
// as the pod's annotation, which kube-apiserver v1.37 no longer copies into
// the field and the kubelet ignores; kguard sets the field, as v1.24's API
// server did, so the pod runs with the profile and kubectl prints no
// "non-functional" warning.
func TestPSPSeccompDefaultTakesEffect(t *testing.T) {
	defer kguardLogs(t)
	const ns = "psp-seccomp"
	policy := `apiVersion: kguard.io/v1alpha1
kind: PodSecurityPolicy
metadata:
  name: seccomp-default
  annotations:
    seccomp.security.alpha.kubernetes.io/defaultProfileName: runtime/default
    seccomp.security.alpha.kubernetes.io/allowedProfileNames: runtime/default
spec:
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  runAsUser: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: ['*']
`
	dev := pspNamespace(t, ns, "seccomp-default", policy)
	var created string
	eventually(t, 30*time.Second, "a pod without a seccomp profile is admitted", func() (bool, string) {
		out, err := dev(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"plain"},"spec":{"containers":[{"name":"c","image":"k8s.gcr.io/pause"}]}}`)
		created = out
		return err == nil, out
	})
	if strings.Contains(created, "non-functional") {
		t.Errorf("kubectl warned about the annotation kguard wrote:\n%s", created)
	}
	got := mustKubectl(t, "-n", ns, "get", "pod", "plain", "-o",
		`jsonpath={.metadata.annotations.kubernetes\.io/psp} {.spec.securityContext.seccompProfile.type} {.metadata.annotations.seccomp\.security\.alpha\.kubernetes\.io/pod}`)
	if got != "seccomp-default RuntimeDefault runtime/default" {
		t.Fatalf("policy, seccomp field and annotation: %q, want seccomp-default RuntimeDefault runtime/default", got)
	}
}

// A container's AppArmor profile set with the appArmorProfile field, the
// only way since v1.30 that draws no deprecation warning, is judged by a
// policy that allows profiles: v1.24's engine reads the annotation only,
// which kube-apiserver v1.37 never writes for a field, so kguard used to
// refuse such a pod as having no profile. An allowed profile is admitted
// (on create and on a later update) without an annotation added for it;
// a forbidden one is refused.
func TestPSPAppArmorFieldJudged(t *testing.T) {
	defer kguardLogs(t)
	const ns = "psp-apparmor-field"
	policy := `apiVersion: kguard.io/v1alpha1
kind: PodSecurityPolicy
metadata:
  name: apparmor-allowed
  annotations:
    apparmor.security.beta.kubernetes.io/allowedProfileNames: runtime/default
spec:
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  runAsUser: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: ['*']
`
	dev := pspNamespace(t, ns, "apparmor-allowed", policy)
	var created string
	eventually(t, 30*time.Second, "a pod whose appArmorProfile field is allowed is admitted", func() (bool, string) {
		out, err := dev(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"field"},"spec":{"securityContext":{"appArmorProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"c","image":"k8s.gcr.io/pause"}]}}`)
		created = out
		return err == nil, out
	})
	if strings.Contains(created, "deprecated") {
		t.Errorf("kubectl warned about an AppArmor annotation:\n%s", created)
	}
	got := mustKubectl(t, "-n", ns, "get", "pod", "field", "-o",
		`jsonpath={.metadata.annotations.kubernetes\.io/psp} {.spec.securityContext.appArmorProfile.type} [{.metadata.annotations.container\.apparmor\.security\.beta\.kubernetes\.io/c}]`)
	if got != "apparmor-allowed RuntimeDefault []" {
		t.Fatalf("policy, pod field and container annotation: %q, want apparmor-allowed RuntimeDefault []", got)
	}
	if out, err := kubectl(t, "--as=system:serviceaccount:"+ns+":dev", "-n", ns, "label", "pod", "field", "updated=yes"); err != nil {
		t.Errorf("an update of the admitted pod was refused: %v\n%s", err, out)
	}
	out, err := dev(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"unconfined"},"spec":{"containers":[{"name":"c","image":"k8s.gcr.io/pause","securityContext":{"appArmorProfile":{"type":"Unconfined"}}}]}}`)
	if err == nil || !strings.Contains(out, "unconfined is not an allowed profile") {
		t.Errorf("an unconfined container was not refused by the policy: %v\n%s", err, out)
	}
}
