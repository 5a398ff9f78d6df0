package imagepolicy

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// These tests sign in process (sigstore-go's virtual Fulcio and Rekor, and
// keys made here) in exactly the layouts cosign writes; test/supplychain
// checks the same engine against what the real cosign CLI produced.

// The identity of the keyless tests' signatures: a CI workflow.
const ciIdentity, ciIssuer = "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main", "https://token.actions.githubusercontent.com"

const (
	repo    = "registry.example/team/app"
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

type memFetcher map[string]*Artifacts // repo@digest

func (m memFetcher) Artifacts(_ context.Context, repo, digest string, bundles bool) (*Artifacts, error) {
	if a, ok := m[repo+"@"+digest]; ok {
		if a == nil {
			return nil, errors.New("registry unreachable")
		}
		return a, nil
	}
	return &Artifacts{}, nil
}

func payloadFor(digest string) []byte {
	return []byte(fmt.Sprintf(`{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`, repo, digest))
}

type keyPair struct {
	priv crypto.Signer
	pem  string
	hash crypto.Hash
}

func newKey(t *testing.T) keyPair {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pairOf(t, k, crypto.SHA256)
}

func pairOf(t *testing.T, k crypto.Signer, hash crypto.Hash) keyPair {
	t.Helper()
	p, err := cryptoutils.MarshalPublicKeyToPEM(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{k, string(p), hash}
}

func (k keyPair) sign(t *testing.T, msg []byte) []byte {
	t.Helper()
	s, err := signature.LoadSigner(k.priv, k.hash)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.SignMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func (k keyPair) signLayer(t *testing.T, digest string) Layer {
	p := payloadFor(digest)
	return Layer{Payload: p, Annotations: map[string]string{annotationSignature: base64.StdEncoding.EncodeToString(k.sign(t, p))}}
}

// attest is a DSSE envelope around an in-toto statement about digest.
func (k keyPair) attest(t *testing.T, digest, predicateType string) Layer {
	t.Helper()
	stmt, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v0.1",
		"predicateType": predicateType,
		"subject":       []any{map[string]any{"name": repo, "digest": map[string]string{"sha256": strings.TrimPrefix(digest, "sha256:")}}},
		"predicate":     map[string]any{"builder": map[string]string{"id": "test"}},
	})
	sig := k.sign(t, dsse.PAE("application/vnd.in-toto+json", stmt))
	env, _ := json.Marshal(dsse.Envelope{PayloadType: "application/vnd.in-toto+json", Payload: base64.StdEncoding.EncodeToString(stmt),
		Signatures: []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}}})
	return Layer{Payload: env, Annotations: map[string]string{}}
}

func compile(t *testing.T, docs string, opts Options) (*Policies, error) {
	t.Helper()
	var cips []*ClusterImagePolicy
	var roots []*TrustRoot
	for _, d := range strings.Split(docs, "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(d), &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "ClusterImagePolicy":
			c := &ClusterImagePolicy{}
			if err := yaml.UnmarshalStrict([]byte(d), c); err != nil {
				t.Fatal(err)
			}
			cips = append(cips, c)
		case "TrustRoot":
			r := &TrustRoot{}
			if err := yaml.UnmarshalStrict([]byte(d), r); err != nil {
				t.Fatal(err)
			}
			roots = append(roots, r)
		}
	}
	return Compile(cips, roots, opts)
}

func keyPolicy(name, glob, keyPEM, mode string) string {
	return fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: %s}
spec:
  mode: %q
  images: [{glob: %q}]
  authorities:
  - name: key-0
    key:
      data: |
%s`, name, mode, glob, indent(keyPEM, 8))
}

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad) + "\n"
}

func verdict(t *testing.T, ps *Policies, ref, digest string, f Fetcher) *Result {
	t.Helper()
	r, err := ps.Verify(context.Background(), Image{Ref: ref, Repository: repo, Digest: digest}, f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestKeySignatures(t *testing.T) {
	k, other := newKey(t), newKey(t)
	ps, err := compile(t, keyPolicy("signed", repo+"**", k.pem, ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tampered := k.signLayer(t, digestA)
	tampered.Payload = bytes.Replace(tampered.Payload, []byte("cosign container"), []byte("cosign  container"), 1)
	for _, tc := range []struct {
		name string
		arts *Artifacts
		want string // "" admitted
	}{
		{"signed", &Artifacts{Signatures: []Layer{k.signLayer(t, digestA)}}, ""},
		{"one of several", &Artifacts{Signatures: []Layer{other.signLayer(t, digestA), k.signLayer(t, digestA)}}, ""},
		{"unsigned", &Artifacts{}, "the image has no signatures"},
		{"wrong key", &Artifacts{Signatures: []Layer{other.signLayer(t, digestA)}}, "failed to verify signature"},
		{"payload of another image", &Artifacts{Signatures: []Layer{k.signLayer(t, digestB)}}, "the signature is for " + digestB},
		{"tampered payload", &Artifacts{Signatures: []Layer{tampered}}, "failed to verify signature"},
		{"no signature annotation", &Artifacts{Signatures: []Layer{{Payload: payloadFor(digestA)}}}, "no dev.cosignproject.cosign/signature annotation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := verdict(t, ps, repo+":v1", digestA, memFetcher{repo + "@" + digestA: tc.arts})
			msgs := r.Messages(true)
			if tc.want == "" {
				if r.Denied() {
					t.Fatalf("denied: %v", msgs)
				}
				if r.Policies[0].Authority != "key-0" {
					t.Fatalf("satisfied by %q", r.Policies[0].Authority)
				}
				return
			}
			if !r.Denied() || len(msgs) != 1 || !strings.Contains(msgs[0], tc.want) ||
				!strings.HasPrefix(msgs[0], `image "`+repo+`:v1" is not admitted by ClusterImagePolicy "signed": no signature verified by authority "key-0"`) {
				t.Fatalf("want a denial containing %q, got denied=%v %q", tc.want, r.Denied(), msgs)
			}
		})
	}
}

// Every key type cosign signs with: ECDSA P-256 and P-384, Ed25519, RSA
// (PKCS#1 v1.5), with the policy's hashAlgorithm where it is not SHA-256.
func TestKeyTypes(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tc := range []struct {
		name, hashAlgorithm string
		key                 keyPair
	}{
		{"ecdsa-p256", "", newKey(t)},
		{"ecdsa-p384-sha384", "sha384", pairOf(t, p384, crypto.SHA384)},
		{"ed25519", "", pairOf(t, ed, crypto.Hash(0))},
		{"rsa-2048", "", pairOf(t, rsaKey, crypto.SHA256)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := keyPolicy("k", "**", tc.key.pem, "")
			if tc.hashAlgorithm != "" {
				doc = strings.Replace(doc, "    key:\n", "    key:\n      hashAlgorithm: "+tc.hashAlgorithm+"\n", 1)
			}
			ps, err := compile(t, doc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r := verdict(t, ps, repo+":v1", digestA, memFetcher{repo + "@" + digestA: {Signatures: []Layer{tc.key.signLayer(t, digestA)}}}); r.Denied() {
				t.Fatalf("a %s signature was refused: %v", tc.name, r.Messages(true))
			}
			other := tc.key
			other.pem = newKey(t).pem
			ps2, _ := compile(t, keyPolicy("k", "**", other.pem, ""), Options{})
			if r := verdict(t, ps2, repo+":v1", digestA, memFetcher{repo + "@" + digestA: {Signatures: []Layer{tc.key.signLayer(t, digestA)}}}); !r.Denied() {
				t.Fatalf("a %s signature verified with another key", tc.name)
			}
		})
	}
}

func TestRegistryErrorRefuses(t *testing.T) {
	k := newKey(t)
	ps, err := compile(t, keyPolicy("signed", "**", k.pem, ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := verdict(t, ps, repo+":v1", digestA, memFetcher{repo + "@" + digestA: nil})
	if !r.Denied() || !strings.Contains(r.Messages(true)[0], "registry unreachable") {
		t.Fatalf("a registry error must refuse: %v", r.Messages(true))
	}
}

func TestEveryMatchingPolicyMustPassAndModes(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	docs := keyPolicy("a-first", "registry.example/**", k1.pem, "") + "\n---\n" + keyPolicy("b-second", repo+"*", k2.pem, "warn") + "\n---\n" + keyPolicy("c-other", "other.example/**", k2.pem, "")
	ps, err := compile(t, docs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := memFetcher{repo + "@" + digestA: {Signatures: []Layer{k1.signLayer(t, digestA)}}}
	r := verdict(t, ps, repo+":v1", digestA, f)
	if len(r.Policies) != 2 || r.Policies[0].Policy != "a-first" || r.Policies[1].Policy != "b-second" {
		t.Fatalf("matching policies: %+v", r.Policies)
	}
	if r.Denied() || len(r.Messages(false)) != 1 || !strings.Contains(r.Messages(false)[0], `"b-second"`) {
		t.Fatalf("the warn-mode policy warns, the enforced one passes: denied=%v warnings=%v", r.Denied(), r.Messages(false))
	}
	if r := verdict(t, ps, "nomatch.example/x:1", digestA, f); !r.NoMatch || len(r.Policies) != 0 {
		t.Fatalf("no policy should match: %+v", r)
	}
}

func TestStaticAndAnyAuthority(t *testing.T) {
	k := newKey(t)
	docs := `apiVersion: policy.sigstore.dev/v1alpha1
kind: ClusterImagePolicy
metadata: {name: mixed}
spec:
  images: [{glob: "**"}]
  authorities:
  - static: {action: fail, message: "not from CI"}
  - name: signed
    key:
      data: |
` + indent(k.pem, 8)
	ps, err := compile(t, docs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := verdict(t, ps, repo+":v1", digestA, memFetcher{})
	if m := r.Messages(true); !r.Denied() || !strings.Contains(m[0], `authority "authority-0": not from CI`) || !strings.Contains(m[0], `no signature verified by authority "signed"`) {
		t.Fatalf("%v", m)
	}
	r = verdict(t, ps, repo+":v1", digestA, memFetcher{repo + "@" + digestA: {Signatures: []Layer{k.signLayer(t, digestA)}}})
	if r.Denied() || r.Policies[0].Authority != "signed" {
		t.Fatalf("one authority satisfies the policy: %+v", r.Policies)
	}
}

func TestKeyAttestations(t *testing.T) {
	k, other := newKey(t), newKey(t)
	docs := `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: provenance}
spec:
  images: [{glob: "**"}]
  authorities:
  - name: builder
    key:
      data: |
` + indent(k.pem, 8) + `    attestations:
    - {name: slsa, predicateType: slsaprovenance}
`
	ps, err := compile(t, docs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		atts []Layer
		want string
	}{
		{"attested", []Layer{k.attest(t, digestA, "https://slsa.dev/provenance/v0.2")}, ""},
		{"other predicate", []Layer{k.attest(t, digestA, "https://spdx.dev/Document")}, "no attestation of that type"},
		{"another subject", []Layer{k.attest(t, digestB, "https://slsa.dev/provenance/v0.2")}, "did not verify"},
		{"wrong key", []Layer{other.attest(t, digestA, "https://slsa.dev/provenance/v0.2")}, "did not verify"},
		{"none", nil, "no attestation of that type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := verdict(t, ps, repo+":v1", digestA, memFetcher{repo + "@" + digestA: {Attestations: tc.atts}})
			if tc.want == "" {
				if r.Denied() {
					t.Fatal(r.Messages(true))
				}
				return
			}
			if m := r.Messages(true); !r.Denied() || !strings.Contains(m[0], tc.want) || !strings.Contains(m[0], `no attestation "slsa" (https://slsa.dev/provenance/v0.2) verified by authority "builder"`) {
				t.Fatalf("want %q: %v", tc.want, m)
			}
		})
	}
}

// Attestation policies as cosign and policy-controller evaluate them: Rego
// (package sigstore, rule isCompliant, Rego v0) and CUE over the statement.
func TestAttestationPolicies(t *testing.T) {
	k := newKey(t)
	policyDoc := func(typ, data string) string {
		return `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: provenance}
spec:
  images: [{glob: "**"}]
  authorities:
  - name: builder
    key:
      data: |
` + indent(k.pem, 8) + `    attestations:
    - name: slsa
      predicateType: slsaprovenance
      policy:
        type: ` + typ + `
        data: |
` + indent(data, 10)
	}
	att := &Artifacts{Attestations: []Layer{k.attest(t, digestA, "https://slsa.dev/provenance/v0.2")}} // builder.id "test"
	for _, tc := range []struct {
		name, typ, data, want string
	}{
		{"rego bool compliant", "rego", "package sigstore\ndefault isCompliant = false\nisCompliant {\n  input.predicate.builder.id == \"test\"\n}", ""},
		{"rego bool not compliant", "rego", "package sigstore\ndefault isCompliant = false\nisCompliant {\n  input.predicate.builder.id == \"ci\"\n}", "not compliant with the rego policy"},
		{"rego result list", "rego", "package sigstore\nisCompliant[r] {\n  r := {\"result\": input.predicate.builder.id == \"ci\", \"error\": \"built outside CI\"}\n}", "built outside CI"},
		{"rego undefined", "rego", "package other\nx = 1", "not compliant with the rego policy"},
		{"cue compliant", "cue", "predicate: builder: id: \"test\"", ""},
		{"cue not compliant", "cue", "predicate: builder: id: \"ci\"", "not compliant with the cue policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := compile(t, policyDoc(tc.typ, tc.data), Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := verdict(t, ps, repo+":v1", digestA, memFetcher{repo + "@" + digestA: att})
			if tc.want == "" {
				if r.Denied() {
					t.Fatal(r.Messages(true))
				}
				return
			}
			if m := r.Messages(true); !r.Denied() || !strings.Contains(m[0], tc.want) {
				t.Fatalf("want %q: %v", tc.want, m)
			}
		})
	}
}

// trustRootYAML writes a TrustRoot of the virtual Sigstore's Fulcio, Rekor
// and CT log keys, as a user would write their private instance's.
func trustRootYAML(t *testing.T, name string, vs *ca.VirtualSigstore) string {
	t.Helper()
	fca := vs.FulcioCertificateAuthorities()[0].(*root.FulcioCertificateAuthority)
	var chain []byte
	for _, c := range append(append([]*x509.Certificate{}, fca.Intermediates...), fca.Root) {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	logs := func(m map[string]*root.TransparencyLog) string {
		var out []string
		for _, l := range m {
			p, err := cryptoutils.MarshalPublicKeyToPEM(l.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf(`{baseURL: "https://log.example", hashAlgorithm: sha-256, publicKey: %s}`, base64.StdEncoding.EncodeToString(p)))
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	return fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1alpha1
kind: TrustRoot
metadata: {name: %s}
spec:
  sigstoreKeys:
    certificateAuthorities:
    - subject: {organization: test, commonName: test}
      uri: https://fulcio.example
      certChain: %s
    tLogs: %s
    ctLogs: %s
    timestampAuthorities:
    - subject: {organization: test, commonName: tsa}
      uri: https://tsa.example
      certChain: %s
`, name, base64.StdEncoding.EncodeToString(chain), logs(vs.RekorLogs()), logs(vs.CTLogs()), base64.StdEncoding.EncodeToString(tsaChain(vs)))
}

// tsaChain is the virtual timestamping authority's chain, leaf first.
func tsaChain(vs *ca.VirtualSigstore) []byte {
	tsa := vs.TimestampingAuthorities()[0].(*root.SigstoreTimestampingAuthority)
	var out []byte
	for _, c := range append(append([]*x509.Certificate{tsa.Leaf}, tsa.Intermediates...), tsa.Root) {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// keylessLayer is what cosign attaches for a keyless signature: the
// signature, the Fulcio certificate and chain, and the Rekor bundle.
func keylessLayer(t *testing.T, vs *ca.VirtualSigstore, identity, issuer, digest string, withLog bool) Layer {
	t.Helper()
	p := payloadFor(digest)
	ent, err := vs.Sign(identity, issuer, p)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := ent.SignatureContent()
	vc, _ := ent.VerificationContent()
	l := Layer{Payload: p, Annotations: map[string]string{
		annotationSignature:   base64.StdEncoding.EncodeToString(sc.Signature()),
		annotationCertificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vc.Certificate().Raw})),
	}}
	if ts, _ := ent.Timestamps(); len(ts) > 0 {
		b, _ := json.Marshal(map[string][]byte{"SignedRFC3161Timestamp": ts[0]})
		l.Annotations[annotationTimestamp] = string(b)
	}
	if withLog {
		entries, _ := ent.TlogEntries()
		tle := entries[0].TransparencyLogEntry()
		var rb rekorBundle
		rb.Payload.Body = base64.StdEncoding.EncodeToString(tle.GetCanonicalizedBody())
		rb.Payload.IntegratedTime = tle.GetIntegratedTime()
		rb.Payload.LogIndex = tle.GetLogIndex()
		rb.Payload.LogID = hex.EncodeToString(tle.GetLogId().GetKeyId())
		// The SET signs the entry as cosign's bundle annotation carries it.
		set, err := vs.RekorSignPayload(tlog.RekorPayload{Body: rb.Payload.Body, IntegratedTime: rb.Payload.IntegratedTime, LogIndex: rb.Payload.LogIndex, LogID: rb.Payload.LogID})
		if err != nil {
			t.Fatal(err)
		}
		rb.SignedEntryTimestamp = set
		b, _ := json.Marshal(rb)
		l.Annotations[annotationBundle] = string(b)
	}
	return l
}

func TestKeylessSignatures(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	const id, issuer = ciIdentity, ciIssuer
	docs := trustRootYAML(t, "private", vs) + "\n---\n" + `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: keyless}
spec:
  images: [{glob: "registry.example/**"}]
  authorities:
  - name: ci
    keyless:
      trustRootRef: private
      # sigstore-go's virtual Fulcio embeds no SCTs in its certificates.
      insecureIgnoreSCT: true
      identities:
      - issuer: ` + issuer + `
        subjectRegExp: '^https://github\.com/org/repo/'
    ctlog: {trustRootRef: private}
`
	ps, err := compile(t, docs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	strict, err := compile(t, strings.Replace(docs, "insecureIgnoreSCT: true", "insecureIgnoreSCT: false", 1), Options{})
	if err != nil {
		t.Fatal(err)
	}
	good := keylessLayer(t, vs, id, issuer, digestA, true)
	badSET := keylessLayer(t, vs, id, issuer, digestA, true)
	badSET.Annotations[annotationBundle] = strings.Replace(badSET.Annotations[annotationBundle], `"integratedTime":`, `"integratedTime":1`, 1)
	for _, tc := range []struct {
		name string
		l    Layer
		want string
	}{
		{"signed in CI", good, ""},
		{"another subject", keylessLayer(t, vs, "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main", issuer, digestA, true), "failed to verify certificate identity"},
		{"another issuer", keylessLayer(t, vs, id, "https://accounts.google.com", digestA, true), "failed to verify certificate identity"},
		{"no log entry", keylessLayer(t, vs, id, issuer, digestA, false), "transparency log"},
		{"tampered log entry", badSET, "transparency log"},
		{"another image", keylessLayer(t, vs, id, issuer, digestB, true), "the signature is for " + digestB},
		{"no SCT", good, "failed to verify signed certificate timestamp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := ps
			if tc.name == "no SCT" {
				ps = strict
			}
			r := verdict(t, ps, repo+":v1", digestA, memFetcher{repo + "@" + digestA: {Signatures: []Layer{tc.l}}})
			if tc.want == "" {
				if r.Denied() {
					t.Fatal(r.Messages(true))
				}
				return
			}
			if m := r.Messages(true); !r.Denied() || !strings.Contains(m[0], tc.want) {
				t.Fatalf("want %q: %v", tc.want, m)
			}
		})
	}
}

// rfc3161timestamp: the signature's time comes from a timestamping
// authority of the TrustRoot instead of the transparency log.
func TestSignedTimestamps(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	const id, issuer = ciIdentity, ciIssuer
	docs := trustRootYAML(t, "private", vs) + "\n---\n" + `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: timestamped}
spec:
  images: [{glob: "registry.example/**"}]
  authorities:
  - name: ci
    keyless:
      trustRootRef: private
      insecureIgnoreSCT: true
      identities: [{issuer: "` + issuer + `", subject: "` + id + `"}]
    rfc3161timestamp: {trustRootRef: private}
`
	ps, err := compile(t, docs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	good := keylessLayer(t, vs, id, issuer, digestA, false) // no log entry: the timestamp dates it
	noTimestamp := keylessLayer(t, vs, id, issuer, digestA, false)
	delete(noTimestamp.Annotations, annotationTimestamp)
	otherSig := keylessLayer(t, vs, id, issuer, digestA, false)
	swapped := good
	swapped.Annotations = map[string]string{}
	for k, v := range good.Annotations {
		swapped.Annotations[k] = v
	}
	swapped.Annotations[annotationTimestamp] = otherSig.Annotations[annotationTimestamp] // a timestamp of another signature
	for _, tc := range []struct {
		name string
		l    Layer
		want string
	}{
		{"timestamped", good, ""},
		{"no timestamp", noTimestamp, "timestamp"},
		{"timestamp of another signature", swapped, "timestamp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := verdict(t, ps, repo+":v1", digestA, memFetcher{repo + "@" + digestA: {Signatures: []Layer{tc.l}}})
			if tc.want == "" {
				if r.Denied() {
					t.Fatal(r.Messages(true))
				}
				return
			}
			if m := r.Messages(true); !r.Denied() || !strings.Contains(m[0], tc.want) {
				t.Fatalf("want a denial containing %q, got %v", tc.want, m)
			}
		})
	}
	if _, err := compile(t, strings.Replace(docs, "rfc3161timestamp: {trustRootRef: private}", "rfc3161timestamp: {trustRootRef: nope}", 1), Options{}); err == nil ||
		!strings.Contains(err.Error(), `spec.authorities[0].rfc3161timestamp.trustRootRef: Not found: "nope"`) {
		t.Fatalf("unknown TSA trust root: %v", err)
	}
}

func TestInvalidPoliciesNameTheirFields(t *testing.T) {
	k := newKey(t)
	for _, tc := range []struct{ doc, want string }{
		{`{apiVersion: policy.sigstore.dev/v1beta1, kind: ClusterImagePolicy, metadata: {name: p}, spec: {images: [], authorities: [{static: {action: pass}}]}}`, "spec.images: Required value"},
		{`{apiVersion: policy.sigstore.dev/v1beta1, kind: ClusterImagePolicy, metadata: {name: p}, spec: {images: [{glob: "a b"}], authorities: [{static: {action: pass}}]}}`, "spec.images[0].glob: Invalid value"},
		{`{apiVersion: policy.sigstore.dev/v1beta1, kind: ClusterImagePolicy, metadata: {name: p}, spec: {mode: audit, images: [{glob: "**"}], authorities: [{static: {action: pass}}]}}`, `spec.mode: Unsupported value: "audit"`},
		{`{apiVersion: policy.sigstore.dev/v1beta1, kind: ClusterImagePolicy, metadata: {name: p}, spec: {images: [{glob: "**"}], authorities: [{static: {action: maybe}}]}}`, "spec.authorities[0].static.action: Unsupported value"},
		{`{apiVersion: policy.sigstore.dev/v1beta1, kind: ClusterImagePolicy, metadata: {name: p}, spec: {images: [{glob: "**"}], authorities: [{}]}}`, "spec.authorities[0]: Required value"},
		{`{apiVersion: policy.sigstore.dev/v1beta1, kind: ClusterImagePolicy, metadata: {name: p}, spec: {images: [{glob: "**"}], authorities: [{key: {data: "not pem"}}]}}`, "spec.authorities[0].key.data: Invalid value"},
		{`{apiVersion: policy.sigstore.dev/v1beta1, kind: ClusterImagePolicy, metadata: {name: p}, spec: {images: [{glob: "**"}], authorities: [{keyless: {identities: [{issuer: x, subject: y}]}}]}}`, "spec.authorities[0].keyless.trustRootRef: Required value"},
		{`{apiVersion: policy.sigstore.dev/v1beta1, kind: ClusterImagePolicy, metadata: {name: p}, spec: {images: [{glob: "**"}], authorities: [{keyless: {trustRootRef: nope, identities: [{issuer: x, subject: y}]}}]}}`, `spec.authorities[0].keyless.trustRootRef: Not found: "nope"`},
		{`{apiVersion: policy.sigstore.dev/v1beta1, kind: ClusterImagePolicy, metadata: {name: p}, spec: {images: [{glob: "**"}], authorities: [{key: {kms: "awskms:///x"}}]}}`, "spec.authorities[0].key.kms: Forbidden"},
		{`{apiVersion: policy.sigstore.dev/v1beta1, kind: ClusterImagePolicy, metadata: {name: p}, spec: {images: [{glob: "**"}], authorities: [{key: {data: "` + strings.ReplaceAll(k.pem, "\n", `\n`) + `"}, attestations: [{name: a, predicateType: spdx, policy: {type: rego, data: "package sigstore\\nisCompliant {"}}]}]}}`, "spec.authorities[0].attestations[0].policy.data: Invalid value"},
		{`{apiVersion: policy.sigstore.dev/v1beta1, kind: ClusterImagePolicy, metadata: {name: p}, spec: {images: [{glob: "**"}], authorities: [{key: {data: "` + strings.ReplaceAll(k.pem, "\n", `\n`) + `"}, attestations: [{name: a, predicateType: spdx, policy: {type: cue, data: "predicate: {"}}]}]}}`, "spec.authorities[0].attestations[0].policy.data: Invalid value"},
		{`{apiVersion: policy.sigstore.dev/v1beta1, kind: ClusterImagePolicy, metadata: {name: p}, spec: {images: [{glob: "**"}], authorities: [{key: {data: "` + strings.ReplaceAll(k.pem, "\n", `\n`) + `"}, attestations: [{name: a, predicateType: spdx, policy: {type: rego, configMapRef: {name: x, key: y}}}]}]}}`, "spec.authorities[0].attestations[0].policy.configMapRef: Forbidden"},
		{`{apiVersion: policy.sigstore.dev/v1beta1, kind: ClusterImagePolicy, metadata: {name: p}, spec: {images: [{glob: "**"}], authorities: [{key: {data: "` + strings.ReplaceAll(k.pem, "\n", `\n`) + `"}, attestations: [{name: a, predicateType: spdx, policy: {type: js, data: "x"}}]}]}}`, `spec.authorities[0].attestations[0].policy.type: Unsupported value: "js"`},
	} {
		_, err := compile(t, tc.doc, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s\nwant error containing %q, got %v", tc.doc, tc.want, err)
		}
	}
}

func TestGlobs(t *testing.T) {
	for _, tc := range []struct {
		glob, image string
		want        bool
	}{
		{"*", "nginx", true},
		{"*", "nginx:1.25", true},
		{"*", "bitnami/nginx", false},
		{"*/*", "bitnami/nginx", true},
		{"index.docker.io/library/nginx*", "nginx:1.25", true},
		{"ghcr.io/org/*", "ghcr.io/org/app:v1", true},
		{"ghcr.io/org/*", "ghcr.io/org/team/app:v1", false},
		{"ghcr.io/org/**", "ghcr.io/org/team/app:v1", true},
		{"ghcr.io/org/**", "ghcr.io/orgx/app", false},
		{"registry.example/app@sha256:*", "registry.example/app@" + digestA, true},
	} {
		re, err := compileGlob(tc.glob)
		if err != nil {
			t.Fatal(err)
		}
		got, err := matchGlob(re, tc.image)
		if err != nil || got != tc.want {
			t.Errorf("glob %q image %q: got %v %v, want %v", tc.glob, tc.image, got, err, tc.want)
		}
	}
	_ = sha256.Sum256
}

// A keyless authority without trustRootRef uses --trusted-root: a sigstore
// trusted_root.json, read once, never fetched.
func TestTrustedRootFile(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	// sigstore-go v1.3.0's virtual logs carry their IDs as hex text.
	fixIDs := func(m map[string]*root.TransparencyLog) map[string]*root.TransparencyLog {
		out := map[string]*root.TransparencyLog{}
		for k, l := range m {
			c := *l
			c.ID, _ = hex.DecodeString(string(l.ID))
			out[k] = &c
		}
		return out
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(), fixIDs(vs.CTLogs()), vs.TimestampingAuthorities(), fixIDs(vs.RekorLogs()))
	if err != nil {
		t.Fatal(err)
	}
	js, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(path, js, 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := root.NewTrustedRootFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	const id, issuer = ciIdentity, ciIssuer
	doc := `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: public-good}
spec:
  images: [{glob: "**"}]
  authorities:
  - keyless:
      url: https://fulcio.sigstore.dev
      insecureIgnoreSCT: true
      identities: [{issuer: "` + issuer + `", subject: "` + id + `"}]
`
	ps, err := compile(t, doc, Options{TrustedRoot: loaded})
	if err != nil {
		t.Fatal(err)
	}
	if r := verdict(t, ps, repo+":v1", digestA, memFetcher{repo + "@" + digestA: {Signatures: []Layer{keylessLayer(t, vs, id, issuer, digestA, true)}}}); r.Denied() {
		t.Fatal(r.Messages(true))
	}
	other, _ := ca.NewVirtualSigstore() // another Sigstore: its certificates chain to nothing trusted
	if r := verdict(t, ps, repo+":v1", digestA, memFetcher{repo + "@" + digestA: {Signatures: []Layer{keylessLayer(t, other, id, issuer, digestA, true)}}}); !r.Denied() {
		t.Fatal("a signature of another Sigstore instance was admitted")
	}
}

// key.secretRef reads the single entry of a Secret in kguard's namespace,
// as policy-controller reads its own namespace's.
func TestKeySecretRef(t *testing.T) {
	k := newKey(t)
	doc := func(ref string) string {
		return `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: p}
spec:
  images: [{glob: "**"}]
  authorities: [{name: key-0, key: {secretRef: ` + ref + `}}]
`
	}
	opts := Options{SecretNamespace: "kguard", Secrets: map[string]*corev1.Secret{
		"cosign-pub": {Data: map[string][]byte{"cosign.pub": []byte(k.pem)}},
		"two":        {Data: map[string][]byte{"a": []byte(k.pem), "b": []byte(k.pem)}},
	}}
	ps, err := compile(t, doc("{name: cosign-pub}"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if r := verdict(t, ps, repo+":v1", digestA, memFetcher{repo + "@" + digestA: {Signatures: []Layer{k.signLayer(t, digestA)}}}); r.Denied() {
		t.Fatal(r.Messages(true))
	}
	for ref, want := range map[string]string{
		"{name: missing}":                    `spec.authorities[0].key.secretRef.name: Not found: "kguard/missing"`,
		"{name: two}":                        "the Secret has 2 data entries; it must hold exactly one",
		"{name: cosign-pub, namespace: dev}": `spec.authorities[0].key.secretRef.namespace: Invalid value: "dev": if set, it must be kguard's namespace (kguard)`,
	} {
		if _, err := compile(t, doc(ref), opts); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("secretRef %s: want %q, got %v", ref, want, err)
		}
	}
}

// credFetcher records the credentials each read carried.
type credFetcher struct {
	memFetcher
	ids []string
}

func (f *credFetcher) Artifacts(ctx context.Context, repo, digest string, bundles bool) (*Artifacts, error) {
	id, kc := CredentialsFrom(ctx)
	if kc != nil {
		if _, err := kc.Resolve(mustRegistry("registry.example")); err != nil {
			return nil, err
		}
	}
	f.ids = append(f.ids, id)
	return f.memFetcher.Artifacts(ctx, repo, digest, bundles)
}

// source.signaturePullSecrets: the signatures are read with the named pull
// Secrets of kguard's namespace.
func TestSignaturePullSecrets(t *testing.T) {
	k := newKey(t)
	doc := `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: p}
spec:
  images: [{glob: "**"}]
  authorities:
  - name: key-0
    source: [{oci: registry.example/signatures, signaturePullSecrets: [{name: sigcred}]}]
    key:
      data: |
` + indent(k.pem, 8)
	opts := Options{SecretNamespace: "kguard", Secrets: map[string]*corev1.Secret{"sigcred": {
		ObjectMeta: metav1.ObjectMeta{Name: "sigcred", Namespace: "kguard", ResourceVersion: "7"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"registry.example":{"username":"u","password":"p"}}}`)}}}}
	ps, err := compile(t, doc, opts)
	if err != nil {
		t.Fatal(err)
	}
	f := &credFetcher{memFetcher: memFetcher{"registry.example/signatures@" + digestA: {Signatures: []Layer{k.signLayer(t, digestA)}}}}
	if r := verdict(t, ps, repo+":v1", digestA, f); r.Denied() {
		t.Fatal(r.Messages(true))
	}
	if len(f.ids) != 1 || f.ids[0] != "kguard/sigcred@7" {
		t.Fatalf("reads carried credentials %q, want kguard/sigcred@7", f.ids)
	}
	if _, err := compile(t, strings.Replace(doc, "name: sigcred", "name: nope", 1), opts); err == nil ||
		!strings.Contains(err.Error(), `spec.authorities[0].source[0].signaturePullSecrets[0].name: Not found: "kguard/nope"`) {
		t.Fatalf("a missing pull Secret: %v", err)
	}
}

func mustRegistry(host string) name.Registry {
	r, err := name.NewRegistry(host)
	if err != nil {
		panic(err)
	}
	return r
}
