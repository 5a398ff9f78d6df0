//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kguardImage builds kguard's own image with hack/kgimage (linux/amd64, from
// dist/'s release binary when make release wrote it, else a go build of
// cmd/kguard) at SOURCE_DATE_EPOCH epoch, pushes it to the suite's registry as
// repoTag, and returns the pushed index digest and the binary it holds.
func kguardImage(t *testing.T, dir, repoTag, epoch string) (digest, bin string) {
	t.Helper()
	dist := filepath.Join(dir, "dist")
	bin = filepath.Join(dist, "kguard-linux-amd64")
	if _, err := os.Stat(bin); err != nil {
		if err := os.MkdirAll(dist, 0o755); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile("../../dist/kguard-linux-amd64"); err == nil {
			err = os.WriteFile(bin, b, 0o755)
			if err != nil {
				t.Fatal(err)
			}
		} else {
			build := exec.Command("go", "build", "-trimpath", "-o", bin, "github.com/kguard/kguard/cmd/kguard")
			build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("building kguard for linux/amd64: %v\n%s", err, out)
			}
		}
	}
	kgimage := filepath.Join(dir, "kgimage")
	if _, err := os.Stat(kgimage); err != nil {
		if out, err := exec.Command("go", "build", "-o", kgimage, "github.com/kguard/kguard/hack/kgimage").CombinedOutput(); err != nil {
			t.Fatalf("building hack/kgimage: %v\n%s", err, out)
		}
	}
	cmd := exec.Command(kgimage, "-dist", dist, "-platforms", "linux/amd64", "-out", filepath.Join(dir, "image-"+epoch),
		"-push", kg.registry["KGUARD_REGISTRY"]+"/"+repoTag, "-ca-file", kg.registry["KGUARD_REGISTRY_CA"])
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+epoch)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kgimage -push %s: %v\n%s", repoTag, err, stderrOf(err))
	}
	lines := strings.Fields(string(out)) // the digest, then REPO@DIGEST
	if len(lines) != 2 || !strings.HasSuffix(lines[1], "@"+lines[0]) {
		t.Fatalf("kgimage printed %q", out)
	}
	return lines[0], bin
}

func stderrOf(err error) []byte {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.Stderr
	}
	return nil
}

// Dogfooding: kguard's own image, built reproducibly by hack/kgimage, signed
// with hack/sign-image.sh (its SPDX SBOM attested, then the signature, with
// the real cosign CLI and a key made here), pushed to a real registry. A
// ClusterImagePolicy requires that key, and the SBOM attestation, for the
// repository: a pod of the signed image is admitted and pinned to its
// digest; a rebuild at another SOURCE_DATE_EPOCH (another digest), pushed
// under another tag of the same repository and never signed, is Forbidden
// with kguard's message.
func TestDogfood(t *testing.T) {
	defer kguardLogs(t)
	const ns = "e2e-dogfood"
	imageNamespace(t, ns)

	dir := t.TempDir()
	repo := kg.registry["KGUARD_REGISTRY"] + "/dogfood/kguard"
	start := time.Now()
	signed, bin := kguardImage(t, dir, "dogfood/kguard:v1", "1700000000")
	rebuilt, _ := kguardImage(t, dir, "dogfood/kguard:rebuilt", "1700000001")
	if signed == rebuilt {
		t.Fatalf("the rebuild at another SOURCE_DATE_EPOCH has the same digest %s", signed)
	}
	t.Logf("kguard's image %s@%s, its unsigned rebuild %s (built and pushed in %v)", repo, signed, rebuilt, time.Since(start).Round(time.Millisecond))

	// The release's key, the SBOM of the image's binary (kguard sbom), and
	// hack/sign-image.sh as a release would run it.
	cosign(t, dir, "generate-key-pair", "--output-key-prefix", "release")
	pub, err := os.ReadFile(filepath.Join(dir, "release.pub"))
	if err != nil {
		t.Fatal(err)
	}
	sbom, err := exec.Command(kg.bin, "sbom", bin).Output()
	if err != nil {
		t.Fatalf("kguard sbom: %v\n%s", err, stderrOf(err))
	}
	if err := os.WriteFile(filepath.Join(dir, "sbom.spdx.json"), sbom, 0o644); err != nil {
		t.Fatal(err)
	}
	sign := exec.Command("bash", "../../hack/sign-image.sh", repo+"@"+signed, filepath.Join(dir, "release.key"),
		filepath.Join(dir, "sbom.spdx.json"), kg.registry["KGUARD_REGISTRY_CA"])
	sign.Env = append(os.Environ(), "COSIGN="+kg.registry["COSIGN"], "COSIGN_PASSWORD=")
	if out, err := sign.CombinedOutput(); err != nil {
		t.Fatalf("hack/sign-image.sh: %v\n%s", err, out)
	}

	policies := fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: kguard-signed}
spec:
  images: [{glob: %q}]
  authorities:
  - name: release-key
    key:
      data: |
%s
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: kguard-sbom}
spec:
  images: [{glob: %q}]
  authorities:
  - name: release-key
    key:
      data: |
%s
    attestations:
    - name: sbom
      predicateType: spdxjson
`, repo+"**", indent(string(pub), 8), repo+"**", indent(string(pub), 8))
	if out, err := kubectlIn(t, policies, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() {
		kubectl(t, "delete", "clusterimagepolicies.policy.sigstore.dev", "kguard-signed", "kguard-sbom", "--ignore-not-found")
	})

	pod := func(name, image string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"},"spec":{"containers":[{"name":"kguard","image":"` + image + `","args":["version"]}]}}`
	}
	eventually(t, 30*time.Second, "a pod of kguard's signed image is admitted", func() (bool, string) {
		out, err := kubectlIn(t, pod("kguard-signed", repo+":v1"), "-n", ns, "create", "-f", "-")
		return err == nil, out
	})
	if got := mustKubectl(t, "-n", ns, "get", "pod", "kguard-signed", "-o", "jsonpath={.spec.containers[0].image}"); got != repo+"@"+signed {
		t.Fatalf("pod image %q, want it pinned to %s", got, repo+"@"+signed)
	}
	t.Logf("admitted: pod kguard-signed runs %s", repo+"@"+signed)

	out, err := kubectlIn(t, pod("kguard-rebuilt", repo+":rebuilt"), "-n", ns, "create", "-f", "-")
	for _, want := range []string{
		`image "` + repo + `:rebuilt" is not admitted by ClusterImagePolicy "kguard-signed": no signature verified by authority "release-key": the image has no signatures`,
		`image "` + repo + `:rebuilt" is not admitted by ClusterImagePolicy "kguard-sbom": no attestation "sbom" (https://spdx.dev/Document) verified by authority "release-key"`,
	} {
		if err == nil || !strings.Contains(out, "Forbidden") || !strings.Contains(out, want) {
			t.Fatalf("the unsigned rebuild: want Forbidden with %q, got %v\n%s", want, err, out)
		}
	}
	t.Logf("refused: %s", strings.TrimSpace(out))
}
