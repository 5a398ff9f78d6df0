package imagepolicy

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/encoding/protojson"
)

// keylessBundle is what cosign v3 attaches as a referrer for a keyless
// signature or attestation: a sigstore bundle (v0.1, with the Rekor entry's
// signed entry timestamp) around a DSSE envelope of an in-toto statement.
func keylessBundle(t *testing.T, vs *ca.VirtualSigstore, identity, issuer, digest, predicateType string) []byte {
	return keylessBundleVersion(t, vs, identity, issuer, digest, predicateType, false)
}

// keylessBundleVersion makes a v0.1 bundle (the signed entry timestamp), or
// with proof a v0.3 bundle whose Rekor entry also carries an inclusion proof
// with its signed checkpoint, as Rekor v1 gives them.
func keylessBundleVersion(t *testing.T, vs *ca.VirtualSigstore, identity, issuer, digest, predicateType string, proof bool) []byte {
	t.Helper()
	stmt, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"predicateType": predicateType,
		"subject":       []any{map[string]any{"name": repo, "digest": map[string]string{"sha256": strings.TrimPrefix(digest, "sha256:")}}},
		"predicate":     map[string]any{},
	})
	ent, err := vs.AttestAtTime(identity, issuer, stmt, time.Now(), proof)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := ent.SignatureContent()
	env := sc.EnvelopeContent().RawEnvelope()
	sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	vc, _ := ent.VerificationContent()
	entries, _ := ent.TlogEntries()
	tle := entries[0].TransparencyLogEntry()
	set, err := vs.RekorSignPayload(tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(tle.GetCanonicalizedBody()),
		IntegratedTime: tle.GetIntegratedTime(), LogIndex: tle.GetLogIndex(), LogID: hex.EncodeToString(tle.GetLogId().GetKeyId())})
	if err != nil {
		t.Fatal(err)
	}
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	mediaType := "application/vnd.dev.sigstore.bundle+json;version=0.1"
	if proof {
		mediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	}
	// The promise is what dates the entry (sigstore-go trusts an integrated
	// time only with it); with proof the inclusion proof is verified too.
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	material := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: &protocommon.X509CertificateChain{
			Certificates: []*protocommon.X509Certificate{{RawBytes: vc.Certificate().Raw}}}},
		TlogEntries: []*protorekor.TransparencyLogEntry{tle},
	}
	if proof { // v0.3 names the leaf certificate alone
		material.Content = &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}}
	}
	b := &protobundle.Bundle{
		MediaType:            mediaType,
		VerificationMaterial: material,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: stmt, PayloadType: env.PayloadType, Signatures: []*protodsse.Signature{{Sig: sig}}}},
	}
	raw, err := protojson.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// badProof changes the root hash of a bundle's inclusion proof.
func badProof(t *testing.T, raw []byte) []byte {
	t.Helper()
	i := strings.Index(string(raw), `"rootHash":"`)
	if i < 0 {
		t.Fatalf("no inclusion proof in %s", raw)
	}
	b := []byte(string(raw))
	j := i + len(`"rootHash":"`)
	if b[j] == 'A' {
		b[j] = 'B'
	} else {
		b[j] = 'A'
	}
	return b
}

// Keyless signatures and attestations in the bundle format (cosign v3's
// default), verified against a TrustRoot: the identity, the Rekor entry and
// the statement's subject.
func TestKeylessBundles(t *testing.T) {
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
    signatureFormat: bundle
    keyless:
      trustRootRef: private
      insecureIgnoreSCT: true
      identities: [{issuer: "` + issuer + `", subject: "` + id + `"}]
    ctlog: {trustRootRef: private}
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: provenance}
spec:
  images: [{glob: "registry.example/**"}]
  authorities:
  - name: ci-provenance
    signatureFormat: bundle
    keyless:
      trustRootRef: private
      insecureIgnoreSCT: true
      identities: [{issuer: "` + issuer + `", subject: "` + id + `"}]
    attestations: [{name: slsa, predicateType: "https://slsa.dev/provenance/v1"}]
`
	ps, err := compile(t, docs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sign := keylessBundle(t, vs, id, issuer, digestA, cosignSignPredicate)
	prov := keylessBundle(t, vs, id, issuer, digestA, "https://slsa.dev/provenance/v1")
	tampered := []byte(strings.Replace(string(keylessBundle(t, vs, id, issuer, digestA, cosignSignPredicate)), `"integratedTime":"`, `"integratedTime":"1`, 1))
	for _, tc := range []struct {
		name    string
		bundles [][]byte
		want    string
	}{
		{"signed and attested", [][]byte{sign, prov}, ""},
		{"signed, no provenance", [][]byte{sign}, `no attestation "slsa"`},
		{"attested, not signed", [][]byte{prov}, "the image has no signatures"},
		{"another identity", [][]byte{keylessBundle(t, vs, "https://github.com/evil/repo/x@refs/heads/main", issuer, digestA, cosignSignPredicate), prov}, "failed to verify certificate identity"},
		{"another image", [][]byte{keylessBundle(t, vs, id, issuer, digestB, cosignSignPredicate), prov}, "provided artifact digest does not match any digest in statement"},
		{"tampered log entry", [][]byte{tampered, prov}, "failed to verify log inclusion"},
		{"not a bundle", [][]byte{[]byte(`{"mediaType":"nope"}`), prov}, "not a sigstore bundle"},
		{"v0.3 with an inclusion proof", [][]byte{keylessBundleVersion(t, vs, id, issuer, digestA, cosignSignPredicate, true), prov}, ""},
		{"v0.3 with a wrong inclusion proof", [][]byte{badProof(t, keylessBundleVersion(t, vs, id, issuer, digestA, cosignSignPredicate, true)), prov}, "inclusion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := verdict(t, ps, repo+":v1", digestA, memFetcher{repo + "@" + digestA: {Bundles: tc.bundles}})
			if tc.want == "" {
				if r.Denied() {
					t.Fatal(r.Messages(true))
				}
				return
			}
			if m := strings.Join(r.Messages(true), "\n"); !r.Denied() || !strings.Contains(m, tc.want) {
				t.Fatalf("want a denial containing %q, got %s", tc.want, m)

			}
		})
	}
}
