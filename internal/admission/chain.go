// Package admission is kguard's admission chain: the registered plugins of
// --enable-admission-plugins (plugin.go; PodSecurityPolicy and PodSecurity
// register from their packages), in order, over an immutable snapshot, answering an AdmissionResponse exactly as the webhook
// will: allowed or the API server's Forbidden status, a JSON Patch of what the
// policies defaulted, warnings and audit annotations. `kguard check` and
// `kguard serve` share it.
package admission

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/podspec"
)

// Chain is immutable and safe for concurrent use.
type Chain struct {
	plugins        []namedPlugin
	strictDecoding bool
	noPatches      bool
}

// NewChain builds the registered plugins of names, in that order, from the
// snapshot's inputs and each plugin's configuration (configs, by name). An
// unknown or repeated name is an error that lists the registered ones.
func NewChain(names []string, in Inputs, configs map[string]any) (*Chain, error) {
	plugins, err := build(names, in, configs)
	if err != nil {
		return nil, err
	}
	return &Chain{plugins: plugins}, nil
}

// WithStrictDecoding returns a copy of the chain that denies a reviewed pod
// carrying fields kguard's Kubernetes types do not know (--strict-decoding),
// instead of ignoring them with a warning. Pod controllers are never denied.
func (c *Chain) WithStrictDecoding(strict bool) *Chain {
	out := *c
	out.strictDecoding = strict
	return &out
}

// WithoutPatches returns a copy of the chain whose offline admissions
// (PhaseBoth) return no JSON Patch: the mutations still happen, and later
// plugins judge the mutated pod, but nobody pays for writing them down
// (`kguard audit` without -v).
func (c *Chain) WithoutPatches() *Chain {
	out := *c
	out.noPatches = true
	return &out
}

// Plugins returns the enabled plugins in order.
func (c *Chain) Plugins() []string {
	names := make([]string, len(c.plugins))
	for i, p := range c.plugins {
		names[i] = p.name
	}
	return names
}

// Plugin returns the enabled plugin of that name (nil when it is not
// enabled), for the sources that report on a plugin's state (constraint
// template status).
func (c *Chain) Plugin(name string) Plugin {
	for _, p := range c.plugins {
		if p.name == name {
			return p.Plugin
		}
	}
	return nil
}

// JudgesKind reports whether an enabled KindJudge may judge objects of kind
// gk, for the audit of a cluster, which lists them.
func (c *Chain) JudgesKind(gk schema.GroupKind) bool {
	for _, p := range c.plugins {
		if j, ok := p.Plugin.(KindJudge); ok && j.JudgesKind(gk) {
			return true
		}
	}
	return false
}

// Request is one admission of a pod-carrying object.
type Request struct {
	Operation admissionv1.Operation // CREATE or UPDATE
	Workload  *podspec.Workload
	OldPod    *corev1.Pod // UPDATE of a Pod
	// Resource and Name name the object in messages: pods "pause", deployments.apps "web".
	Resource, Name string
	// SubResource is the pod subresource updated ("ephemeralcontainers"), or
	// "" for the pod itself. PodSecurityPolicy (v1.24) ignores subresources;
	// PodSecurity evaluates them.
	SubResource string
	Namespace   string
	User        user.Info
	// Phase is the webhook pass; the zero value runs both, as `kguard check` does.
	Phase Phase
	// DryRun: the request changes nothing (kubectl --dry-run=server); a
	// plugin reserves nothing for it.
	DryRun bool
}

// Phase is a pass of the webhook admission: kube-apiserver calls the mutating
// webhooks, then, after every mutation, the validating ones.
type Phase int

const (
	// PhaseBoth mutates and validates in one call (offline checks).
	PhaseBoth Phase = iota
	// PhaseMutate runs the mutating plugins (PodSecurityPolicy's defaulting).
	PhaseMutate
	// PhaseValidate validates the final object: PodSecurityPolicy without
	// mutation (as upstream validates again after other mutations) and PodSecurity.
	PhaseValidate
)

// Admit runs the chain over a pod-carrying object, as kube-apiserver runs
// its admission plugins: in the mutating pass each Mutator in order, in the
// validating pass each Validator, and offline (PhaseBoth) each plugin once,
// mutating when it can. The first denial ends the chain with the warnings and
// audit annotations gathered so far. The Workload is changed in place by
// mutating plugins, and the response carries the JSON Patch.
func (c *Chain) Admit(ctx context.Context, r *Request) *admissionv1.AdmissionResponse {
	resp, _ := c.admit(ctx, r)
	return resp
}

// admit is Admit that also names the plugin that denied ("" when none did).
func (c *Chain) admit(ctx context.Context, r *Request) (*admissionv1.AdmissionResponse, string) {
	resp := &admissionv1.AdmissionResponse{Allowed: true}
	var pod *corev1.Pod
	if r.Phase == PhaseValidate {
		pod = r.Workload.PodToValidate()
	} else {
		pod = r.Workload.Pod()
	}
	pod.Namespace = r.Namespace
	// Offline (PhaseBoth), the Mutators first and then the plugins that only
	// validate, each in its order: kube-apiserver calls the mutating webhook
	// before the validating one, so a Mutator's denial (ClusterImagePolicy)
	// wins over an earlier validating plugin's (PodSecurity), which never
	// runs, and the warnings come in that order too.
	passes := [][]namedPlugin{c.plugins}
	if r.Phase == PhaseBoth {
		var mutators, validators []namedPlugin
		for _, p := range c.plugins {
			if _, ok := p.Plugin.(Mutator); ok {
				mutators = append(mutators, p)
			} else {
				validators = append(validators, p)
			}
		}
		passes = [][]namedPlugin{mutators, validators}
	}
	for _, plugins := range passes {
		for _, p := range plugins {
			if !p.Handles(r.Operation, r.SubResource) {
				continue
			}
			d, ok := decide(ctx, p.Plugin, r, pod)
			if !ok {
				continue
			}
			if denied := record(resp, r, d); denied != nil {
				return denied, p.name
			}
			if d.Pod != nil {
				pod = d.Pod
			}
		}
	}
	if r.Phase == PhaseValidate {
		return resp, "" // a validating webhook returns no patch
	}
	r.Workload.SetPod(pod)
	if c.noPatches && r.Phase == PhaseBoth {
		return resp, ""
	}
	patch, err := r.Workload.Patch()
	if err != nil {
		return errorResponse(r, err), ""
	}
	if patch != nil {
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = patch, &pt
	}
	return resp, ""
}

// record adds a plugin's warnings and audit annotations to resp, and returns
// the denial (carrying everything gathered so far) when the plugin denied.
func record(resp *admissionv1.AdmissionResponse, r *Request, d Decision) *admissionv1.AdmissionResponse {
	resp.Warnings = append(resp.Warnings, d.Warnings...)
	for k, v := range d.AuditAnnotations {
		addAudit(resp, k, v)
	}
	if !d.Denied {
		return nil
	}
	denied := forbidden(r, d.Reason)
	if d.Verbatim {
		denied.Result.Message = d.Reason
	}
	denied.Warnings, denied.AuditAnnotations = resp.Warnings, resp.AuditAnnotations
	return denied
}

// decide asks p about the pod in r's phase; ok is false when p has no part
// in that phase.
func decide(ctx context.Context, p Plugin, r *Request, pod *corev1.Pod) (Decision, bool) {
	m, mutates := p.(Mutator)
	v, validates := p.(Validator)
	switch {
	case r.Phase == PhaseMutate && mutates, r.Phase == PhaseBoth && mutates:
		return m.Mutate(ctx, r, pod), true
	case r.Phase != PhaseMutate && validates:
		return v.Validate(ctx, r, pod), true
	}
	return Decision{}, false
}

// forbidden is the API server's 403: `pods "pause" is forbidden: ...`.
func forbidden(r *Request, msg string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden,
		Message: fmt.Sprintf("%s %q is forbidden: %s", r.Resource, r.Name, msg),
	}}
}

// errorResponse fails closed on an internal error.
func errorResponse(r *Request, err error) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Reason: metav1.StatusReasonInternalError,
		Message: fmt.Sprintf("%s %q: %v", r.Resource, r.Name, err),
	}}
}

// Resource is the plural resource of a kind for messages (deployments.apps).
func Resource(apiVersion, kind string) string {
	plural := strings.ToLower(kind) + "s"
	group, _, ok := strings.Cut(apiVersion, "/")
	if !ok || group == "" {
		return plural
	}
	return plural + "." + group
}
