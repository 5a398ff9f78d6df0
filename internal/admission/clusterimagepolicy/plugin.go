// Package clusterimagepolicy is the admission plugin that verifies images
// against sigstore ClusterImagePolicies (internal/imagepolicy): in the
// mutating pass it resolves every image of a pod to the digest it verified
// and pins the pod to it (repo@sha256:…), so that what runs is what was
// checked; in the validating pass it checks the final pod's images, and the
// images of pod controllers' templates. A registry error, a timeout or an
// unverifiable image is a denial naming the image and the cause.
package clusterimagepolicy

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	k8sauthn "github.com/google/go-containerregistry/pkg/authn/kubernetes"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/imagepolicy"
	"github.com/kguard/kguard/internal/podspec"
	"github.com/kguard/kguard/internal/policy"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// PluginName is the plugin's name in --enable-admission-plugins.
const PluginName = "ClusterImagePolicy"

// IncludeLabel opts a namespace in, as policy-controller's label does.
const IncludeLabel = "policy.sigstore.dev/include"

func init() { admission.Register(PluginName, newPlugin) }

// Registry resolves tags and reads signatures (internal/registry in
// kguard serve and kguard check; nil offline).
type Registry interface {
	Resolve(ctx context.Context, ref string) (imagepolicy.Image, error)
	imagepolicy.Fetcher
}

// Counters are the plugin's activity since the process started, for the
// server's metrics (kguard_image_*): verdicts on images and cache lookups.
var Counters struct {
	Admitted, Refused, Unavailable, NoMatch atomic.Uint64
	CacheHits, CacheMisses                  atomic.Uint64
}

// Config configures the plugin.
type Config struct {
	Registry Registry
	// NoMatch is what happens to an image no policy matches (default deny,
	// as policy-controller's).
	NoMatch imagepolicy.NoMatch
	// AllNamespaces checks every namespace; otherwise only those labelled
	// policy.sigstore.dev/include=true.
	AllNamespaces bool
	// TrustedRoot is the Sigstore trust root for keyless authorities that
	// name no TrustRoot (--trusted-root).
	TrustedRoot root.TrustedMaterial
	// CacheTTL keeps verdicts and tag resolutions (default 60s); results
	// that depend on a registry error are never kept.
	CacheTTL time.Duration
	// SecretNamespace is kguard's namespace, whose Secrets key.secretRef
	// and keyless.ca-cert.secretRef name (default "kguard").
	SecretNamespace string
	// PullSecrets reads the pull Secrets a pod names (its own
	// imagePullSecrets and its ServiceAccount's), whose credentials the
	// registry calls for its images use first, as the kubelet's would
	// (cluster mode; nil: the registry client's own credentials only).
	PullSecrets SecretGetter
}

// SecretGetter reads a Secret.
type SecretGetter interface {
	GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
}

// DefaultSecretNamespace is the namespace deploy/ installs kguard in.
const DefaultSecretNamespace = "kguard"

type plugin struct {
	cfg      Config
	verifier *Verifier
	included map[string]bool
	// pullSecrets are the ServiceAccounts' imagePullSecrets, by namespace/name.
	pullSecrets map[string][]corev1.LocalObjectReference
}

var (
	_ admission.Mutator           = (*plugin)(nil)
	_ admission.Validator         = (*plugin)(nil)
	_ admission.WorkloadValidator = (*plugin)(nil)
	_ admission.ImageReviewer     = (*plugin)(nil)
	_ admission.TemplateMutator   = (*plugin)(nil)
)

func newPlugin(in admission.Inputs) (admission.Plugin, error) {
	cfg, err := admission.ConfigAs[Config](in.Config)
	if err != nil {
		return nil, err
	}
	if cfg.NoMatch == "" {
		cfg.NoMatch = imagepolicy.NoMatchDeny
	}
	p := &plugin{cfg: cfg, included: map[string]bool{}, pullSecrets: map[string][]corev1.LocalObjectReference{}}
	set := in.Policies
	if set == nil {
		set = &policy.Set{}
	}
	for _, sa := range set.ServiceAccounts {
		if len(sa.ImagePullSecrets) > 0 {
			p.pullSecrets[sa.Namespace+"/"+sa.Name] = sa.ImagePullSecrets
		}
	}
	for _, ns := range set.Namespaces {
		if ns.Labels[IncludeLabel] == "true" {
			p.included[ns.Name] = true
		}
	}
	if p.verifier, err = NewVerifier(set, cfg); err != nil {
		return nil, err
	}
	return p, nil
}

// Verifier is the plugin's verdict on one image, resolved through the
// registry and kept in the cache: the admission plugin's, and `kguard image
// verify`'s.
type Verifier struct {
	policies *imagepolicy.Policies
	registry Registry
	cache    *cache
}

// NewVerifier compiles the policies of set (Compile) with the registry and
// cache of cfg.
func NewVerifier(set *policy.Set, cfg Config) (*Verifier, error) {
	ps, err := Compile(set, cfg)
	if err != nil {
		return nil, err
	}
	ttl := cfg.CacheTTL
	if ttl <= 0 {
		ttl = 60 * time.Second
	}
	return &Verifier{policies: ps, registry: cfg.Registry, cache: newCache(ttl, 10000)}, nil
}

// Compile compiles the ClusterImagePolicies and TrustRoots of set, with the
// Secrets of cfg.SecretNamespace for secretRef keys: the plugin's policies,
// for `kguard image verify` too.
func Compile(set *policy.Set, cfg Config) (*imagepolicy.Policies, error) {
	if cfg.SecretNamespace == "" {
		cfg.SecretNamespace = DefaultSecretNamespace
	}
	secrets := map[string]*corev1.Secret{}
	for _, sec := range set.Secrets {
		if sec.Namespace == cfg.SecretNamespace {
			secrets[sec.Name] = sec
		}
	}
	return imagepolicy.Compile(set.ClusterImagePolicies, set.TrustRoots,
		imagepolicy.Options{TrustedRoot: cfg.TrustedRoot, Secrets: secrets, SecretNamespace: cfg.SecretNamespace})
}

// Handles: new pods and updates (an update may change an image), and their
// ephemeral containers.
func (p *plugin) Handles(op admissionv1.Operation, subresource string) bool {
	return (op == admissionv1.Create || op == admissionv1.Update) && (subresource == "" || subresource == "ephemeralcontainers")
}

// pass is what check does besides verifying.
type pass int

const (
	// passMutate pins each verified image to its digest.
	passMutate pass = iota
	// passValidate also refuses an image a policy verified by its digest
	// that is named by a tag: the tag may name another image by the time
	// the kubelet pulls it. The mutating pass pinned the images it saw;
	// one it did not see (kubectl debug's ephemeral containers, which only
	// the validating webhook is sent; an image another webhook changed
	// after kguard's) must name its digest, as policy-controller requires
	// of every image it validates.
	passValidate
	// passReview answers kube-apiserver's ImagePolicyWebhook, whose images
	// are the pod's containers' after the mutating webhooks (never its image
	// volumes'): tags are verified as they resolve now.
	passReview
)

func (p *plugin) Mutate(ctx context.Context, r *admission.Request, pod *corev1.Pod) admission.Decision {
	if leaving(r.Operation, pod) {
		return admission.Decision{}
	}
	return p.check(ctx, r.Namespace, &pod.Spec, pod, passMutate)
}

func (p *plugin) Validate(ctx context.Context, r *admission.Request, pod *corev1.Pod) admission.Decision {
	if leaving(r.Operation, pod) {
		return admission.Decision{}
	}
	return p.check(ctx, r.Namespace, &pod.Spec, nil, passValidate)
}

// MutateTemplate pins the images of a pod controller's template to the
// digests verified, as for a pod, so that every pod it creates runs them.
func (p *plugin) MutateTemplate(ctx context.Context, w *admission.WorkloadRequest, pod *corev1.Pod) admission.Decision {
	if leavingWorkload(w) {
		return admission.Decision{}
	}
	return p.check(ctx, w.Request.Namespace, &pod.Spec, pod, passMutate)
}

// ValidateWorkload checks a pod controller's template, so that an unsigned
// Deployment is refused when it is created, not only its pods later.
func (p *plugin) ValidateWorkload(ctx context.Context, w *admission.WorkloadRequest) admission.Decision {
	spec := podspec.SpecOf(w.Object)
	if spec == nil || leavingWorkload(w) {
		return admission.Decision{}
	}
	return p.check(ctx, w.Request.Namespace, spec, nil, passValidate)
}

// ReviewImages answers kube-apiserver's ImagePolicyWebhook (/imagereview)
// with the same verdicts as the validating pass.
func (p *plugin) ReviewImages(ctx context.Context, namespace string, images []string) admission.Decision {
	spec := &corev1.PodSpec{}
	for _, image := range images {
		spec.Containers = append(spec.Containers, corev1.Container{Image: image})
	}
	return p.check(ctx, namespace, spec, nil, passReview)
}

// leaving: an UPDATE of a pod being deleted (a controller removing its
// finalizer), which runs nothing new and must not wait for a registry, as
// policy-controller lets objects being deleted through.
func leaving(op admissionv1.Operation, pod *corev1.Pod) bool {
	return op == admissionv1.Update && pod.DeletionTimestamp != nil
}

// leavingWorkload: an UPDATE of a pod controller being deleted, or one
// that only lowers its replicas (its template unchanged): scaling down a
// workload whose images no longer pass is what an operator does then, as
// policy-controller never blocks a scale down.
func leavingWorkload(w *admission.WorkloadRequest) bool {
	if w.Operation != admissionv1.Update || w.OldObject == nil {
		return false
	}
	if m, err := meta.Accessor(w.Object); err == nil && m.GetDeletionTimestamp() != nil {
		return true
	}
	now, okNow := podspec.Replicas(w.Object)
	was, okWas := podspec.Replicas(w.OldObject)
	return okNow && okWas && now < was && w.SameTemplate()
}

// check verifies the images of spec; in passMutate (pod non-nil) it
// returns the pod with each verified image pinned to its digest.
func (p *plugin) check(ctx context.Context, namespace string, spec *corev1.PodSpec, pod *corev1.Pod, ps pass) admission.Decision {
	if !p.cfg.AllNamespaces && !p.included[namespace] {
		return admission.Decision{}
	}
	ctx = p.credentials(ctx, namespace, spec)
	var d admission.Decision
	var denials []string
	pinned := map[string]string{}
	for _, image := range images(spec) {
		if _, seen := pinned[image]; seen {
			continue
		}
		pinned[image] = image
		res, err := p.verifier.Verify(ctx, image)
		if err != nil {
			Counters.Unavailable.Add(1)
			denials = append(denials, err.Error())
			continue
		}
		switch {
		case res.NoMatch:
			Counters.NoMatch.Add(1)
		case res.Denied():
			Counters.Refused.Add(1)
		default:
			Counters.Admitted.Add(1)
		}
		if res.NoMatch {
			switch p.cfg.NoMatch {
			case imagepolicy.NoMatchDeny:
				denials = append(denials, fmt.Sprintf("image %q matches no ClusterImagePolicy", image))
			case imagepolicy.NoMatchWarn:
				d.Warnings = append(d.Warnings, fmt.Sprintf("image %q matches no ClusterImagePolicy", image))
			}
			continue
		}
		denials = append(denials, res.Messages(true)...)
		d.Warnings = append(d.Warnings, res.Messages(false)...)
		if !res.Denied() && res.Image.Digest != "" {
			pinned[image] = pinnedRef(image, res.Image.Digest)
			if ps == passValidate && pinned[image] != image && enforced(res) {
				denials = append(denials, fmt.Sprintf("image %q must name its digest (%s): a ClusterImagePolicy verified that digest, and a tag may name another image when the kubelet pulls it (kguard's mutating webhook pins the images it sees; this one it did not see: kubectl debug, or a webhook after kguard's)", image, pinned[image]))
			}
		}
	}
	if len(denials) > 0 {
		d.Denied, d.Reason = true, strings.Join(denials, "; ")
		return d
	}
	if ps == passMutate {
		out := pod.DeepCopy()
		changed := false
		forEachContainer(&out.Spec, func(c *string) {
			if to := pinned[*c]; to != "" && to != *c {
				*c, changed = to, true
			}
		})
		if changed {
			d.Pod = out
		}
	}
	return d
}

// credentials puts the pod's pull Secrets (its own imagePullSecrets, then
// its ServiceAccount's) into ctx for the registry calls. A Secret that
// cannot be read is left out, as the kubelet leaves it out.
func (p *plugin) credentials(ctx context.Context, namespace string, spec *corev1.PodSpec) context.Context {
	if p.cfg.PullSecrets == nil {
		return ctx
	}
	sa := spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	refs := append(append([]corev1.LocalObjectReference{}, spec.ImagePullSecrets...), p.pullSecrets[namespace+"/"+sa]...)
	if len(refs) == 0 {
		return ctx
	}
	var secrets []corev1.Secret
	id := namespace
	seen := map[string]bool{}
	for _, ref := range refs {
		if ref.Name == "" || seen[ref.Name] {
			continue
		}
		seen[ref.Name] = true
		sec, err := p.cfg.PullSecrets.GetSecret(ctx, namespace, ref.Name)
		if err != nil || sec == nil {
			continue
		}
		secrets = append(secrets, *sec)
		id += "/" + sec.Name + "@" + sec.ResourceVersion
	}
	if len(secrets) == 0 {
		return ctx
	}
	kc, err := k8sauthn.NewFromPullSecrets(ctx, secrets)
	if err != nil {
		return ctx
	}
	return imagepolicy.WithCredentials(ctx, id, kc)
}

// Verify resolves image and judges it, through the cache: NoMatch when no
// policy matches it, an error when it cannot be judged (a bad reference,
// offline, a tag the registry does not resolve).
func (v *Verifier) Verify(ctx context.Context, image string) (*imagepolicy.Result, error) {
	matching, err := v.policies.Matching(image)
	if err != nil {
		return nil, err
	}
	if len(matching) == 0 {
		return &imagepolicy.Result{Image: imagepolicy.Image{Ref: image}, NoMatch: true}, nil
	}
	if res, ok, err := v.policies.Static(image); err != nil || ok {
		return res, err
	}
	if v.registry == nil {
		return nil, fmt.Errorf("image %q is not admitted: it cannot be verified offline (no registry lookups)", image)
	}
	ref, err := name.ParseReference(image, name.WeakValidation)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", image, err)
	}
	img, ok := imagepolicy.Image{Ref: image, Repository: ref.Context().Name()}, false
	if d, isDigest := ref.(name.Digest); isDigest {
		img.Digest = d.DigestStr()
	} else if img, ok = v.cache.resolved(image); !ok {
		if img, err = v.registry.Resolve(ctx, image); err != nil {
			return nil, fmt.Errorf("image %q is not admitted: resolving its tag to a digest: %w", image, err)
		}
		v.cache.putResolved(image, img)
	}
	// A policy's verdict depends on the policy, the repository and the
	// digest only (not on the tag that named it): cached per policy, it
	// also answers the pinned reference the mutating pass wrote, and
	// kube-apiserver's ImageReview of it.
	res := &imagepolicy.Result{Image: img}
	for _, pol := range matching {
		pr, ok := v.cache.verdict(pol.Name, img)
		if !ok {
			res = nil
			break
		}
		res.Policies = append(res.Policies, pr)
	}
	if res != nil {
		Counters.CacheHits.Add(1)
		return res, nil
	}
	Counters.CacheMisses.Add(1)
	res, err = v.policies.Verify(ctx, img, v.registry)
	if err != nil {
		return nil, err
	}
	for _, pr := range res.Policies {
		if !pr.Unavailable { // a verdict that failed for a registry error is not kept
			v.cache.putVerdict(pr.Policy, img, pr)
		}
	}
	return res, nil
}

// pinnedRef is image pinned to digest: repository@digest (a reference
// that already names the digest is kept as written).
func pinnedRef(image, digest string) string {
	ref, err := name.ParseReference(image, name.WeakValidation)
	if err != nil {
		return image
	}
	if _, ok := ref.(name.Digest); ok {
		return image
	}
	return ref.Context().Name() + "@" + digest
}

func images(spec *corev1.PodSpec) []string {
	var out []string
	forEachContainer(spec, func(c *string) { out = append(out, *c) })
	return out
}

// forEachContainer calls f with every image the pod pulls: its
// containers' (init, regular, ephemeral) and its image volumes' (the
// kubelet pulls and mounts them as it pulls a container's image).
func forEachContainer(spec *corev1.PodSpec, f func(image *string)) {
	for i := range spec.InitContainers {
		f(&spec.InitContainers[i].Image)
	}
	for i := range spec.Containers {
		f(&spec.Containers[i].Image)
	}
	for i := range spec.EphemeralContainers {
		f(&spec.EphemeralContainers[i].Image)
	}
	for i := range spec.Volumes {
		if v := spec.Volumes[i].Image; v != nil {
			f(&v.Reference)
		}
	}
}

// enforced: one of the policies that admitted the image enforces (an image
// only warn-mode policies match is never refused).
func enforced(res *imagepolicy.Result) bool {
	for _, pr := range res.Policies {
		if pr.Mode != imagepolicy.ModeWarn {
			return true
		}
	}
	return false
}

// cache keeps tag resolutions and verdicts for a TTL, up to max entries
// each (when full, the expired are dropped, then everything).
type cache struct {
	mu       sync.Mutex
	ttl      time.Duration
	max      int
	resolves map[string]entry[imagepolicy.Image]
	verdicts map[string]entry[imagepolicy.PolicyResult] // policy|repository@digest
}

type entry[T any] struct {
	v       T
	expires time.Time
}

func newCache(ttl time.Duration, max int) *cache {
	return &cache{ttl: ttl, max: max, resolves: map[string]entry[imagepolicy.Image]{}, verdicts: map[string]entry[imagepolicy.PolicyResult]{}}
}

func (c *cache) resolved(ref string) (imagepolicy.Image, bool) {
	return get(c, c.resolves, ref)
}
func (c *cache) putResolved(ref string, img imagepolicy.Image) { put(c, c.resolves, ref, img) }
func (c *cache) verdict(policy string, img imagepolicy.Image) (imagepolicy.PolicyResult, bool) {
	return get(c, c.verdicts, policy+"|"+img.Repository+"@"+img.Digest)
}
func (c *cache) putVerdict(policy string, img imagepolicy.Image, r imagepolicy.PolicyResult) {
	put(c, c.verdicts, policy+"|"+img.Repository+"@"+img.Digest, r)
}

func get[T any](c *cache, m map[string]entry[T], k string) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := m[k]
	if !ok || time.Now().After(e.expires) {
		var zero T
		return zero, false
	}
	return e.v, true
}

func put[T any](c *cache, m map[string]entry[T], k string, v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(m) >= c.max {
		now := time.Now()
		for k, e := range m {
			if now.After(e.expires) {
				delete(m, k)
			}
		}
		if len(m) >= c.max {
			clear(m)
		}
	}
	m[k] = entry[T]{v: v, expires: time.Now().Add(c.ttl)}
}
