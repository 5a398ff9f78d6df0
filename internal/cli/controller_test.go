package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The controller's bad flags are usage errors, said before any cluster is read.
func TestControllerUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no cluster", want: "--kubeconfig FILE or --in-cluster"},
		{name: "two clusters", args: []string{"--kubeconfig", "x", "--in-cluster"}, want: "exclusive"},
		{name: "no results", args: []string{"--kubeconfig", "x", "--report-max-results", "0"}, want: "--report-max-results 0"},
		{name: "no interval", args: []string{"--kubeconfig", "x", "--audit-interval", "0s"}, want: "must be positive"},
		{name: "no tenant interval", args: []string{"--kubeconfig", "x", "--tenant-interval", "0s"}, want: "--tenant-interval must be positive"},
		{name: "default roles", args: []string{"--kubeconfig", "x", "--default-roles"}, want: "files mode"},
		{name: "unknown plugin", args: []string{"--kubeconfig", "x", "--enable-admission-plugins", "Nope"}, want: "Nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, "", append([]string{"controller", "--metrics-address", "127.0.0.1:0"}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

// deploy/controller/rbac.yaml lets the controller's ServiceAccount write
// what a Tenant implies without escalate: the Roles and RoleBindings
// kguard tenant render prints pass escalation prevention, and the other
// objects may be applied and pruned, Namespaces applied but never deleted.
func TestControllerRBACCoversTenants(t *testing.T) {
	const sa = "system:serviceaccount:kguard:kguard-controller"
	code, rendered, stderr := run(t, "", "tenant", "render", "internal/cli/testdata/examples/tenancy/tenants.yaml")
	if code != 0 {
		t.Fatalf("tenant render: exit %d: %s", code, stderr)
	}
	objects := filepath.Join(t.TempDir(), "rendered.yaml")
	if err := os.WriteFile(objects, []byte(rendered), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "", "authz", "check-escalation", "-f", "deploy/controller/rbac.yaml", "--default-roles", "--as", sa, objects)
	if code != 0 || !strings.Contains(out, "0 refused") || !strings.Contains(out, "Role ") {
		t.Errorf("check-escalation: exit %d\n%s%s", code, out, stderr)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"create", "namespaces"}, "yes"},
		{[]string{"patch", "namespaces"}, "yes"},
		{[]string{"delete", "namespaces"}, "no"},
		{[]string{"patch", "networkpolicies.networking.k8s.io", "-n", "t"}, "yes"},
		{[]string{"delete", "limitranges", "-n", "t"}, "yes"},
		{[]string{"delete", "resourcequotas", "-n", "t"}, "yes"},
		{[]string{"delete", "rolebindings.rbac.authorization.k8s.io", "-n", "t"}, "yes"},
		{[]string{"escalate", "roles.rbac.authorization.k8s.io", "-n", "t"}, "no"},
		{[]string{"bind", "clusterroles.rbac.authorization.k8s.io", "cluster-admin"}, "no"},
		{[]string{"patch", "tenants.kguard.io/status", "x"}, "yes"},
		{[]string{"patch", "tenants.kguard.io", "x"}, "no"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, out, stderr := run(t, "", append(append([]string{"authz", "can-i"}, tc.args...), "--as", sa, "-f", "deploy/controller/rbac.yaml")...)
			if strings.TrimSpace(out) != tc.want {
				t.Errorf("can-i %v: %q %s, want %s", tc.args, out, stderr, tc.want)
			}
		})
	}
}
