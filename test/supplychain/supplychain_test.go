//go:build supplychain

// Package supplychain checks kguard's image-signature verification
// (internal/registry + internal/imagepolicy, and the kguard binary) against
// what the real cosign CLI signs and verifies, on a real TLS registry:
// for every case, kguard's verdict and `cosign verify`'s (or
// `verify-attestation`'s) exit status must be the expected one, and agree.
//
//	bash hack/supply-chain.sh install
//	go test -race -count=1 -tags supplychain ./test/supplychain/...
//
// TestMain starts the registry with hack/supply-chain.sh registry-up (which
// builds cosign and crane when they are not cached) and fails, never skips,
// when it cannot.
package supplychain

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := filepath.Abs("../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "kguard-supplychain-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	e := &supplyEnv{root: root, dir: dir}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "FAIL: supply-chain tests need cosign, crane and a registry: "+format+
			"\n(install them with: bash hack/supply-chain.sh install; it needs docker-registry, openssl and curl from apt, and Go to build cosign)\n", args...)
		return 1
	}
	if _, err := exec.LookPath("bash"); err != nil {
		return fail("%v", err)
	}
	start := time.Now()
	out, err := e.script("registry-up", dir)
	if err != nil {
		return fail("hack/supply-chain.sh registry-up %s: %v\n%s", dir, err, out)
	}
	defer func() {
		if out, err := e.script("registry-down", dir); err != nil {
			fmt.Fprintf(os.Stderr, "hack/supply-chain.sh registry-down: %v\n%s", err, out)
		}
	}()
	vars, err := readEnvFile(filepath.Join(dir, "env"))
	if err != nil {
		return fail("reading %s/env: %v", dir, err)
	}
	e.registry, e.ca, e.cosign, e.crane = vars["KGUARD_REGISTRY"], vars["KGUARD_REGISTRY_CA"], vars["COSIGN"], vars["CRANE"]
	for k, v := range map[string]string{"KGUARD_REGISTRY": e.registry, "KGUARD_REGISTRY_CA": e.ca, "COSIGN": e.cosign, "CRANE": e.crane} {
		if v == "" {
			return fail("%s/env has no %s", dir, k)
		}
	}
	for _, bin := range []string{e.cosign, e.crane} {
		if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
			return fail("%s is not an executable: %v", bin, err)
		}
	}
	env = e
	// Keys and the signing config every test shares.
	e.key, e.pub = filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	e.otherKey, e.otherPub = filepath.Join(dir, "other.key"), filepath.Join(dir, "other.pub")
	e.signingConfig = filepath.Join(dir, "signing-config.json")
	for _, args := range [][]string{
		{"generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign")},
		{"generate-key-pair", "--output-key-prefix", filepath.Join(dir, "other")},
		{"signing-config", "create", "--out", e.signingConfig},
	} {
		if code, out, err := e.run(e.cosign, args...); err != nil || code != 0 {
			return fail("cosign %s: exit %d %v\n%s", strings.Join(args, " "), code, err, out)
		}
	}
	pub, err := os.ReadFile(e.pub)
	if err != nil {
		return fail("%v", err)
	}
	e.pubPEM = string(pub)
	fmt.Fprintf(os.Stderr, "supply chain: registry %s, %s, %s (ready in %s)\n", e.registry, filepath.Base(e.cosign), filepath.Base(e.crane), time.Since(start).Round(time.Millisecond))
	return m.Run()
}

// glob matches every image the tests push.
func glob() string { return env.registry + "/kguard/**" }

func signLegacy(t testing.TB, key string, img image) {
	t.Helper()
	mustCosign(t, append(append([]string{"sign", "--registry-cacert", env.ca, "--key", key}, legacyFlags...), "-y", img.ref)...)
}

func signBundle(t *testing.T, key string, img image) {
	t.Helper()
	mustCosign(t, "sign", "--registry-cacert", env.ca, "--key", key, "--signing-config", env.signingConfig, "-y", img.ref)
}

// cosignVerifyKey is `cosign verify --key` with no transparency log, as a
// key authority without ctlog verifies.
func cosignVerifyKey(t *testing.T, pub string, img image, extra ...string) (int, string) {
	t.Helper()
	return cosignStatus(t, append(append([]string{"verify", "--registry-cacert", env.ca, "--key", pub, "--insecure-ignore-tlog"}, extra...), img.ref)...)
}

// Case 1: a key signature in the legacy .sig format.
func TestKeySignedLegacy(t *testing.T) {
	img := pushImage(t, "legacy")
	signLegacy(t, env.key, img)
	pol := keyPolicy("legacy", glob(), env.pubPEM, "")
	code, out := cosignVerifyKey(t, env.pub, img)
	compare(t, kguardVerify(t, pol, img.tag), code, out, true, "")
	// The digest reference is judged the same.
	code, out = cosignVerifyKey(t, env.pub, img, "--new-bundle-format=false")
	compare(t, kguardVerify(t, pol, img.ref), code, out, true, "")
}

// Case 2: a key signature in the bundle format (an OCI referrer; this
// registry has no referrers API, so cosign uses the sha256-<digest> tag).
func TestKeySignedBundle(t *testing.T) {
	img := pushImage(t, "bundle")
	signBundle(t, env.key, img)
	t.Run("bundle policy", func(t *testing.T) {
		pol := keyPolicy("bundle", glob(), env.pubPEM, "    signatureFormat: bundle\n")
		code, out := cosignVerifyKey(t, env.pub, img)
		compare(t, kguardVerify(t, pol, img.tag), code, out, true, "")
	})
	t.Run("legacy policy", func(t *testing.T) {
		// A legacy-format authority reads only the .sig tag, as cosign
		// does with --new-bundle-format=false: the image has none.
		pol := keyPolicy("legacy", glob(), env.pubPEM, "")
		code, out := cosignVerifyKey(t, env.pub, img, "--new-bundle-format=false")
		compare(t, kguardVerify(t, pol, img.tag), code, out, false, "the image has no signatures")
	})
}

// Case 3: an unsigned image.
func TestUnsigned(t *testing.T) {
	img := pushImage(t, "unsigned")
	t.Run("legacy", func(t *testing.T) {
		code, out := cosignVerifyKey(t, env.pub, img, "--new-bundle-format=false")
		compare(t, kguardVerify(t, keyPolicy("legacy", glob(), env.pubPEM, ""), img.tag), code, out, false, "the image has no signatures")
	})
	t.Run("bundle", func(t *testing.T) {
		code, out := cosignVerifyKey(t, env.pub, img)
		compare(t, kguardVerify(t, keyPolicy("bundle", glob(), env.pubPEM, "    signatureFormat: bundle\n"), img.tag), code, out, false, "the image has no signatures")
	})
}

// Case 4: signed, but with another key than the policy's.
func TestOtherKey(t *testing.T) {
	t.Run("legacy", func(t *testing.T) {
		img := pushImage(t, "otherkey-legacy")
		signLegacy(t, env.otherKey, img)
		code, out := cosignVerifyKey(t, env.pub, img)
		compare(t, kguardVerify(t, keyPolicy("legacy", glob(), env.pubPEM, ""), img.tag), code, out, false, "failed to verify signature")
		// The other key's policy admits it: the signature itself is sound.
		otherPub, err := os.ReadFile(env.otherPub)
		if err != nil {
			t.Fatal(err)
		}
		code, out = cosignVerifyKey(t, env.otherPub, img)
		compare(t, kguardVerify(t, keyPolicy("other", glob(), string(otherPub), ""), img.tag), code, out, true, "")
	})
	t.Run("bundle", func(t *testing.T) {
		img := pushImage(t, "otherkey-bundle")
		signBundle(t, env.otherKey, img)
		code, out := cosignVerifyKey(t, env.pub, img)
		compare(t, kguardVerify(t, keyPolicy("bundle", glob(), env.pubPEM, "    signatureFormat: bundle\n"), img.tag), code, out, false, "no signature verified")
	})
}

// Case 5: image A's signature copied to image B's sha256-<B>.sig tag: a
// sound signature, of another image.
func TestCopiedSignature(t *testing.T) {
	a, b := pushImage(t, "copy-sig-a"), pushImage(t, "copy-sig-b")
	signLegacy(t, env.key, a)
	copySigTag(t, a, b, ".sig")
	code, out := cosignVerifyKey(t, env.pub, b)
	compare(t, kguardVerify(t, keyPolicy("legacy", glob(), env.pubPEM, ""), b.tag), code, out, false, "the signature is for "+a.digest)
	// A itself is still admitted.
	code, out = cosignVerifyKey(t, env.pub, a)
	compare(t, kguardVerify(t, keyPolicy("legacy", glob(), env.pubPEM, ""), a.tag), code, out, true, "")
}

// Case 6: a legacy signature rebuilt with go-containerregistry, with one
// byte of the signature or of the payload changed.
func TestTamperedSignature(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, payload []byte, ann map[string]string) []byte
		admit  bool
		want   string
	}{
		// The rebuild itself is faithful: untouched, it still verifies.
		{"rebuilt untouched", func(t *testing.T, p []byte, _ map[string]string) []byte { return p }, true, ""},
		{"signature byte", func(t *testing.T, p []byte, ann map[string]string) []byte {
			s := []byte(ann["dev.cosignproject.cosign/signature"])
			if len(s) < 20 {
				t.Fatalf("signature annotation %q", s)
			}
			i := len(s) / 2
			if s[i] == 'A' {
				s[i] = 'B'
			} else {
				s[i] = 'A'
			}
			ann["dev.cosignproject.cosign/signature"] = string(s)
			return p
		}, false, "failed to verify signature"},
		{"payload byte", func(t *testing.T, p []byte, _ map[string]string) []byte {
			const from, to = `"cosign container image signature"`, `"cosign container image signaturE"`
			if !strings.Contains(string(p), from) {
				t.Fatalf("payload %s has no %s", p, from)
			}
			return []byte(strings.Replace(string(p), from, to, 1))
		}, false, "failed to verify signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := pushImage(t, "tampered-"+strings.ReplaceAll(tc.name, " ", "-"))
			signLegacy(t, env.key, img)
			payload, ann := legacySignature(t, img)
			payload = tc.tamper(t, payload, ann)
			writeLegacySignature(t, img, payload, ann)
			code, out := cosignVerifyKey(t, env.pub, img)
			compare(t, kguardVerify(t, keyPolicy("legacy", glob(), env.pubPEM, ""), img.tag), code, out, tc.admit, tc.want)
		})
	}
}

const slsaType = "https://slsa.dev/provenance/v0.2"

func attestLegacy(t *testing.T, img image) {
	t.Helper()
	pred := filepath.Join(t.TempDir(), "provenance.json")
	p, _ := json.Marshal(map[string]any{
		"builder":    map[string]any{"id": "https://kguard.example/builder"},
		"buildType":  "https://kguard.example/build/v1",
		"invocation": map[string]any{"configSource": map[string]any{"uri": "git+https://kguard.example/repo"}},
	})
	if err := os.WriteFile(pred, p, 0o644); err != nil {
		t.Fatal(err)
	}
	mustCosign(t, append(append([]string{"attest", "--registry-cacert", env.ca, "--key", env.key}, legacyFlags...),
		"--predicate", pred, "--type", slsaType, "-y", img.ref)...)
}

func cosignVerifyAttestation(t *testing.T, img image, typ string) (int, string) {
	t.Helper()
	return cosignStatus(t, "verify-attestation", "--registry-cacert", env.ca, "--key", env.pub, "--insecure-ignore-tlog",
		"--new-bundle-format=false", "--type", typ, img.ref)
}

func attestationPolicy(predicateType string) string {
	return keyPolicy("provenance", glob(), env.pubPEM, fmt.Sprintf("    attestations:\n    - name: slsa\n      predicateType: %s\n", predicateType))
}

// Case 7: a SLSA provenance attestation (legacy .att format).
func TestAttestation(t *testing.T) {
	img := pushImage(t, "attested")
	attestLegacy(t, img)
	t.Run("slsaprovenance", func(t *testing.T) {
		code, out := cosignVerifyAttestation(t, img, "slsaprovenance")
		compare(t, kguardVerify(t, attestationPolicy("slsaprovenance"), img.tag), code, out, true, "")
	})
	t.Run("missing predicate type", func(t *testing.T) {
		code, out := cosignVerifyAttestation(t, img, "cyclonedx")
		compare(t, kguardVerify(t, attestationPolicy("cyclonedx"), img.tag), code, out, false, "the image has no attestation of that type")
	})
}

// Case 8: image A's attestation copied to image B's .att tag.
func TestCopiedAttestation(t *testing.T) {
	a, b := pushImage(t, "copy-att-a"), pushImage(t, "copy-att-b")
	attestLegacy(t, a)
	copySigTag(t, a, b, ".att")
	code, out := cosignVerifyAttestation(t, b, "slsaprovenance")
	compare(t, kguardVerify(t, attestationPolicy("slsaprovenance"), b.tag), code, out, false, "did not verify")
	code, out = cosignVerifyAttestation(t, a, "slsaprovenance")
	compare(t, kguardVerify(t, attestationPolicy("slsaprovenance"), a.tag), code, out, true, "")
}

// Case 9: "keyless" signatures from a private CA: a leaf certificate with
// the identity as a SAN URI and Fulcio's OIDC-issuer extensions, signed by
// cosign with the imported leaf key, no Rekor and no SCT.
func TestKeylessPrivateCA(t *testing.T) {
	const (
		subject = "https://kguard.example/ci/release@refs/heads/main"
		issuer  = "https://issuer.kguard.example"
	)
	dir := t.TempDir()
	ca := newTestCA(t, dir)
	now := time.Now()
	valid := ca.issueLeaf(t, dir, "leaf", subject, issuer, now.Add(-time.Hour), now.Add(time.Hour))
	signed := pushImage(t, "keyless")
	signWithLeaf(t, valid, signed)
	expired := ca.issueLeaf(t, dir, "expired", subject, issuer, now.Add(-3*time.Hour), now.Add(-2*time.Hour))
	expiredImg := pushImage(t, "keyless-expired")
	signWithLeaf(t, expired, expiredImg)

	verify := func(t *testing.T, img image, issuer, subject string) (int, string) {
		// cosign's private-CA verification: --ca-roots (deprecated for
		// --trusted-root, still working), the identity, and neither an SCT
		// nor a transparency log entry.
		return cosignStatus(t, "verify", "--registry-cacert", env.ca, "--ca-roots", ca.pemFile,
			"--certificate-identity", subject, "--certificate-oidc-issuer", issuer,
			"--insecure-ignore-sct", "--insecure-ignore-tlog", img.ref)
	}
	for _, tc := range []struct {
		name            string
		img             image
		issuer, subject string
		admit           bool
		want            string
	}{
		{"admitted", signed, issuer, subject, true, ""},
		{"identity mismatch", signed, issuer, "https://kguard.example/ci/other@refs/heads/main", false, `expected SAN value "https://kguard.example/ci/other@refs/heads/main"`},
		{"issuer mismatch", signed, "https://other-issuer.kguard.example", subject, false, `expected issuer value "https://other-issuer.kguard.example"`},
		// cosign: "expected a signed timestamp to verify an expired certificate".
		{"expired leaf", expiredImg, issuer, subject, false, "failed to verify leaf certificate: leaf certificate verification failed (the signing certificate expired at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := verify(t, tc.img, tc.issuer, tc.subject)
			compare(t, kguardVerify(t, keylessPolicy("keyless", glob(), ca.pem, tc.issuer, tc.subject), tc.img.tag), code, out, tc.admit, tc.want)
		})
	}
}

// Case 10: the registry stopped refuses (kguard names the registry), and
// restarted admits again.
func TestRegistryStopped(t *testing.T) {
	img := pushImage(t, "outage")
	signLegacy(t, env.key, img)
	pol := keyPolicy("legacy", glob(), env.pubPEM, "")
	code, out := cosignVerifyKey(t, env.pub, img)
	compare(t, kguardVerify(t, pol, img.tag), code, out, true, "")

	if out, err := env.script("registry-stop", env.dir); err != nil {
		t.Fatalf("registry-stop: %v\n%s", err, out)
	}
	stopped := true
	defer func() {
		if stopped {
			if out, err := env.script("registry-start", env.dir); err != nil {
				t.Errorf("registry-start: %v\n%s", err, out)
			}
		}
	}()
	t.Run("stopped, by digest", func(t *testing.T) {
		code, out := cosignVerifyKey(t, env.pub, img)
		kg := kguardVerify(t, pol, img.ref)
		compare(t, kg, code, out, false, "reading signatures from "+img.repo)
		if kg.result == nil || len(kg.result.Policies) != 1 || !kg.result.Policies[0].Unavailable {
			t.Errorf("a registry outage should be marked Unavailable (not cached): %+v", kg.result)
		}
		if !strings.Contains(kg.String(), env.registry) {
			t.Errorf("the refusal should name the registry %s: %s", env.registry, kg)
		}
	})
	t.Run("stopped, by tag", func(t *testing.T) {
		code, out := cosignVerifyKey(t, env.pub, img)
		kg := kguardVerify(t, pol, img.tag)
		compare(t, kg, code, out, false, env.registry)
	})
	if out, err := env.script("registry-start", env.dir); err != nil {
		t.Fatalf("registry-start: %v\n%s", err, out)
	}
	stopped = false
	t.Run("restarted", func(t *testing.T) {
		code, out := cosignVerifyKey(t, env.pub, img)
		compare(t, kguardVerify(t, pol, img.tag), code, out, true, "")
	})
}

// The kguard binary: `kguard image verify` exits 0 when every image is
// admitted, 1 when one is refused, and says why.
func TestKguardImageVerifyCLI(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "kguard")
	build := exec.Command("go", "build", "-o", bin, "./cmd/kguard")
	build.Dir = env.root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	signed, bundled, unsigned := pushImage(t, "cli-signed"), pushImage(t, "cli-bundle"), pushImage(t, "cli-unsigned")
	signLegacy(t, env.key, signed)
	signBundle(t, env.key, bundled)
	policyFile := filepath.Join(dir, "policies.yaml")
	// Two policies: the legacy key authority for cli-signed and
	// cli-unsigned, the bundle one for cli-bundle.
	pols := keyPolicy("cli-legacy", env.registry+"/kguard/cli-*signed**", env.pubPEM, "") + "---\n" +
		keyPolicy("cli-bundle", env.registry+"/kguard/cli-bundle**", env.pubPEM, "    signatureFormat: bundle\n")
	if err := os.WriteFile(policyFile, []byte(pols), 0o644); err != nil {
		t.Fatal(err)
	}
	kguard := func(images ...string) (int, string) {
		t.Helper()
		code, out, err := env.run(bin, append([]string{"image", "verify", "--policy", policyFile, "--registry-ca-file", env.ca}, images...)...)
		if err != nil {
			t.Fatalf("kguard: %v\n%s", err, out)
		}
		return code, out
	}
	code, out := kguard(signed.tag, bundled.tag)
	t.Logf("kguard image verify %s %s: exit %d\n%s", signed.tag, bundled.tag, code, out)
	if code != 0 || !strings.Contains(out, "ADMITTED "+signed.tag+" ("+signed.digest+") by cli-legacy") ||
		!strings.Contains(out, "ADMITTED "+bundled.tag+" ("+bundled.digest+") by cli-bundle") {
		t.Errorf("want exit 0 and both admitted, got exit %d:\n%s", code, out)
	}
	code, out = kguard(signed.tag, unsigned.tag)
	t.Logf("kguard image verify %s %s: exit %d\n%s", signed.tag, unsigned.tag, code, out)
	want := fmt.Sprintf(`image %q is not admitted by ClusterImagePolicy "cli-legacy": no signature verified by authority "release-key": the image has no signatures`, unsigned.tag)
	if code != 1 || !strings.Contains(out, "ADMITTED "+signed.tag) || !strings.Contains(out, "REFUSED  "+unsigned.tag) || !strings.Contains(out, want) {
		t.Errorf("want exit 1, %s admitted and %s refused with %q, got exit %d:\n%s", signed.tag, unsigned.tag, want, code, out)
	}
	// The JSON report says the same.
	code, out, err := env.run(bin, "image", "verify", "-o", "json", "--policy", policyFile, "--registry-ca-file", env.ca, unsigned.ref)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Images []struct {
			Image    string   `json:"image"`
			Digest   string   `json:"digest"`
			Admitted bool     `json:"admitted"`
			Denials  []string `json:"denials"`
		} `json:"images"`
	}
	if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil || code != 1 || len(rep.Images) != 1 || rep.Images[0].Admitted ||
		rep.Images[0].Digest != unsigned.digest || len(rep.Images[0].Denials) != 1 || !strings.Contains(rep.Images[0].Denials[0], "the image has no signatures") {
		t.Errorf("-o json: exit %d, %v:\n%s", code, jerr, out)
	}
}
