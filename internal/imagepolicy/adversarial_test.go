package imagepolicy

// Adversarial review of the verification engine (see
// internal/admission/clusterimagepolicy/adversarial_test.go for the
// admission side). TestRefuses… refused what policy-controller admits
// before the fix that came with it; TestHolds… are attacks kguard answers
// right.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// certFor is a certificate for pub issued by issuer (self-signed when issuer
// is nil), valid from an hour ago for a day.
func certFor(t *testing.T, pub any, signer *ecdsa.PrivateKey, self bool) string {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "YubiKey PIV Attestation 9c"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	parent := tmpl
	if !self {
		parent = &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Yubico PIV Attestation"}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestRefusesKeySignatureCarryingACertificate: a `key` authority refuses a
// signature made with its very key when the signature layer also carries a
// certificate (dev.sigstore.cosign/certificate) — what `cosign sign --sk`
// writes (the hardware key's PIV attestation certificate), and `cosign sign
// --key … --certificate …`. kguard's legacyEntity presents the layer's
// certificate as the verification content whatever the authority, and
// sigstore-go, asked for a key (verify.WithKey), refuses it: "expected key
// signature, not certificate".
//
// Right answer: admitted. For a key, cosign (which policy-controller v0.13
// verifies `key` authorities with: CheckOpts.SigVerifier is the key) checks
// the signature with the key and ignores the certificate except for its
// validity period (pkg/cosign/verify.go verifyInternal: "verifier :=
// co.SigVerifier; if verifier == nil { // If we don't have a public key to
// check against, we can try a root cert …", then CheckExpiry(cert, now)).
// `cosign verify --key cosign.pub` accepts these images.
func TestRefusesKeySignatureCarryingACertificate(t *testing.T) {
	k := newKey(t)
	ps, err := compile(t, keyPolicy("signed", repo+"**", k.pem, ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, cert := range map[string]string{
		"issued by the device's CA": certFor(t, k.priv.Public(), ca, false),
		"self-signed":               certFor(t, k.priv.Public(), k.priv.(*ecdsa.PrivateKey), true),
	} {
		t.Run(strings.ReplaceAll(name, " ", "-"), func(t *testing.T) {
			l := k.signLayer(t, digestA)
			l.Annotations[annotationCertificate] = cert
			r := verdict(t, ps, repo+":v1", digestA, memFetcher{repo + "@" + digestA: {Signatures: []Layer{l}}})
			if r.Denied() {
				t.Fatalf("a signature by the authority's key was refused because it carries a certificate: %v", r.Messages(true))
			}
		})
	}
}

// TestHoldsKeyAuthorityIgnoresAForeignCertificate: the other way round, a
// signature by another key whose layer carries a certificate for the
// authority's key (or a certificate for the signing key) is refused: the
// certificate never stands in for the key.
func TestHoldsKeyAuthorityIgnoresAForeignCertificate(t *testing.T) {
	k, other := newKey(t), newKey(t)
	ps, err := compile(t, keyPolicy("signed", repo+"**", k.pem, ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, cert := range map[string]string{
		"certificate for the authority's key": certFor(t, k.priv.Public(), k.priv.(*ecdsa.PrivateKey), true),
		"certificate for the signing key":     certFor(t, other.priv.Public(), other.priv.(*ecdsa.PrivateKey), true),
	} {
		l := other.signLayer(t, digestA)
		l.Annotations[annotationCertificate] = cert
		if r := verdict(t, ps, repo+":v1", digestA, memFetcher{repo + "@" + digestA: {Signatures: []Layer{l}}}); !r.Denied() {
			t.Errorf("%s: a signature by another key admitted", name)
		}
	}
}

// TestHoldsSignatureIsNotAnAttestationAndBack: an authority that requires an
// attestation is not satisfied by a plain signature of the image, and one
// that requires a signature is not satisfied by an attestation (an
// in-toto statement about the digest, signed by the same key), as
// policy-controller: each reads only its own kind.
func TestHoldsSignatureIsNotAnAttestationAndBack(t *testing.T) {
	k := newKey(t)
	att := `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: provenance}
spec:
  images: [{glob: "**"}]
  authorities:
  - name: builder
    key:
      data: |
` + indent(k.pem, 8) + `    attestations:
    - {name: custom, predicateType: custom}
`
	psAtt, err := compile(t, att, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := verdict(t, psAtt, repo+":v1", digestA, memFetcher{repo + "@" + digestA: {Signatures: []Layer{k.signLayer(t, digestA)}}}); !r.Denied() {
		t.Error("a signature satisfied an attestation requirement")
	}
	psSig, err := compile(t, keyPolicy("signed", "**", k.pem, ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := verdict(t, psSig, repo+":v1", digestA, memFetcher{repo + "@" + digestA: {Attestations: []Layer{k.attest(t, digestA, "https://cosign.sigstore.dev/attestation/v1")}}}); !r.Denied() {
		t.Error("an attestation satisfied a signature requirement")
	}
	// An attestation envelope put where signatures are read is no signature.
	a := k.attest(t, digestA, "https://cosign.sigstore.dev/attestation/v1")
	if r := verdict(t, psSig, repo+":v1", digestA, memFetcher{repo + "@" + digestA: {Signatures: []Layer{a}}}); !r.Denied() {
		t.Error("an attestation layer in the .sig image was taken for a signature")
	}
}
