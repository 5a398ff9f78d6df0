// Package podsecurity evaluates Pod Security Standards exactly as the
// built-in PodSecurity admission controller does, by running its own code
// (k8s.io/pod-security-admission/admission): Namespace labels
// pod-security.kubernetes.io/{enforce,audit,warn}[-version], a cluster default,
// and exemptions. kguard only supplies the namespaces (from a policy snapshot)
// and the requests.
package podsecurity

import (
	"context"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	psadmission "k8s.io/pod-security-admission/admission"
	psapi "k8s.io/pod-security-admission/admission/api"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/metrics"
	"k8s.io/pod-security-admission/policy"
)

// Config is the cluster-wide part of the PodSecurity configuration.
type Config struct {
	// Default level and version ("latest" or "v1.x") for enforce, audit and
	// warn in namespaces without labels; empty means privileged/latest.
	Enforce, EnforceVersion string
	Audit, AuditVersion     string
	Warn, WarnVersion       string
	// Exemptions, as in the built-in controller's configuration.
	ExemptUsernames, ExemptNamespaces, ExemptRuntimeClasses []string
	// UnknownNamespace is asked for a namespace the evaluator was not given.
	// nil: the namespace has no labels, the cluster defaults apply (offline
	// checks of manifests). An error refuses its pods, as the built-in
	// controller refuses them when it cannot read the namespace: `kguard
	// serve` never falls back to the defaults for a namespace whose labels it
	// does not know (a truncated Namespace file would turn Pod Security off).
	UnknownNamespace func(ctx context.Context, name string) (*corev1.Namespace, error)
}

// Evaluator is immutable and safe for concurrent use.
type Evaluator struct {
	admission  *psadmission.Admission
	namespaces namespaceGetter
}

// New builds an evaluator over the namespaces (their labels hold the levels).
func New(cfg Config, namespaces []*corev1.Namespace) (*Evaluator, error) {
	defaults := psapi.PodSecurityDefaults{
		Enforce: orDefault(cfg.Enforce, "privileged"), EnforceVersion: orDefault(cfg.EnforceVersion, "latest"),
		Audit: orDefault(cfg.Audit, "privileged"), AuditVersion: orDefault(cfg.AuditVersion, "latest"),
		Warn: orDefault(cfg.Warn, "privileged"), WarnVersion: orDefault(cfg.WarnVersion, "latest"),
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return nil, err
	}
	ns := namespaceGetter{known: make(map[string]*corev1.Namespace, len(namespaces)), unknown: cfg.UnknownNamespace}
	for _, n := range namespaces {
		ns.known[n.Name] = n
	}
	a := &psadmission.Admission{
		Configuration: &psapi.PodSecurityConfiguration{
			Defaults: defaults,
			Exemptions: psapi.PodSecurityExemptions{
				Usernames: cfg.ExemptUsernames, Namespaces: cfg.ExemptNamespaces, RuntimeClasses: cfg.ExemptRuntimeClasses,
			},
		},
		Evaluator:       evaluator,
		Metrics:         noMetrics{},
		NamespaceGetter: ns,
		PodLister:       noPods{},
	}
	if err := a.CompleteConfiguration(); err != nil {
		return nil, fmt.Errorf("pod security configuration: %w", err)
	}
	if err := a.ValidateConfiguration(); err != nil {
		return nil, fmt.Errorf("pod security configuration: %w", err)
	}
	return &Evaluator{admission: a, namespaces: ns}, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Request is one pod admission.
type Request struct {
	Operation admissionv1.Operation
	Pod       *corev1.Pod
	OldPod    *corev1.Pod
	// SubResource is "" for the pod itself; the built-in controller ignores
	// exec, attach, status and the like and evaluates the others
	// (ephemeralcontainers) as pods.
	SubResource string
	Namespace   string
	Username    string
}

// EvaluateWorkload answers for a pod controller (Deployment, Job, ...) as the
// built-in controller does: never denied, with the warnings and audit
// annotations its pod template earns. resource names it (deployments in apps/v1).
func (e *Evaluator) EvaluateWorkload(ctx context.Context, op admissionv1.Operation, obj, old runtime.Object, resource schema.GroupVersionResource,
	kind schema.GroupVersionKind, name, namespace, username string) *admissionv1.AdmissionResponse {
	attrs := &api.AttributesRecord{Name: name, Namespace: namespace, Operation: op, Username: username,
		Kind: kind, Resource: resource, Object: obj, OldObject: old}
	return e.admission.Validate(ctx, attrs)
}

// Evaluate answers as the built-in controller: allowed or denied (enforce),
// with warnings (warn) and audit annotations (audit).
func (e *Evaluator) Evaluate(ctx context.Context, r Request) *admissionv1.AdmissionResponse {
	attrs := &api.AttributesRecord{
		Name: r.Pod.Name, Namespace: r.Namespace, Operation: r.Operation, Username: r.Username, Subresource: r.SubResource,
		Kind:     schema.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource: schema.GroupVersionResource{Version: "v1", Resource: "pods"},
		Object:   r.Pod,
	}
	if r.OldPod != nil {
		attrs.OldObject = r.OldPod
	}
	resp := e.admission.Validate(ctx, attrs)
	if !resp.Allowed && resp.Result != nil && strings.Contains(resp.Result.Message, lookupFailed) {
		// The library logs the cause and answers only "failed to lookup
		// namespace"; the user needs the cause.
		if _, err := e.namespaces.GetNamespace(ctx, r.Namespace); err != nil {
			out := *resp
			st := *resp.Result
			st.Message = fmt.Sprintf("pods %q is forbidden: PodSecurity cannot read the labels of namespace %q: %v", r.Pod.Name, r.Namespace, err)
			out.Result = &st
			return &out
		}
	}
	return resp
}

// namespaceGetter serves the snapshot's namespaces; a namespace it does not
// know is asked of unknown, or has no labels (the cluster defaults apply).
type namespaceGetter struct {
	known   map[string]*corev1.Namespace
	unknown func(context.Context, string) (*corev1.Namespace, error)
}

func (g namespaceGetter) GetNamespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	if ns, ok := g.known[name]; ok {
		return ns, nil
	}
	if g.unknown != nil {
		return g.unknown(ctx, name)
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, nil
}

// lookupFailed is the start of the built-in controller's message for a
// namespace it could not read; Evaluate says why instead.
const lookupFailed = "failed to lookup namespace"

type noPods struct{}

func (noPods) ListPods(context.Context, string) ([]*corev1.Pod, error) { return nil, nil }

type noMetrics struct{}

func (noMetrics) RecordEvaluation(_ metrics.Decision, _ api.LevelVersion, _ metrics.Mode, _ api.Attributes) {
}
func (noMetrics) RecordExemption(api.Attributes)   {}
func (noMetrics) RecordError(bool, api.Attributes) {}
