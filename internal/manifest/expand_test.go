package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kubeletVolume lays dir out as the kubelet's atomic writer does for a
// ConfigMap, Secret or projected volume holding files (path -> content):
// the data in a hidden timestamped directory, a ..data symlink to it, and a
// user-visible symlink per top-level name.
func kubeletVolume(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	const ts = "..2026_12_01_15_04_05.123456789"
	top := map[string]bool{}
	for name, body := range files {
		p := filepath.Join(dir, ts, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		top[strings.SplitN(name, "/", 2)[0]] = true
	}
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range top {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestExpandKubeletVolume(t *testing.T) {
	dir := t.TempDir()
	kubeletVolume(t, dir, map[string]string{
		"psp.yaml":       "apiVersion: kguard.io/v1alpha1\nkind: PodSecurityPolicy\nmetadata: {name: example}\n",
		"rbac.json":      `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}`,
		"tenants/b.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n",
		"README.md":      "not read",
	})
	files, err := Expand(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "psp.yaml"), filepath.Join(dir, "rbac.json"), filepath.Join(dir, "tenants", "b.yaml")}
	if strings.Join(files, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Expand read\n%s\nwant each file once, through its user-visible link:\n%s", strings.Join(files, "\n"), strings.Join(want, "\n"))
	}
	docs, err := ReadPaths([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.Identity())
	}
	if strings.Join(got, ",") != "PodSecurityPolicy example,Namespace a,Namespace b" {
		t.Fatalf("objects %v", got)
	}
	// The data directory itself may be given: only the kubelet's entries
	// below the given path are skipped.
	if files, err := Expand(filepath.Join(dir, "..data")); err != nil || len(files) != 3 {
		t.Fatalf("Expand(..data) = %v, %v", files, err)
	}
}

func TestExpandSymlinks(t *testing.T) {
	write := func(t *testing.T, p, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("to a file and to a directory elsewhere", func(t *testing.T) {
		root, elsewhere := t.TempDir(), t.TempDir()
		write(t, filepath.Join(elsewhere, "one.yaml"), "x")
		write(t, filepath.Join(elsewhere, "more", "two.yaml"), "x")
		symlink(t, filepath.Join(elsewhere, "one.yaml"), filepath.Join(root, "linked.yaml"))
		symlink(t, filepath.Join(elsewhere, "more"), filepath.Join(root, "more"))
		symlink(t, filepath.Join(elsewhere, "missing.txt"), filepath.Join(root, "notes.txt")) // not a manifest: ignored
		files, err := Expand(root)
		if err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(root, "linked.yaml") + "," + filepath.Join(root, "more", "two.yaml")
		if strings.Join(files, ",") != want {
			t.Fatalf("got %v, want %s", files, want)
		}
	})
	t.Run("broken link to a manifest", func(t *testing.T) {
		root := t.TempDir()
		symlink(t, filepath.Join("..data", "gone.yaml"), filepath.Join(root, "gone.yaml"))
		_, err := Expand(root)
		if err == nil || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "gone.yaml") {
			t.Fatalf("err = %v, want an input error naming gone.yaml", err)
		}
	})
	for name, link := range map[string]struct{ target, at string }{
		"to itself":       {".", "self"},
		"to its parent":   {"..", "sub/up"},
		"to the root":     {"", "sub/deeper/root"}, // absolute, filled in below
		"through another": {"../b", "a/to-b"},      // a/to-b -> b, b/to-a -> a: a loop of two links
	} {
		t.Run("loop "+name, func(t *testing.T) {
			root := t.TempDir()
			write(t, filepath.Join(root, "ok.yaml"), "x")
			target := link.target
			if target == "" {
				target = root
			}
			if name == "through another" {
				if err := os.MkdirAll(filepath.Join(root, "b"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(filepath.Join(root, "a"), 0o755); err != nil {
					t.Fatal(err)
				}
				symlink(t, "../a", filepath.Join(root, "b", "to-a"))
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(root, link.at)), 0o755); err != nil {
				t.Fatal(err)
			}
			symlink(t, target, filepath.Join(root, link.at))
			_, err := Expand(root)
			if err == nil || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "symlink loop") {
				t.Fatalf("err = %v, want a symlink loop error", err)
			}
		})
	}
}
