package podsecurity

import (
	"context"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	psaapi "k8s.io/pod-security-admission/api"

	"github.com/kguard/kguard/internal/admission"
)

// PluginName is the plugin's name in --enable-admission-plugins, as
// kube-apiserver spells it.
const PluginName = "PodSecurity"

func init() { admission.Register(PluginName, newPlugin) }

// plugin is the built-in PodSecurity admission: it validates pods (denying
// what the namespace's enforce level forbids) and warns and audits about the
// pod templates of pod controllers.
type plugin struct{ evaluator *Evaluator }

var (
	_ admission.Validator         = (*plugin)(nil)
	_ admission.WorkloadValidator = (*plugin)(nil)
	_ admission.AuditKeys         = (*plugin)(nil)
)

// newPlugin builds the evaluator over the snapshot's namespaces; its
// configuration is a Config (nil: the built-in defaults, privileged).
func newPlugin(in admission.Inputs) (admission.Plugin, error) {
	cfg, err := admission.ConfigAs[Config](in.Config)
	if err != nil {
		return nil, err
	}
	e, err := New(cfg, in.Policies.Namespaces)
	if err != nil {
		return nil, err
	}
	return &plugin{evaluator: e}, nil
}

// Handles the creation and update of pods and of every subresource the chain
// passes on (the chain already lets through the ones the built-in ignores:
// status, binding, ...); never a CONNECT (exec, attach), which carries no pod.
func (p *plugin) Handles(op admissionv1.Operation, _ string) bool {
	return op == admissionv1.Create || op == admissionv1.Update
}

// Audit annotation keys: those of the pod-security-admission library.
const (
	// AuditKeyEnforcePolicy is the enforced level and version.
	AuditKeyEnforcePolicy = psaapi.EnforcedPolicyAnnotationKey
	// AuditKeyAuditViolations lists the violations of the namespace's audit level.
	AuditKeyAuditViolations = psaapi.AuditViolationsAnnotationKey
	// AuditKeyExempt is why Pod Security did not evaluate: user, namespace or runtimeClass.
	AuditKeyExempt = psaapi.ExemptionReasonAnnotationKey
	// AuditKeyError is an error that let the object through unevaluated
	// (unreadable namespace or object).
	AuditKeyError = admission.AuditKeyError
)

// AuditKeys are the keys the pod-security-admission library returns.
func (p *plugin) AuditKeys() []string {
	return []string{AuditKeyEnforcePolicy, AuditKeyAuditViolations, AuditKeyExempt, AuditKeyError}
}

func (p *plugin) Validate(ctx context.Context, r *admission.Request, pod *corev1.Pod) admission.Decision {
	username := ""
	if r.User != nil {
		username = r.User.GetName()
	}
	res := p.evaluator.Evaluate(ctx, Request{Operation: r.Operation, Pod: pod, OldPod: r.OldPod,
		SubResource: r.SubResource, Namespace: r.Namespace, Username: username})
	return decision(res)
}

// ValidateWorkload answers for a pod controller as the built-in does: never
// denied, with the warnings and audit annotations its pod template earns.
func (p *plugin) ValidateWorkload(ctx context.Context, w *admission.WorkloadRequest) admission.Decision {
	req := w.Request
	res := p.evaluator.EvaluateWorkload(ctx, req.Operation, w.Object, w.OldObject,
		schema.GroupVersionResource{Group: req.Resource.Group, Version: req.Resource.Version, Resource: req.Resource.Resource},
		schema.GroupVersionKind{Group: req.Kind.Group, Version: req.Kind.Version, Kind: req.Kind.Kind},
		req.Name, req.Namespace, req.UserInfo.Username)
	return decision(res)
}

// decision is the evaluator's answer as the chain's: warnings, audit
// annotations, and a denial's reason without the evaluator's own
// `<resource> "<name>" is forbidden: ` (the chain names the object).
func decision(res *admissionv1.AdmissionResponse) admission.Decision {
	d := admission.Decision{Warnings: res.Warnings, AuditAnnotations: res.AuditAnnotations}
	if !res.Allowed {
		d.Denied, d.Reason = true, "forbidden by PodSecurity"
		if res.Result != nil {
			d.Reason = res.Result.Message
			if i := strings.Index(d.Reason, " is forbidden: "); i >= 0 {
				d.Reason = d.Reason[i+len(" is forbidden: "):]
			}
		}
	}
	return d
}
