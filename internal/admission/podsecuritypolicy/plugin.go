// Package podsecuritypolicy is the PodSecurityPolicy admission plugin: the
// v1.24 engine of internal/admission/psp, registered with the chain. It is a
// package of its own because the engine builds against the v1.24 API too
// (test/upstream124), and the plugin speaks the API of today: it also sets the
// appArmorProfile field (Kubernetes >= 1.30) for the AppArmor annotations a
// policy adds, and the seccompProfile fields for the seccomp annotations of a
// pod it admits on create, as kube-apiserver v1.24 did and v1.27+ does not.
package podsecuritypolicy

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/psp"
	"github.com/kguard/kguard/internal/podspec"
)

// PluginName is the plugin's name in --enable-admission-plugins, as
// kube-apiserver spelled it.
const PluginName = "PodSecurityPolicy"

// Audit annotation keys (bare names: kube-apiserver files them under the
// webhook's name, e.g. "mutate.kguard.io/admit-policy").
const (
	// AuditKeyAdmitPolicy names the policy that admitted (and may have
	// mutated) the pod: the mutating webhook and offline checks.
	AuditKeyAdmitPolicy = "admit-policy"
	// AuditKeyValidatePolicy names the policy that validated the final pod:
	// the validating webhook.
	AuditKeyValidatePolicy = "validate-policy"
)

func init() { admission.Register(PluginName, newPlugin) }

// plugin is PodSecurityPolicy admission with the v1.24 plugin's behaviour: it
// mutates (defaults) and validates pods, and ignores subresources and pod
// controllers.
type plugin struct {
	engine *psp.Engine
	cfg    Config
}

// Config configures the plugin; the zero value is the default.
type Config struct {
	// AppArmorAnnotationOnly keeps v1.24's behaviour exactly: a policy's
	// default AppArmor profile is set as the container's annotation only.
	// By default the appArmorProfile field is set beside it, as
	// kube-apiserver >= 1.30 would sync it, so that the API server does not
	// warn that the annotation is deprecated on every pod created.
	AppArmorAnnotationOnly bool
}

var (
	_ admission.Mutator   = (*plugin)(nil)
	_ admission.Validator = (*plugin)(nil)
	_ admission.AuditKeys = (*plugin)(nil)
)

func newPlugin(in admission.Inputs) (admission.Plugin, error) {
	cfg, err := admission.ConfigAs[Config](in.Config)
	if err != nil {
		return nil, err
	}
	e, err := psp.NewEngine(in.Policies.PodSecurityPolicies, in.Authorizer)
	if err != nil {
		return nil, err
	}
	if in.RuleResolver != nil {
		e = e.WithRuleResolver(in.RuleResolver)
	}
	return &plugin{engine: e, cfg: cfg}, nil
}

// Handles pods themselves: the v1.24 plugin ignored every subresource.
func (p *plugin) Handles(_ admissionv1.Operation, subresource string) bool { return subresource == "" }

func (p *plugin) AuditKeys() []string { return []string{AuditKeyAdmitPolicy, AuditKeyValidatePolicy} }

// Mutate admits the pod under the first policy that admits it, applying the
// policy's defaults. The mutating webhook pass of an UPDATE does nothing, as
// v1.24's Admit ("only mutate if this is a CREATE request. On updates we
// only validate."): no denial, no admit-policy annotation; the validating
// pass judges the final pod, which a later mutating webhook may have
// changed. Offline (PhaseBoth) Mutate is the only pass, so it judges.
func (p *plugin) Mutate(ctx context.Context, r *admission.Request, pod *corev1.Pod) admission.Decision {
	if r.Operation == admissionv1.Update && r.Phase == admission.PhaseMutate {
		return admission.Decision{}
	}
	return p.admit(ctx, r, pod, false)
}

// Validate checks the final pod without changing it, as upstream validates
// again after every mutating plugin ran.
func (p *plugin) Validate(ctx context.Context, r *admission.Request, pod *corev1.Pod) admission.Decision {
	return p.admit(ctx, r, pod, true)
}

func (p *plugin) admit(ctx context.Context, r *admission.Request, pod *corev1.Pod, validate bool) admission.Decision {
	judged, synthesized := appArmorView(pod)
	old := r.OldPod
	if old != nil {
		old, _ = appArmorView(old) // compared with the pod as judged (a GC-only update stays one)
	}
	res := p.engine.Admit(ctx, psp.Attributes{Operation: string(r.Operation), Pod: judged, OldPod: old,
		Namespace: r.Namespace, User: r.User, FieldRoot: r.Workload.Root, Validate: validate, ShareUnchanged: r.Phase == admission.PhaseValidate,
		// Mutate's pod is the plugin's copy to change (the chain goes on
		// with the decision's).
		Owned: !validate})
	if !res.Allowed {
		return admission.Decision{Denied: true, Reason: res.Message}
	}
	if validate {
		res.Pod = pod // unchanged: the pod as judged, without its AppArmor view
	} else {
		dropAnnotations(res.Pod, pod, synthesized)
	}
	if !validate && !p.cfg.AppArmorAnnotationOnly {
		syncAppArmorFields(pod, res.Pod)
	}
	if !validate && r.Operation == admissionv1.Create {
		podspec.SyncSeccompFields(res.Pod)
	}
	d := admission.Decision{Pod: res.Pod}
	if res.Policy != "" {
		key := AuditKeyAdmitPolicy
		if validate {
			key = AuditKeyValidatePolicy
		}
		d.AuditAnnotations = map[string]string{key: res.Policy}
	}
	return d
}
