package imagepolicy

import (
	"context"
	"testing"
)

// FuzzArtifacts feeds arbitrary signature layers, attestation envelopes,
// Rekor bundle annotations and sigstore bundles to a key authority and a
// keyless one: nothing may panic, and nothing made of noise may verify.
func FuzzArtifacts(f *testing.F) {
	f.Add([]byte(`{"critical":{"image":{"docker-manifest-digest":"`+digestA+`"}}}`), "MEUCIQ==", "", `{"SignedEntryTimestamp":"MEU=","Payload":{"body":"e30=","integratedTime":1,"logIndex":1,"logID":"00"}}`, []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"MEU="}]}`), "", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "{}", []byte(`{}`))
	k := newKey(&testing.T{})
	key, err := compile(&testing.T{}, keyPolicy("k", "**", k.pem, ""), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte, sig, cert, rekor string, bundle []byte) {
		l := Layer{Payload: payload, Annotations: map[string]string{annotationSignature: sig, annotationCertificate: cert, annotationBundle: rekor}}
		for _, arts := range []*Artifacts{{Signatures: []Layer{l}}, {Attestations: []Layer{l}}, {Bundles: [][]byte{bundle, payload}}} {
			for _, ps := range []*Policies{key} {
				for _, a := range ps.List[0].Authorities {
					a.Bundle = len(arts.Bundles) > 0
				}
				r, err := ps.Verify(context.Background(), Image{Ref: repo + ":v1", Repository: repo, Digest: digestA}, memFetcher{repo + "@" + digestA: arts})
				if err != nil {
					t.Fatal(err)
				}
				if !r.Denied() {
					t.Fatalf("noise verified: %+v", arts)
				}
			}
		}
	})
}
