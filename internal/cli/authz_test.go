package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run executes kguard in-process from the repository root, as a user would.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir(filepath.Join("..", "..")); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	var out, errb bytes.Buffer
	code := Main(args, Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestAuthzCommands(t *testing.T) {
	badYAML := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badYAML, []byte("kind: Role\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: r, namespace: n}\nrulez: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		args    []string
		stdin   string
		code    int
		out     string // substring of stdout
		errText string // substring of stderr
	}{
		{"can-i yes", []string{"authz", "can-i", "get", "pods", "-n", "default", "--as", "jane", "-f", "internal/cli/testdata/examples/rbac"}, "", 0, "yes\n", ""},
		{"can-i no", []string{"authz", "can-i", "delete", "pods", "-n", "default", "--as", "jane", "-f", "internal/cli/testdata/examples/rbac"}, "", 1, "no\n", ""},
		{"can-i reason", []string{"authz", "can-i", "get", "secrets", "-n", "development", "--as", "dave", "-f", "internal/cli/testdata/examples/rbac", "--reason"}, "", 0, `yes - RBAC: allowed by RoleBinding "development/read-secrets"`, ""},
		{"can-i subresource", []string{"authz", "can-i", "get", "pods/log", "web", "--as", "x", "-f", "internal/cli/testdata/examples/rbac"}, "", 1, "no", ""},
		{"can-i service account groups", []string{"authz", "can-i", "list", "pods", "-n", "qa", "--as", "system:serviceaccount:qa:ci", "-f", "internal/cli/testdata/examples/rbac", "--default-roles"}, "", 0, "yes", ""},
		{"can-i non-resource anonymous", []string{"authz", "can-i", "get", "/healthz", "--as", "system:anonymous", "-f", "internal/cli/testdata/examples/rbac"}, "", 0, "yes", ""},
		{"can-i ABAC chain", []string{"authz", "can-i", "list", "pods", "-n", "projectCaribou", "--as", "bob", "--authorization-mode", "RBAC,ABAC", "--authorization-policy-file", "internal/cli/testdata/examples/abac/policy.jsonl"}, "", 0, "yes", ""},
		{"can-i list", []string{"authz", "can-i", "--list", "--as", "jane", "-f", "internal/cli/testdata/examples/rbac"}, "", 0, "pods       []", ""},
		{"can-i stdin", []string{"authz", "can-i", "get", "pods", "--as", "jane", "-f", "-"}, "kind: Role\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: r, namespace: default}\nrules: [{apiGroups: [''], resources: [pods], verbs: [get]}]\n---\nkind: RoleBinding\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: r, namespace: default}\nsubjects: [{kind: User, name: jane}]\nroleRef: {kind: Role, name: r, apiGroup: rbac.authorization.k8s.io}\n", 0, "yes", ""},
		{"can-i without user", []string{"authz", "can-i", "get", "pods", "-f", "internal/cli/testdata/examples/rbac"}, "", 2, "", "--as"},
		{"bad yaml names file and line", []string{"authz", "can-i", "get", "pods", "--as", "x", "-f", badYAML}, "", 2, "", "bad.yaml:1"},
		{"missing file", []string{"authz", "can-i", "get", "pods", "--as", "x", "-f", "nope.yaml"}, "", 2, "", "nope.yaml"},
		{"non-RBAC kind is skipped", []string{"authz", "can-i", "get", "pods", "-n", "default", "--as", "jane", "-f", "internal/cli/testdata/examples/sar/../abac/../rbac/roles.yaml", "-f", "-"}, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", 1, "no", "note: skipped 1 objects of kinds authz does not use: v1 Pod"},
		{"unknown flag", []string{"authz", "can-i", "--bogus"}, "", 2, "", "unknown flag"},
		{"unknown mode", []string{"authz", "can-i", "get", "pods", "--as", "x", "--authorization-mode", "Magic"}, "", 2, "", `unknown authorization mode "Magic"`},
		{"can-i Tenant mode denies status", []string{"authz", "can-i", "patch", "pods/status", "-n", "a-dev", "--as", "alice", "-f", "internal/cli/testdata/authz/tenant-mode.yaml", "--default-roles", "--authorization-mode", "Tenant,RBAC", "--reason"}, "", 1, `no - denied: Tenant: User "alice" (tenant "team-a") may not write status subresources (pods/status)`, ""},
		{"can-i Tenant mode, no opinion", []string{"authz", "can-i", "create", "pods", "-n", "a-dev", "--as", "alice", "-f", "internal/cli/testdata/authz/tenant-mode.yaml", "--default-roles", "--authorization-mode", "Tenant,RBAC", "--reason"}, "", 0, `yes - RBAC: allowed by ClusterRoleBinding "alice-admin"`, ""},
		{"can-i Tenant mode, a Namespace of no tenant", []string{"authz", "can-i", "get", "namespaces", "kube-system", "--as", "alice", "-f", "internal/cli/testdata/authz/tenant-mode.yaml", "--default-roles", "--authorization-mode", "Tenant,RBAC", "--reason"}, "", 1, `no - denied: Tenant: User "alice" (tenant "team-a") may not get namespaces in namespace "kube-system", which belongs to no tenant`, ""},
		{"can-i Tenant mode, its own Namespace", []string{"authz", "can-i", "get", "namespaces", "a-dev", "--as", "alice", "-f", "internal/cli/testdata/authz/tenant-mode.yaml", "--default-roles", "--authorization-mode", "Tenant,RBAC"}, "", 0, "yes", ""},
		{"can-i Tenant mode after RBAC", []string{"authz", "can-i", "patch", "pods/status", "-n", "a-dev", "--as", "alice", "-f", "internal/cli/testdata/authz/tenant-mode.yaml", "--default-roles", "--authorization-mode", "RBAC,Tenant"}, "", 0, "yes", ""},
		{"who-can Tenant mode", []string{"authz", "who-can", "create", "pods", "-n", "kube-system", "-f", "internal/cli/testdata/authz/tenant-mode.yaml", "--default-roles", "--authorization-mode", "Tenant,RBAC"}, "", 0, "granted, but denied by the Tenant mode:\n  User alice (ClusterRoleBinding alice-admin, ClusterRole cluster-admin): Tenant: User \"alice\" (tenant \"team-a\") may not create pods in namespace \"kube-system\", which belongs to no tenant", ""},
		{"who-can", []string{"authz", "who-can", "get", "secrets", "-n", "development", "-f", "internal/cli/testdata/examples/rbac"}, "", 0, "User   dave", ""},
		{"who-can json", []string{"authz", "who-can", "get", "secrets", "-n", "development", "-f", "internal/cli/testdata/examples/rbac", "-o", "json"}, "", 0, `"subject": "manager"`, ""},
		{"review allowed", []string{"authz", "review", "-f", "internal/cli/testdata/examples/rbac", "internal/cli/testdata/examples/sar/jane-get-pods.json"}, "", 0, `"allowed": true`, ""},
		{"review denied", []string{"authz", "review", "-f", "internal/cli/testdata/examples/rbac", "internal/cli/testdata/examples/sar/jane-delete-pods.json"}, "", 1, `"allowed": false`, ""},
		{"review v1beta1", []string{"authz", "review", "-f", "internal/cli/testdata/examples/rbac", "internal/cli/testdata/examples/sar/anonymous-healthz-v1beta1.json"}, "", 0, `"apiVersion": "authorization.k8s.io/v1beta1"`, ""},
		{"review malformed", []string{"authz", "review", "-"}, `{"kind":"SubjectAccessReview"}`, 2, "", "invalid SubjectAccessReview"},
		{"abac-to-rbac", []string{"authz", "abac-to-rbac", "internal/cli/testdata/examples/abac/policy.jsonl"}, "", 0, "kind: RoleBinding", "7 policy lines"},
		{"abac-to-rbac bad file", []string{"authz", "abac-to-rbac", badYAML}, "", 2, "", "line 1"},
		{"audit", []string{"authz", "audit", "-f", "internal/cli/testdata/examples/audit/risky.yaml"}, "", 1, "CRITICAL KG011", ""},
		{"audit below threshold", []string{"authz", "audit", "-f", "internal/cli/testdata/examples/audit/risky.yaml", "--fail-on", "critical", "--min-severity", "high", "-o", "json"}, "", 1, `"id": "KG011"`, ""},
		{"audit clean", []string{"authz", "audit", "-f", "internal/cli/testdata/examples/rbac/roles.yaml"}, "", 0, "no risky grants found", ""},
		{"audit bad severity", []string{"authz", "audit", "--fail-on", "severe"}, "", 2, "", "unknown severity"},
		{"check-escalation bind allowed", []string{"authz", "check-escalation", "-f", "internal/cli/testdata/examples/rbac", "--default-roles", "--as", "user-1", "-"}, "kind: RoleBinding\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: b, namespace: user-1-namespace}\nsubjects: [{kind: User, name: x}]\nroleRef: {kind: ClusterRole, name: view, apiGroup: rbac.authorization.k8s.io}\n", 0, "allowed: may bind clusterroles view", ""},
		{"check-escalation of no RBAC object is bad input", []string{"authz", "check-escalation", "-f", "internal/cli/testdata/examples/rbac", "--as", "user-1", "-"}, "# nothing yet\n", 2, "", "nothing to check: no Role, ClusterRole, RoleBinding or ClusterRoleBinding in -"},
		{"check-escalation of a Pod only is bad input", []string{"authz", "check-escalation", "-f", "internal/cli/testdata/examples/rbac", "--as", "user-1", "internal/cli/testdata/inputs/privileged-pod.yaml"}, "", 2, "", "nothing to check"},
		{"check-escalation refused", []string{"authz", "check-escalation", "-f", "internal/cli/testdata/examples/rbac", "--default-roles", "--as", "user-1", "-"}, "kind: RoleBinding\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: b, namespace: user-1-namespace}\nsubjects: [{kind: User, name: x}]\nroleRef: {kind: ClusterRole, name: cluster-admin, apiGroup: rbac.authorization.k8s.io}\n", 1, "REFUSED", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errText := run(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errText)
			}
			if !strings.Contains(out, tc.out) {
				t.Fatalf("stdout lacks %q:\n%s", tc.out, out)
			}
			if !strings.Contains(errText, tc.errText) {
				t.Fatalf("stderr lacks %q:\n%s", tc.errText, errText)
			}
		})
	}
}

func TestAuditSARIF(t *testing.T) {
	code, out, _ := run(t, "", "authz", "audit", "-f", "internal/cli/testdata/examples/audit/risky.yaml", "-o", "sarif")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var doc struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string } `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "2.1.0" || len(doc.Runs) != 1 || len(doc.Runs[0].Tool.Driver.Rules) != 17 || len(doc.Runs[0].Results) != 12 {
		t.Fatalf("unexpected SARIF: %+v", doc)
	}
	r := doc.Runs[0].Results[0]
	loc := r.Locations[0].PhysicalLocation
	if r.Level != "error" || loc.ArtifactLocation.URI != "internal/cli/testdata/examples/audit/risky.yaml" || loc.Region.StartLine <= 0 {
		t.Fatalf("first result: %+v", r)
	}
}
