package imagepolicy

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// The annotations cosign writes on each layer of a .sig or .att image.
const (
	annotationSignature   = "dev.cosignproject.cosign/signature"
	annotationCertificate = "dev.sigstore.cosign/certificate"
	annotationChain       = "dev.sigstore.cosign/chain"
	annotationBundle      = "dev.sigstore.cosign/bundle"
	annotationTimestamp   = "dev.sigstore.cosign/rfc3161timestamp"
)

// Layer is one layer of a cosign .sig or .att image: its content (a
// simple-signing payload, or a DSSE envelope for attestations) and its
// annotations.
type Layer struct {
	Payload     []byte
	Annotations map[string]string
}

// maxLayerBytes bounds what one signature layer may hold.
const maxLayerBytes = 4 << 20

// legacyEntity presents a cosign layer as what sigstore-go verifies: the
// signature (over the payload, or a DSSE envelope), the certificate or key,
// and the Rekor entry with its signed entry timestamp when cosign attached
// one. Verification is then sigstore-go's, the same for both formats.
type legacyEntity struct {
	sig        verify.SignatureContent
	content    verify.VerificationContent
	entries    []*tlog.Entry
	timestamps [][]byte // RFC 3161 signed timestamps (DER) of the signature
	envelope   bool
}

func newLegacyEntity(l Layer, keyHint string, attestation bool) (*legacyEntity, error) {
	if len(l.Payload) > maxLayerBytes {
		return nil, fmt.Errorf("signature layer of %d bytes is over the %d-byte limit", len(l.Payload), maxLayerBytes)
	}
	e := &legacyEntity{envelope: attestation}
	if attestation {
		var env dsse.Envelope
		if err := json.Unmarshal(l.Payload, &env); err != nil {
			return nil, fmt.Errorf("attestation layer is not a DSSE envelope: %w", err)
		}
		if env.PayloadType == "" || env.Payload == "" || len(env.Signatures) == 0 {
			return nil, errors.New("attestation layer is not a DSSE envelope: payloadType, payload or signatures missing")
		}
		e.sig = &bundle.Envelope{Envelope: &env}
	} else {
		b64 := l.Annotations[annotationSignature]
		if b64 == "" {
			return nil, fmt.Errorf("signature layer has no %s annotation", annotationSignature)
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("signature annotation is not base64: %w", err)
		}
		sum := sha256.Sum256(l.Payload)
		e.sig = bundle.NewMessageSignature(sum[:], "SHA2_256", raw)
	}
	// A key authority (keyHint set) verifies with its key whatever
	// certificate the layer carries (cosign sign --sk attaches the
	// hardware key's attestation certificate), as cosign does with a key:
	// the certificate then neither helps nor hinders.
	if pemCert := l.Annotations[annotationCertificate]; pemCert != "" && keyHint == "" {
		certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(pemCert))
		if err != nil || len(certs) != 1 {
			return nil, fmt.Errorf("certificate annotation is not one PEM certificate: %v", err)
		}
		c := &certContent{cert: certs[0]}
		if chain := l.Annotations[annotationChain]; chain != "" {
			cs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(chain))
			if err != nil {
				return nil, fmt.Errorf("chain annotation is not PEM certificates: %v", err)
			}
			// The chain ends in the root, which the trust root supplies.
			for _, ic := range cs {
				if !isSelfSigned(ic) {
					c.intermediates = append(c.intermediates, ic)
				}
			}
		}
		e.content = c
	} else {
		e.content = &keyContent{hint: keyHint}
	}
	if ts := l.Annotations[annotationTimestamp]; ts != "" {
		var t struct {
			SignedRFC3161Timestamp []byte `json:"SignedRFC3161Timestamp"`
		}
		if err := json.Unmarshal([]byte(ts), &t); err != nil || len(t.SignedRFC3161Timestamp) == 0 {
			return nil, fmt.Errorf("rfc3161timestamp annotation: not a signed timestamp: %v", err)
		}
		e.timestamps = [][]byte{t.SignedRFC3161Timestamp}
	}
	if b := l.Annotations[annotationBundle]; b != "" {
		entry, err := rekorEntry([]byte(b))
		if err != nil {
			return nil, fmt.Errorf("bundle annotation: %w", err)
		}
		e.entries = []*tlog.Entry{entry}
	}
	return e, nil
}

// rekorBundle is cosign's dev.sigstore.cosign/bundle annotation: the Rekor
// entry and its signed entry timestamp (SET).
type rekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	} `json:"Payload"`
}

func rekorEntry(b []byte) (*tlog.Entry, error) {
	var rb rekorBundle
	if err := json.Unmarshal(b, &rb); err != nil {
		return nil, err
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil {
		return nil, fmt.Errorf("body is not base64: %w", err)
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil {
		return nil, fmt.Errorf("logID is not hex: %w", err)
	}
	if len(rb.SignedEntryTimestamp) == 0 {
		return nil, errors.New("no SignedEntryTimestamp")
	}
	return tlog.NewEntry(body, rb.Payload.IntegratedTime, rb.Payload.LogIndex, logID, rb.SignedEntryTimestamp, nil)
}

func isSelfSigned(c *x509.Certificate) bool {
	return c.CheckSignatureFrom(c) == nil
}

func (e *legacyEntity) HasInclusionPromise() bool { return len(e.entries) > 0 }
func (e *legacyEntity) HasInclusionProof() bool   { return false }
func (e *legacyEntity) SignatureContent() (verify.SignatureContent, error) {
	return e.sig, nil
}
func (e *legacyEntity) Timestamps() ([][]byte, error)       { return e.timestamps, nil }
func (e *legacyEntity) TlogEntries() ([]*tlog.Entry, error) { return e.entries, nil }
func (e *legacyEntity) Version() (string, error)            { return "v0.1", nil }
func (e *legacyEntity) VerificationContent() (verify.VerificationContent, error) {
	return e.content, nil
}

// certContent is a Fulcio (or private CA) certificate with its intermediates.
type certContent struct {
	cert          *x509.Certificate
	intermediates []*x509.Certificate
}

func (c *certContent) CompareKey(key any, _ root.TrustedMaterial) bool {
	k, ok := key.(*x509.Certificate)
	return ok && c.cert.Equal(k)
}
func (c *certContent) ValidAtTime(t time.Time, _ root.TrustedMaterial) bool {
	return !c.cert.NotAfter.Before(t) && !c.cert.NotBefore.After(t)
}
func (c *certContent) Certificate() *x509.Certificate      { return c.cert }
func (c *certContent) Intermediates() []*x509.Certificate  { return c.intermediates }
func (c *certContent) PublicKey() verify.PublicKeyProvider { return nil }

// keyContent names the authority's public key, which the trusted material
// holds under hint.
type keyContent struct{ hint string }

func (k *keyContent) Hint() string { return k.hint }
func (k *keyContent) CompareKey(key any, tm root.TrustedMaterial) bool {
	v, err := tm.PublicKeyVerifier(k.hint)
	if err != nil {
		return false
	}
	pub, err := v.PublicKey()
	if err != nil {
		return false
	}
	// crypto public keys implement Equal(crypto.PublicKey).
	eq, ok := key.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(pub)
}
func (k *keyContent) ValidAtTime(t time.Time, tm root.TrustedMaterial) bool {
	v, err := tm.PublicKeyVerifier(k.hint)
	return err == nil && v.ValidAtTime(t)
}
func (k *keyContent) Certificate() *x509.Certificate      { return nil }
func (k *keyContent) Intermediates() []*x509.Certificate  { return nil }
func (k *keyContent) PublicKey() verify.PublicKeyProvider { return k }
