package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// check decides `use` with the same authorization chain as serve: a
// PodSecurityPolicy that only an ABAC line lets the user use admits the pod
// with --authorization-mode RBAC,ABAC, and no policy may be used without it.
func TestCheckHonoursABACUse(t *testing.T) {
	abac := filepath.Join(t.TempDir(), "abac.jsonl")
	line := `{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"user": "alice", "namespace": "*", "resource": "podsecuritypolicies", "apiGroup": "policy"}}` + "\n"
	if err := os.WriteFile(abac, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"check", "--policy", "internal/cli/testdata/examples/psp/policies/example-psp.yaml", "--as", "alice", "-n", "default",
		"internal/cli/testdata/examples/psp/pods/pause.yaml"}
	code, out, errOut := run(t, "", args...)
	if code != 1 || !strings.Contains(out, "no providers available") {
		t.Fatalf("RBAC alone: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = run(t, "", append(args, "--authorization-mode", "RBAC,ABAC", "--authorization-policy-file", abac)...)
	if code != 0 || !strings.Contains(out, "admitted by PodSecurityPolicy example") {
		t.Fatalf("with the ABAC line: exit %d\n%s\n%s", code, out, errOut)
	}
}
