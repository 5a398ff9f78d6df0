//go:build supplychain

package supplychain

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/kguard/kguard/internal/imagepolicy"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/registry"
)

// supplyEnv is the registry and tools that hack/supply-chain.sh registry-up
// started, and the keys TestMain made with cosign.
type supplyEnv struct {
	root     string // the repository's root
	dir      string // registry-up's DIR, and the shared keys
	registry string // 127.0.0.1:PORT
	ca       string // the registry's CA (PEM file)
	cosign   string
	crane    string

	key, pub           string // cosign.key / cosign.pub
	otherKey, otherPub string // other.key / other.pub
	signingConfig      string // an empty signing config: bundle format, no Rekor
	pubPEM             string // cosign.pub's PEM, for policies
}

var env *supplyEnv

// The flags that make cosign v3 sign offline, with no Rekor, in the legacy
// format (sha256-<digest>.sig and .att tags); see hack/supply-chain.sh.
var legacyFlags = []string{"--use-signing-config=false", "--tlog-upload=false", "--new-bundle-format=false"}

func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), "="); ok {
			out[k] = v
		}
	}
	return out, s.Err()
}

// script runs hack/supply-chain.sh with args.
func (e *supplyEnv) script(args ...string) (string, error) {
	cmd := exec.Command("bash", append([]string{filepath.Join(e.root, "hack", "supply-chain.sh")}, args...)...)
	cmd.Dir = e.root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// toolEnv is the environment of cosign and crane: no password on the keys,
// cosign's TUF cache in the test's directory (nothing here uses TUF), and
// the registry's CA as the only roots (crane has no CA flag).
func (e *supplyEnv) toolEnv() []string {
	return append(os.Environ(), "COSIGN_PASSWORD=", "TUF_ROOT="+filepath.Join(e.dir, "tuf"), "SSL_CERT_FILE="+e.ca)
}

// run runs a tool and returns its exit status and combined output; an
// error is only a tool that could not be run at all.
func (e *supplyEnv) run(bin string, args ...string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = e.toolEnv()
	cmd.Dir = e.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return ee.ExitCode(), out.String(), nil
	}
	if err != nil {
		return -1, out.String(), err
	}
	return 0, out.String(), nil
}

// cosignStatus runs cosign and returns its exit status and output.
func cosignStatus(t testing.TB, args ...string) (int, string) {
	t.Helper()
	code, out, err := env.run(env.cosign, args...)
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return code, out
}

// mustCosign runs cosign, which must succeed (signing, attesting, keys).
func mustCosign(t testing.TB, args ...string) string {
	t.Helper()
	code, out := cosignStatus(t, args...)
	if code != 0 {
		t.Fatalf("cosign %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func mustCrane(t testing.TB, args ...string) string {
	t.Helper()
	code, out, err := env.run(env.crane, args...)
	if err != nil || code != 0 {
		t.Fatalf("crane %s: exit %d %v\n%s", strings.Join(args, " "), code, err, out)
	}
	return out
}

// remoteOpts trust the registry's CA (and nothing else).
func remoteOpts(t testing.TB) []remote.Option {
	t.Helper()
	caPEM, err := os.ReadFile(env.ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s: no PEM certificate", env.ca)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return []remote.Option{remote.WithTransport(tr)}
}

// image is one image pushed to the test registry.
type image struct {
	repo   string // 127.0.0.1:PORT/kguard/NAME
	tag    string // repo:v1, what the policies and kguard see
	digest string // sha256:<hex>
	ref    string // repo@digest, what cosign signs and verifies
}

// sigTag is cosign's legacy signature tag of the image (suffix ".sig" or ".att").
func (i image) sigTag(suffix string) string {
	return i.repo + ":" + strings.Replace(i.digest, ":", "-", 1) + suffix
}

// pushImage writes a random image to the registry as kguard/NAME:v1 with
// go-containerregistry.
func pushImage(t testing.TB, nameSuffix string) image {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	repo := env.registry + "/kguard/" + nameSuffix
	tag, err := name.NewTag(repo + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, remoteOpts(t)...); err != nil {
		t.Fatalf("pushing %s: %v", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return image{repo: repo, tag: tag.String(), digest: d.String(), ref: repo + "@" + d.String()}
}

// copySigTag copies src's signature (".sig") or attestation (".att") image
// to dst's tag of the same kind, with crane: an artifact of src presented as
// dst's.
func copySigTag(t testing.TB, src, dst image, suffix string) {
	t.Helper()
	mustCrane(t, "copy", src.sigTag(suffix), dst.sigTag(suffix))
}

// legacySignature reads the single layer of the image's .sig image.
func legacySignature(t testing.TB, img image) ([]byte, map[string]string) {
	t.Helper()
	ref, err := name.ParseReference(img.sigTag(".sig"))
	if err != nil {
		t.Fatal(err)
	}
	si, err := remote.Image(ref, remoteOpts(t)...)
	if err != nil {
		t.Fatalf("reading %s: %v", ref, err)
	}
	m, err := si.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Layers) != 1 {
		t.Fatalf("%s has %d layers, want the one cosign signed", ref, len(m.Layers))
	}
	l, err := si.LayerByDigest(m.Layers[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), m.Layers[0].Annotations
}

// writeLegacySignature replaces the image's .sig image by one layer of
// payload with annotations, as cosign lays it out.
func writeLegacySignature(t testing.TB, img image, payload []byte, annotations map[string]string) {
	t.Helper()
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	si, err := mutate.Append(base, mutate.Addendum{
		Layer:       static.NewLayer(payload, "application/vnd.dev.cosign.simplesigning.v1+json"),
		Annotations: annotations,
	})
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(img.sigTag(".sig"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, si, remoteOpts(t)...); err != nil {
		t.Fatalf("writing %s: %v", tag, err)
	}
}

// kguardVerdict is kguard's verdict through internal/registry and
// internal/imagepolicy, on policy YAML as a user writes it.
type kguardVerdict struct {
	admitted bool
	messages []string
	err      error // resolving the image, or loading the policy
	result   *imagepolicy.Result
}

func (v kguardVerdict) String() string {
	if v.err != nil {
		return "refused: " + v.err.Error()
	}
	if v.admitted {
		return "admitted"
	}
	return "refused: " + strings.Join(v.messages, "; ")
}

// compilePolicy loads and compiles policy YAML as a user's file would be.
func compilePolicy(t testing.TB, policyYAML string) *imagepolicy.Policies {
	t.Helper()
	f := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(f, []byte(policyYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := policy.Load([]string{f}, nil)
	if err != nil {
		t.Fatalf("loading the policy: %v\n%s", err, policyYAML)
	}
	if len(set.ClusterImagePolicies) == 0 {
		t.Fatalf("no ClusterImagePolicy in\n%s", policyYAML)
	}
	ps, err := imagepolicy.Compile(set.ClusterImagePolicies, set.TrustRoots, imagepolicy.Options{})
	if err != nil {
		t.Fatalf("compiling the policy: %v\n%s", err, policyYAML)
	}
	return ps
}

func kguardVerify(t testing.TB, policyYAML, ref string) kguardVerdict {
	t.Helper()
	ps := compilePolicy(t, policyYAML)
	reg, err := registry.New(registry.Config{CAFile: env.ca, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	img, err := reg.Resolve(ctx, ref)
	if err != nil {
		return kguardVerdict{err: err}
	}
	res, err := ps.Verify(ctx, img, reg)
	if err != nil {
		return kguardVerdict{err: err}
	}
	if res.NoMatch {
		t.Fatalf("no policy matches %s: the test's globs are wrong", ref)
	}
	return kguardVerdict{admitted: !res.Denied(), messages: res.Messages(true), result: res}
}

// compare checks kguard's verdict and cosign's (exit status 0: admitted)
// against the expected one, and against each other. want is a substring
// of kguard's denial.
func compare(t testing.TB, kg kguardVerdict, cosignCode int, cosignOut string, admit bool, want string) {
	t.Helper()
	cosignAdmits := cosignCode == 0
	t.Logf("VERDICT %s: kguard %s | cosign exit %d%s", t.Name(), kg, cosignCode, lastLine(cosignOut, cosignCode))
	if kg.admitted != cosignAdmits {
		t.Errorf("DISAGREEMENT: kguard admitted=%v, cosign admitted=%v (exit %d)\nkguard: %s\ncosign: %s", kg.admitted, cosignAdmits, cosignCode, kg, cosignOut)
	}
	if kg.admitted != admit {
		t.Errorf("kguard: want admitted=%v, got %s", admit, kg)
	}
	if cosignAdmits != admit {
		t.Errorf("cosign: want admitted=%v, got exit %d:\n%s", admit, cosignCode, cosignOut)
	}
	if !admit && want != "" && !strings.Contains(kg.String(), want) {
		t.Errorf("kguard's refusal should say %q: %s", want, kg)
	}
}

// lastLine is cosign's error, the last line it printed, when it failed.
func lastLine(out string, code int) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code == 0 || len(lines) == 0 {
		return ""
	}
	return ": " + lines[len(lines)-1]
}

// keyPolicy is a ClusterImagePolicy with one key authority over glob;
// extra is more YAML under the authority (indented four spaces).
func keyPolicy(name, glob, pubPEM, extra string) string {
	return fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: %s
spec:
  images:
  - glob: %q
  authorities:
  - name: release-key
    key:
      data: |
%s%s`, name, glob, indent(pubPEM, 8), extra)
}

func keylessPolicy(name, glob, rootPEM, issuer, subject string) string {
	return fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: %s
spec:
  images:
  - glob: %q
  authorities:
  - name: private-ca
    keyless:
      ca-cert:
        data: |
%s      identities:
      - issuer: %q
        subject: %q
      insecureIgnoreSCT: true
`, name, glob, indent(rootPEM, 10), issuer, subject)
}

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad) + "\n"
}

// A private CA for "keyless" signing: a root, and leaves that look like
// Fulcio's (a SAN URI identity and the OIDC issuer extensions).
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	pemFile string
	pem     string
}

var (
	oidIssuerV1 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1} // the raw string
	oidIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8} // a DER UTF8String
)

func newTestCA(t testing.TB, dir string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kguard test signing CA", Organization: []string{"kguard"}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	f := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(f, p, 0o644); err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pemFile: f, pem: string(p)}
}

// leaf is a signing certificate and its key, as files cosign reads.
type leaf struct {
	certFile, keyFile, chainFile string
}

// issueLeaf writes prefix.crt (the leaf), prefix-key.pem (its key, PKCS#8)
// and prefix-chain.pem (the root) in dir.
func (ca *testCA) issueLeaf(t testing.TB, dir, prefix, subject, issuer string, notBefore, notAfter time.Time) leaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(subject)
	if err != nil {
		t.Fatal(err)
	}
	issuerV2, err := asn1.MarshalWithParams(issuer, "utf8")
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		URIs:         []*url.URL{u},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{
			{Id: oidIssuerV1, Value: []byte(issuer)},
			{Id: oidIssuerV2, Value: issuerV2},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	l := leaf{
		certFile:  filepath.Join(dir, prefix+".crt"),
		keyFile:   filepath.Join(dir, prefix+"-key.pem"),
		chainFile: filepath.Join(dir, prefix+"-chain.pem"),
	}
	for f, b := range map[string][]byte{
		l.certFile:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		l.keyFile:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		l.chainFile: []byte(ca.pem),
	} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// signWithLeaf imports the leaf's key into cosign and signs img with it
// and the certificate, legacy format, no Rekor.
func signWithLeaf(t testing.TB, l leaf, img image) {
	t.Helper()
	prefix := strings.TrimSuffix(l.keyFile, "-key.pem") + "-imported"
	mustCosign(t, "import-key-pair", "--key", l.keyFile, "--output-key-prefix", prefix, "-y")
	mustCosign(t, append(append([]string{"sign", "--registry-cacert", env.ca, "--key", prefix + ".key",
		"--certificate", l.certFile, "--certificate-chain", l.chainFile}, legacyFlags...), "-y", img.ref)...)
}
