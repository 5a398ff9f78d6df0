package imagepolicy

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// trustedRoot turns a TrustRoot's sigstoreKeys into sigstore-go's trusted
// root. kguard verifies offline, so a TrustRoot that points at a TUF
// repository (remote, repository) is refused with a clear error.
func trustedRoot(tr *TrustRoot) (*root.TrustedRoot, error) {
	switch {
	case tr.Spec.Remote != nil, tr.Spec.Repository != nil:
		return nil, errors.New("spec.remote and spec.repository (TUF) are not supported: kguard verifies offline; give spec.sigstoreKeys")
	case tr.Spec.SigstoreKeys == nil:
		return nil, errors.New("spec.sigstoreKeys: Required value")
	}
	k := tr.Spec.SigstoreKeys
	var cas []root.CertificateAuthority
	for i, ca := range k.CertificateAuthorities {
		certs, err := cryptoutils.UnmarshalCertificatesFromPEM(ca.CertChain)
		if err != nil || len(certs) == 0 {
			return nil, fmt.Errorf("spec.sigstoreKeys.certificateAuthorities[%d].certChain: not a PEM certificate chain: %v", i, err)
		}
		cas = append(cas, &root.FulcioCertificateAuthority{Root: certs[len(certs)-1], Intermediates: certs[:len(certs)-1], URI: ca.URI})
	}
	tlogs, err := logs(k.TLogs, "tLogs")
	if err != nil {
		return nil, err
	}
	ctlogs, err := logs(k.CTLogs, "ctLogs")
	if err != nil {
		return nil, err
	}
	var tsas []root.TimestampingAuthority
	for i, ca := range k.TimeStampAuthorities {
		certs, err := cryptoutils.UnmarshalCertificatesFromPEM(ca.CertChain)
		if err != nil || len(certs) == 0 {
			return nil, fmt.Errorf("spec.sigstoreKeys.timestampAuthorities[%d].certChain: not a PEM certificate chain: %v", i, err)
		}
		// The chain runs from the signing (leaf) certificate to the root.
		tsa := &root.SigstoreTimestampingAuthority{Root: certs[len(certs)-1], URI: ca.URI}
		if len(certs) > 1 {
			tsa.Leaf, tsa.Intermediates = certs[0], certs[1:len(certs)-1]
		}
		tsas = append(tsas, tsa)
	}
	return root.NewTrustedRoot(root.TrustedRootMediaType01, cas, ctlogs, tsas, tlogs)
}

// logs reads transparency logs (Rekor or certificate transparency) keyed
// by their log ID, the hex SHA-256 of the key's DER, as Rekor and CT name them.
func logs(in []TransparencyLogInstance, field string) (map[string]*root.TransparencyLog, error) {
	out := map[string]*root.TransparencyLog{}
	for i, l := range in {
		pub, err := cryptoutils.UnmarshalPEMToPublicKey(l.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("spec.sigstoreKeys.%s[%d].publicKey: not a PEM public key: %v", field, i, err)
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("spec.sigstoreKeys.%s[%d].publicKey: %v", field, i, err)
		}
		if l.HashAlgorithm != "" && l.HashAlgorithm != "sha-256" && l.HashAlgorithm != "sha256" && l.HashAlgorithm != "SHA2_256" {
			return nil, fmt.Errorf("spec.sigstoreKeys.%s[%d].hashAlgorithm: %q is not supported (sha-256)", field, i, l.HashAlgorithm)
		}
		id := sha256Sum(der)
		out[hex.EncodeToString(id[:])] = &root.TransparencyLog{
			BaseURL: l.BaseURL, ID: id[:], PublicKey: pub,
			HashFunc: crypto.SHA256, SignatureHashFunc: crypto.SHA256,
			// The sigstoreKeys schema has no validity period: valid since
			// the epoch (sigstore-go refuses a zero start).
			ValidityPeriodStart: time.Unix(1, 0),
		}
	}
	return out, nil
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
