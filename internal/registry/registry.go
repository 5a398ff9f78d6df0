// Package registry reads what image verification needs from OCI registries:
// the digest a tag points to, cosign's signature and attestation images, and
// sigstore bundles attached as OCI referrers. It is the I/O behind
// internal/imagepolicy's engine, with go-containerregistry's remote client,
// a deadline on every call, and identical concurrent reads collapsed.
package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/singleflight"

	"github.com/kguard/kguard/internal/imagepolicy"
)

// Counters are the registry calls since the process started, for the
// server's metrics (kguard_registry_*): calls (resolving a tag, reading the
// artifacts of a digest), the failed ones, and the time they took.
var Counters struct {
	Calls, Failures, Nanoseconds atomic.Uint64
}

// observe counts one call that started at start.
func observe(start time.Time, err error) {
	Counters.Calls.Add(1)
	Counters.Nanoseconds.Add(uint64(time.Since(start)))
	if err != nil {
		Counters.Failures.Add(1)
	}
}

// Config configures the client.
type Config struct {
	// Timeout bounds each registry call (resolving a tag, reading the
	// signatures of one digest); it must fit in the webhook's timeout.
	Timeout time.Duration
	// CAFile adds CAs that registries' certificates may chain to.
	CAFile string
	// Keychain gives credentials (nil: the docker config file, as `docker
	// login` writes it, and anonymous otherwise).
	Keychain authn.Keychain
	// Insecure allows plain HTTP. Without it every request is HTTPS:
	// go-containerregistry would otherwise fall back to plain HTTP for
	// loopback and private (RFC 1918) addresses.
	Insecure bool
}

// Client reads registries. It is safe for concurrent use.
type Client struct {
	cfg      Config
	opts     []remote.Option
	keychain authn.Keychain
	flights  singleflight.Group
}

// callOpts are the options of one call: the client's, with the context's
// credentials (imagepolicy.WithCredentials: tried first, then the client's
// own), and the flight key's credentials part: calls with different
// credentials are never collapsed into one.
func (c *Client) callOpts(ctx context.Context) ([]remote.Option, string) {
	opts := append([]remote.Option{}, c.opts...)
	id, kc := imagepolicy.CredentialsFrom(ctx)
	if kc == nil {
		return append(opts, remote.WithContext(ctx)), ""
	}
	return append(opts, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.NewMultiKeychain(kc, c.keychain))), id
}

// bundleArtifactType is the artifactType cosign gives a sigstore bundle
// attached as a referrer.
const bundleArtifactType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// maxBlobBytes bounds one signature layer or bundle read from a registry.
const maxBlobBytes = 4 << 20

// maxLayers bounds the signatures (or bundles) read for one digest.
const maxLayers = 64

// New makes a client.
func New(cfg Config) (*Client, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("registry CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("registry CA file %s: no PEM certificates", cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	kc := cfg.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	var rt http.RoundTripper = tr
	if !cfg.Insecure {
		rt = httpsOnly{tr}
	}
	c := &Client{cfg: cfg, keychain: kc, opts: []remote.Option{
		remote.WithTransport(rt),
		remote.WithAuthFromKeychain(kc),
		remote.WithUserAgent("kguard"),
		// One try: the deadline is the webhook's, and a retry would
		// spend it; the caller refuses and kube-apiserver's client retries.
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
	}}
	return c, nil
}

// httpsOnly refuses plain-HTTP requests, so that no tag resolution,
// signature read or credential goes over a connection anyone on the path
// can change or read.
type httpsOnly struct{ next http.RoundTripper }

func (h httpsOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "https" {
		return nil, fmt.Errorf("refusing plain HTTP to %s: kguard reads registries over HTTPS only", r.URL.Host)
	}
	return h.next.RoundTrip(r)
}

func (c *Client) nameOpts() []name.Option {
	if c.cfg.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// Resolve returns the repository and digest ref names. A reference with a
// digest is taken as it is (nothing to resolve); a tag is resolved with a
// HEAD of its manifest.
func (c *Client) Resolve(ctx context.Context, ref string) (imagepolicy.Image, error) {
	r, err := name.ParseReference(ref, c.nameOpts()...)
	if err != nil {
		return imagepolicy.Image{}, fmt.Errorf("image %q: %w", ref, err)
	}
	img := imagepolicy.Image{Ref: ref, Repository: r.Context().Name()}
	if d, ok := r.(name.Digest); ok {
		img.Digest = d.DigestStr()
		return img, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	opts, credID := c.callOpts(ctx)
	v, err, _ := c.flights.Do("resolve|"+credID+"|"+r.Name(), func() (_ any, err error) {
		start := time.Now()
		defer func() { observe(start, err) }()
		desc, err := remote.Head(r, opts...)
		if err != nil {
			return nil, describe(err, ctx)
		}
		return desc.Digest.String(), nil
	})
	if err != nil {
		return imagepolicy.Image{}, err
	}
	img.Digest = v.(string)
	return img, nil
}

// Artifacts reads what is attached to digest in repo: cosign's
// sha256-<hex>.sig and .att images, or the referrers that are sigstore
// bundles. A tag that does not exist is no artifacts.
func (c *Client) Artifacts(ctx context.Context, repo, digest string, bundles bool) (*imagepolicy.Artifacts, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	opts, credID := c.callOpts(ctx)
	v, err, _ := c.flights.Do(fmt.Sprintf("artifacts|%s|%s|%s|%v", credID, repo, digest, bundles), func() (_ any, err error) {
		start := time.Now()
		defer func() { observe(start, err) }()
		r, err := name.NewRepository(repo, c.nameOpts()...)
		if err != nil {
			return nil, err
		}
		h, err := v1.NewHash(digest)
		if err != nil {
			return nil, err
		}
		out := &imagepolicy.Artifacts{}
		if bundles {
			out.Bundles, err = c.bundles(r.Digest(digest), opts)
			return out, describe(err, ctx)
		}
		tag := fmt.Sprintf("%s-%s", h.Algorithm, h.Hex)
		if out.Signatures, err = layers(r.Tag(tag+".sig"), opts); err != nil {
			return nil, describe(err, ctx)
		}
		if out.Attestations, err = layers(r.Tag(tag+".att"), opts); err != nil {
			return nil, describe(err, ctx)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*imagepolicy.Artifacts), nil
}

// layers reads the layers of a cosign signature or attestation image with
// their annotations; no such tag is no layers.
func layers(tag name.Tag, opts []remote.Option) ([]imagepolicy.Layer, error) {
	img, err := remote.Image(tag, opts...)
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return imageLayers(img, tag.String())
}

// imageLayers reads every layer of img (at most maxLayers, each at most
// maxBlobBytes) with its annotations.
func imageLayers(img v1.Image, name string) ([]imagepolicy.Layer, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	if len(m.Layers) > maxLayers {
		return nil, fmt.Errorf("%s has %d layers, more than the %d kguard reads", name, len(m.Layers), maxLayers)
	}
	var out []imagepolicy.Layer
	for _, d := range m.Layers {
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return nil, err
		}
		b, err := readBlob(l.Compressed, d.Size)
		if err != nil {
			return nil, fmt.Errorf("%s layer %s: %w", name, d.Digest, err)
		}
		out = append(out, imagepolicy.Layer{Payload: b, Annotations: d.Annotations})
	}
	return out, nil
}

// bundles reads the sigstore bundles attached to d as referrers (through
// the referrers API, or the sha256-<hex> tag where the registry has none).
func (c *Client) bundles(d name.Digest, opts []remote.Option) ([][]byte, error) {
	idx, err := remote.Referrers(d, opts...)
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, m := range im.Manifests {
		if m.ArtifactType != bundleArtifactType {
			continue
		}
		ref := d.Context().Digest(m.Digest.String())
		img, err := remote.Image(ref, opts...)
		if err != nil {
			return nil, err
		}
		ls, err := imageLayers(img, ref.String())
		if err != nil {
			return nil, err
		}
		if len(out)+len(ls) > maxLayers {
			return nil, fmt.Errorf("%s has more than %d bundles", d, maxLayers)
		}
		for _, l := range ls {
			out = append(out, l.Payload)
		}
	}
	return out, nil
}

func readBlob(open func() (io.ReadCloser, error), size int64) ([]byte, error) {
	if size > maxBlobBytes {
		return nil, fmt.Errorf("%d bytes, over the %d-byte limit", size, maxBlobBytes)
	}
	rc, err := open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxBlobBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBlobBytes {
		return nil, fmt.Errorf("over the %d-byte limit", maxBlobBytes)
	}
	return b, nil
}

func notFound(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		if te.StatusCode == http.StatusNotFound {
			return true
		}
		for _, d := range te.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return true
			}
		}
	}
	return false
}

// describe says that a call ran out of its time, rather than a bare
// "context deadline exceeded".
func describe(err error, ctx context.Context) error {
	if err != nil && ctx.Err() != nil && strings.Contains(err.Error(), "context deadline exceeded") {
		return fmt.Errorf("registry did not answer in time: %w", err)
	}
	return err
}
