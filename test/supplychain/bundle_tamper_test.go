//go:build supplychain

package supplychain

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// rawManifest is a manifest or index as JSON, pushed back as it is.
type rawManifest struct {
	mediaType types.MediaType
	raw       []byte
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }

// tamperBundle changes one byte of the DSSE signature inside the sigstore
// bundle cosign attached to img (the referrer, under the sha256-<hex>
// fallback tag on this registry): the bundle's blob is replaced, and the
// manifest and index that name it are rewritten to the new digests.
func tamperBundle(t *testing.T, img image) {
	t.Helper()
	opts := remoteOpts(t)
	d, err := name.NewDigest(img.ref)
	if err != nil {
		t.Fatal(err)
	}
	fallback := d.Context().Tag(strings.Replace(img.digest, ":", "-", 1))
	idxDesc, err := remote.Get(fallback, opts...)
	if err != nil {
		t.Fatalf("the bundle's index: %v", err)
	}
	var index v1.IndexManifest
	if err := json.Unmarshal(idxDesc.Manifest, &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 1 {
		t.Fatalf("want one referrer, got %d", len(index.Manifests))
	}
	mref := d.Context().Digest(index.Manifests[0].Digest.String())
	mDesc, err := remote.Get(mref, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(mDesc.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	layer, err := remote.Layer(d.Context().Digest(m.Layers[0].Digest.String()), opts...)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := layer.Compressed()
	raw, _ := io.ReadAll(rc)
	rc.Close()
	var bundle map[string]any
	if err := json.Unmarshal(raw, &bundle); err != nil {
		t.Fatalf("the bundle: %v\n%s", err, raw)
	}
	sigs := bundle["dsseEnvelope"].(map[string]any)["signatures"].([]any)
	sig, _ := base64.StdEncoding.DecodeString(sigs[0].(map[string]any)["sig"].(string))
	sig[len(sig)/2] ^= 0x01
	sigs[0].(map[string]any)["sig"] = base64.StdEncoding.EncodeToString(sig)
	tampered, _ := json.Marshal(bundle)
	newLayer := static.NewLayer(tampered, m.Layers[0].MediaType)
	if err := remote.WriteLayer(d.Context(), newLayer, opts...); err != nil {
		t.Fatal(err)
	}
	ld, _ := newLayer.Digest()
	m.Layers[0].Digest, m.Layers[0].Size = ld, int64(len(tampered))
	mRaw, _ := json.Marshal(m)
	mDigest, mSize, _ := v1.SHA256(bytes.NewReader(mRaw))
	if err := remote.Put(d.Context().Digest(mDigest.String()), rawManifest{mDesc.MediaType, mRaw}, opts...); err != nil {
		t.Fatal(err)
	}
	index.Manifests[0].Digest, index.Manifests[0].Size = mDigest, mSize
	iRaw, _ := json.Marshal(index)
	if err := remote.Put(fallback, rawManifest{idxDesc.MediaType, iRaw}, opts...); err != nil {
		t.Fatal(err)
	}
}

// Case 6, bundle format: one byte of the signature in cosign's bundle
// changed. Both refuse.
func TestTamperedBundle(t *testing.T) {
	img := pushImage(t, "bundle-tampered")
	signBundle(t, env.key, img)
	pol := keyPolicy("bundle", glob(), env.pubPEM, "    signatureFormat: bundle\n")
	code, out := cosignVerifyKey(t, env.pub, img)
	compare(t, kguardVerify(t, pol, img.tag), code, out, true, "")
	tamperBundle(t, img)
	code, out = cosignVerifyKey(t, env.pub, img)
	compare(t, kguardVerify(t, pol, img.tag), code, out, false, "failed to verify signature")
}
