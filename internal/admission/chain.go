// Package admission is kguard's admission chain: the plugins of
// --enable-admission-plugins (PodSecurityPolicy, PodSecurity), in order, over
// an immutable snapshot, answering an AdmissionResponse exactly as the webhook
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
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/psp"
	"github.com/kguard/kguard/internal/podspec"
)

// Plugin names, as kube-apiserver spells them.
const (
	PluginPodSecurityPolicy = "PodSecurityPolicy"
	PluginPodSecurity       = "PodSecurity"
)

// Snapshot holds the engines of one policy generation.
type Snapshot struct {
	PSP *psp.Engine            // required by PodSecurityPolicy
	PSS *podsecurity.Evaluator // required by PodSecurity
}

// Chain is immutable and safe for concurrent use.
type Chain struct {
	plugins        []string
	snap           Snapshot
	strictDecoding bool
}

// WithStrictDecoding returns a copy of the chain that denies a reviewed pod
// carrying fields kguard's Kubernetes types do not know (--strict-decoding),
// instead of ignoring them with a warning. Pod controllers are never denied.
func (c *Chain) WithStrictDecoding(strict bool) *Chain {
	out := *c
	out.strictDecoding = strict
	return &out
}

// NewChain checks the plugin list against the snapshot.
func NewChain(plugins []string, snap Snapshot) (*Chain, error) {
	seen := map[string]bool{}
	for _, p := range plugins {
		switch p {
		case PluginPodSecurityPolicy:
			if snap.PSP == nil {
				return nil, fmt.Errorf("admission plugin %s needs a PodSecurityPolicy engine", p)
			}
		case PluginPodSecurity:
			if snap.PSS == nil {
				return nil, fmt.Errorf("admission plugin %s needs a Pod Security Standards evaluator", p)
			}
		default:
			return nil, fmt.Errorf("unknown admission plugin %q (kguard runs %s and %s)", p, PluginPodSecurityPolicy, PluginPodSecurity)
		}
		if seen[p] {
			return nil, fmt.Errorf("admission plugin %s is listed twice", p)
		}
		seen[p] = true
	}
	if len(plugins) == 0 {
		return nil, fmt.Errorf("no admission plugins enabled")
	}
	return &Chain{plugins: append([]string(nil), plugins...), snap: snap}, nil
}

// Plugins returns the enabled plugins in order.
func (c *Chain) Plugins() []string { return append([]string(nil), c.plugins...) }

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
}

// Phase is a pass of the webhook admission: kube-apiserver calls the mutating
// webhooks, then, after every mutation, the validating ones.
type Phase int

const (
	// PhaseBoth mutates and validates in one call (offline checks).
	PhaseBoth Phase = iota
	// PhaseMutate runs the mutating plugin (PodSecurityPolicy's defaulting).
	PhaseMutate
	// PhaseValidate re-validates the final object: PodSecurityPolicy without
	// mutation (as upstream validates again after other mutations) and PodSecurity.
	PhaseValidate
)

// Admit runs the chain. The Workload is changed in place by mutating plugins.
func (c *Chain) Admit(ctx context.Context, r *Request) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{Allowed: true}
	pod := r.Workload.Pod()
	pod.Namespace = r.Namespace
	for _, plugin := range c.plugins {
		switch plugin {
		case PluginPodSecurityPolicy:
			if r.SubResource != "" {
				continue // as the v1.24 plugin: subresources are not its business
			}
			res := c.snap.PSP.Admit(ctx, psp.Attributes{Operation: string(r.Operation), Pod: pod, OldPod: r.OldPod,
				Namespace: r.Namespace, User: r.User, FieldRoot: r.Workload.Root, Validate: r.Phase == PhaseValidate})
			if !res.Allowed {
				return forbidden(r, res.Message)
			}
			pod = res.Pod
			if res.Policy != "" {
				key := AuditKeyAdmitPolicy
				if r.Phase == PhaseValidate {
					key = AuditKeyValidatePolicy
				}
				addAudit(resp, key, res.Policy)
			}
		case PluginPodSecurity:
			if r.Phase == PhaseMutate {
				continue // a validating plugin
			}
			username := ""
			if r.User != nil {
				username = r.User.GetName()
			}
			res := c.snap.PSS.Evaluate(ctx, podsecurity.Request{Operation: r.Operation, Pod: pod, OldPod: r.OldPod,
				SubResource: r.SubResource, Namespace: r.Namespace, Username: username})
			resp.Warnings = append(resp.Warnings, res.Warnings...)
			addPodSecurityAudit(resp, res.AuditAnnotations)
			if !res.Allowed {
				msg := "forbidden by PodSecurity"
				if res.Result != nil {
					msg = res.Result.Message
					// The evaluator words it for a pod; name the object admitted.
					if i := strings.Index(msg, " is forbidden: "); i >= 0 {
						msg = msg[i+len(" is forbidden: "):]
					}
				}
				denied := forbidden(r, msg)
				denied.Warnings, denied.AuditAnnotations = resp.Warnings, resp.AuditAnnotations
				return denied
			}
		}
	}
	if r.Phase == PhaseValidate {
		return resp // a validating webhook returns no patch
	}
	r.Workload.SetPod(pod)
	patch, err := r.Workload.Patch()
	if err != nil {
		return errorResponse(r, err)
	}
	if patch != nil {
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = patch, &pt
	}
	return resp
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
