package imagepolicy

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// Artifacts are what a registry holds for one image digest: the layers of
// cosign's sha256-<hex>.sig and .att images, and the sigstore bundles
// attached to the digest as OCI referrers.
type Artifacts struct {
	Signatures   []Layer
	Attestations []Layer
	Bundles      [][]byte
}

type credentialsKey struct{}

type credentials struct {
	id       string
	keychain authn.Keychain
}

// WithCredentials returns a context whose registry calls (Fetcher and
// resolution) authenticate with kc first (a pod's pull Secrets, an
// authority's signaturePullSecrets), then with the client's own. id names
// the credentials (the Secrets' namespace, names and resource versions).
func WithCredentials(ctx context.Context, id string, kc authn.Keychain) context.Context {
	return context.WithValue(ctx, credentialsKey{}, credentials{id: id, keychain: kc})
}

// CredentialsFrom returns the credentials WithCredentials put in ctx.
func CredentialsFrom(ctx context.Context) (string, authn.Keychain) {
	c, _ := ctx.Value(credentialsKey{}).(credentials)
	return c.id, c.keychain
}

// Fetcher reads the artifacts of digest from repository repo (the image's
// own, or an authority's source.oci). Bundles says which format: referrers
// (true) or cosign's tags. A missing tag is no artifacts, not an error; a
// registry that cannot be read is an error, and the image is refused.
type Fetcher interface {
	Artifacts(ctx context.Context, repo, digest string, bundles bool) (*Artifacts, error)
}

// Image is one image to verify: as the pod names it, and the digest it
// resolved to (repository@sha256:…).
type Image struct {
	Ref        string // as written
	Repository string // registry/repository, where cosign attaches signatures
	Digest     string // sha256:<hex>
}

// Result is the verdict on one image.
type Result struct {
	Image    Image
	Policies []PolicyResult // the matching policies, by name
	// NoMatch: no policy matched; the caller applies its no-match rule.
	NoMatch bool
}

// PolicyResult is one policy's verdict: Err is nil when an authority
// satisfied it (Authority names it).
type PolicyResult struct {
	Policy    string
	Mode      Mode
	Authority string
	Err       error
	// Unavailable: a registry could not be read for this verdict (it must
	// not be cached).
	Unavailable bool
}

// fetchError is a registry read that failed.
type fetchError struct{ err error }

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// Denied reports whether an enforced policy failed.
func (r *Result) Denied() bool {
	for _, p := range r.Policies {
		if p.Err != nil && p.Mode == ModeEnforce {
			return true
		}
	}
	return false
}

// Messages are the failures of the image's policies, each naming the image,
// the policy and the cause; enforce reports the enforced ones, otherwise
// the warn-mode ones.
func (r *Result) Messages(enforce bool) []string {
	var out []string
	for _, p := range r.Policies {
		if p.Err != nil && (p.Mode == ModeEnforce) == enforce {
			out = append(out, fmt.Sprintf("image %q is not admitted by ClusterImagePolicy %q: %v", r.Image.Ref, p.Policy, p.Err))
		}
	}
	return out
}

// Matching returns the policies whose globs match image.
func (ps *Policies) Matching(image string) ([]*Policy, error) {
	var out []*Policy
	for _, p := range ps.List {
		for _, g := range p.globs {
			ok, err := matchGlob(g, image)
			if err != nil {
				return nil, fmt.Errorf("image %q: %w", image, err)
			}
			if ok {
				out = append(out, p)
				break
			}
		}
	}
	return out, nil
}

// Static returns the verdict on image when every policy that matches it has
// a static "pass" authority: it is admitted without reading a registry (no
// digest, nothing to pin). ok is false otherwise, or when nothing matches.
func (ps *Policies) Static(image string) (res *Result, ok bool, err error) {
	matching, err := ps.Matching(image)
	if err != nil || len(matching) == 0 {
		return nil, false, err
	}
	res = &Result{Image: Image{Ref: image}}
	for _, p := range matching {
		passed := ""
		for _, a := range p.Authorities {
			if a.Static == "pass" {
				passed = a.Name
				break
			}
		}
		if passed == "" {
			return nil, false, nil
		}
		res.Policies = append(res.Policies, PolicyResult{Policy: p.Name, Mode: p.Mode, Authority: passed})
	}
	return res, true, nil
}

// Verify judges img against every matching policy: each must be satisfied
// by one of its authorities. Artifacts are read through f, once per
// repository and format.
func (ps *Policies) Verify(ctx context.Context, img Image, f Fetcher) (*Result, error) {
	matching, err := ps.Matching(img.Ref)
	if err != nil {
		return nil, err
	}
	res := &Result{Image: img, NoMatch: len(matching) == 0}
	if !strings.HasPrefix(img.Digest, "sha256:") || len(img.Digest) != len("sha256:")+64 {
		return nil, fmt.Errorf("image %q: digest %q is not sha256:<64 hex>", img.Ref, img.Digest)
	}
	digest, err := hex.DecodeString(strings.TrimPrefix(img.Digest, "sha256:"))
	if err != nil {
		return nil, fmt.Errorf("image %q: digest %q: %w", img.Ref, img.Digest, err)
	}
	type read struct {
		arts *Artifacts
		err  error
	}
	reads := map[string]read{} // by repository, format and credentials
	artifacts := func(a *Authority) (*Artifacts, error) {
		repo := img.Repository
		if a.Source != "" {
			repo = a.Source
		}
		fctx := ctx
		if a.sourceCreds != nil {
			fctx = WithCredentials(ctx, a.sourceCredsID, a.sourceCreds)
		}
		credID, _ := CredentialsFrom(fctx)
		key := fmt.Sprintf("%s|%v|%s", repo, a.Bundle, credID)
		if r, ok := reads[key]; ok {
			return r.arts, r.err
		}
		arts, err := f.Artifacts(fctx, repo, img.Digest, a.Bundle)
		if err != nil {
			err = &fetchError{fmt.Errorf("reading signatures from %s: %w", repo, err)}
		}
		reads[key] = read{arts, err}
		return arts, err
	}
	for _, p := range matching {
		pr := PolicyResult{Policy: p.Name, Mode: p.Mode}
		var causes []string
		for _, a := range p.Authorities {
			err := a.verify(ctx, img, digest, artifacts)
			if err == nil {
				pr.Authority, pr.Unavailable = a.Name, false
				causes = nil
				break
			}
			causes = append(causes, err.Error())
			var fe *fetchError
			pr.Unavailable = pr.Unavailable || errors.As(err, &fe)
		}
		if causes != nil {
			pr.Err = errors.New(strings.Join(causes, "; "))
		}
		res.Policies = append(res.Policies, pr)
	}
	return res, nil
}

func (a *Authority) verify(ctx context.Context, img Image, digest []byte, artifacts func(*Authority) (*Artifacts, error)) error {
	switch a.Static {
	case "pass":
		return nil
	case "fail":
		msg := a.Message
		if msg == "" {
			msg = "disallowed by static policy"
		}
		return fmt.Errorf("authority %q: %s", a.Name, msg)
	}
	arts, err := artifacts(a)
	if err != nil {
		return fmt.Errorf("authority %q: %w", a.Name, err)
	}
	if len(a.Attestations) > 0 {
		for _, want := range a.Attestations {
			if err := a.verifyAttestation(ctx, want, digest, arts); err != nil {
				return fmt.Errorf("no attestation %q (%s) verified by authority %q: %w", want.Name, want.PredicateType, a.Name, err)
			}
		}
		return nil
	}
	if err := a.verifySignature(img, digest, arts); err != nil {
		return fmt.Errorf("no signature verified by authority %q: %w", a.Name, err)
	}
	return nil
}

// cosignSignPredicate is the predicate type of the statements cosign signs
// images with in the bundle format.
const cosignSignPredicate = "https://sigstore.dev/cosign/sign/v1"

func (a *Authority) verifySignature(img Image, digest []byte, arts *Artifacts) error {
	var last error
	tried := 0
	if a.Bundle {
		for _, raw := range arts.Bundles {
			st, err := a.verifyBundle(raw, digest)
			if err == nil && st != cosignSignPredicate {
				continue // an attestation, not a signature
			}
			tried++
			if err == nil {
				return nil
			}
			last = err
		}
	} else {
		for _, l := range arts.Signatures {
			tried++
			if err := a.verifyLegacySignature(l, img.Digest); err != nil {
				last = err
				continue
			}
			return nil
		}
	}
	if tried == 0 {
		return errors.New("the image has no signatures")
	}
	if tried == 1 {
		return last
	}
	return fmt.Errorf("none of %d signatures verified, e.g.: %w", tried, last)
}

func (a *Authority) verifyLegacySignature(l Layer, digest string) error {
	e, err := newLegacyEntity(l, a.keyHint, false)
	if err != nil {
		return err
	}
	pb := verify.NewPolicy(verify.WithArtifact(bytes.NewReader(l.Payload)), a.identity...)
	if _, err := a.verifier.Verify(e, pb); err != nil {
		return explainCertificate(err, e)
	}
	// The signature covers the payload; the payload must name this image.
	var ss struct {
		Critical struct {
			Image struct {
				Digest string `json:"docker-manifest-digest"`
			} `json:"image"`
			Type string `json:"type"`
		} `json:"critical"`
	}
	if err := json.Unmarshal(l.Payload, &ss); err != nil {
		return fmt.Errorf("signed payload is not a simple-signing document: %w", err)
	}
	if ss.Critical.Image.Digest != digest {
		return fmt.Errorf("the signature is for %s, not this image (%s)", ss.Critical.Image.Digest, digest)
	}
	return nil
}

// explainCertificate adds to a failed verification that the signing
// certificate is outside its validity now, when it is: without a log entry
// or a signed timestamp, the certificate is checked at the current time.
func explainCertificate(err error, e *legacyEntity) error {
	c, ok := e.content.(*certContent)
	if !ok || len(e.entries) > 0 || len(e.timestamps) > 0 {
		return err
	}
	now := time.Now()
	switch {
	case now.After(c.cert.NotAfter):
		return fmt.Errorf("%w (the signing certificate expired at %s, and no log entry or signed timestamp dates the signature)", err, c.cert.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.cert.NotBefore):
		return fmt.Errorf("%w (the signing certificate is not valid before %s)", err, c.cert.NotBefore.UTC().Format(time.RFC3339))
	}
	return err
}

// verifyBundle verifies a sigstore bundle whose statement's subject must be
// the image's digest, and returns the statement's predicate type.
func (a *Authority) verifyBundle(raw []byte, digest []byte) (string, error) {
	pt, _, err := a.verifyBundleStatement(raw, digest)
	return pt, err
}

// verifyBundleStatement is verifyBundle, with the statement's JSON.
func (a *Authority) verifyBundleStatement(raw []byte, digest []byte) (string, []byte, error) {
	if len(raw) > maxLayerBytes {
		return "", nil, fmt.Errorf("bundle of %d bytes is over the %d-byte limit", len(raw), maxLayerBytes)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return "", nil, fmt.Errorf("not a sigstore bundle: %w", err)
	}
	if b.GetDsseEnvelope() == nil {
		return "", nil, errors.New("bundle signs no in-toto statement (a message signature names no image)")
	}
	if pk := b.GetVerificationMaterial().GetPublicKey(); pk != nil {
		// Bundles name their key by a hint; this authority's key is the one to check.
		pk.Hint = a.keyHint
	}
	pb := verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), a.identity...)
	res, err := a.verifier.Verify(&b, pb)
	if err != nil {
		return "", nil, err
	}
	if res.Statement == nil {
		return "", nil, errNoStatement
	}
	return res.Statement.GetPredicateType(), b.GetDsseEnvelope().GetPayload(), nil
}

func (a *Authority) verifyAttestation(ctx context.Context, want Attestation, digest []byte, arts *Artifacts) error {
	var failed, last error
	n := 0
	consider := func(pt string, statement []byte, err error) bool {
		if err != nil {
			n++
			last = err
			return false
		}
		if pt != want.PredicateType {
			return false
		}
		if want.policy == nil {
			return true
		}
		if err := want.policy(ctx, statement); err != nil {
			if failed == nil {
				failed = err
			}
			return false
		}
		return true
	}
	if a.Bundle {
		for _, raw := range arts.Bundles {
			if consider(a.verifyBundleStatement(raw, digest)) {
				return nil
			}
		}
	} else {
		for _, l := range arts.Attestations {
			if consider(a.verifyLegacyAttestation(l, digest)) {
				return nil
			}
		}
	}
	switch {
	case failed != nil:
		return failed
	case last == nil:
		return errors.New("the image has no attestation of that type")
	}
	return fmt.Errorf("%d attestations did not verify, e.g.: %w", n, last)
}

func (a *Authority) verifyLegacyAttestation(l Layer, digest []byte) (string, []byte, error) {
	e, err := newLegacyEntity(l, a.keyHint, true)
	if err != nil {
		return "", nil, err
	}
	pb := verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), a.identity...)
	res, err := a.verifier.Verify(e, pb)
	if err != nil {
		return "", nil, err
	}
	if res.Statement == nil {
		return "", nil, errNoStatement
	}
	statement, err := e.sig.EnvelopeContent().RawEnvelope().DecodeB64Payload()
	if err != nil {
		return "", nil, err
	}
	return res.Statement.GetPredicateType(), statement, nil
}
