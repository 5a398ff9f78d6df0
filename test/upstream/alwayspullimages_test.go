package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/diff"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	_ "k8s.io/kubernetes/pkg/apis/apps/install" // v1 defaults and conversions of Deployments
	_ "k8s.io/kubernetes/pkg/apis/core/install" // v1 defaults and conversions of Pods
	upstreamapi "k8s.io/kubernetes/plugin/pkg/admission/alwayspullimages"

	kguardadmission "github.com/kguard/kguard/internal/admission"
	kguardapi "github.com/kguard/kguard/internal/admission/alwayspullimages"
	"github.com/kguard/kguard/internal/policy"
)

// The AlwaysPullImages differential: random requests, each answered by
// v1.37's in-tree plugin (plugin/pkg/admission/alwayspullimages, its Admit
// and Validate on the internal objects, called as kube-apiserver's admission
// chain calls them: only for the operations its Handler handles) and by
// kguard's plugin through kguard's webhook path (an AdmissionReview's JSON
// through Chain.Review, the function `kguard serve` answers /mutate and
// /validate with, in a chain of that one plugin), kguard's JSON Patch applied
// to the object as kube-apiserver applies a webhook's.
//
// Compared, for every request: the mutating pass (allowed; the object after
// upstream's Admit and after kguard's patch, semantically equal in the
// internal version), and the validating pass over the object as sent and
// over the mutated object (allowed or not; the denial's message).
//
// kguard's namespace exemption (kguard.io/always-pull-images=false) is left
// out: the chain's snapshot holds no Namespace.

// Small vocabularies, so that an UPDATE often keeps, moves or brings back an
// image of the old pod.
var (
	apImages = []string{"nginx:1", "nginx:2", "nginx", "nginx:latest", "envoy:1",
		"registry.example.com:5000/team/app:v1", "busybox@sha256:" + strings.Repeat("ab", 32), ""}
	apPolicies = []corev1.PullPolicy{"", corev1.PullIfNotPresent, corev1.PullNever, "Sometimes", "always"}
	// apSubresources are pod subresources whose UPDATE carries the pod.
	apSubresources = []string{"ephemeralcontainers", "status", "resize", "foo"}
)

type apGen struct{ r *rand.Rand }

func (g apGen) n(k int) int    { return g.r.IntN(k) }
func (g apGen) one(k int) bool { return g.r.IntN(k) == 0 }

// policy is Always half of the time, so that some pods pull always everywhere.
func (g apGen) policy() corev1.PullPolicy {
	if g.n(2) == 0 {
		return corev1.PullAlways
	}
	return pick(g.r, apPolicies)
}

func (g apGen) container(name string) corev1.Container {
	return corev1.Container{Name: name, Image: pick(g.r, apImages), ImagePullPolicy: g.policy()}
}

func (g apGen) volume(i int) corev1.Volume {
	v := corev1.Volume{Name: fmt.Sprintf("v%d", i)}
	if g.one(3) {
		v.EmptyDir = &corev1.EmptyDirVolumeSource{}
	} else {
		v.Image = &corev1.ImageVolumeSource{Reference: pick(g.r, apImages[:len(apImages)-1]), PullPolicy: g.policy()}
	}
	return v
}

// pod is a random pod: 0–2 init containers, 1–3 containers, 0–2 ephemeral
// containers, 0–2 volumes (mostly image volumes).
func (g apGen) pod() *corev1.Pod {
	p := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: pick(g.r, []string{"p", "web-0"}), Namespace: "ns"}}
	if g.one(6) {
		p.GenerateName = "web-"
	}
	s := &p.Spec
	for i := range g.n(3) {
		s.InitContainers = append(s.InitContainers, g.container(fmt.Sprintf("init%d", i)))
	}
	for i := range 1 + g.n(3) {
		s.Containers = append(s.Containers, g.container(fmt.Sprintf("c%d", i)))
	}
	if g.one(3) {
		for i := range 1 + g.n(2) {
			c := g.container(fmt.Sprintf("debug%d", i))
			s.EphemeralContainers = append(s.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(c)})
		}
	}
	for i := range g.n(3) {
		s.Volumes = append(s.Volumes, g.volume(i))
	}
	return p
}

// containerRef points at one container of any kind.
func (g apGen) containerRef(s *corev1.PodSpec) *corev1.Container {
	var all []*corev1.Container
	for i := range s.InitContainers {
		all = append(all, &s.InitContainers[i])
	}
	for i := range s.Containers {
		all = append(all, &s.Containers[i])
	}
	for i := range s.EphemeralContainers {
		all = append(all, (*corev1.Container)(&s.EphemeralContainers[i].EphemeralContainerCommon))
	}
	return pick(g.r, all)
}

// updated is old after 1–3 random edits: an image changed (to one of the
// vocabulary, maybe one the pod already has), a pull policy changed, a
// container added, removed or renamed, the containers reordered, two
// containers' images swapped, an image volume added or changed.
func (g apGen) updated(old *corev1.Pod) *corev1.Pod {
	p := old.DeepCopy()
	s := &p.Spec
	for range 1 + g.n(3) {
		switch g.n(8) {
		case 0:
			g.containerRef(s).Image = pick(g.r, apImages)
		case 1:
			g.containerRef(s).ImagePullPolicy = g.policy()
		case 2:
			c := g.container(fmt.Sprintf("new%d", g.n(100)))
			switch g.n(3) {
			case 0:
				s.InitContainers = append(s.InitContainers, c)
			case 1:
				s.Containers = append(s.Containers, c)
			default:
				s.EphemeralContainers = append(s.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(c)})
			}
		case 3:
			switch {
			case len(s.Containers) > 1 && g.coinOf(2):
				i := g.n(len(s.Containers))
				s.Containers = append(s.Containers[:i:i], s.Containers[i+1:]...)
			case len(s.InitContainers) > 0 && g.coinOf(2):
				s.InitContainers = s.InitContainers[1:]
			case len(s.EphemeralContainers) > 0:
				s.EphemeralContainers = s.EphemeralContainers[:len(s.EphemeralContainers)-1]
			}
		case 4:
			c := g.containerRef(s)
			c.Name += "x"
		case 5:
			g.r.Shuffle(len(s.Containers), func(i, j int) { s.Containers[i], s.Containers[j] = s.Containers[j], s.Containers[i] })
			if len(s.InitContainers) > 0 && g.one(3) {
				s.Containers = append(s.Containers, s.InitContainers[0]) // an init container becomes a regular one
				s.InitContainers = s.InitContainers[1:]
			}
		case 6:
			a, b := g.containerRef(s), g.containerRef(s)
			a.Image, b.Image = b.Image, a.Image
		default:
			if len(s.Volumes) > 0 && g.coinOf(2) {
				if v := s.Volumes[g.n(len(s.Volumes))].Image; v != nil {
					v.Reference, v.PullPolicy = pick(g.r, apImages[:len(apImages)-1]), g.policy()
				}
			} else {
				s.Volumes = append(s.Volumes, g.volume(len(s.Volumes)))
			}
		}
	}
	return p
}

func (g apGen) coinOf(k int) bool { return g.n(k) == 0 }

// apRequest is one admission request, in the versions kube-apiserver sends
// to a webhook (object and oldObject in v1 JSON).
type apRequest struct {
	op          admissionv1.Operation
	subresource string
	kind        schema.GroupVersionKind
	resource    schema.GroupVersionResource
	name        string
	obj, old    []byte // JSON, nil when absent
	defaulted   bool   // the objects carry the API server's v1 defaults
}

func (r apRequest) String() string {
	return fmt.Sprintf("%s %s/%s (kind %s) subresource=%q name=%q defaulted=%v\nobject:    %s\noldObject: %s",
		r.op, r.resource.Group, r.resource.Resource, r.kind.Kind, r.subresource, r.name, r.defaulted, r.obj, r.old)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// request draws a request: mostly a pod's CREATE or UPDATE, else a DELETE,
// an UPDATE of a pod subresource, or a request for another resource that
// carries a pod template or a pod-like object.
func (g apGen) request(t *testing.T) apRequest {
	r := apRequest{kind: schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, resource: schema.GroupVersionResource{Version: "v1", Resource: "pods"}}
	// Most requests are as kube-apiserver hands them to admission, with the
	// v1 defaults (an empty pull policy defaulted by tag); a quarter are the
	// objects as written, as upstream's own unit tests call the plugin.
	r.defaulted = !g.one(4)
	def := func(obj runtime.Object) runtime.Object {
		if r.defaulted {
			legacyscheme.Scheme.Default(obj)
		}
		return obj
	}
	pod := g.pod()
	r.name = pod.Name
	switch k := g.n(20); {
	case k < 8:
		r.op = admissionv1.Create
		r.obj = mustJSON(t, def(pod))
	case k < 16:
		r.op = admissionv1.Update
		r.old = mustJSON(t, def(pod))
		r.obj = mustJSON(t, def(g.updated(pod)))
	case k < 17:
		r.op = admissionv1.Delete
		r.old = mustJSON(t, def(pod))
	case k < 18:
		r.op, r.subresource = admissionv1.Update, pick(g.r, apSubresources)
		r.old = mustJSON(t, def(pod))
		r.obj = mustJSON(t, def(g.updated(pod)))
	default:
		r.op = pick(g.r, []admissionv1.Operation{admissionv1.Create, admissionv1.Update})
		var obj, old runtime.Object
		switch g.n(3) {
		case 0:
			r.kind = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
			r.resource = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
			d := func(p *corev1.Pod) *appsv1.Deployment {
				return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
					ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
					Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
						Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: p.Spec}}}
			}
			obj, old = d(g.updated(pod)), d(pod)
		case 1:
			r.kind = schema.GroupVersionKind{Version: "v1", Kind: "PodTemplate"}
			r.resource = schema.GroupVersionResource{Version: "v1", Resource: "podtemplates"}
			pt := func(p *corev1.Pod) *corev1.PodTemplate {
				return &corev1.PodTemplate{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodTemplate"},
					ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}, Template: corev1.PodTemplateSpec{Spec: p.Spec}}
			}
			obj, old = pt(g.updated(pod)), pt(pod)
		default: // a custom resource named pods, shaped like a Pod
			r.kind = schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Pod"}
			r.resource = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "pods"}
			up := g.updated(pod)
			up.APIVersion, pod.APIVersion = "example.com/v1", "example.com/v1"
			obj, old = up, pod
		}
		r.name = obj.(metav1.Object).GetName()
		r.obj = mustJSON(t, def(obj))
		if r.op == admissionv1.Update {
			r.old = mustJSON(t, def(old))
		}
	}
	return r
}

// internalObject is what kube-apiserver's in-tree plugins see of a request's
// object: its JSON decoded in the request's version and converted to the
// internal one (Unstructured for a custom resource).
func internalObject(t *testing.T, r apRequest, raw []byte) runtime.Object {
	t.Helper()
	if raw == nil {
		return nil
	}
	if r.kind.Group == "example.com" {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			t.Fatal(err)
		}
		return u
	}
	versioned, err := legacyscheme.Scheme.New(r.kind)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, versioned); err != nil {
		t.Fatal(err)
	}
	internal, err := legacyscheme.Scheme.UnsafeConvertToVersion(versioned.DeepCopyObject(), schema.GroupVersion{Group: r.kind.Group, Version: runtime.APIVersionInternal})
	if err != nil {
		t.Fatal(err)
	}
	return internal
}

var apUser = &user.DefaultInfo{Name: "alice", Groups: []string{user.AllAuthenticated}}

// upstreamCall is kube-apiserver's admission chain calling the plugin's
// Admit or Validate on obj: only for the operations its Handler handles.
func upstreamCall(plugin *upstreamapi.AlwaysPullImages, r apRequest, obj, old runtime.Object, validate bool) error {
	op := admission.Operation(r.op)
	if !plugin.Handles(op) {
		return nil
	}
	var opts runtime.Object = &metav1.CreateOptions{}
	if r.op == admissionv1.Update {
		opts = &metav1.UpdateOptions{}
	}
	attrs := admission.NewAttributesRecord(obj, old, r.kind, "ns", r.name, r.resource, r.subresource, op, opts, false, apUser)
	if validate {
		return plugin.Validate(context.Background(), attrs, nil)
	}
	return plugin.Admit(context.Background(), attrs, nil)
}

// kguardReview is kguard's webhook answer to the request in phase, with obj
// as the request's object.
func kguardReview(t *testing.T, chain *kguardadmission.Chain, r apRequest, obj []byte, phase kguardadmission.Phase) *admissionv1.AdmissionResponse {
	t.Helper()
	req := &admissionv1.AdmissionRequest{UID: "u-1", Kind: metav1.GroupVersionKind(r.kind), Resource: metav1.GroupVersionResource(r.resource),
		SubResource: r.subresource, RequestKind: ptrTo(metav1.GroupVersionKind(r.kind)), RequestResource: ptrTo(metav1.GroupVersionResource(r.resource)),
		RequestSubResource: r.subresource, Name: r.name, Namespace: "ns", Operation: r.op,
		UserInfo: authenticationv1.UserInfo{Username: apUser.Name, Groups: apUser.Groups}, DryRun: ptrTo(false)}
	req.Object.Raw, req.OldObject.Raw = obj, r.old
	body := mustJSON(t, admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req})
	out, err := chain.Review(context.Background(), body, phase)
	if err != nil {
		t.Fatalf("kguard's review: %v\n%s", err, body)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(out, &review); err != nil || review.Response == nil || review.Response.UID != req.UID {
		t.Fatalf("kguard's answer (%v): %s", err, out)
	}
	return review.Response
}

func ptrTo[T any](v T) *T { return &v }

// applyPatch applies a webhook response's JSON Patch to the object's JSON as
// kube-apiserver's mutating webhook dispatcher does (evanphx/json-patch v4).
func applyPatch(t *testing.T, resp *admissionv1.AdmissionResponse, obj []byte) ([]byte, error) {
	t.Helper()
	if len(resp.Patch) == 0 {
		return obj, nil
	}
	if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		return nil, fmt.Errorf("patch type %v", resp.PatchType)
	}
	if obj == nil {
		return nil, errors.New("a patch for a request without an object")
	}
	p, err := jsonpatch.DecodePatch(resp.Patch)
	if err != nil {
		return nil, err
	}
	return p.Apply(obj)
}

// denialTally counts the ways the two sides word a denial.
type denialTally struct{ single, multiple, badRequest int }

// compareDenial compares upstream's answer (err) with kguard's response.
//
// Upstream's Validate returns a utilerrors.Aggregate of admission.NewForbidden
// errors, one per container or image volume that does not pull always, each
// `pods "NAME" is forbidden: FIELD ERROR`. kube-apiserver turns an error that
// is not an APIStatus into a 500 Status whose message is err.Error()
// (responsewriters.ErrorToAPIStatus): for one error that is the error's
// message itself, for several "[E1, E2, ...]". kguard's webhook answers a 403
// Forbidden `pods "NAME" is forbidden: FIELD ERROR 1, FIELD ERROR 2, ...`
// (which kube-apiserver then prefixes with `admission webhook "..." denied
// the request: `). So: one error, the messages are equal; several, kguard's
// is upstream's field errors in upstream's order, joined by ", " after one
// prefix. Anything else upstream returns (BadRequest) must be kguard's message.
func compareDenial(upErr error, resp *admissionv1.AdmissionResponse, tally *denialTally) string {
	if upErr == nil {
		if !resp.Allowed {
			return fmt.Sprintf("upstream allows, kguard denies: %+v", resp.Result)
		}
		return ""
	}
	if resp.Allowed {
		return fmt.Sprintf("upstream denies (%v), kguard allows", upErr)
	}
	got := ""
	if resp.Result != nil {
		got = resp.Result.Message
	}
	var agg utilerrors.Aggregate
	if !errors.As(upErr, &agg) {
		tally.badRequest++
		if got != upErr.Error() {
			return fmt.Sprintf("denial messages differ:\nupstream %q\nkguard   %q", upErr.Error(), got)
		}
		return ""
	}
	var prefix string
	var fieldErrs []string
	for i, e := range agg.Errors() {
		var se *apierrors.StatusError
		if !errors.As(e, &se) || se.Status().Reason != metav1.StatusReasonForbidden {
			return fmt.Sprintf("upstream's error %d is not a Forbidden: %v", i, e)
		}
		msg := se.Error()
		at := strings.Index(msg, " is forbidden: ")
		if at < 0 || (prefix != "" && msg[:at] != prefix) {
			return fmt.Sprintf("upstream's error %d is worded unexpectedly: %q", i, msg)
		}
		prefix = msg[:at]
		fieldErrs = append(fieldErrs, msg[at+len(" is forbidden: "):])
	}
	want := prefix + " is forbidden: " + strings.Join(fieldErrs, ", ")
	if len(fieldErrs) == 1 {
		tally.single++
		want = upErr.Error() // exactly upstream's message
	} else {
		tally.multiple++
	}
	if got != want {
		return fmt.Sprintf("denial messages differ:\nupstream %q\nkguard   %q (want %q)", upErr.Error(), got, want)
	}
	if resp.Result.Code != http.StatusForbidden || resp.Result.Reason != metav1.StatusReasonForbidden {
		return fmt.Sprintf("kguard's denial is not a 403 Forbidden: %+v", resp.Result)
	}
	return ""
}

// apCaseResult is what one request exercised.
type apCaseResult struct {
	mutated        bool // upstream's Admit changed the object
	deniedOriginal bool // upstream's Validate refused the object as sent
}

// compareAlwaysPull runs one request through both sides; problem is "" when
// they agree.
func compareAlwaysPull(t *testing.T, plugin *upstreamapi.AlwaysPullImages, chain *kguardadmission.Chain, r apRequest, tally *denialTally) (apCaseResult, string) {
	t.Helper()
	var res apCaseResult
	// The mutating pass.
	upOld := internalObject(t, r, r.old)
	upObj := internalObject(t, r, r.obj)
	var before runtime.Object
	if upObj != nil {
		before = upObj.DeepCopyObject()
	}
	if err := upstreamCall(plugin, r, upObj, upOld, false); err != nil {
		return res, fmt.Sprintf("upstream's Admit refused: %v", err)
	}
	res.mutated = upObj != nil && !apiequality.Semantic.DeepEqual(before, upObj)
	mresp := kguardReview(t, chain, r, r.obj, kguardadmission.PhaseMutate)
	if !mresp.Allowed {
		return res, fmt.Sprintf("mutating pass: upstream admits, kguard denies: %+v", mresp.Result)
	}
	patched, err := applyPatch(t, mresp, r.obj)
	if err != nil {
		return res, fmt.Sprintf("kguard's patch %s does not apply: %v", mresp.Patch, err)
	}
	if kgObj := internalObject(t, r, patched); !apiequality.Semantic.DeepEqual(upObj, kgObj) {
		return res, fmt.Sprintf("mutating pass: the objects differ (kguard's patch %s):\n%s", mresp.Patch, diff.Diff(upObj, kgObj))
	}
	// The validating pass over the object as sent: a pod that reaches it
	// not pulling always (another mutating webhook set a policy back).
	upErr := upstreamCall(plugin, r, internalObject(t, r, r.obj), upOld, true)
	res.deniedOriginal = upErr != nil
	if problem := compareDenial(upErr, kguardReview(t, chain, r, r.obj, kguardadmission.PhaseValidate), tally); problem != "" {
		return res, "validating pass over the object as sent: " + problem
	}
	// The validating pass after each side's mutation.
	upErr = upstreamCall(plugin, r, upObj, upOld, true)
	if problem := compareDenial(upErr, kguardReview(t, chain, r, patched, kguardadmission.PhaseValidate), tally); problem != "" {
		return res, "validating pass over the mutated object: " + problem
	}
	return res, ""
}

func kguardAlwaysPullChain(t *testing.T) *kguardadmission.Chain {
	t.Helper()
	chain, err := kguardadmission.NewChain([]string{kguardapi.PluginName}, kguardadmission.Inputs{Policies: &policy.Set{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return chain
}

// TestAlwaysPullImagesMatchesUpstream is the differential on random requests.
func TestAlwaysPullImagesMatchesUpstream(t *testing.T) {
	start := time.Now()
	g := apGen{rand.New(rand.NewPCG(37, 1))}
	plugin := upstreamapi.NewAlwaysPullImages()
	chain := kguardAlwaysPullChain(t)
	const n = 6000
	var tally denialTally
	disagreements, mutated, denied := 0, 0, 0
	byKind := map[string]int{}
	updatesIgnored, updatesMutated := 0, 0
	for i := range n {
		r := g.request(t)
		key := string(r.op) + " " + r.resource.GroupResource().String()
		if r.subresource != "" {
			key += "/" + r.subresource
		}
		byKind[key]++
		res, problem := compareAlwaysPull(t, plugin, chain, r, &tally)
		if problem != "" {
			disagreements++
			if disagreements <= 10 {
				t.Errorf("case %d: %s\n%s", i, problem, r)
			}
			continue
		}
		if res.mutated {
			mutated++
		}
		if res.deniedOriginal {
			denied++
		}
		if r.op == admissionv1.Update && r.subresource == "" && r.resource.Resource == "pods" && r.resource.Group == "" {
			if res.mutated {
				updatesMutated++
			} else {
				updatesIgnored++
			}
		}
	}
	if disagreements > 0 {
		t.Errorf("%d of %d requests disagree", disagreements, n)
	}
	t.Logf("%d random requests in %v (%v): %d mutated by upstream, %d whose object as sent upstream's Validate refuses; "+
		"pod UPDATEs: %d mutated, %d left alone (no new image); denials compared: %d with one error (messages equal), "+
		"%d with several (upstream's [..] aggregate vs kguard's one message), %d other",
		n, time.Since(start).Round(time.Millisecond), byKind, mutated, denied, updatesMutated, updatesIgnored, tally.single, tally.multiple, tally.badRequest)
	if mutated < n/4 || denied < n/4 || n-denied < n/4 || updatesIgnored < n/50 || updatesMutated < n/20 || tally.single < n/50 || tally.multiple < n/50 {
		t.Errorf("the generator covers too little")
	}
}

// TestAlwaysPullImagesUpstreamStatus pins down the wrapping the differential
// relies on: kube-apiserver answers upstream's Validate denial, an Aggregate
// that is no APIStatus, with a 500 whose message is the error's text (one
// error: `pods "p" is forbidden: ...`; several: `[..., ...]`), where kguard's
// webhook answers a 403 Forbidden.
func TestAlwaysPullImagesUpstreamStatus(t *testing.T) {
	plugin := upstreamapi.NewAlwaysPullImages()
	chain := kguardAlwaysPullChain(t)
	for _, tc := range []struct {
		policies []corev1.PullPolicy
		message  string
	}{
		{[]corev1.PullPolicy{corev1.PullNever}, `pods "p" is forbidden: spec.containers[0].imagePullPolicy: Unsupported value: "Never": supported values: "Always"`},
		{[]corev1.PullPolicy{corev1.PullNever, corev1.PullIfNotPresent}, `[pods "p" is forbidden: spec.containers[0].imagePullPolicy: Unsupported value: "Never": supported values: "Always", ` +
			`pods "p" is forbidden: spec.containers[1].imagePullPolicy: Unsupported value: "IfNotPresent": supported values: "Always"]`},
	} {
		pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
		for i, p := range tc.policies {
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: fmt.Sprintf("c%d", i), Image: "nginx:1", ImagePullPolicy: p})
		}
		r := apRequest{op: admissionv1.Create, kind: schema.GroupVersionKind{Version: "v1", Kind: "Pod"},
			resource: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, name: "p", obj: mustJSON(t, pod)}
		err := upstreamCall(plugin, r, internalObject(t, r, r.obj), nil, true)
		if err == nil {
			t.Fatal("upstream admits")
		}
		status := responsewriters.ErrorToAPIStatus(err)
		if status.Code != http.StatusInternalServerError || status.Reason != metav1.StatusReasonUnknown || status.Message != tc.message {
			t.Errorf("kube-apiserver's status for upstream's denial: %d %q %q, want 500 \"\" %q", status.Code, status.Reason, status.Message, tc.message)
		}
		resp := kguardReview(t, chain, r, r.obj, kguardadmission.PhaseValidate)
		var tally denialTally
		if problem := compareDenial(err, resp, &tally); problem != "" {
			t.Error(problem)
		}
		t.Logf("upstream (kube-apiserver's answer): %d %q\nkguard (webhook's answer):          %d %q", status.Code, status.Message, resp.Result.Code, resp.Result.Message)
	}
}
