//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// DenyEscalatingExec through kguard: kube-apiserver asks the validating
// webhook about CONNECT on pods/exec and pods/attach before it dials the
// node, and kguard reads the target pod live. `kubectl exec` and `kubectl
// attach` into a privileged pod are refused with upstream's message; into a
// plain pod they are let through (and fail later: no kubelet runs here).
func TestDenyEscalatingExec(t *testing.T) {
	defer kguardLogs(t)
	if out, err := kubectlIn(t, crd(t, "../../examples/psp/policies/privileged-psp.yaml"), "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "podsecuritypolicies.kguard.io", "privileged", "--ignore-not-found") })
	ns := `apiVersion: v1
kind: Namespace
metadata: {name: exec-e2e, labels: {pod-security.kubernetes.io/enforce: privileged}}
`
	if out, err := kubectlIn(t, ns, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "exec-e2e", "--wait=false") })
	pods := map[string]string{
		"priv":  `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"priv"},"spec":{"containers":[{"name":"c","image":"k8s.gcr.io/pause","securityContext":{"privileged":true}}]}}`,
		"plain": `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"plain"},"spec":{"containers":[{"name":"c","image":"k8s.gcr.io/pause"}]}}`,
	}
	for name, pod := range pods {
		// Until the namespace's default ServiceAccount exists, pods are refused.
		eventually(t, 30*time.Second, "pod "+name+" created", func() (bool, string) {
			out, err := kubectlIn(t, pod, "-n", "exec-e2e", "create", "-f", "-")
			return err == nil, out
		})
	}
	const refused = "cannot exec into or attach to a privileged container"
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"exec", []string{"exec", "priv", "--", "true"}},
		{"attach", []string{"attach", "priv"}},
	} {
		t.Run(tc.name+" into the privileged pod", func(t *testing.T) {
			out, err := kubectl(t, append([]string{"-n", "exec-e2e"}, tc.args...)...)
			want := `pods "priv" is forbidden: ` + refused
			if err == nil || !strings.Contains(out, want) {
				t.Fatalf("kubectl %s: %v\n%s\nwant a refusal containing %q", strings.Join(tc.args, " "), err, out, want)
			}
			t.Logf("kubectl %s: %s", strings.Join(tc.args, " "), strings.TrimSpace(out))
		})
	}
	t.Run("exec into the plain pod", func(t *testing.T) {
		out, err := kubectl(t, "-n", "exec-e2e", "exec", "plain", "--", "true")
		if err == nil {
			t.Fatalf("exec succeeded without a node:\n%s", out)
		}
		if strings.Contains(out, refused) || strings.Contains(out, "DenyEscalatingExec") {
			t.Fatalf("refused by kguard:\n%s", out)
		}
		t.Logf("kubectl exec plain (fails past admission, for lack of a node): %s", strings.TrimSpace(out))
	})
}
