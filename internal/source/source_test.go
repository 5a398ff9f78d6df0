package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFilesReloadDetection(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
	write("README.txt", "not a manifest")
	f := &Files{Paths: []string{dir}}
	first := f.fingerprint(f.policyFiles())
	if f.fingerprint(f.policyFiles()) != first {
		t.Fatal("fingerprint not stable")
	}
	write("README.txt", "changed, but not a manifest")
	if f.fingerprint(f.policyFiles()) != first {
		t.Fatal("a non-manifest file changed the fingerprint")
	}
	write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n")
	if f.fingerprint(f.policyFiles()) == first {
		t.Fatal("a changed manifest kept the fingerprint")
	}
	write("broken.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: [\n")
	if _, err := f.Load(); err == nil || !strings.Contains(err.Error(), "broken.yaml") {
		t.Fatalf("a broken file: %v", err)
	}
	// A missing input is an error too, not an empty policy set.
	if _, err := (&Files{Paths: []string{filepath.Join(dir, "missing")}}).Load(); err == nil {
		t.Fatal("a missing policy path loaded")
	}
}
