//go:build release

// Package release checks that a kguard release is reproducible: hack/release.sh
// run on the same commit in two places, each with a build cache of its own, must
// write the same bytes. Run it with make release-check (a cold build of two
// platforms, twice: several minutes).
package release

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestReleaseIsReproducible(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	a := release(t, root)
	t.Logf("first release built in %v", time.Since(start).Round(time.Second))
	mid := time.Now()
	b := release(t, root)
	t.Logf("second release built in %v", time.Since(mid).Round(time.Second))

	sums, err := os.ReadFile(filepath.Join(a, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 5 {
		t.Errorf("release holds %d files, want two binaries, two SBOMs and SHA256SUMS", len(entries))
	}
	for _, e := range entries {
		x, err := os.ReadFile(filepath.Join(a, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, e.Name()))
		if err != nil {
			t.Fatalf("the second release lacks %s: %v", e.Name(), err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between the two builds", e.Name())
		}
	}
	t.Logf("both releases (%v in all):\n%s", time.Since(start).Round(time.Second), sums)
}

// release clones the repository's HEAD into a directory of its own and runs
// hack/release.sh there with a fresh build cache, returning its output directory.
func release(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	src, out := filepath.Join(dir, "src"), filepath.Join(dir, "dist")
	run(t, "", nil, "git", "clone", "--quiet", "--no-hardlinks", root, src)
	run(t, src, []string{"GOCACHE=" + filepath.Join(dir, "gocache")}, "bash", "hack/release.sh", out)
	return out
}

func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}
