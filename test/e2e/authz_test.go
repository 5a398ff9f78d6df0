//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// kguardBinary builds kguard once per test run.
func kguardBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kguard")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/kguard/kguard/cmd/kguard").CombinedOutput()
	if err != nil {
		t.Fatalf("building kguard: %v\n%s", err, out)
	}
	return bin
}

// kguard's answers on a live cluster (--kubeconfig, through client-go) equal
// the API server's own, asked with kubectl auth can-i --as.
func TestCanIMatchesTheAPIServer(t *testing.T) {
	kg := kguardBinary(t)
	setup := `
apiVersion: v1
kind: Namespace
metadata: {name: e2e-authz}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: e2e-authz}
rules:
- {apiGroups: [""], resources: [pods, pods/log], verbs: [get, list]}
- {apiGroups: [""], resources: [configmaps], resourceNames: [app], verbs: [update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: jane-reads, namespace: e2e-authz}
subjects: [{kind: User, name: jane, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: Role, name: pod-reader, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: sa-edit, namespace: e2e-authz}
subjects: [{kind: ServiceAccount, name: builder, namespace: e2e-authz}]
roleRef: {kind: ClusterRole, name: edit, apiGroup: rbac.authorization.k8s.io}
`
	f := filepath.Join(t.TempDir(), "setup.yaml")
	if err := os.WriteFile(f, []byte(setup), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectl(t, "apply", "-f", f); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	cases := []struct {
		as    string
		verb  string
		what  []string // kubectl form
		ours  []string // kguard form
		extra []string
	}{
		{"jane", "get", []string{"pods"}, []string{"pods"}, nil},
		{"jane", "delete", []string{"pods"}, []string{"pods"}, nil},
		{"jane", "get", []string{"pods", "--subresource=log"}, []string{"pods/log"}, nil},
		{"jane", "update", []string{"configmaps/app"}, []string{"configmaps", "app"}, nil},
		{"jane", "update", []string{"configmaps/other"}, []string{"configmaps", "other"}, nil},
		{"jane", "list", []string{"configmaps"}, []string{"configmaps"}, nil},
		{"system:serviceaccount:e2e-authz:builder", "create", []string{"deployments.apps"}, []string{"deployments.apps"}, nil},
		{"system:serviceaccount:e2e-authz:builder", "create", []string{"rolebindings.rbac.authorization.k8s.io"}, []string{"rolebindings.rbac.authorization.k8s.io"}, nil},
		{"system:serviceaccount:e2e-authz:builder", "get", []string{"secrets"}, []string{"secrets"}, nil},
		{"system:serviceaccount:e2e-authz:other", "get", []string{"pods"}, []string{"pods"}, nil},
		{"someone", "get", []string{"/healthz"}, []string{"/healthz"}, nil},
		{"someone", "post", []string{"/healthz"}, []string{"/healthz"}, nil},
		{"someone", "create", []string{"selfsubjectaccessreviews.authorization.k8s.io"}, []string{"selfsubjectaccessreviews.authorization.k8s.io"}, nil},
	}
	for _, tc := range cases {
		name := tc.as + " " + tc.verb + " " + strings.Join(tc.what, " ")
		t.Run(name, func(t *testing.T) {
			args := append([]string{"auth", "can-i", tc.verb}, tc.what...)
			args = append(args, "-n", "e2e-authz", "--as", tc.as)
			kout, _ := kubectl(t, args...)
			// kubectl may print warnings first, and the reason of kguard's
			// webhook after the answer ("no - default: ABAC: No policy matched.").
			want := answer(kout)
			if want != "yes" && want != "no" {
				t.Fatalf("kubectl said %q", kout)
			}
			cmd := exec.Command(kg, append(append([]string{"authz", "can-i", tc.verb}, tc.ours...),
				"-n", "e2e-authz", "--as", tc.as, "--kubeconfig", live.kubeconfig)...)
			out, err := cmd.Output()
			got := strings.TrimSpace(string(out))
			if got != want {
				t.Fatalf("kguard says %q (%v), the API server says %q", got, err, want)
			}
		})
	}
}

// audit and who-can run against the live cluster's objects.
func TestLiveAuditAndWhoCan(t *testing.T) {
	kg := kguardBinary(t)
	out, err := exec.Command(kg, "authz", "who-can", "delete", "nodes", "--kubeconfig", live.kubeconfig).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "system:masters") {
		t.Fatalf("who-can: %v\n%s", err, out)
	}
	cmd := exec.Command(kg, "authz", "audit", "--kubeconfig", live.kubeconfig, "--include-defaults", "--min-severity", "critical", "-o", "json")
	out, _ = cmd.Output()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), `"id": "KG011"`) {
		t.Fatalf("audit (exit %d): %s", cmd.ProcessState.ExitCode(), out)
	}
}
