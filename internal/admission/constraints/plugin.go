// Package constraints is the admission plugin Constraints: OPA Gatekeeper's
// ConstraintTemplates and constraints (internal/constraints) and plain OPA
// policies (internal/regopolicy), judging objects of every kind in the
// validating pass. Denials keep Gatekeeper's shape — one "[constraint]
// message" line per violation —, enforcementAction warn becomes admission
// warnings and dryrun is only counted and audited. A template that does not
// compile, or a constraint that does not load, refuses what the constraint
// matches rather than admit it unchecked.
package constraints

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kguard/kguard/internal/admission"
	engine "github.com/kguard/kguard/internal/constraints"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/regopolicy"
	gk "github.com/kguard/kguard/pkg/apis/gatekeeper"
)

// PluginName is the plugin's name in --enable-admission-plugins.
const PluginName = "Constraints"

// AuditKeyDryrun is the audit annotation listing the violations of dryrun
// constraints ("[name] message" lines).
const AuditKeyDryrun = "constraints-dryrun"

func init() { admission.Register(PluginName, newPlugin) }

// Config configures the plugin.
type Config struct {
	// NoCEL runs templates' Rego only (Gatekeeper's
	// --experimental-enable-k8s-native-validation=false).
	NoCEL bool
}

// Counters are the plugin's verdicts since the process started, for the
// server's metrics (kguard_constraint_*).
var Counters struct {
	Denied, Warned, Dryrun, Errors atomic.Uint64
}

// TemplateStatus is the outcome of compiling one ConstraintTemplate, for
// its status in cluster mode.
type TemplateStatus struct {
	Name, Kind string
	Err        error
}

// Plugin is immutable and safe for concurrent use.
type Plugin struct {
	set        *engine.Set
	rego       *regopolicy.Policies
	namespaces map[string]*corev1.Namespace
	excluded   []string // Config match excludedNamespaces (webhook or *)
	// auditExcluded are the Config's excludedNamespaces for the audit
	// (audit or *), for admission.IsAudit contexts.
	auditExcluded []string
	templates     []TemplateStatus
	loadErrs      []string // constraints that do not load, and why
	syncKinds     []schema.GroupVersionKind
}

var _ admission.KindJudge = (*Plugin)(nil)

func newPlugin(in admission.Inputs) (admission.Plugin, error) {
	cfg, err := admission.ConfigAs[Config](in.Config)
	if err != nil {
		return nil, err
	}
	return New(in.Policies, cfg)
}

// New builds the plugin from a snapshot's policy objects.
func New(set *policy.Set, cfg Config) (*Plugin, error) {
	ctx := context.Background()
	opts := engine.Options{NoCEL: cfg.NoCEL}
	p := &Plugin{namespaces: map[string]*corev1.Namespace{}}
	for _, ns := range set.Namespaces {
		p.namespaces[ns.Name] = ns
	}
	var templates []*engine.Template
	byKind := map[string]*engine.Template{}
	failed := map[string]error{} // kind -> compile error
	for _, t := range set.ConstraintTemplates {
		ct, err := compileCached(t, opts)
		p.templates = append(p.templates, TemplateStatus{Name: t.Name, Kind: t.Spec.CRD.Spec.Names.Kind, Err: err})
		if err != nil {
			failed[t.Spec.CRD.Spec.Names.Kind] = err
			continue
		}
		if other, dup := byKind[ct.Kind]; dup {
			err := fmt.Errorf("ConstraintTemplates %q and %q both define kind %s", other.Name, ct.Name, ct.Kind)
			p.templates[len(p.templates)-1].Err = err
			failed[ct.Kind] = err
			continue
		}
		byKind[ct.Kind] = ct
		templates = append(templates, ct)
	}
	var loaded []*engine.Constraint
	for _, u := range set.Constraints {
		raw, err := u.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("constraint %s %q: %v", u.GetKind(), u.GetName(), err)
		}
		var c *engine.Constraint
		switch t := byKind[u.GetKind()]; {
		case t != nil:
			c, err = engine.LoadConstraint(t, raw)
			if err != nil {
				// Refuse what it matches rather than admit it unchecked.
				p.loadErrs = append(p.loadErrs, err.Error())
				c, err = engine.LoadBroken(raw, err)
			}
		case failed[u.GetKind()] != nil:
			c, err = engine.LoadBroken(raw, fmt.Errorf("%s %q cannot be evaluated: its ConstraintTemplate does not compile: %v", u.GetKind(), u.GetName(), failed[u.GetKind()]))
		default:
			c, err = engine.LoadBroken(raw, fmt.Errorf("%s %q cannot be evaluated: no ConstraintTemplate defines kind %s", u.GetKind(), u.GetName(), u.GetKind()))
		}
		if err != nil {
			// Not even its match reads: nothing can be said of what it
			// covers, so the snapshot is refused.
			return nil, err
		}
		loaded = append(loaded, c)
	}
	p.syncKinds = syncKinds(set, templates)
	inv, err := inventory(set, p.syncKinds)
	if err != nil {
		return nil, err
	}
	if p.set, err = engine.NewSet(ctx, templates, loaded, inv); err != nil {
		return nil, err
	}
	if len(set.RegoModules) > 0 {
		mods := make([]regopolicy.Module, len(set.RegoModules))
		for i, m := range set.RegoModules {
			mods[i] = regopolicy.Module{Name: m.Name, Source: m.Source}
		}
		if p.rego, err = regopolicy.Compile(ctx, mods); err != nil {
			return nil, err
		}
	}
	for _, c := range set.GatekeeperConfigs {
		for _, m := range c.Spec.Match {
			if containsAny(m.Processes, "*", "webhook") {
				p.excluded = append(p.excluded, m.ExcludedNamespaces...)
			}
			if containsAny(m.Processes, "*", "audit") {
				p.auditExcluded = append(p.auditExcluded, m.ExcludedNamespaces...)
			}
		}
	}
	return p, nil
}

func containsAny(list []string, want ...string) bool {
	for _, x := range list {
		for _, w := range want {
			if x == w {
				return true
			}
		}
	}
	return false
}

// Templates is the outcome of compiling each ConstraintTemplate.
func (p *Plugin) Templates() []TemplateStatus { return p.templates }

// SyncKinds are the kinds data.inventory holds: those a Gatekeeper Config's
// sync.syncOnly or a template's requires-sync-data names.
func (p *Plugin) SyncKinds() []schema.GroupVersionKind { return p.syncKinds }

// Set is the compiled constraints (for the audit).
func (p *Plugin) Set() *engine.Set { return p.set }

// JudgesKind reports whether a constraint's spec.match.kinds lets objects
// of kind gk through, or whether plain Rego policies are loaded (they may
// judge any kind).
func (p *Plugin) JudgesKind(gk schema.GroupKind) bool {
	if p.rego != nil {
		return true
	}
	for _, c := range p.set.Constraints() {
		if c.MatchesKind(gk) {
			return true
		}
	}
	return false
}

// Handles every CREATE and UPDATE, of the object itself or of a pod's
// ephemeral containers, as Gatekeeper's webhook is routed them, and the
// DELETE of an object, which Gatekeeper judges when its webhook is
// registered for deletes (deploy/constraints' is not).
func (p *Plugin) Handles(op admissionv1.Operation, subresource string) bool {
	switch op {
	case admissionv1.Create, admissionv1.Update:
		return subresource == "" || subresource == "ephemeralcontainers"
	case admissionv1.Delete:
		return subresource == ""
	}
	return false
}

// AuditKeys declares the plugin's audit annotation.
func (p *Plugin) AuditKeys() []string { return []string{AuditKeyDryrun} }

// ValidateObject judges the object against every constraint, as
// Gatekeeper's webhook does, and every Rego policy, as OPA does.
func (p *Plugin) ValidateObject(ctx context.Context, r *admission.ObjectRequest) admission.Decision {
	deny, warn, dryrun := p.constraintsReview(ctx, r.Request)
	if p.rego.Len() > 0 {
		// The request as sent: OPA knows neither Gatekeeper's Config nor
		// its Namespace rewrite.
		d, err := p.regoReview(ctx, r.Request)
		if err != nil {
			Counters.Errors.Add(1)
			deny = append(deny, fmt.Sprintf("Rego policy evaluation failed: %v", err))
		} else {
			if len(d.Deny) > 0 {
				deny = append(deny, regopolicy.Join(d.Deny))
			}
			warn = append(warn, d.Warn...)
		}
	}
	if admission.IsAudit(ctx) {
		// Gatekeeper's audit lists the violations of dryrun constraints
		// (seeing them before enforcing is what dryrun is for): the audit
		// of existing objects reports them with the warnings, marked.
		for _, line := range dryrun {
			warn = append(warn, line+" (enforcementAction: dryrun)")
		}
	}
	out := admission.Decision{Warnings: warn}
	if len(dryrun) > 0 {
		Counters.Dryrun.Add(uint64(len(dryrun)))
		out.AuditAnnotations = map[string]string{AuditKeyDryrun: strings.Join(dryrun, "\n")}
	}
	if len(warn) > 0 {
		Counters.Warned.Add(1)
	}
	if len(deny) > 0 {
		Counters.Denied.Add(1)
		out.Denied, out.Reason, out.Verbatim = true, strings.Join(deny, "\n"), true
	}
	return out
}

// constraintsReview judges the request against every constraint: its
// denials, warnings and dryrun violations, as "[constraint] message" lines.
func (p *Plugin) constraintsReview(ctx context.Context, req *admissionv1.AdmissionRequest) (deny, warn, dryrun []string) {
	if req.Operation == admissionv1.Delete {
		// As Gatekeeper's webhook: the object judged is the one deleted,
		// the old object (kube-apiserver sends no object); without it
		// nothing can be judged.
		if len(req.OldObject.Raw) == 0 {
			return []string{"a DELETE without oldObject cannot be judged by the constraints"}, nil, nil
		}
		cp := *req
		cp.Object = cp.OldObject
		req = &cp
	}
	if req.Kind.Group == "" && req.Kind.Kind == "Namespace" && req.Namespace != "" {
		// A Namespace is reviewed as cluster-scoped, as Gatekeeper does.
		cp := *req
		cp.Namespace = ""
		req = &cp
	}
	// `kguard check` answers as the webhook will: the same enforcement
	// point; the audit of existing objects as Gatekeeper's audit.
	point, excluded := engine.PointWebhook, p.excluded
	if admission.IsAudit(ctx) {
		point, excluded = engine.PointAudit, p.auditExcluded
	}
	if isExcluded(req, excluded) {
		return nil, nil, nil
	}
	review := &engine.Review{Request: req, Namespace: p.namespaces[req.Namespace]}
	for _, res := range p.set.Review(ctx, review, point) {
		line := fmt.Sprintf("[%s] %s", res.Constraint.Name, res.Msg)
		for _, a := range res.Actions {
			switch a {
			case engine.ActionDeny:
				deny = append(deny, line)
			case engine.ActionWarn:
				warn = append(warn, line)
			case engine.ActionDryrun:
				dryrun = append(dryrun, line)
			}
		}
	}
	return deny, warn, dryrun
}

// isExcluded: the request's namespace is excluded by a Gatekeeper Config
// (the match.excludedNamespaces of the process judging).
func isExcluded(req *admissionv1.AdmissionRequest, excluded []string) bool {
	ns := req.Namespace
	if req.Kind.Group == "" && req.Kind.Kind == "Namespace" {
		ns = req.Name
	}
	if ns == "" {
		return false
	}
	for _, g := range excluded {
		if engine.GlobMatches(g, ns) {
			return true
		}
	}
	return false
}

// regoReview evaluates the plain policies with the AdmissionReview as input.
func (p *Plugin) regoReview(ctx context.Context, req *admissionv1.AdmissionRequest) (regopolicy.Decision, error) {
	b, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metaAdmissionReview, Request: req,
	})
	if err != nil {
		return regopolicy.Decision{}, err
	}
	v, err := ast.ValueFromReader(strings.NewReader(string(b)))
	if err != nil {
		return regopolicy.Decision{}, err
	}
	return p.rego.Review(ctx, v)
}

// inventory is data.inventory: the objects of the kinds that a Gatekeeper
// Config's sync.syncOnly or a template's requires-sync-data names — synced
// from the cluster (set.Inventory) or, offline, the Namespaces and other
// objects of the input.
func inventory(set *policy.Set, synced []schema.GroupVersionKind) (engine.Inventory, error) {
	if len(synced) == 0 {
		return nil, nil
	}
	kinds := map[schema.GroupVersionKind]bool{}
	for _, k := range synced {
		kinds[k] = true
	}
	inv := engine.Inventory{}
	add := func(obj map[string]any) error {
		u := unstructured.Unstructured{Object: obj}
		if !kinds[u.GroupVersionKind()] {
			return nil
		}
		return inv.Add(obj)
	}
	if set.Inventory != nil {
		for _, u := range set.Inventory {
			if err := add(u.Object); err != nil {
				return nil, err
			}
		}
		return inv, nil
	}
	for _, ns := range set.Namespaces {
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ns)
		if err != nil {
			return nil, err
		}
		obj["apiVersion"], obj["kind"] = "v1", "Namespace"
		if err := add(obj); err != nil {
			return nil, err
		}
	}
	for i := range set.Others {
		var obj map[string]any
		if err := json.Unmarshal(set.Others[i].JSON, &obj); err != nil {
			return nil, set.Others[i].Errorf("%v", err)
		}
		if err := add(obj); err != nil {
			return nil, set.Others[i].Errorf("%v", err)
		}
	}
	return inv, nil
}

// syncKinds are the kinds of a Config's sync.syncOnly and of the
// templates' requires-sync-data, sorted.
func syncKinds(set *policy.Set, templates []*engine.Template) []schema.GroupVersionKind {
	seen := map[schema.GroupVersionKind]bool{}
	var out []schema.GroupVersionKind
	add := func(e gk.SyncOnlyEntry) {
		k := schema.GroupVersionKind{Group: e.Group, Version: e.Version, Kind: e.Kind}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, c := range set.GatekeeperConfigs {
		for _, e := range c.Spec.Sync.SyncOnly {
			add(e)
		}
	}
	for _, t := range templates {
		for _, e := range t.RequiresSync {
			add(e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// compiled keeps compiled templates across snapshots, by content: a
// snapshot is rebuilt whenever any watched object changes, and compiling
// every template each time would cost a second with a library's worth.
var compiled = struct {
	sync.Mutex
	m map[[sha256.Size]byte]compileResult
}{m: map[[sha256.Size]byte]compileResult{}}

type compileResult struct {
	t   *engine.Template
	err error
}

// maxCompiled bounds the cache; it is emptied when full.
const maxCompiled = 4096

func compileCached(t *gk.ConstraintTemplate, opts engine.Options) (*engine.Template, error) {
	b, err := json.Marshal(struct {
		Name string
		Anno string
		Spec gk.ConstraintTemplateSpec
		Opts engine.Options
	}{t.Name, t.Annotations[gk.RequiresSyncData], t.Spec, opts})
	if err != nil {
		return nil, err
	}
	key := sha256.Sum256(b)
	compiled.Lock()
	r, ok := compiled.m[key]
	compiled.Unlock()
	if ok {
		return r.t, r.err
	}
	ct, err := engine.CompileTemplate(t, opts)
	compiled.Lock()
	if len(compiled.m) >= maxCompiled {
		compiled.m = map[[sha256.Size]byte]compileResult{}
	}
	compiled.m[key] = compileResult{ct, err}
	compiled.Unlock()
	return ct, err
}

var metaAdmissionReview = metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"}
