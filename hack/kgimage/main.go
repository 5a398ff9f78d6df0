// Command kgimage builds kguard's own container image without Docker, reproducibly:
//
//	go run ./hack/kgimage [-dist dist] [-out dist/image] [-push REGISTRY/REPO[:TAG]] [-ca-file CA.pem]
//	                      [-kustomization deploy/kustomization.yaml]
//
// From the release binaries of hack/release.sh (DIST/kguard-linux-amd64 and
// DIST/kguard-linux-arm64) it builds an OCI image index with one image per
// platform, each on scratch with two layers:
//
//	base: /etc/passwd and /etc/group (root and nonroot, 65532), and
//	      /etc/ssl/certs/ca-certificates.crt (the build machine's -ca-certs)
//	app:  /ko-app/kguard (the binary) and /kguard, a symlink to it, which is
//	      the command deploy/deployment.yaml runs
//
// with Entrypoint ["/ko-app/kguard"], User 65532:65532, SSL_CERT_FILE and PATH set.
// Every file is owned by 0:0 with a fixed mode, every timestamp (tar entries,
// config "created", history) is SOURCE_DATE_EPOCH (-epoch), the layers are
// gzipped by Go's compress/gzip (no header time): the same binaries, CA file
// and epoch give the same bytes and so the same index digest, wherever and
// whenever it runs.
//
// It writes an OCI image layout to -out (replaced) whose index.json points at
// the image index, and prints the index digest on stdout. With -push it also
// pushes the index (and its images) to the registry, using the Docker config's
// credentials and -ca-file's CA in addition to the system roots, and prints
// REPO@DIGEST on stdout after the digest. With -kustomization (and -push) it
// points the `images:` entry named "kguard" of that kustomization at
// REPO@DIGEST (newName and digest), keeping its comments.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	binPath  = "/ko-app/kguard"
	certPath = "/etc/ssl/certs/ca-certificates.crt"
	uid      = 65532
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kgimage:", err)
		os.Exit(1)
	}
}

func run() error {
	dist := flag.String("dist", "dist", "directory holding kguard-linux-ARCH (make release)")
	out := flag.String("out", "dist/image", "OCI image layout to write (replaced)")
	platforms := flag.String("platforms", "linux/amd64,linux/arm64", "platforms, comma-separated")
	caCerts := flag.String("ca-certs", certPath, "CA bundle to put in the image at "+certPath)
	epoch := flag.String("epoch", os.Getenv("SOURCE_DATE_EPOCH"), "timestamp of every file and of the config, Unix seconds (default $SOURCE_DATE_EPOCH)")
	push := flag.String("push", "", "also push the index to REGISTRY/REPO[:TAG]")
	caFile := flag.String("ca-file", "", "PEM CA to trust for -push, in addition to the system roots")
	kustomization := flag.String("kustomization", "", "with -push: point this kustomization's `images:` entry \"kguard\" at the pushed digest")
	flag.Parse()
	if *epoch == "" {
		return errors.New("set SOURCE_DATE_EPOCH or -epoch (hack/release.sh uses the last commit's time: git log -1 --format=%ct)")
	}
	secs, err := strconv.ParseInt(*epoch, 10, 64)
	if err != nil {
		return fmt.Errorf("epoch %q: %w", *epoch, err)
	}
	created := time.Unix(secs, 0).UTC()

	certs, err := os.ReadFile(*caCerts)
	if err != nil {
		return err
	}
	base, err := layer(created, []file{
		{name: "etc/", dir: true, mode: 0o755},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/ssl/", dir: true, mode: 0o755},
		{name: "etc/ssl/certs/", dir: true, mode: 0o755},
		{name: strings.TrimPrefix(certPath, "/"), mode: 0o644, data: certs},
		{name: "home/", dir: true, mode: 0o755},
		{name: "home/nonroot/", dir: true, mode: 0o700, owner: uid},
		{name: "tmp/", dir: true, mode: 0o1777},
	})
	if err != nil {
		return err
	}

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range strings.Split(*platforms, ",") {
		os_, arch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok {
			return fmt.Errorf("platform %q: want OS/ARCH", p)
		}
		bin, err := os.ReadFile(filepath.Join(*dist, "kguard-"+os_+"-"+arch))
		if err != nil {
			return fmt.Errorf("%w (run make release first)", err)
		}
		app, err := layer(created, []file{
			{name: "kguard", link: binPath},
			{name: "ko-app/", dir: true, mode: 0o755},
			{name: strings.TrimPrefix(binPath, "/"), mode: 0o755, data: bin},
		})
		if err != nil {
			return err
		}
		img, err := image(created, os_, arch, base, app)
		if err != nil {
			return err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: os_, Architecture: arch}},
		})
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}

	if err := os.RemoveAll(*out); err != nil {
		return err
	}
	lp, err := layout.Write(*out, empty.Index)
	if err != nil {
		return err
	}
	if err := lp.AppendIndex(idx); err != nil {
		return err
	}
	fmt.Println(digest)
	fmt.Fprintf(os.Stderr, "kgimage: %s: %s (%s, SOURCE_DATE_EPOCH=%d)\n", *out, digest, *platforms, secs)

	if *push == "" {
		return nil
	}
	ref, err := name.ParseReference(*push)
	if err != nil {
		return err
	}
	tr, err := transport(*caFile)
	if err != nil {
		return err
	}
	if err := remote.WriteIndex(ref, idx, remote.WithTransport(tr), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	pinned := ref.Context().Name() + "@" + digest.String()
	fmt.Println(pinned)
	fmt.Fprintf(os.Stderr, "kgimage: pushed %s as %s\n", ref, pinned)
	if *kustomization != "" {
		if err := setImage(*kustomization, "kguard", ref.Context().Name(), digest.String()); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "kgimage: %s: image kguard -> %s\n", *kustomization, pinned)
	}
	return nil
}

// file is one tar entry: a regular file (data), a directory or a symlink.
type file struct {
	name  string
	data  []byte
	mode  int64
	dir   bool
	link  string
	owner int
}

// layer is an OCI gzip layer of files, every header fixed but the name, size,
// mode and owner given.
func layer(created time.Time, files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name:    f.name,
			Mode:    f.mode,
			Uid:     f.owner,
			Gid:     f.owner,
			ModTime: created,
			Format:  tar.FormatUSTAR,
		}
		switch {
		case f.dir:
			h.Typeflag = tar.TypeDir
		case f.link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.link, 0o777
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		// Plain USTAR: no user or group names, no access or change times.
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// image is scratch plus the layers, with kguard's config.
func image(created time.Time, os_, arch string, layers ...v1.Layer) (v1.Image, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = os_, arch
	cf.Created = v1.Time{Time: created}
	cf.Author = "github.com/kguard/kguard/hack/kgimage"
	cf.History = []v1.History{
		{Created: v1.Time{Time: created}, CreatedBy: "kgimage: /etc/passwd, /etc/group (nonroot 65532), " + certPath, Comment: "base"},
		{Created: v1.Time{Time: created}, CreatedBy: "kgimage: " + binPath + " (kguard-" + os_ + "-" + arch + ")", Comment: "app"},
	}
	cf.Config = v1.Config{
		Entrypoint: []string{binPath},
		User:       "65532:65532",
		WorkingDir: "/",
		Env: []string{
			"PATH=/ko-app:/usr/local/bin:/usr/bin:/bin",
			"SSL_CERT_FILE=" + certPath,
		},
		Labels: map[string]string{
			"org.opencontainers.image.source": "https://github.com/kguard/kguard",
			"org.opencontainers.image.title":  "kguard",
		},
	}
	return mutate.ConfigFile(img, cf)
}

func transport(caFile string) (http.RoundTripper, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile == "" {
		return tr, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", caFile)
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr, nil
}

// setImage rewrites the `images:` entry `- name: NAME` of a kustomization
// in place: newName and digest, no newTag; other lines and comments stay.
func setImage(path, entry, newName, digest string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(string(b), "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == "- name: "+entry {
			start = i
			break
		}
	}
	if start < 0 {
		return fmt.Errorf("%s: no images entry \"- name: %s\"", path, entry)
	}
	indent := lines[start][:strings.Index(lines[start], "-")] + "  "
	end := start + 1
	for end < len(lines) && strings.HasPrefix(lines[end], indent) && !strings.HasPrefix(strings.TrimSpace(lines[end]), "-") {
		end++
	}
	out := append([]string{}, lines[:start+1]...)
	out = append(out, indent+"newName: "+newName, indent+"digest: "+digest)
	out = append(out, lines[end:]...)
	return os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644)
}
