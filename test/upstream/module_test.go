package upstream

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"testing"

	"k8s.io/klog/v2"
)

// moduleDir locates a module of the build list in the module cache (no network).
func moduleDir(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-json", path).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", path, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Fatalf("module %s has no directory (run go mod download): %v", path, err)
	}
	return m.Dir
}

func TestMain(m *testing.M) {
	// Upstream's ABAC reader warns about every legacy file through klog.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}
