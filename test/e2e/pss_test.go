package e2e

import (
	"strings"
	"testing"
	"time"
)

// Scenario 3: Pod Security Standards through kguard (kube-apiserver's own
// PodSecurity admission is disabled): enforce=restricted refuses a privileged
// pod with the standard message; warn=baseline makes kubectl print the warning.
func TestPodSecurityStandards(t *testing.T) {
	defer kguardLogs(t)
	if out, err := kubectlIn(t, crd(t, "../../examples/psp/policies/privileged-psp.yaml"), "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "podsecuritypolicies.kguard.io", "privileged", "--ignore-not-found") })
	namespaces := `apiVersion: v1
kind: Namespace
metadata: {name: pss-restricted, labels: {pod-security.kubernetes.io/enforce: restricted}}
---
apiVersion: v1
kind: Namespace
metadata: {name: pss-warn, labels: {pod-security.kubernetes.io/warn: baseline}}
`
	if out, err := kubectlIn(t, namespaces, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "pss-restricted", "pss-warn", "--wait=false") })
	privileged := func(name string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"},"spec":{"containers":[{"name":"c","image":"k8s.gcr.io/pause","securityContext":{"privileged":true}}]}}`
	}
	// The admin may use every policy; PodSecurity alone refuses.
	eventually(t, 30*time.Second, "restricted refuses the privileged pod", func() (bool, string) {
		out, err := kubectlIn(t, privileged("p1"), "-n", "pss-restricted", "create", "-f", "-")
		return err != nil && strings.Contains(out, `pods "p1" is forbidden: violates PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true)`), out
	})
	hostNet := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"h1"},"spec":{"hostNetwork":true,"containers":[{"name":"c","image":"k8s.gcr.io/pause"}]}}`
	out, err := kubectlIn(t, hostNet, "-n", "pss-warn", "create", "-f", "-")
	if err != nil || !strings.Contains(out, `Warning: would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)`) {
		t.Fatalf("warn=baseline: %v\n%s", err, out)
	}
}
