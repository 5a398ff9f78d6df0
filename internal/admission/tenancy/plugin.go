package tenancy

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/mcs"
	"github.com/kguard/kguard/internal/podspec"
)

// PluginName is the plugin's name in --enable-admission-plugins.
const PluginName = "Tenancy"

func init() { admission.Register(PluginName, newPlugin) }

// Plugin is immutable and safe for concurrent use.
type Plugin struct {
	ix     *Index
	levels *mcs.Allocator
}

var (
	_ admission.TemplateMutator   = (*Plugin)(nil)
	_ admission.Validator         = (*Plugin)(nil)
	_ admission.WorkloadValidator = (*Plugin)(nil)
	_ admission.ObjectValidator   = (*Plugin)(nil)
	_ admission.ObjectMutator     = (*Plugin)(nil)
)

func newPlugin(in admission.Inputs) (admission.Plugin, error) {
	cfg, err := admission.ConfigAs[Config](in.Config)
	if err != nil {
		return nil, err
	}
	ix, err := NewIndex(in.Policies.Tenants, in.Policies.Namespaces)
	if err != nil {
		return nil, err
	}
	levels := cfg.Levels
	if levels == nil {
		levels = mcs.NewOffline()
	}
	return &Plugin{ix: ix, levels: levels}, nil
}

// subresourceEphemeral is the pod subresource `kubectl debug` updates: the
// one way to add a container to a running pod.
const subresourceEphemeral = "ephemeralcontainers"

// Handles the CREATE and UPDATE of objects themselves, and the UPDATE of a
// pod's ephemeral containers.
func (p *Plugin) Handles(op admissionv1.Operation, subresource string) bool {
	switch subresource {
	case "":
		return op == admissionv1.Create || op == admissionv1.Update
	case subresourceEphemeral:
		return op == admissionv1.Update
	}
	return false
}

// Mutate keeps a tenant's new pod on its nodes (mode inject), gives it the
// tenant's seccomp profile when it sets none and its SELinux MCS level
// (seLinux perPod or perTenant), and judges the result: the plugin's one
// call offline (kguard check) must refuse what the validating pass refuses.
func (p *Plugin) Mutate(ctx context.Context, r *admission.Request, pod *corev1.Pod) admission.Decision {
	t := p.ix.TenantOf(r.Namespace)
	if t == nil {
		return admission.Decision{}
	}
	if r.Operation == admissionv1.Update {
		return deny(t.Name, p.ix.validateUpdate(t, r, pod))
	}
	create := r.Operation == admissionv1.Create
	changed := create && p.ix.Inject(t, &pod.Spec)
	if d := deny(t.Name, p.ix.ValidatePod(t, &pod.Spec, specPath, create)); d.Denied {
		return d
	}
	if create && isolated(t) {
		leveled, errs, err := p.assignLevel(ctx, t, podKey(r.Namespace, pod), &pod.Spec, r.DryRun)
		if err != nil {
			return allocatorError(t.Name, err)
		}
		if d := deny(t.Name, errs); d.Denied {
			return d
		}
		changed = changed || leveled
	}
	if changed {
		return admission.Decision{Pod: pod}
	}
	return admission.Decision{}
}

// allocatorError refuses a pod whose level could not be given or checked.
func allocatorError(tenant string, err error) admission.Decision {
	return admission.Decision{Denied: true, Reason: fmt.Sprintf("tenant %q: spec.securityContext.seLinuxOptions.level: %v", tenant, err)}
}

// MutateTemplate does the same to pod controllers' templates.
func (p *Plugin) MutateTemplate(ctx context.Context, w *admission.WorkloadRequest, pod *corev1.Pod) admission.Decision {
	t := p.ix.TenantOf(w.Request.Namespace)
	if t == nil || w.SameTemplate() {
		return admission.Decision{}
	}
	changed := p.ix.Inject(t, &pod.Spec)
	_, root, _ := podspec.Template(w.Object)
	if root == nil {
		root = field.NewPath("spec", "template")
	}
	if d := deny(t.Name, p.ix.ValidatePod(t, &pod.Spec, root.Child("spec"), true)); d.Denied {
		return d
	}
	errs, err := p.templateLevel(ctx, t, &pod.Spec, root.Child("spec"), dryRun(w.Request.DryRun))
	if err != nil {
		return allocatorError(t.Name, err)
	}
	if d := deny(t.Name, errs); d.Denied {
		return d
	}
	if changed {
		return admission.Decision{Pod: pod}
	}
	return admission.Decision{}
}

// Validate judges a tenant's pod.
func (p *Plugin) Validate(ctx context.Context, r *admission.Request, pod *corev1.Pod) admission.Decision {
	t := p.ix.TenantOf(r.Namespace)
	if t == nil {
		return admission.Decision{}
	}
	if r.Operation == admissionv1.Update {
		return deny(t.Name, p.ix.validateUpdate(t, r, pod))
	}
	if d := deny(t.Name, p.ix.ValidatePod(t, &pod.Spec, specPath, true)); d.Denied {
		return d
	}
	errs, err := p.checkLevel(ctx, t, &pod.Spec, r.DryRun)
	if err != nil {
		return allocatorError(t.Name, err)
	}
	return deny(t.Name, errs)
}

// ValidateWorkload judges a tenant's pod template: its pods would be
// refused when created, so the controller is refused now.
func (p *Plugin) ValidateWorkload(ctx context.Context, w *admission.WorkloadRequest) admission.Decision {
	t := p.ix.TenantOf(w.Request.Namespace)
	if t == nil || w.SameTemplate() {
		return admission.Decision{}
	}
	tmpl, root, ok := podspec.Template(w.Object)
	if !ok {
		return admission.Decision{}
	}
	if d := deny(t.Name, p.ix.ValidatePod(t, &tmpl.Spec, root.Child("spec"), true)); d.Denied {
		return d
	}
	errs, err := p.templateLevel(ctx, t, &tmpl.Spec, root.Child("spec"), dryRun(w.Request.DryRun))
	if err != nil {
		return allocatorError(t.Name, err)
	}
	return deny(t.Name, errs)
}

func dryRun(b *bool) bool { return b != nil && *b }

// ValidateObject judges a tenant's Services.
func (p *Plugin) ValidateObject(ctx context.Context, r *admission.ObjectRequest) admission.Decision {
	req := r.Request
	if req.SubResource != "" || req.Kind.Group != "" || req.Kind.Kind != "Service" {
		return admission.Decision{}
	}
	t := p.ix.TenantOf(req.Namespace)
	if t == nil {
		return admission.Decision{}
	}
	// Member names matched exactly, as kube-apiserver matches them
	// (encoding/json would read externalIPſ as externalIPs).
	var svc corev1.Service
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(req.Object.Raw, &svc); err != nil {
		return admission.Decision{Denied: true, Reason: fmt.Sprintf("tenant %q: the Service does not decode: %v", t.Name, err)}
	}
	return deny(t.Name, ValidateService(t, &svc))
}

// MutatesObject: req is an object of a tenant that requires labels (not a
// subresource, which cannot change them).
func (p *Plugin) MutatesObject(req *admissionv1.AdmissionRequest) bool {
	if req.SubResource != "" || req.Namespace == "" || req.Kind.Group == "" && req.Kind.Kind == "Namespace" {
		return false
	}
	t := p.ix.TenantOf(req.Namespace)
	return t != nil && len(t.Spec.RequiredLabels) > 0
}

// MutateObject gives a tenant's namespaced objects, of every kind, the
// tenant's required labels they lack, and refuses one that sets a required
// key to another value (an UPDATE may keep the value the object already
// had). An object that does not decode is refused.
func (p *Plugin) MutateObject(ctx context.Context, r *admission.ObjectRequest) admission.Decision {
	req := r.Request
	if req.SubResource != "" || req.Namespace == "" || req.Kind.Group == "" && req.Kind.Kind == "Namespace" {
		return admission.Decision{} // kube-apiserver names a Namespace's own namespace
	}
	t := p.ix.TenantOf(req.Namespace)
	if t == nil || len(t.Spec.RequiredLabels) == 0 {
		return admission.Decision{}
	}
	obj, err := readLabels(req.Object.Raw)
	if err != nil {
		return admission.Decision{Denied: true, Reason: fmt.Sprintf("tenant %q: kguard cannot read the object to give it the tenant's required labels: %v", t.Name, err)}
	}
	var old map[string]string
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		o, err := readLabels(req.OldObject.Raw)
		if err != nil {
			return admission.Decision{Denied: true, Reason: fmt.Sprintf("tenant %q: kguard cannot read the object being updated (oldObject): %v", t.Name, err)}
		}
		old = o.labels()
	}
	missing, warnings, errs := RequiredLabels(t, obj.labels(), old)
	if d := deny(t.Name, errs); d.Denied {
		return d
	}
	d := admission.Decision{Warnings: warnings}
	if len(missing) > 0 {
		d.Patch = obj.patch(missing)
	}
	return d
}

// deny words field errors as the API server does, naming the tenant.
func deny(tenant string, errs field.ErrorList) admission.Decision {
	if len(errs) == 0 {
		return admission.Decision{}
	}
	return admission.Decision{Denied: true, Reason: fmt.Sprintf("tenant %q: %v", tenant, errs.ToAggregate())}
}
