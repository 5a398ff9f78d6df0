//go:build supplychain

package supplychain

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kguard/kguard/internal/registry"
)

// Side by side with the real cosign CLI, in one run, against the real
// registry (docs/performance.md, "Image verification"):
//
//	go test -tags supplychain -run XXX -bench . -benchtime 5x ./test/supplychain/

// BenchmarkColdKeyless verifies one keyless-signed image (a private CA's
// certificate, cosign's legacy format) with nothing cached: the tag
// resolved, the signature read, the chain, validity and identity checked.
// kguard: in process, a new registry client (and TLS connection) each time;
// cosign: `cosign verify` with the same trust and identity.
func BenchmarkColdKeyless(b *testing.B) {
	const (
		subject = "https://kguard.example/ci/release@refs/heads/main"
		issuer  = "https://issuer.kguard.example"
	)
	dir := b.TempDir()
	ca := newTestCA(b, dir)
	leaf := ca.issueLeaf(b, dir, "leaf", subject, issuer, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	img := pushImage(b, "bench-keyless")
	signWithLeaf(b, leaf, img)
	ps := compilePolicy(b, keylessPolicy("keyless", glob(), ca.pem, issuer, subject))
	b.Run("kguard", func(b *testing.B) {
		for b.Loop() {
			reg, err := registry.New(registry.Config{CAFile: env.ca, Timeout: 20 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			resolved, err := reg.Resolve(context.Background(), img.tag)
			if err != nil {
				b.Fatal(err)
			}
			res, err := ps.Verify(context.Background(), resolved, reg)
			if err != nil || res.Denied() {
				b.Fatalf("%v %v", err, res.Messages(true))
			}
		}
	})
	b.Run("cosign", func(b *testing.B) {
		for b.Loop() {
			code, out, err := env.run(env.cosign, "verify", "--registry-cacert", env.ca, "--ca-roots", ca.pemFile,
				"--certificate-identity", subject, "--certificate-oidc-issuer", issuer,
				"--insecure-ignore-sct", "--insecure-ignore-tlog", img.tag)
			if err != nil || code != 0 {
				b.Fatalf("cosign verify: exit %d %v\n%s", code, err, out)
			}
		}
	})
}

// BenchmarkVerify100Images: what a CI job checking 100 key-signed images
// costs with `kguard image verify` (one process, all images) and with
// `cosign verify` run once per image, as CI jobs do today.
func BenchmarkVerify100Images(b *testing.B) {
	const n = 100
	images := make([]image, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range images {
		images[i] = pushImage(b, fmt.Sprintf("bench-many-%03d", i))
	}
	for i := range images {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			signLegacy(b, env.key, images[i])
		}()
	}
	wg.Wait()
	dir := b.TempDir()
	bin := filepath.Join(dir, "kguard")
	build := exec.Command("go", "build", "-o", bin, "./cmd/kguard")
	build.Dir = env.root
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	policyFile := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(keyPolicy("many", glob(), env.pubPEM, "")), 0o644); err != nil {
		b.Fatal(err)
	}
	args := []string{"image", "verify", "--policy", policyFile, "--registry-ca-file", env.ca}
	for _, img := range images {
		args = append(args, img.tag)
	}
	b.Run("kguard-image-verify", func(b *testing.B) {
		for b.Loop() {
			if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
				b.Fatalf("kguard image verify: %v\n%s", err, out)
			}
		}
	})
	b.Run("cosign-verify-each", func(b *testing.B) {
		for b.Loop() {
			for _, img := range images {
				code, out, err := env.run(env.cosign, "verify", "--registry-cacert", env.ca, "--key", env.pub, "--insecure-ignore-tlog", img.tag)
				if err != nil || code != 0 {
					b.Fatalf("cosign verify %s: exit %d %v\n%s", img.tag, code, err, out)
				}
			}
		}
	})
}
