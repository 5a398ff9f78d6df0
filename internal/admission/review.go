package admission

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	jsonv2 "github.com/go-json-experiment/json"
	"net/http"
	"strings"
	"sync/atomic"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/authentication/user"
	sigsjson "sigs.k8s.io/json"

	"github.com/kguard/kguard/internal/jsonwrite"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/podspec"
)

// ErrReview is matched (errors.Is) by every error about a malformed AdmissionReview.
var ErrReview = errors.New("invalid AdmissionReview")

func reviewErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrReview, fmt.Sprintf(format, args...))
}

// Review answers an AdmissionReview (admission.k8s.io/v1, JSON) for the
// webhook pass phase. Like the built-in plugins, it admits pods — CREATE and
// UPDATE, not subresources — through the chain, evaluates the pod template of
// a pod controller for PodSecurity's warnings and audit annotations only,
// asks the ConnectValidators about a CONNECT to a pod (exec, attach) in the
// validating pass, and lets every other request through. A review that cannot be read is an error
// matching ErrReview; an object that cannot be decoded is denied.
func (c *Chain) Review(ctx context.Context, body []byte, phase Phase) ([]byte, error) {
	if phase == PhaseMutate && !c.anyMutator() {
		return c.reviewWithoutMutators(body)
	}
	if typed, ok := c.readPodReview(body, phase); ok {
		return c.answer(ctx, typed.TypeMeta, &typed.Request.AdmissionRequest, phase, typed.Request)
	}
	return c.reviewTwoPass(ctx, body, phase)
}

// reviewTwoPass answers a review read the usual way: the envelope, its
// objects kept raw, then each object on its own, leniently or strictly.
func (c *Chain) reviewTwoPass(ctx context.Context, body []byte, phase Phase) ([]byte, error) {
	// One pass over the body; only a body that does not decode is read again,
	// for its kind, so that a review of another kind is named as such.
	var review admissionv1.AdmissionReview
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &review); err != nil {
		var tm metav1.TypeMeta
		if sigsjson.UnmarshalCaseSensitivePreserveInts(body, &tm) == nil && !isAdmissionReview(tm) {
			return nil, wrongKind(tm)
		}
		return nil, reviewErrorf("malformed JSON: %v", err)
	}
	if !isAdmissionReview(review.TypeMeta) {
		return nil, wrongKind(review.TypeMeta)
	}
	req := review.Request
	if req == nil {
		return nil, reviewErrorf("no request")
	}
	if req.UID == "" {
		return nil, reviewErrorf("request has no uid")
	}
	return c.answer(ctx, review.TypeMeta, req, phase, nil)
}

// answer decides a well-formed review's request and encodes the response;
// typed is the request's pods when readPodReview read them.
func (c *Chain) answer(ctx context.Context, tm metav1.TypeMeta, req *admissionv1.AdmissionRequest, phase Phase, typed *podRequest) ([]byte, error) {
	resp := c.decide(ctx, req, phase, typed)
	resp.UID = req.UID
	b, err := encodeAnswer(tm, resp)
	if err != nil {
		return nil, fmt.Errorf("encoding the review: %w", err)
	}
	return b, nil
}

// encodeAnswer writes the AdmissionReview of resp as json.Marshal does,
// through jsonwrite (the answer's encoding was a tenth of a pod's mutating
// pass; the patch inside grows with every mutation).
func encodeAnswer(tm metav1.TypeMeta, resp *admissionv1.AdmissionResponse) ([]byte, error) {
	// The envelope, uid, allowed, patchType and an audit annotation or two
	// take about 200 bytes; the patch is written in base64.
	buf := make([]byte, 0, 320+base64.StdEncoding.EncodedLen(len(resp.Patch)))
	buf = append(buf, '{')
	if tm.Kind != "" {
		buf = jsonwrite.String(append(buf, `"kind":`...), tm.Kind)
		buf = append(buf, ',')
	}
	if tm.APIVersion != "" {
		buf = jsonwrite.String(append(buf, `"apiVersion":`...), tm.APIVersion)
		buf = append(buf, ',')
	}
	buf, err := jsonwrite.Value(append(buf, `"response":`...), resp)
	return append(buf, '}'), err
}

// podReview is an AdmissionReview whose request carries typed pods, so that
// a pod's review is read in one pass: the envelope and the pod together,
// instead of the envelope (scanning over the object) and then the pod again.
type podReview struct {
	metav1.TypeMeta `json:",inline"`
	Request         *podRequest                    `json:"request,omitempty"`
	Response        *admissionv1.AdmissionResponse `json:"response,omitempty"`
}

// podRequest is an AdmissionRequest whose object and oldObject are pods; they
// shadow the embedded request's raw ones, which stay empty. pod and oldPod
// are the pods read, without their managedFields (podObject); body is the
// review they were read from, for withRawPods.
type podRequest struct {
	admissionv1.AdmissionRequest `json:",inline"`
	Object                       *podObject `json:"object,omitempty"`
	OldObject                    *podObject `json:"oldObject,omitempty"`
	pod, oldPod                  *corev1.Pod
	body                         []byte
}

// podItself is a quick look for the review of a pod itself, before trying the
// one-pass read: "resource":"pods" and no subresource. It is only a guess (a
// miss means the usual two passes, a false hit one wasted read), made with
// patterns that start with bytes rare in JSON: bytes.Index slows down a lot
// on a pattern starting with a quote.
func podItself(body []byte) bool {
	if bytes.Contains(body, subResourceKey) {
		return false
	}
	for rest := body; ; {
		i := bytes.Index(rest, podsValue)
		if i < 0 {
			return false
		}
		if bytes.HasSuffix(rest[:i], resourceKey) {
			return true
		}
		rest = rest[i+len(podsValue):]
	}
}

var (
	podsValue      = []byte(`pods"`)
	resourceKey    = []byte(`"resource":"`)
	subResourceKey = []byte(`bResource":`) // subResource, requestSubResource
)

// readPodReview reads, in one pass, the review of a pod that decide would
// decode: CREATE or UPDATE of a pod itself, with its object (and oldObject on
// UPDATE). ok is false for any other review and on any error or strict
// decoding complaint (an unknown or duplicated field, in the envelope or the
// pods): the caller then reads the review the usual way, which words the
// errors and the unknown-field warnings. A review read here has no unknown
// field, so the usual way would decode the same pods without a warning,
// and with their managedFields, which this read only checks.
func (c *Chain) readPodReview(body []byte, phase Phase) (*podReview, bool) {
	if !podItself(body) {
		return nil, false
	}
	if phase == PhaseMutate && !c.mutates(admissionv1.Create, "") && !c.mutates(admissionv1.Update, "") {
		return nil, false // the mutating pass would not decode the pod
	}
	if phase != PhaseMutate && c.hasObjectValidators() {
		return nil, false // they read the request's object as sent
	}
	var review podReview
	if err := decodePodReview(body, &review); err != nil || !isAdmissionReview(review.TypeMeta) {
		return nil, false
	}
	req := review.Request
	if req == nil || req.UID == "" || req.Resource.Group != "" || req.Resource.Resource != "pods" || req.SubResource != "" || req.Object == nil {
		return nil, false
	}
	switch req.Operation {
	case admissionv1.Create:
	case admissionv1.Update:
		if req.OldObject == nil {
			return nil, false
		}
	default:
		return nil, false
	}
	return &review, true
}

// decodePodReview is readPodReview's decoding: go-json-experiment, about
// twice as fast as sigs.k8s.io/json, refusing unknown and duplicated
// members, and checking the pods' managedFields without building them
// (podObject).
func decodePodReview(body []byte, review *podReview) error {
	if err := jsonv2.Unmarshal(body, review, jsonv2.RejectUnknownMembers(true)); err != nil {
		return err
	}
	if req := review.Request; req != nil {
		req.pod, req.oldPod = req.Object.pod(), req.OldObject.pod()
		req.body = body
	}
	return nil
}

func isAdmissionReview(tm metav1.TypeMeta) bool {
	return tm.Kind == "AdmissionReview" && tm.APIVersion == admissionv1.SchemeGroupVersion.String()
}

func wrongKind(tm metav1.TypeMeta) error {
	return reviewErrorf("%s %s, want %s AdmissionReview", tm.APIVersion, tm.Kind, admissionv1.SchemeGroupVersion)
}

// ignoredPodSubresources are the pod subresources whose requests carry no pod
// to evaluate, as the built-in PodSecurity admission lists them. Any other pod
// subresource (pods/ephemeralcontainers: `kubectl debug`) carries the whole
// pod and is evaluated, so that an unknown subresource that can change the
// pod spec is refused rather than let through.
var ignoredPodSubresources = map[string]bool{
	"exec": true, "attach": true, "binding": true, "eviction": true,
	"log": true, "portforward": true, "proxy": true, "status": true,
}

// decide answers a request; typed, when not nil, is its pods as
// readPodReview read them (a pod's CREATE or UPDATE), instead of its raw ones.
func (c *Chain) decide(ctx context.Context, req *admissionv1.AdmissionRequest, phase Phase, typed *podRequest) *admissionv1.AdmissionResponse {
	if phase == PhaseMutate && c.hasObjectMutators() {
		return c.mutate(ctx, req, typed)
	}
	resp := c.decidePods(ctx, req, phase, typed)
	if phase == PhaseMutate || !resp.Allowed {
		return resp
	}
	resp, _ = c.validateObjects(ctx, req, resp, false)
	return resp
}

// validateObjects asks the chain's ObjectValidators, in order, about a
// request the pod plugins allowed (resp), adding to resp their warnings and
// audit annotations; the first denial ends the chain, and its plugin is
// named beside the response ("" when none denied).
func (c *Chain) validateObjects(ctx context.Context, req *admissionv1.AdmissionRequest, resp *admissionv1.AdmissionResponse, offline bool) (*admissionv1.AdmissionResponse, string) {
	var or *ObjectRequest
	for _, p := range c.plugins {
		v, ok := p.Plugin.(ObjectValidator)
		if !ok || !p.Handles(req.Operation, req.SubResource) {
			continue
		}
		if or == nil {
			or = &ObjectRequest{Request: req, User: requestUser(req), Offline: offline}
		}
		r := &Request{Resource: requestResource(req), Name: req.Name}
		if denied := record(resp, r, v.ValidateObject(ctx, or)); denied != nil {
			return denied, p.name
		}
	}
	return resp, ""
}

// requestResource names a request's resource in messages (pods,
// deployments.apps, pods/ephemeralcontainers).
func requestResource(req *admissionv1.AdmissionRequest) string {
	res := req.Resource.Resource
	if res == "" {
		return Resource(req.Kind.Group+"/"+req.Kind.Version, req.Kind.Kind)
	}
	if req.Resource.Group != "" {
		res += "." + req.Resource.Group
	}
	return res
}

// hasObjectValidators reports whether a plugin of the chain judges objects
// of every kind.
func (c *Chain) hasObjectValidators() bool {
	for _, p := range c.plugins {
		if _, ok := p.Plugin.(ObjectValidator); ok {
			return true
		}
	}
	return false
}

// decidePods answers for the pod plugins: pods, pod controllers' templates,
// CONNECTs to pods.
func (c *Chain) decidePods(ctx context.Context, req *admissionv1.AdmissionRequest, phase Phase, typed *podRequest) *admissionv1.AdmissionResponse {
	if req.Operation == admissionv1.Connect {
		return c.connect(ctx, req, phase)
	}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	if req.Resource.Group != "" || req.Resource.Resource != "pods" {
		if req.SubResource != "" {
			return &admissionv1.AdmissionResponse{Allowed: true} // scale, status: no pod template
		}
		return c.workload(ctx, req, phase)
	}
	if ignoredPodSubresources[req.SubResource] {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	if phase == PhaseMutate && !c.mutates(req.Operation, req.SubResource) {
		// No plugin of the chain mutates this request (PodSecurity alone): the
		// pod is not even decoded here. The validating pass, which every
		// enabled plugin takes part in, reads and judges the final object.
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	r := &Request{Operation: req.Operation, Resource: "pods", SubResource: req.SubResource, Name: req.Name, Namespace: req.Namespace, Phase: phase, DryRun: req.DryRun != nil && *req.DryRun,
		User: requestUser(req)}
	var w *podspec.Workload
	var unknown []string
	if typed != nil {
		w = podspec.PodWorkload(typed.pod)
	} else {
		if len(req.Object.Raw) == 0 {
			return errorResponse(r, errors.New("the request carries no object"))
		}
		doc := manifest.Document{Source: "request.object", Item: -1, APIVersion: "v1", Kind: "Pod", JSON: req.Object.Raw}
		var err error
		if w, unknown, err = c.decode(&doc); err != nil {
			return badRequest(r, err)
		}
	}
	r.Workload = w
	if r.Name == "" {
		r.Name = w.Object.(*corev1.Pod).Name
	}
	if req.Operation == admissionv1.Update && typed != nil {
		r.OldPod = typed.oldPod
	} else if req.Operation == admissionv1.Update {
		if len(req.OldObject.Raw) == 0 {
			return badRequest(r, errors.New("an UPDATE without oldObject"))
		}
		var old corev1.Pod
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(req.OldObject.Raw, &old); err != nil {
			return badRequest(r, fmt.Errorf("request.oldObject: %v", err))
		}
		r.OldPod = &old
	}
	resp := c.Admit(ctx, r)
	resp.Warnings = append(unknownFieldWarnings(unknown), resp.Warnings...)
	return resp
}

// connect answers a CONNECT to a pod subresource (`kubectl exec`, `kubectl
// attach`) in the validating pass: each ConnectValidator that handles it is
// asked in order, and the first denial ends the chain. The request's object
// is the connection's options, not a pod, so nothing is decoded. Every other
// plugin, every other CONNECT and the mutating pass let it through.
func (c *Chain) connect(ctx context.Context, req *admissionv1.AdmissionRequest, phase Phase) *admissionv1.AdmissionResponse {
	out := &admissionv1.AdmissionResponse{Allowed: true}
	if phase == PhaseMutate || req.Resource.Group != "" || req.Resource.Resource != "pods" || req.SubResource == "" {
		return out
	}
	cr := &ConnectRequest{Namespace: req.Namespace, Name: req.Name, SubResource: req.SubResource,
		User: requestUser(req)}
	r := &Request{Operation: req.Operation, Resource: "pods", SubResource: req.SubResource, Name: req.Name, Namespace: req.Namespace, Phase: phase, User: cr.User}
	for _, p := range c.plugins {
		v, ok := p.Plugin.(ConnectValidator)
		if !ok || !p.Handles(admissionv1.Connect, req.SubResource) {
			continue
		}
		if denied := record(out, r, v.ValidateConnect(ctx, cr)); denied != nil {
			return denied
		}
	}
	return out
}

// UnknownFieldObjects counts the reviewed objects that carried fields
// kguard's Kubernetes types do not know (kguard_admission_unknown_fields_total).
var UnknownFieldObjects atomic.Uint64

// decode reads the reviewed object: leniently unless strict decoding was
// asked for, as upstream webhooks do, so that a field of a Kubernetes newer
// than kguard's types does not deny every pod. The unknown fields are
// returned for a warning.
func (c *Chain) decode(d *manifest.Document) (*podspec.Workload, []string, error) {
	if c.strictDecoding {
		w, err := podspec.Decode(d)
		return w, nil, err
	}
	w, unknown, err := podspec.DecodeLenient(d)
	if len(unknown) > 0 {
		UnknownFieldObjects.Add(1)
	}
	return w, unknown, err
}

// unknownFieldWarnings words the fields kguard ignored, one warning.
func unknownFieldWarnings(unknown []string) []string {
	if len(unknown) == 0 {
		return nil
	}
	const most = 5
	shown := unknown
	more := ""
	if len(shown) > most {
		shown, more = shown[:most], fmt.Sprintf(" and %d more", len(unknown)-most)
	}
	return []string{fmt.Sprintf("kguard ignored fields its Kubernetes types do not know: %s%s (a newer Kubernetes?); they were not evaluated",
		strings.Join(shown, ", "), more)}
}

// requestUser is the user a review's request is made by.
func requestUser(req *admissionv1.AdmissionRequest) user.Info {
	return &user.DefaultInfo{Name: req.UserInfo.Username, UID: req.UserInfo.UID, Groups: req.UserInfo.Groups, Extra: extra(req.UserInfo.Extra)}
}

func extra(in map[string]authenticationv1.ExtraValue) map[string][]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string][]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// badRequest denies a request whose object cannot be read.
func badRequest(r *Request, err error) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusBadRequest, Reason: metav1.StatusReasonBadRequest,
		Message: fmt.Sprintf("%s %q: %v", r.Resource, r.Name, err),
	}}
}

// workload answers for a pod controller (Deployment, Job, ...) as the built-in
// plugins do: PodSecurityPolicy does not look at it (its pods are admitted
// when they are created), PodSecurity warns and audits its pod template in the
// validating pass and never denies it. A TemplateMutator (image pinning) may
// change the template in the mutating pass. Other kinds are let through.
func (c *Chain) workload(ctx context.Context, req *admissionv1.AdmissionRequest, phase Phase) *admissionv1.AdmissionResponse {
	allowed := &admissionv1.AdmissionResponse{Allowed: true}
	var validators []WorkloadValidator
	var mutators []TemplateMutator
	for _, p := range c.plugins {
		if !p.Handles(req.Operation, "") {
			continue
		}
		if v, ok := p.Plugin.(WorkloadValidator); ok && phase != PhaseMutate {
			validators = append(validators, v)
		}
		if m, ok := p.Plugin.(TemplateMutator); ok && phase != PhaseValidate {
			mutators = append(mutators, m)
		}
	}
	if len(validators) == 0 && len(mutators) == 0 {
		return allowed
	}
	apiVersion := req.Kind.Version
	if req.Kind.Group != "" {
		apiVersion = req.Kind.Group + "/" + req.Kind.Version
	}
	r := &Request{Resource: Resource(apiVersion, req.Kind.Kind), Name: req.Name}
	decode := func(raw []byte, source string) (*podspec.Workload, []string, error) {
		doc := manifest.Document{Source: source, Item: -1, APIVersion: apiVersion, Kind: req.Kind.Kind, JSON: raw}
		return c.decode(&doc)
	}
	// A pod controller is never denied for its decoding: an object kguard
	// cannot read is allowed with the error in a warning and an audit
	// annotation, as the built-in PodSecurity answers.
	unreadable := func(err error) *admissionv1.AdmissionResponse {
		msg := fmt.Sprintf("%s %q: kguard could not read the pod template: %v", r.Resource, r.Name, err)
		out := &admissionv1.AdmissionResponse{Allowed: true, Warnings: []string{msg}}
		addAudit(out, AuditKeyError, msg)
		return out
	}
	w, unknown, err := decode(req.Object.Raw, "request.object")
	if err != nil {
		return unreadable(err)
	}
	if w == nil {
		return allowed // not a kind that carries a pod
	}
	var old *podspec.Workload
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		if old, _, err = decode(req.OldObject.Raw, "request.oldObject"); err != nil {
			return unreadable(err)
		}
	}
	var oldObj runtime.Object
	if old != nil {
		oldObj = old.Object
	}
	out := &admissionv1.AdmissionResponse{Allowed: true, Warnings: unknownFieldWarnings(unknown)}
	wr := &WorkloadRequest{Operation: req.Operation, Object: w.Object, OldObject: oldObj, Request: req}
	if len(mutators) > 0 {
		pod := w.Pod()
		pod.Namespace = req.Namespace
		changed := false
		for _, m := range mutators {
			d := m.MutateTemplate(ctx, wr, pod)
			if denied := record(out, r, d); denied != nil {
				return denied
			}
			if d.Pod != nil {
				pod, changed = d.Pod, true
			}
		}
		if changed {
			w.SetPod(pod)
			patch, err := w.Patch()
			if err != nil {
				return errorResponse(r, err)
			}
			if patch != nil {
				pt := admissionv1.PatchTypeJSONPatch
				out.Patch, out.PatchType = patch, &pt
			}
		}
	}
	for _, v := range validators {
		if denied := record(out, r, v.ValidateWorkload(ctx, wr)); denied != nil {
			return denied
		}
	}
	return out
}

// mutates reports whether a plugin of the chain mutates a pod request.
func (c *Chain) mutates(op admissionv1.Operation, subresource string) bool {
	for _, p := range c.plugins {
		if _, ok := p.Plugin.(Mutator); ok && p.Handles(op, subresource) {
			return true
		}
	}
	return false
}

// anyMutator reports whether a plugin of the chain mutates at all.
func (c *Chain) anyMutator() bool {
	for _, p := range c.plugins {
		if _, ok := p.Plugin.(Mutator); ok {
			return true
		}
	}
	return c.hasObjectMutators()
}

// reviewWithoutMutators answers the mutating pass of a chain that has no
// mutating plugin (PodSecurity alone): allowed, reading no more of the review
// than its kind and uid, as a no-op webhook would; the validating pass reads
// and judges the object. Malformed reviews are still refused.
func (c *Chain) reviewWithoutMutators(body []byte) ([]byte, error) {
	var head struct {
		metav1.TypeMeta `json:",inline"`
		Request         *struct {
			UID types.UID `json:"uid"`
		} `json:"request"`
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &head); err != nil {
		return nil, reviewErrorf("malformed JSON: %v", err)
	}
	if !isAdmissionReview(head.TypeMeta) {
		return nil, wrongKind(head.TypeMeta)
	}
	if head.Request == nil {
		return nil, reviewErrorf("no request")
	}
	if head.Request.UID == "" {
		return nil, reviewErrorf("request has no uid")
	}
	out := admissionv1.AdmissionReview{TypeMeta: head.TypeMeta, Response: &admissionv1.AdmissionResponse{UID: head.Request.UID, Allowed: true}}
	b, err := json.Marshal(&out)
	if err != nil {
		return nil, fmt.Errorf("encoding the review: %w", err)
	}
	return b, nil
}
