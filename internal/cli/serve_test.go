package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Files mode cannot look a token's ServiceAccount up: --service-account-key-file
// there needs --service-account-lookup=false said explicitly, instead of the
// flag's default being ignored and a deleted ServiceAccount's legacy token
// staying valid forever.
func TestServeFilesModeRefusesServiceAccountLookup(t *testing.T) {
	dir := t.TempDir()
	ns := filepath.Join(dir, "ns.yaml")
	if err := os.WriteFile(ns, []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "", "serve", "--policy-dir", ns, "--service-account-key-file", filepath.Join(dir, "sa.pub"))
	if code != 2 || !strings.Contains(stderr, "--service-account-lookup=false") || !strings.Contains(stderr, "cluster mode") {
		t.Fatalf("exit %d, stderr %q; want a usage error naming both ways out", code, stderr)
	}
	// Said explicitly, it is accepted with a warning (the start then fails
	// later, on the missing key file).
	code, _, stderr = run(t, "", "serve", "--policy-dir", ns, "--service-account-key-file", filepath.Join(dir, "sa.pub"), "--service-account-lookup=false")
	if code != 2 || strings.Contains(stderr, "cannot check") || !strings.Contains(stderr, "stay valid until they expire") || !strings.Contains(stderr, "sa.pub") {
		t.Fatalf("with --service-account-lookup=false: exit %d, stderr %q", code, stderr)
	}
}
