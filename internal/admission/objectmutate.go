package admission

import (
	"context"
	"encoding/json"
	"fmt"

	jsonv2 "github.com/go-json-experiment/json"
	"gomodules.xyz/jsonpatch/v2"
	jsonpatch4 "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// hasObjectMutators reports whether a plugin of the chain changes objects
// of every kind.
func (c *Chain) hasObjectMutators() bool {
	for _, p := range c.plugins {
		if _, ok := p.Plugin.(ObjectMutator); ok {
			return true
		}
	}
	return false
}

// objectMutatorsWant: an ObjectMutator of the chain may change or refuse
// req's object.
func (c *Chain) objectMutatorsWant(req *admissionv1.AdmissionRequest) bool {
	for _, p := range c.plugins {
		if m, ok := p.Plugin.(ObjectMutator); ok && p.Handles(req.Operation, req.SubResource) && m.MutatesObject(req) {
			return true
		}
	}
	return false
}

// mutateObjects asks the chain's ObjectMutators, in order, about req's
// object, each seeing the object the previous one left. It returns their
// answer — allowed, with their warnings, audit annotations and a JSON Patch
// against req.Object.Raw — and the object after them (nil when none changed
// it); or the first denial and its plugin.
func (c *Chain) mutateObjects(ctx context.Context, req *admissionv1.AdmissionRequest, offline bool) (resp *admissionv1.AdmissionResponse, object []byte, deniedBy string) {
	resp = &admissionv1.AdmissionResponse{Allowed: true}
	r := &Request{Resource: requestResource(req), Name: req.Name}
	current := req.Object.Raw
	var ops []jsonpatch.Operation
	var or *ObjectRequest
	for _, p := range c.plugins {
		m, ok := p.Plugin.(ObjectMutator)
		if !ok || !p.Handles(req.Operation, req.SubResource) || !m.MutatesObject(req) {
			continue
		}
		if or == nil {
			or = &ObjectRequest{Request: req, User: requestUser(req), Offline: offline}
		}
		d := m.MutateObject(ctx, or)
		if denied := record(resp, r, d); denied != nil {
			return denied, nil, p.name
		}
		if len(d.Patch) == 0 {
			continue
		}
		patched, err := apply(current, d.Patch)
		if err != nil {
			return errorResponse(r, fmt.Errorf("admission plugin %s: %v", p.name, err)), nil, p.name
		}
		ops = append(ops, d.Patch...)
		current = patched
		// The next plugin sees the changed object.
		next := *req
		next.Object = runtime.RawExtension{Raw: current}
		or = &ObjectRequest{Request: &next, User: or.User, Offline: offline}
	}
	if len(ops) == 0 {
		return resp, nil, ""
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return errorResponse(r, fmt.Errorf("encoding the patch: %v", err)), nil, ""
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = patch, &pt
	return resp, current, ""
}

// apply returns object after ops, as kube-apiserver will apply them.
func apply(object []byte, ops []jsonpatch.Operation) ([]byte, error) {
	b, err := json.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("encoding its patch: %v", err)
	}
	p, err := jsonpatch4.DecodePatch(b)
	if err != nil {
		return nil, fmt.Errorf("its patch %s: %v", b, err)
	}
	out, err := p.Apply(object)
	if err != nil {
		return nil, fmt.Errorf("its patch %s does not apply: %v", b, err)
	}
	return out, nil
}

// mutate answers the mutating pass of a chain with ObjectMutators: they
// change the object as the request carries it, then the pod plugins mutate
// the result (a pod's or a pod controller's), so that one JSON Patch — the
// ObjectMutators' operations followed by the pod plugins', each written
// against the object the previous ones left — answers the review. typed is
// the request's pods when readPodReview read them.
func (c *Chain) mutate(ctx context.Context, req *admissionv1.AdmissionRequest, typed *podRequest) *admissionv1.AdmissionResponse {
	if !c.objectMutatorsWant(req) {
		return c.decidePods(ctx, req, PhaseMutate, typed)
	}
	objects := req
	if typed != nil {
		var err error
		if objects, err = withRawPods(req, typed); err != nil {
			return errorResponse(&Request{Resource: "pods", Name: req.Name}, err)
		}
	}
	first, object, _ := c.mutateObjects(ctx, objects, false)
	if !first.Allowed {
		return first
	}
	if object == nil {
		return then(first, c.decidePods(ctx, req, PhaseMutate, typed))
	}
	changed := *objects
	changed.Object = runtime.RawExtension{Raw: object}
	return then(first, c.decidePods(ctx, &changed, PhaseMutate, nil))
}

// withRawPods is req with the pods readPodReview read encoded again: that
// read keeps no raw object, and a pod read by it has no field kguard's
// types do not know, so the encoding loses nothing an ObjectMutator could
// see. Their patch, a diff against it, names only what they changed. The
// read skipped the pods' managedFields: they are read here from the review,
// so that the ObjectMutators see them too. (Encoding a pod costs less than
// reading the whole review a second time.)
func withRawPods(req *admissionv1.AdmissionRequest, typed *podRequest) (*admissionv1.AdmissionRequest, error) {
	out := *req
	object, old, err := managedFieldsOf(typed.body)
	if err != nil {
		return nil, fmt.Errorf("reading the managedFields: %v", err)
	}
	pod := *typed.pod
	pod.ManagedFields = object
	raw, err := json.Marshal(&pod)
	if err != nil {
		return nil, fmt.Errorf("encoding the pod: %v", err)
	}
	out.Object = runtime.RawExtension{Raw: raw}
	if typed.oldPod != nil {
		pod := *typed.oldPod
		pod.ManagedFields = old
		if raw, err = json.Marshal(&pod); err != nil {
			return nil, fmt.Errorf("encoding the old pod: %v", err)
		}
		out.OldObject = runtime.RawExtension{Raw: raw}
	}
	return &out, nil
}

// managedFieldsOf reads the managedFields of a pod review's object and
// oldObject, which the one-pass read only checked, as it would have
// decoded them.
func managedFieldsOf(body []byte) (object, old []metav1.ManagedFieldsEntry, err error) {
	type pod struct {
		Metadata struct {
			ManagedFields []metav1.ManagedFieldsEntry `json:"managedFields"`
		} `json:"metadata"`
	}
	var review struct {
		Request struct {
			Object    pod `json:"object"`
			OldObject pod `json:"oldObject"`
		} `json:"request"`
	}
	if err := jsonv2.Unmarshal(body, &review); err != nil {
		return nil, nil, err
	}
	return review.Request.Object.Metadata.ManagedFields, review.Request.OldObject.Metadata.ManagedFields, nil
}

// then is the answer of two steps of admission, first (allowed) and next:
// next's denial, or an allowance, with the warnings and audit annotations
// of both, and first's JSON Patch followed by next's.
func then(first, next *admissionv1.AdmissionResponse) *admissionv1.AdmissionResponse {
	if len(first.Warnings) > 0 {
		next.Warnings = append(append([]string(nil), first.Warnings...), next.Warnings...)
	}
	for k, v := range first.AuditAnnotations {
		if _, set := next.AuditAnnotations[k]; !set {
			addAudit(next, k, v)
		}
	}
	if !next.Allowed || first.Patch == nil {
		return next
	}
	if next.Patch == nil {
		next.Patch, next.PatchType = first.Patch, first.PatchType
		return next
	}
	var ops, more []json.RawMessage
	if err := json.Unmarshal(first.Patch, &ops); err != nil {
		return internalError(fmt.Errorf("joining JSON Patches: %v", err))
	}
	if err := json.Unmarshal(next.Patch, &more); err != nil {
		return internalError(fmt.Errorf("joining JSON Patches: %v", err))
	}
	joined, err := json.Marshal(append(ops, more...))
	if err != nil {
		return internalError(fmt.Errorf("joining JSON Patches: %v", err))
	}
	next.Patch = joined
	return next
}

// internalError fails closed on an error that concerns no object in particular.
func internalError(err error) *admissionv1.AdmissionResponse {
	resp := errorResponse(&Request{}, err)
	resp.Result.Message = err.Error()
	return resp
}
