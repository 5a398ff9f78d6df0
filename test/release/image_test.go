//go:build release

package release

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// TestImageIsReproducible builds kguard's image (hack/kgimage, make image)
// twice from the same binaries, in two directories, and requires the same
// index digest and byte-identical OCI layouts; then checks what is inside.
// It uses dist/'s release binaries when make release wrote them, else builds
// kguard for both platforms (warm build cache: seconds). make image-check.
func TestImageIsReproducible(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	tmp := t.TempDir()
	bins := filepath.Join(root, "dist")
	if _, err := os.Stat(filepath.Join(bins, "kguard-linux-arm64")); err != nil {
		bins = filepath.Join(tmp, "bins")
		for _, arch := range []string{"amd64", "arm64"} {
			run(t, root, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + arch},
				"go", "build", "-trimpath", "-o", filepath.Join(bins, "kguard-linux-"+arch), "./cmd/kguard")
		}
	}
	kgimage := filepath.Join(tmp, "kgimage")
	run(t, root, nil, "go", "build", "-o", kgimage, "./hack/kgimage")
	t.Logf("binaries from %s, kgimage built in %v", bins, time.Since(start).Round(time.Millisecond))

	const epoch = "1700000000"
	build := func(epoch string) (digest, out string) {
		t.Helper()
		dir := t.TempDir()
		dist := filepath.Join(dir, "somewhere", "dist")
		if err := os.MkdirAll(dist, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, arch := range []string{"amd64", "arm64"} {
			b, err := os.ReadFile(filepath.Join(bins, "kguard-linux-"+arch))
			if err != nil {
				t.Fatal(err)
			}
			// Another mode and time than the original: neither may matter.
			f := filepath.Join(dist, "kguard-linux-"+arch)
			if err := os.WriteFile(f, b, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		out = filepath.Join(dir, "image")
		began := time.Now()
		cmd := exec.Command(kgimage, "-dist", dist, "-out", out)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+epoch)
		stdout, err := cmd.Output()
		if err != nil {
			t.Fatalf("kgimage: %v\n%s", err, stderrOf(err))
		}
		digest = strings.TrimSpace(string(stdout))
		t.Logf("SOURCE_DATE_EPOCH=%s: %s (%v)", epoch, digest, time.Since(began).Round(time.Millisecond))
		return digest, out
	}
	d1, out1 := build(epoch)
	time.Sleep(1100 * time.Millisecond) // another wall-clock second
	d2, out2 := build(epoch)
	if !strings.HasPrefix(d1, "sha256:") || d1 != d2 {
		t.Fatalf("two builds of the same binaries: index digests %q and %q", d1, d2)
	}
	files := compareTrees(t, out1, out2)
	if d3, _ := build("1700000001"); d3 == d1 {
		t.Errorf("another SOURCE_DATE_EPOCH gave the same digest %s", d3)
	}

	// The layout's index.json names the index whose digest was printed.
	p, err := layout.FromPath(out1)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != d1 {
		t.Fatalf("index.json: %+v, want the index %s", im.Manifests, d1)
	}
	idx, err := top.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, desc := range m.Manifests {
		platforms = append(platforms, desc.Platform.String())
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cf.Config
		if c.User != "65532:65532" || len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/ko-app/kguard" ||
			cf.Created.Unix() != 1700000000 || cf.OS+"/"+cf.Architecture != desc.Platform.String() {
			t.Errorf("%s: config user %q entrypoint %q created %v os/arch %s/%s", desc.Platform, c.User, c.Entrypoint, cf.Created, cf.OS, cf.Architecture)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]*tar.Header{}
		for _, l := range layers {
			rc, err := l.Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			tr := tar.NewReader(rc)
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				seen[h.Name] = h
				if h.ModTime.Unix() != 1700000000 || h.Uname != "" || h.Gname != "" {
					t.Errorf("%s: %s: mtime %v owner names %q %q", desc.Platform, h.Name, h.ModTime, h.Uname, h.Gname)
				}
				if h.Uid != 0 && h.Name != "home/nonroot/" {
					t.Errorf("%s: %s owned by %d", desc.Platform, h.Name, h.Uid)
				}
			}
			rc.Close()
		}
		for name, mode := range map[string]int64{"ko-app/kguard": 0o755, "etc/passwd": 0o644, "etc/ssl/certs/ca-certificates.crt": 0o644} {
			if h := seen[name]; h == nil || h.Mode != mode {
				t.Errorf("%s: %s: %+v, want mode %o", desc.Platform, name, h, mode)
			}
		}
		if h := seen["kguard"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "/ko-app/kguard" {
			t.Errorf("%s: /kguard (deploy/deployment.yaml's command) is not a symlink to /ko-app/kguard: %+v", desc.Platform, h)
		}
	}
	if strings.Join(platforms, " ") != "linux/amd64 linux/arm64" {
		t.Errorf("platforms %v", platforms)
	}
	t.Logf("both builds: %s, %d identical files (%v in all)", d1, files, time.Since(start).Round(time.Millisecond))
}

// compareTrees fails unless a and b hold the same files with the same bytes.
func compareTrees(t *testing.T, a, b string) int {
	t.Helper()
	read := func(root string) map[string][]byte {
		files := map[string][]byte{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			files[rel], err = os.ReadFile(p)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	x, y := read(a), read(b)
	if len(x) != len(y) {
		t.Errorf("the layouts hold %d and %d files", len(x), len(y))
	}
	for name, data := range x {
		if !bytes.Equal(data, y[name]) {
			t.Errorf("%s differs between the two builds", name)
		}
	}
	return len(x)
}

func stderrOf(err error) []byte {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.Stderr
	}
	return nil
}
