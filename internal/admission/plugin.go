package admission

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/podspec"
	"github.com/kguard/kguard/internal/policy"
)

// Plugin is one admission plugin of the chain, as k8s.io/apiserver's
// admission.Interface: it says which requests it handles, and implements
// Mutator, Validator or both (and WorkloadValidator to look at the pod
// templates of pod controllers, ConnectValidator to judge `kubectl exec`).
// Plugins are immutable and safe for concurrent use; a plugin is built anew
// for every snapshot.
type Plugin interface {
	// Handles reports whether the plugin looks at the admission of a pod
	// (subresource "" or one the chain lets through, such as
	// "ephemeralcontainers") for this operation: CREATE or UPDATE, or
	// CONNECT with the subresource connected to ("exec", "attach"), which
	// only a ConnectValidator is asked about.
	Handles(op admissionv1.Operation, subresource string) bool
}

// Mutator is a plugin of the mutating phase. Mutate decides on pod (a copy
// it may change) and returns the pod to admit, mutated or not.
type Mutator interface {
	Plugin
	Mutate(ctx context.Context, r *Request, pod *corev1.Pod) Decision
}

// Validator is a plugin of the validating phase: it decides on the final pod
// and never changes it.
type Validator interface {
	Plugin
	Validate(ctx context.Context, r *Request, pod *corev1.Pod) Decision
}

// WorkloadValidator looks at pod controllers (Deployment, Job, ...) in the
// validating phase. Their pods are admitted when created; a workload answer
// warns and audits, and denies only what the plugin's upstream denies.
type WorkloadValidator interface {
	Plugin
	ValidateWorkload(ctx context.Context, w *WorkloadRequest) Decision
}

// TemplateMutator is a Mutator that also changes the pod templates of pod
// controllers (Deployment, Job, ...) in the mutating pass: the
// ClusterImagePolicy plugin pins their images to digests. Other Mutators
// leave templates alone, as upstream's plugins do.
type TemplateMutator interface {
	Mutator
	MutateTemplate(ctx context.Context, w *WorkloadRequest, pod *corev1.Pod) Decision
}

// ConnectValidator is a plugin of the validating phase that judges a CONNECT
// to a pod subresource (`kubectl exec`, `kubectl attach`): such a request
// carries the connection's options (PodExecOptions, PodAttachOptions), not a
// pod, so the chain asks about it with a ConnectRequest. Handles receives
// admissionv1.Connect and the subresource.
type ConnectValidator interface {
	Plugin
	ValidateConnect(ctx context.Context, r *ConnectRequest) Decision
}

// ObjectValidator is a plugin of the validating phase that judges objects
// of every kind, not only pods (Gatekeeper constraints): it is asked about
// every request whose operation and subresource it Handles — pods,
// workloads, Services, Namespaces, custom resources — after the pod plugins
// allowed it, with the request as kube-apiserver sent it.
type ObjectValidator interface {
	Plugin
	ValidateObject(ctx context.Context, r *ObjectRequest) Decision
}

// KindJudge is an ObjectValidator that says which kinds of objects it may
// judge (Gatekeeper constraints: their spec.match.kinds). The audit of a
// cluster lists the objects of those kinds too, not only pods, pod
// controllers, Services and Namespaces. JudgesKind with a Kind of "*" asks
// whether it may judge some kind of the group (one whose kinds discovery
// could not read).
type KindJudge interface {
	ObjectValidator
	JudgesKind(gk schema.GroupKind) bool
}

// auditKey marks a context as the audit of objects that already exist.
type auditKey struct{}

// WithAudit marks ctx as the audit of existing objects (kguard audit,
// kguard controller) rather than an admission: a plugin with an audit of
// its own (Gatekeeper's constraints: the audit.gatekeeper.sh enforcement
// point, the Config's exclusions for the audit process) judges as it.
func WithAudit(ctx context.Context) context.Context {
	return context.WithValue(ctx, auditKey{}, true)
}

// IsAudit reports whether ctx is marked by WithAudit.
func IsAudit(ctx context.Context) bool {
	b, _ := ctx.Value(auditKey{}).(bool)
	return b
}

// ObjectMutator is a plugin of the mutating phase that changes objects of
// every kind, not only pods (the Tenancy plugin's required labels): it is
// asked about every request whose operation and subresource it Handles,
// before the pod plugins mutate, with the object as kube-apiserver sent it
// (or as an earlier ObjectMutator left it). It returns its change as JSON
// Patch operations in Decision.Patch (none: unchanged); the chain puts them
// ahead of the pod plugins' own, one patch in one response, and hands the
// patched object on. An object it cannot read must be denied, never let
// through unchanged. MutatesObject says, without reading the object,
// whether MutateObject may change or refuse it (the Tenancy plugin: an
// object of a tenant that requires labels): when no ObjectMutator of the
// chain does, a pod is admitted without being encoded for them.
type ObjectMutator interface {
	Plugin
	MutatesObject(req *admissionv1.AdmissionRequest) bool
	MutateObject(ctx context.Context, r *ObjectRequest) Decision
}

// ObjectRequest is the admission of any object: the AdmissionRequest (the
// object as JSON, as the webhook received it, or as `kguard check` read
// it), and the user making it.
type ObjectRequest struct {
	Request *admissionv1.AdmissionRequest
	User    user.Info
	// Offline is set by `kguard check` (the object is read from a file).
	Offline bool
}

// ConnectRequest is a CONNECT to a subresource of the pod Namespace/Name.
// The pod itself is not part of the request: a plugin that needs it reads it
// through the PodGetter of its Inputs.
type ConnectRequest struct {
	Namespace, Name string
	SubResource     string // "exec", "attach"
	User            user.Info
}

// PodGetter reads a pod as it is now. Engines do no I/O: in cluster mode the
// source hands the plugins a live reader; offline there is none (nil).
type PodGetter interface {
	GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
}

// WorkloadRequest is the admission of a pod controller.
type WorkloadRequest struct {
	Operation admissionv1.Operation
	Object    runtime.Object // the decoded controller
	OldObject runtime.Object // nil unless UPDATE
	Request   *admissionv1.AdmissionRequest
}

// SameTemplate reports whether the request is an UPDATE that leaves the
// controller's pod template spec as it was (a scale, labels, a rollout's
// annotation).
func (w *WorkloadRequest) SameTemplate() bool {
	if w.Operation != admissionv1.Update || w.OldObject == nil {
		return false
	}
	spec, old := podspec.SpecOf(w.Object), podspec.SpecOf(w.OldObject)
	return spec != nil && old != nil && equality.Semantic.DeepEqual(spec, old)
}

// Decision is a plugin's answer. The zero value allows, changes nothing.
type Decision struct {
	// Denied refuses the request with Reason, worded to follow
	// `<resource> "<name>" is forbidden: `.
	Denied bool
	Reason string
	// Pod is the pod a Mutator admits (nil: the pod it was given).
	Pod *corev1.Pod
	// Patch is an ObjectMutator's change: RFC 6902 operations against the
	// object it was given, applied in order (none: unchanged).
	Patch []jsonpatch.Operation
	// Warnings reach the client (kubectl prints them).
	Warnings []string
	// Verbatim: Reason is the whole message and is not prefixed with
	// `<resource> "<name>" is forbidden: ` (Gatekeeper's "[constraint] msg"
	// lines keep their shape).
	Verbatim bool
	// AuditAnnotations are keyed by bare names (no "/"): kube-apiserver files
	// a webhook's keys under the webhook's name. The keys of the plugins of
	// one chain must not overlap (NewChain checks the declared ones).
	AuditAnnotations map[string]string
}

// AuditKeys is implemented by plugins that declare the audit annotation keys
// they may return, so that NewChain can refuse a chain whose plugins would
// overwrite each other's.
type AuditKeys interface {
	AuditKeys() []string
}

// Inputs are what a plugin is built from: the policy objects of the snapshot,
// the authorization chain (PodSecurityPolicy's `use`), and the plugin's own
// configuration (nil for its defaults), as kube-apiserver hands each plugin
// its part of the admission configuration. Pods reads live pods in cluster
// mode (DenyEscalatingExec's target pod); it is nil offline, and a plugin
// that needs it must then refuse what it cannot check.
type Inputs struct {
	Policies     *policy.Set
	Authorizer   authorizer.Authorizer
	RuleResolver authorizer.RuleResolver
	Pods         PodGetter
	Config       any
}

// ConfigAs returns a plugin's configuration as its type T: the zero T when
// none was given, an error naming both types when it is of another.
func ConfigAs[T any](config any) (T, error) {
	var zero T
	switch c := config.(type) {
	case nil:
		return zero, nil
	case T:
		return c, nil
	default:
		return zero, fmt.Errorf("configuration of type %T, want %T", config, zero)
	}
}

// Factory builds a plugin for one snapshot.
type Factory func(in Inputs) (Plugin, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes a plugin available under name, as --enable-admission-plugins
// spells it. Plugin packages call it from init; registering a name twice is a
// programming error.
func Register(name string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("admission plugin %q registered twice", name))
	}
	if f == nil {
		panic(fmt.Sprintf("admission plugin %q registered without a factory", name))
	}
	registry[name] = f
}

// Registered lists the registered plugin names, sorted.
func Registered() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return registeredLocked()
}

// build makes the plugins of names, in order, with their configuration from
// configs (by name).
func build(names []string, in Inputs, configs map[string]any) ([]namedPlugin, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("no admission plugins enabled (kguard runs %s)", strings.Join(Registered(), ", "))
	}
	registryMu.RLock()
	defer registryMu.RUnlock()
	var out []namedPlugin
	owner := map[string]string{} // audit key -> plugin
	for i, name := range names {
		f, ok := registry[name]
		if !ok {
			return nil, fmt.Errorf("unknown admission plugin %q (kguard runs %s)", name, strings.Join(registeredLocked(), ", "))
		}
		if slices.Contains(names[:i], name) {
			return nil, fmt.Errorf("admission plugin %s is listed twice", name)
		}
		pin := in
		pin.Config = configs[name]
		p, err := f(pin)
		if err != nil {
			return nil, fmt.Errorf("admission plugin %s: %w", name, err)
		}
		_, m := p.(Mutator)
		_, v := p.(Validator)
		_, wv := p.(WorkloadValidator)
		_, cv := p.(ConnectValidator)
		_, ov := p.(ObjectValidator)
		_, om := p.(ObjectMutator)
		if !m && !v && !wv && !cv && !ov && !om {
			return nil, fmt.Errorf("admission plugin %s neither mutates nor validates", name)
		}
		if ak, ok := p.(AuditKeys); ok {
			for _, k := range ak.AuditKeys() {
				if other, taken := owner[k]; taken {
					return nil, fmt.Errorf("admission plugins %s and %s both return the audit annotation %q", other, name, k)
				}
				owner[k] = name
			}
		}
		out = append(out, namedPlugin{name: name, Plugin: p})
	}
	return out, nil
}

func registeredLocked() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

type namedPlugin struct {
	name string
	Plugin
}
