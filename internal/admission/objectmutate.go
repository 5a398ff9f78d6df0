package admission

import (
	"context"
	"encoding/json"
	"fmt"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
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
		if !ok || !p.Handles(req.Operation, req.SubResource) {
			continue
		}
		if or == nil {
			or = &ObjectRequest{Request: req, User: requestUser(req), Offline: offline}
		}
		d := m.MutateObject(ctx, or)
		if denied := record(resp, r, d); denied != nil {
			return denied, nil, p.name
		}
		if d.Object == nil {
			continue
		}
		step, err := jsonpatch.CreatePatch(current, d.Object)
		if err != nil {
			return errorResponse(r, fmt.Errorf("admission plugin %s changed the object into one kguard cannot diff: %v", p.name, err)), nil, p.name
		}
		ops = append(ops, step...)
		current = d.Object
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

// mutate answers the mutating pass of a chain with ObjectMutators: they
// change the object as the request carries it, then the pod plugins mutate
// the result (a pod's or a pod controller's), so that one JSON Patch — the
// ObjectMutators' operations followed by the pod plugins', each written
// against the object the previous ones left — answers the review.
func (c *Chain) mutate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	first, object, _ := c.mutateObjects(ctx, req, false)
	if !first.Allowed {
		return first
	}
	if object != nil {
		changed := *req
		changed.Object = runtime.RawExtension{Raw: object}
		req = &changed
	}
	return then(first, c.decidePods(ctx, req, PhaseMutate, nil))
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
