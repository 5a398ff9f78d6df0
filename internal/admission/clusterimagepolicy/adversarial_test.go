package clusterimagepolicy

// Adversarial review of the image supply-chain admission: an attacker who
// controls some tags of a repository a ClusterImagePolicy covers (but not the
// signing key) and some pod specs. TestEscape… tests admitted what must be
// refused, TestRefuses… refused what must be admitted: each failed before the
// fix that came with it (the comments describe kguard as it was) and holds
// the right answer now. TestHolds… are attacks kguard answered right, kept
// for the coverage they add, and the admitted counterparts of the fixes. Every test goes through the admission chain as the
// webhook does (admission.Chain.Review with an AdmissionReview), with the
// package's fakeRegistry (setup) as the registry.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/imagepolicy"
)

// movableRegistry is setup's fakeRegistry whose tags the attacker moves:
// tags maps a reference as written to the digest it resolves to now.
type movableRegistry struct {
	*fakeRegistry
	mu   sync.Mutex
	tags map[string]string
}

func (m *movableRegistry) Resolve(ctx context.Context, ref string) (imagepolicy.Image, error) {
	m.mu.Lock()
	d, ok := m.tags[ref]
	m.mu.Unlock()
	if !ok {
		return m.fakeRegistry.Resolve(ctx, ref)
	}
	m.resolves.Add(1)
	repo, _, _ := strings.Cut(ref, ":")
	return imagepolicy.Image{Ref: ref, Repository: repo, Digest: d}, nil
}

func (m *movableRegistry) move(ref, digest string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tags[ref] = digest
}

// advChain is the ClusterImagePolicy plugin alone in a chain, as kguard serve
// runs it, over setup's policy ("signed-images": registry.example/** signed
// by key-0; namespace "in" opted in; no-match deny) and registry. With
// movable, the registry's tags can be moved.
func advChain(t *testing.T, cfg Config, movable bool) (*admission.Chain, *fakeRegistry, *movableRegistry) {
	t.Helper()
	_, reg := setup(t, cfg, "")
	in := lastInputs
	c := in.Config.(Config)
	var mr *movableRegistry
	if movable {
		mr = &movableRegistry{fakeRegistry: reg, tags: map[string]string{}}
		c.Registry = mr
	}
	chain, err := admission.NewChain([]string{PluginName}, admission.Inputs{Policies: in.Policies}, map[string]any{PluginName: c})
	if err != nil {
		t.Fatal(err)
	}
	return chain, reg, mr
}

// reviewJSON is an AdmissionReview of resource (e.g. "pods",
// "pods/ephemeralcontainers", "deployments.apps") in namespace "in".
func reviewJSON(t *testing.T, op admissionv1.Operation, group, version, kind, resource string, object, oldObject any) []byte {
	t.Helper()
	res, sub, _ := strings.Cut(resource, "/")
	req := map[string]any{
		"uid":       "adv-1",
		"kind":      map[string]string{"group": group, "version": version, "kind": kind},
		"resource":  map[string]string{"group": group, "version": version, "resource": res},
		"namespace": "in", "name": "p", "operation": string(op),
		"userInfo": map[string]any{"username": "mallory"},
		"object":   object,
	}
	if sub != "" {
		req["subResource"] = sub
	}
	if oldObject != nil {
		req["oldObject"] = oldObject
	}
	b, err := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func answer(t *testing.T, chain *admission.Chain, body []byte, phase admission.Phase) *admissionv1.AdmissionResponse {
	t.Helper()
	out, err := chain.Review(context.Background(), body, phase)
	if err != nil {
		t.Fatalf("review: %v", err)
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(out, &ar); err != nil || ar.Response == nil {
		t.Fatalf("answer %s: %v", out, err)
	}
	return ar.Response
}

var phases = map[admission.Phase]string{admission.PhaseMutate: "mutate", admission.PhaseValidate: "validate"}

func message(r *admissionv1.AdmissionResponse) string {
	if r.Result == nil {
		return ""
	}
	return r.Result.Message
}

// podJSON is a pod of namespace "in" with one container per image, plus
// extra top-level fields merged into it (spec fields under "spec").
func podJSON(images []string, spec map[string]any, meta map[string]any) map[string]any {
	var cs []any
	for i, img := range images {
		cs = append(cs, map[string]any{"name": fmt.Sprintf("c%d", i), "image": img})
	}
	s := map[string]any{"containers": cs}
	for k, v := range spec {
		s[k] = v
	}
	m := map[string]any{"name": "p", "namespace": "in"}
	for k, v := range meta {
		m[k] = v
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": s}
}

// TestEscapeEphemeralContainerTagIsAdmittedUnpinned: `kubectl debug
// --image=registry.example/app:moving` admits a tag that no longer points to
// what was verified.
//
// deploy/webhooks.yaml routes pods/ephemeralcontainers to the validating
// webhook only, so an ephemeral container's image is never pinned by the
// mutating pass (docs/image-policy.md claims it is: "every image of a pod
// (containers, init containers, ephemeral containers) ... is resolved to its
// digest, verified, and pinned"). The validating pass resolves the tag (from
// kguard's 60 s resolution cache), verifies that digest and admits the tag
// as written; the kubelet then pulls whatever the tag names when it starts
// the container. The attacker, who can push to registry.example/app but not
// sign, lets one pod resolve :moving while it names a signed image, moves
// :moving to an unsigned image, and adds the ephemeral container within the
// cache's TTL: kguard answers allowed, and the unsigned image runs.
//
// Right answer: refused. policy-controller v0.13.1's validating webhook
// refuses every container, init container and ephemeral container image
// that is not a digest ("<image> must be an image digest",
// pkg/webhook/validator.go refOrFieldError: "Require digests, otherwise the
// validation is meaningless since the tag can move"). kguard's validating
// pass, which only judges and cannot pin, must do the same for the images a
// policy verifies (or the mutating webhook must also take
// pods/ephemeralcontainers and pin them, and the validating pass still
// refuse a tag). The same validating pass answers /imagereview and any pod
// whose image a later mutating webhook turned back into a tag.
func TestEscapeEphemeralContainerTagIsAdmittedUnpinned(t *testing.T) {
	chain, _, reg := advChain(t, Config{}, true)
	const moving = "registry.example/app:moving"
	reg.move(moving, signedDigest)

	// 1. Any pod naming the tag while it is signed: pinned, and the
	// resolution is cached.
	if r := answer(t, chain, reviewJSON(t, admissionv1.Create, "", "v1", "Pod", "pods", podJSON([]string{moving}, nil, nil), nil), admission.PhaseMutate); !r.Allowed {
		t.Fatalf("the signed tag was refused: %s", message(r))
	}
	// 2. The attacker moves the tag to an unsigned image.
	reg.move(moving, unsignedDigest)

	// 3. kubectl debug: an UPDATE of pods/ephemeralcontainers, which only the
	// validating webhook receives.
	running := podJSON([]string{"registry.example/app@" + signedDigest}, nil, nil)
	debug := podJSON([]string{"registry.example/app@" + signedDigest}, map[string]any{
		"ephemeralContainers": []any{map[string]any{"name": "debugger", "image": moving}},
	}, nil)
	r := answer(t, chain, reviewJSON(t, admissionv1.Update, "", "v1", "Pod", "pods/ephemeralcontainers", debug, running), admission.PhaseValidate)
	if r.Allowed {
		t.Fatalf("ephemeral container %q admitted as a tag (it now names %s, which is unsigned; the validating pass cannot pin it): want it refused as policy-controller refuses it (%q must be an image digest)", moving, unsignedDigest, moving)
	}
	// Not resolving from the cache would not be enough: a tag that names a
	// signed image now can be moved between this answer and the kubelet's
	// pull, so a tag is refused whatever it names.
	debug = podJSON([]string{"registry.example/app@" + signedDigest}, map[string]any{
		"ephemeralContainers": []any{map[string]any{"name": "debugger", "image": "registry.example/app:signed"}},
	}, nil)
	r = answer(t, chain, reviewJSON(t, admissionv1.Update, "", "v1", "Pod", "pods/ephemeralcontainers", debug, running), admission.PhaseValidate)
	if r.Allowed {
		t.Fatalf("ephemeral container %q admitted as a tag: want it refused (it must be an image digest)", "registry.example/app:signed")
	}
}

// TestEscapeImageVolumesAreNotVerified: an image volume
// (spec.volumes[].image.reference, the ImageVolume feature,
// in kguard's k8s.io/api types) is pulled by the
// kubelet from the registry like a container image and mounted into the
// pod's containers, but kguard never looks at it: forEachContainer walks
// init, app and ephemeral containers only. With the default no-match rule
// (deny) an image from a registry no policy covers is admitted, and so is an
// unsigned image of a repository whose policy requires a signature; neither
// is pinned, so the tag may move too.
//
// Right answer: refused, with the same messages as for a container image
// ("matches no ClusterImagePolicy", "no signature verified by authority
// key-0"); a verified one pinned to its digest. The Kubernetes API says the
// reference "Behaves in the same way as pod.spec.containers[*].image" (pull
// secrets, pull policy, the kubelet's pull), kguard's own AlwaysPullImages
// plugin already treats image volumes as images, and policy-controller
// recognised the gap (sigstore/policy-controller#1974, fixed by #1976:
// "validate OCI image references in volumes[].image fields, enforcing the
// same signature and attestation policies already applied to container
// images"). policy-controller v0.13.1 does not look at them either, so the
// claimed semantics do not settle it; the doc should at least
// say that image volumes are not verified if this stays.
func TestEscapeImageVolumesAreNotVerified(t *testing.T) {
	for _, tc := range []struct{ name, volumeImage, want string }{
		{"no policy matches", "attacker.example/payload:latest", "matches no ClusterImagePolicy"},
		{"unsigned under the policy", "registry.example/app:unsigned", "no signature verified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chain, _, _ := advChain(t, Config{}, false)
			pod := podJSON([]string{"registry.example/app@" + signedDigest}, map[string]any{
				"volumes": []any{map[string]any{"name": "payload", "image": map[string]any{"reference": tc.volumeImage, "pullPolicy": "Always"}}},
			}, nil)
			body := reviewJSON(t, admissionv1.Create, "", "v1", "Pod", "pods", pod, nil)
			for _, phase := range []admission.Phase{admission.PhaseMutate, admission.PhaseValidate} {
				if r := answer(t, chain, body, phase); r.Allowed || !strings.Contains(message(r), tc.want) {
					t.Errorf("%s: image volume %q: allowed=%v %q, want refused with %q", phases[phase], tc.volumeImage, r.Allowed, message(r), tc.want)
				}
			}
		})
	}
}

// TestRefusesFinalizerRemovalFromATerminatingPod: a pod being deleted
// (deletionTimestamp set) whose last finalizer is removed — the Job
// controller does this to every Job pod (batch.kubernetes.io/job-tracking) —
// is refused when its image cannot be verified at that moment: here the
// registry is unreachable (fail closed); a key rotation or a deleted
// signature does the same. The pod stays Terminating and its Job's tracking
// is stuck for as long as the registry is down, across every included
// namespace.
//
// Right answer: admitted. policy-controller v0.13.1 does not validate an
// object that is being deleted or already has a deletionTimestamp
// (pkg/webhook/validator.go isDeletedOrStatusUpdate, checked first by
// ValidatePod, ValidatePodSpecable, ValidatePodScalable and ValidateCronJob):
// nothing new can run from a pod that is going away, and removing a finalizer
// changes no image. (An UPDATE that changes an image must of course still be
// verified; kube-apiserver forbids image changes on a terminating pod
// anyway.)
func TestRefusesFinalizerRemovalFromATerminatingPod(t *testing.T) {
	chain, reg, _ := advChain(t, Config{}, false)
	reg.down = true
	meta := func(finalizers []string) map[string]any {
		return map[string]any{"deletionTimestamp": "2026-01-01T00:00:00Z", "deletionGracePeriodSeconds": 30, "finalizers": finalizers}
	}
	img := []string{"registry.example/app@" + signedDigest}
	old := podJSON(img, nil, meta([]string{"batch.kubernetes.io/job-tracking"}))
	cur := podJSON(img, nil, meta(nil))
	body := reviewJSON(t, admissionv1.Update, "", "v1", "Pod", "pods", cur, old)
	for _, phase := range []admission.Phase{admission.PhaseMutate, admission.PhaseValidate} {
		if r := answer(t, chain, body, phase); !r.Allowed {
			t.Errorf("%s: removing the finalizer of a terminating pod refused: %s", phases[phase], message(r))
		}
	}
}

// TestRefusesDeploymentScaleDown: an UPDATE of a Deployment that only lowers
// spec.replicas (kubectl edit, kubectl apply of a smaller count; kubectl
// scale and the HPA use the scale subresource, which kguard lets through) is
// refused when the template's image cannot be verified now — the registry is
// down, the signing key was rotated, the signature deleted. Shedding the
// replicas of a workload that no longer passes is exactly what an operator
// does then.
//
// Right answer: admitted. policy-controller v0.13.1 never blocks a scale down
// (pkg/webhook/validator.go ValidatePodScalable: "If we are being scaled
// down don't block it ... This allows for scaling down pods with
// non-compliant images that would otherwise be forbidden").
func TestRefusesDeploymentScaleDown(t *testing.T) {
	chain, reg, _ := advChain(t, Config{}, false)
	reg.down = true
	deploy := func(replicas int) map[string]any {
		return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web", "namespace": "in"},
			"spec": map[string]any{"replicas": replicas, "selector": map[string]any{"matchLabels": map[string]string{"a": "b"}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]string{"a": "b"}},
					"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "registry.example/app@" + signedDigest}}}}}}
	}
	body := reviewJSON(t, admissionv1.Update, "apps", "v1", "Deployment", "deployments", deploy(1), deploy(3))
	for _, phase := range []admission.Phase{admission.PhaseMutate, admission.PhaseValidate} {
		if r := answer(t, chain, body, phase); !r.Allowed {
			t.Errorf("%s: scaling a Deployment down from 3 to 1 refused: %s", phases[phase], message(r))
		}
	}
}

// TestHoldsTagAndDigestVerifiesTheDigest: name:tag@digest runs the digest
// (containerd and CRI-O pull by digest and ignore the tag), so the digest is
// what must be verified, whatever the tag names: a signed tag in front of an
// unsigned digest is refused, an unsigned tag in front of a signed digest is
// admitted, kept as written, and the tag is not even resolved.
func TestHoldsTagAndDigestVerifiesTheDigest(t *testing.T) {
	chain, reg, _ := advChain(t, Config{}, false)
	for _, tc := range []struct {
		image string
		allow bool
	}{
		{"registry.example/app:signed@" + unsignedDigest, false},
		{"registry.example/app:unsigned@" + signedDigest, true},
	} {
		body := reviewJSON(t, admissionv1.Create, "", "v1", "Pod", "pods", podJSON([]string{tc.image}, nil, nil), nil)
		for _, phase := range []admission.Phase{admission.PhaseMutate, admission.PhaseValidate} {
			r := answer(t, chain, body, phase)
			if r.Allowed != tc.allow {
				t.Errorf("%s: %q allowed=%v %s, want allowed=%v", phases[phase], tc.image, r.Allowed, message(r), tc.allow)
			}
			if len(r.Patch) != 0 {
				t.Errorf("%s: %q was rewritten: %s", phases[phase], tc.image, r.Patch)
			}
		}
	}
	if n := reg.resolves.Load(); n != 0 {
		t.Errorf("%d tag resolutions for references that name their digest", n)
	}
}

// TestHoldsAliasesOfACoveredRegistry: other spellings of registry.example
// that the kubelet pulls from the same registry (an explicit :443, upper
// case, a trailing dot) escape the glob registry.example/** — the glob is
// matched against the fully qualified reference as written, as
// policy-controller matches it — but under the default no-match rule (deny)
// they are refused, not admitted unverified. (Under --image-policy-no-match
// allow or warn they are admitted: see the report; policy-controller does
// the same.) References that do not parse are refused too, never admitted.
func TestHoldsAliasesOfACoveredRegistry(t *testing.T) {
	chain, _, _ := advChain(t, Config{}, false)
	for _, image := range []string{
		"registry.example:443/app:unsigned",
		"REGISTRY.EXAMPLE/app:unsigned",
		"Registry.Example/app:unsigned",
		"registry.example./app:unsigned",
		// Not references go-containerregistry reads: refused, not admitted.
		"registry.example/App:unsigned",
		"registry.example/app:",
		"registry.example/app@sha256:abc",
		"https://registry.example/app:unsigned",
		"registry.example//app:unsigned",
	} {
		body := reviewJSON(t, admissionv1.Create, "", "v1", "Pod", "pods", podJSON([]string{image}, nil, nil), nil)
		for _, phase := range []admission.Phase{admission.PhaseMutate, admission.PhaseValidate} {
			if r := answer(t, chain, body, phase); r.Allowed {
				t.Errorf("%s: %q admitted", phases[phase], image)
			}
		}
	}
}

// TestHoldsNoMatchNeedsNoRegistry: with --image-policy-no-match allow, an
// image no policy matches is admitted without a registry call, so an
// unreachable registry that no policy covers blocks nothing; the covered
// image of the same pod is still refused when its registry is down.
func TestHoldsNoMatchNeedsNoRegistry(t *testing.T) {
	chain, reg, _ := advChain(t, Config{NoMatch: imagepolicy.NoMatchAllow}, false)
	reg.down = true
	body := reviewJSON(t, admissionv1.Create, "", "v1", "Pod", "pods", podJSON([]string{"unreachable.example/app:v1"}, nil, nil), nil)
	for _, phase := range []admission.Phase{admission.PhaseMutate, admission.PhaseValidate} {
		if r := answer(t, chain, body, phase); !r.Allowed || len(r.Patch) != 0 {
			t.Errorf("%s: allowed=%v %s patch=%s", phases[phase], r.Allowed, message(r), r.Patch)
		}
	}
	if reg.resolves.Load()+reg.artifacts.Load() != 0 {
		t.Errorf("the registry was called for an image no policy matches")
	}
	body = reviewJSON(t, admissionv1.Create, "", "v1", "Pod", "pods", podJSON([]string{"unreachable.example/app:v1", "registry.example/app@" + signedDigest}, nil, nil), nil)
	if r := answer(t, chain, body, admission.PhaseValidate); r.Allowed || !strings.Contains(message(r), "connection refused") {
		t.Errorf("the covered image was admitted with its registry down: %s", message(r))
	}
}

// TestHoldsVerdictIsPerDigest: a verified verdict is not reused for another
// digest of the same repository (cache poisoning), whichever reference
// names it, nor for a tag once the tag's own resolution says another digest;
// a pod UPDATE that swaps a verified image for an unsigned one is refused.
func TestHoldsVerdictIsPerDigest(t *testing.T) {
	chain, _, reg := advChain(t, Config{}, true)
	signed := podJSON([]string{"registry.example/app@" + signedDigest}, nil, nil)
	if r := answer(t, chain, reviewJSON(t, admissionv1.Create, "", "v1", "Pod", "pods", signed, nil), admission.PhaseValidate); !r.Allowed {
		t.Fatalf("signed: %s", message(r))
	}
	reg.move("registry.example/app:fresh", unsignedDigest)
	for _, images := range [][]string{
		{"registry.example/app@" + unsignedDigest},
		{"registry.example/app:fresh"},
		{"registry.example/app:signed@" + unsignedDigest},
	} {
		body := reviewJSON(t, admissionv1.Update, "", "v1", "Pod", "pods", podJSON(images, nil, nil), signed)
		for _, phase := range []admission.Phase{admission.PhaseMutate, admission.PhaseValidate} {
			if r := answer(t, chain, body, phase); r.Allowed {
				t.Errorf("%s: UPDATE to %q admitted on the signed digest's verdict", phases[phase], images[0])
			}
		}
	}
}

// TestHoldsCronJobTemplate: a CronJob's pod template (two levels down, in
// spec.jobTemplate.spec.template) is pinned in the mutating pass and refused
// when unsigned, in the mutating and the validating pass, as a Deployment's
// (TestTemplatesPinnedThroughTheChain) — including its init containers.
func TestHoldsCronJobTemplate(t *testing.T) {
	chain, _, _ := advChain(t, Config{}, false)
	cron := func(initImage, image string) map[string]any {
		return map[string]any{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": map[string]any{"name": "nightly", "namespace": "in"},
			"spec": map[string]any{"schedule": "0 3 * * *", "jobTemplate": map[string]any{"spec": map[string]any{"template": map[string]any{
				"spec": map[string]any{"restartPolicy": "Never",
					"initContainers": []any{map[string]any{"name": "i", "image": initImage}},
					"containers":     []any{map[string]any{"name": "c", "image": image}}}}}}}}
	}
	r := answer(t, chain, reviewJSON(t, admissionv1.Create, "batch", "v1", "CronJob", "cronjobs", cron("registry.example/app:signed", "registry.example/app:v1"), nil), admission.PhaseMutate)
	want := "registry.example/app@" + signedDigest
	if !r.Allowed || strings.Count(string(r.Patch), want) != 2 || !strings.Contains(string(r.Patch), "/spec/jobTemplate/spec/template/spec/initContainers/0/image") {
		t.Fatalf("signed CronJob: allowed=%v %s, patch %s", r.Allowed, message(r), r.Patch)
	}
	body := reviewJSON(t, admissionv1.Create, "batch", "v1", "CronJob", "cronjobs", cron("registry.example/app:unsigned", want), nil)
	for _, phase := range []admission.Phase{admission.PhaseMutate, admission.PhaseValidate} {
		if r := answer(t, chain, body, phase); r.Allowed || !strings.Contains(message(r), `image "registry.example/app:unsigned" is not admitted`) {
			t.Errorf("%s: CronJob with an unsigned init container: allowed=%v %s", phases[phase], r.Allowed, message(r))
		}
	}
}

// chainMode is advChain's chain with the policy in mode ("" enforce, "warn").
func chainMode(t *testing.T, mode string) (*admission.Chain, *fakeRegistry) {
	t.Helper()
	_, reg := setup(t, Config{}, mode)
	chain, err := admission.NewChain([]string{PluginName}, admission.Inputs{Policies: lastInputs.Policies}, map[string]any{PluginName: lastInputs.Config})
	if err != nil {
		t.Fatal(err)
	}
	return chain, reg
}

// TestHoldsTagsOnlyWhereEnforced: the validating pass refuses a tag only
// where an enforcing policy verified the image by its digest; a warn-mode
// policy never refuses (the tag of an unsigned image is admitted with the
// warning), and the mutating pass pins the tag instead of refusing it.
func TestHoldsTagsOnlyWhereEnforced(t *testing.T) {
	body := reviewJSON(t, admissionv1.Create, "", "v1", "Pod", "pods", podJSON([]string{"registry.example/app:v1"}, nil, nil), nil)
	enforce, _ := chainMode(t, "")
	if r := answer(t, enforce, body, admission.PhaseValidate); r.Allowed || !strings.Contains(message(r), `must name its digest (registry.example/app@`+signedDigest+`)`) {
		t.Errorf("enforce, validating pass, a tag: allowed=%v %q", r.Allowed, message(r))
	}
	if r := answer(t, enforce, body, admission.PhaseMutate); !r.Allowed || !strings.Contains(string(r.Patch), signedDigest) {
		t.Errorf("enforce, mutating pass, a tag: allowed=%v %q patch %s", r.Allowed, message(r), r.Patch)
	}
	warn, _ := chainMode(t, "warn")
	if r := answer(t, warn, body, admission.PhaseValidate); !r.Allowed {
		t.Errorf("warn, validating pass, a signed tag refused: %s", message(r))
	}
	unsigned := reviewJSON(t, admissionv1.Create, "", "v1", "Pod", "pods", podJSON([]string{"registry.example/app:unsigned"}, nil, nil), nil)
	if r := answer(t, warn, unsigned, admission.PhaseValidate); !r.Allowed || len(r.Warnings) == 0 {
		t.Errorf("warn, validating pass, an unsigned tag: allowed=%v %q warnings %q", r.Allowed, message(r), r.Warnings)
	}
}

// TestHoldsImageVolumePinned: a verified image volume is pinned to its
// digest in the mutating pass, as a container's image is.
func TestHoldsImageVolumePinned(t *testing.T) {
	chain, _, _ := advChain(t, Config{}, false)
	pod := podJSON([]string{"registry.example/app@" + signedDigest}, map[string]any{
		"volumes": []any{map[string]any{"name": "data", "image": map[string]any{"reference": "registry.example/app:v1"}}},
	}, nil)
	r := answer(t, chain, reviewJSON(t, admissionv1.Create, "", "v1", "Pod", "pods", pod, nil), admission.PhaseMutate)
	if !r.Allowed || !strings.Contains(string(r.Patch), `"path":"/spec/volumes/0/image/reference"`) || !strings.Contains(string(r.Patch), "registry.example/app@"+signedDigest) {
		t.Errorf("allowed=%v %q patch %s, want the volume's reference pinned", r.Allowed, message(r), r.Patch)
	}
}

// TestHoldsScaleDownWithNewTemplateVerified: lowering replicas lets a
// Deployment through unverified only when its template is unchanged; with
// a new image it is verified (and refused while the registry is down).
func TestHoldsScaleDownWithNewTemplateVerified(t *testing.T) {
	chain, reg, _ := advChain(t, Config{}, false)
	reg.down = true
	deploy := func(replicas int, image string) map[string]any {
		return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web", "namespace": "in"},
			"spec": map[string]any{"replicas": replicas, "selector": map[string]any{"matchLabels": map[string]string{"a": "b"}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]string{"a": "b"}},
					"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": image}}}}}}
	}
	body := reviewJSON(t, admissionv1.Update, "apps", "v1", "Deployment", "deployments",
		deploy(1, "registry.example/app@"+unsignedDigest), deploy(3, "registry.example/app@"+signedDigest))
	for _, phase := range []admission.Phase{admission.PhaseMutate, admission.PhaseValidate} {
		if r := answer(t, chain, body, phase); r.Allowed {
			t.Errorf("%s: a scale down with a new image admitted unverified", phases[phase])
		}
	}
}
