package constraints

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"

	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"

	"github.com/kguard/kguard/internal/parallel"
)

// Review is one object under review, as Gatekeeper's target hands it to the
// drivers: an AdmissionRequest (input.review), the namespace the object is
// in when it is known (namespaceSelector, input.review.namespaceObject) and
// where the object comes from.
type Review struct {
	Request   *admissionv1.AdmissionRequest
	Namespace *corev1.Namespace
	// Generated marks an object expanded from a workload (match.source
	// "Generated"); reviews of objects as submitted leave it false.
	Generated bool

	decoded     bool
	obj, old    *unstructured.Unstructured
	decodeErr   error
	mu          sync.Mutex     // engineState: evaluations may run concurrently
	engineState map[string]any // per engine: its form of the review
}

// ReviewObject is the review of an object as `gator verify` and the audit
// make it: an AdmissionRequest carrying only the object's kind, name,
// namespace and the object (no operation, no user).
func ReviewObject(raw []byte) (*Review, error) {
	var o unstructured.Unstructured
	if err := o.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	gvk := o.GroupVersionKind()
	r := &Review{Request: &admissionv1.AdmissionRequest{
		Name: o.GetName(), Namespace: o.GetNamespace(),
	}}
	r.Request.Kind.Group, r.Request.Kind.Version, r.Request.Kind.Kind = gvk.Group, gvk.Version, gvk.Kind
	r.Request.Object.Raw = raw
	return r, nil
}

func (r *Review) source() string {
	if r.Generated {
		return "Generated"
	}
	return "Original"
}

// objects decodes the request's object and old object once.
func (r *Review) objects() (obj, old *unstructured.Unstructured, err error) {
	if !r.decoded {
		r.decoded = true
		r.obj, r.decodeErr = decodeObject(r.Request.Object.Raw, "object")
		if r.decodeErr == nil {
			r.old, r.decodeErr = decodeObject(r.Request.OldObject.Raw, "oldObject")
		}
	}
	return r.obj, r.old, r.decodeErr
}

func decodeObject(raw []byte, what string) (*unstructured.Unstructured, error) {
	if raw == nil {
		return nil, nil
	}
	o := &unstructured.Unstructured{}
	if err := o.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("the request's %s does not decode: %v", what, err)
	}
	return o, nil
}

// state is an engine's form of the review, built once (an error is not
// kept: the next evaluation builds again and gets it too).
func (r *Review) state(engine string, build func() (any, error)) (any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.engineState[engine]; ok {
		return v, nil
	}
	v, err := build()
	if err != nil {
		return nil, err
	}
	if r.engineState == nil {
		r.engineState = map[string]any{}
	}
	r.engineState[engine] = v
	return v, nil
}

// Result is a violation of a constraint, with the constraint's enforcement
// actions at the enforcement point of the review.
type Result struct {
	Constraint *Constraint
	Violation
	// Actions are the enforcement actions (deny, warn, dryrun): one, or
	// those of the constraint's scopedEnforcementActions at the point; deny
	// for an error that fails the whole review in Gatekeeper.
	Actions []string
}

// Inventory is data.inventory: objects Gatekeeper syncs from the cluster,
// at "cluster"/<groupVersion>/<kind>/<name> and
// "namespace"/<namespace>/<groupVersion>/<kind>/<name>.
type Inventory map[string]any

// Add puts an object (decoded JSON) where Gatekeeper's target keeps it.
func (inv Inventory) Add(obj map[string]any) error {
	u := unstructured.Unstructured{Object: obj}
	gvk := u.GroupVersionKind()
	if gvk.Version == "" || gvk.Kind == "" {
		return fmt.Errorf("an inventory object needs apiVersion and kind")
	}
	var path []string
	if ns := u.GetNamespace(); ns == "" {
		path = []string{"cluster", gvk.GroupVersion().String(), gvk.Kind, u.GetName()}
	} else {
		path = []string{"namespace", ns, gvk.GroupVersion().String(), gvk.Kind, u.GetName()}
	}
	m := map[string]any(inv)
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = obj
	return nil
}

// Set is templates, their constraints and an inventory, ready to review.
// It is immutable and safe for concurrent use.
type Set struct {
	templates   map[string]*Template // by kind
	constraints []*Constraint        // by kind, then name
	store       storage.Store        // data.inventory
	// namespaces are the inventory's Namespaces, by name: the namespace of
	// a reviewed object when the review does not carry it, as Gatekeeper's
	// namespace cache is filled from synced data.
	namespaces map[string]*corev1.Namespace
}

// NewSet binds compiled templates, constraints of their kinds and an
// inventory (nil: empty). Constraints are evaluated in kind, name order.
func NewSet(ctx context.Context, templates []*Template, constraints []*Constraint, inv Inventory) (*Set, error) {
	s := &Set{templates: map[string]*Template{}}
	for _, t := range templates {
		if other, dup := s.templates[t.Kind]; dup {
			return nil, fmt.Errorf("ConstraintTemplates %q and %q both define kind %s", other.Name, t.Name, t.Kind)
		}
		s.templates[t.Kind] = t
	}
	for _, c := range constraints {
		if c.broken == nil && s.templates[c.Kind] != c.Template {
			return nil, fmt.Errorf("%w: %s %q: no ConstraintTemplate defines kind %s", ErrConstraint, c.Kind, c.Name, c.Kind)
		}
	}
	s.constraints = append([]*Constraint(nil), constraints...)
	sort.SliceStable(s.constraints, func(i, j int) bool {
		a, b := s.constraints[i], s.constraints[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	for i := 1; i < len(s.constraints); i++ {
		if a, b := s.constraints[i-1], s.constraints[i]; a.Kind == b.Kind && a.Name == b.Name {
			return nil, fmt.Errorf("%w: %s %q is defined twice", ErrConstraint, a.Kind, a.Name)
		}
	}
	if inv == nil {
		inv = Inventory{}
	}
	// The store holds data.inventory; JSON round trip so that it holds only
	// JSON values, as Gatekeeper's does.
	b, err := json.Marshal(map[string]any{"inventory": map[string]any(inv)})
	if err != nil {
		return nil, fmt.Errorf("inventory: %v", err)
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		return nil, fmt.Errorf("inventory: %v", err)
	}
	s.store = inmem.NewFromObjectWithOpts(data, inmem.OptRoundTripOnWrite(false))
	if s.namespaces, err = inventoryNamespaces(data); err != nil {
		return nil, err
	}
	return s, nil
}

// Constraints lists the set's constraints in evaluation order.
func (s *Set) Constraints() []*Constraint { return s.constraints }

// Template returns the template of a kind.
func (s *Set) Template(kind string) *Template { return s.templates[kind] }

// Review evaluates every constraint enforced at point that matches the
// review, in kind, name order. An evaluation or match error of a
// constraint is a result carrying the error as its message, as Gatekeeper
// reports it, so that it is never admitted. Constraints whose code and
// parameters are the same share one evaluation, and distinct evaluations
// run in parallel on up to GOMAXPROCS goroutines: a review's latency is
// then about its CPU time divided by the cores free to take it.
func (s *Set) Review(ctx context.Context, r *Review, point string) []Result {
	ns := r.Namespace
	if ns == nil && r.Request.Namespace != "" {
		ns = s.namespaces[r.Request.Namespace]
	}
	// Each matching constraint, with a result of its own (a match error, a
	// constraint that does not load) or the evaluation it takes its
	// violations from.
	type entry struct {
		c      *Constraint
		acts   []string
		fixed  error
		evalAt int
	}
	var entries []entry
	var evals []evaluation
	shared := map[any]int{}
	for _, c := range s.constraints {
		acts, enforced := c.actionAt(point)
		if !enforced {
			continue
		}
		if point == PointWebhook && c.Template != nil && !c.Template.matchesOperation(string(r.Request.Operation)) {
			continue
		}
		ok, err := c.matches(r, ns)
		if err == nil && ok && c.broken != nil {
			err = c.broken
		}
		if err != nil {
			entries = append(entries, entry{c: c, acts: acts, fixed: err})
			continue
		}
		if !ok {
			continue
		}
		key := c.Template.code.shareKey(c.bound)
		if key != nil {
			if i, ok := shared[key]; ok {
				entries = append(entries, entry{c: c, acts: acts, evalAt: i})
				continue
			}
			shared[key] = len(evals)
		}
		entries = append(entries, entry{c: c, acts: acts, evalAt: len(evals)})
		evals = append(evals, evaluation{c: c})
	}
	s.evaluate(ctx, r, evals)
	var out []Result
	for _, e := range entries {
		if e.fixed != nil {
			out = append(out, Result{Constraint: e.c, Violation: Violation{Msg: e.fixed.Error()}, Actions: e.acts})
			continue
		}
		ev := &evals[e.evalAt]
		if ev.err != nil {
			acts := e.acts
			if errors.As(ev.err, new(reviewError)) {
				acts = []string{ActionDeny} // never only a warning: see reviewError
			}
			out = append(out, Result{Constraint: e.c, Violation: Violation{Msg: ev.err.Error()}, Actions: acts})
			continue
		}
		for _, v := range ev.vs {
			out = append(out, Result{Constraint: e.c, Violation: v, Actions: e.acts})
		}
	}
	return out
}

// evaluation is one evaluation of a review: a constraint's code, and what
// it found.
type evaluation struct {
	c   *Constraint
	vs  []Violation
	err error
}

// evaluate runs the evaluations, in parallel when there are several and
// more than one core: each goroutine takes the next evaluation not yet
// taken, in its own pass. A panic in any of them is the caller's, once
// every goroutine has stopped, as if the evaluations had run on the
// caller's goroutine (the server turns it into a failed review).
func (s *Set) evaluate(ctx context.Context, r *Review, evals []evaluation) {
	workers := min(runtime.GOMAXPROCS(0), len(evals))
	if workers > 1 {
		r.objects() // decoded once, before the evaluations read it
	}
	parallel.Workers(len(evals), workers, func(next func() (int, bool)) {
		p := &pass{set: s}
		defer p.close(ctx)
		for i, ok := next(); ok; i, ok = next() {
			e := &evals[i]
			e.vs, e.err = e.c.Template.code.violations(ctx, p, r, e.c, e.c.bound)
		}
	})
}

// pass is what the evaluations one goroutine runs for a review share, and
// give back when they are done.
type pass struct {
	set  *Set
	rego *regoPass                      // opened by the first Rego evaluation
	cel  *admission.VersionedAttributes // made by the first CEL evaluation
}

func (p *pass) close(ctx context.Context) {
	if p.rego != nil {
		p.rego.close(ctx)
	}
}

func (t *Template) matchesOperation(op string) bool {
	if len(t.Operations) == 0 {
		return true
	}
	for _, o := range t.Operations {
		if o == op || o == "*" {
			return true
		}
	}
	return false
}

// inventoryNamespaces reads the Namespaces of data.inventory.
func inventoryNamespaces(data map[string]any) (map[string]*corev1.Namespace, error) {
	objs, _, _ := unstructured.NestedMap(data, "inventory", "cluster", "v1", "Namespace")
	out := make(map[string]*corev1.Namespace, len(objs))
	for name, o := range objs {
		m, ok := o.(map[string]any)
		if !ok {
			continue
		}
		var ns corev1.Namespace
		if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(m, &ns); err != nil {
			return nil, fmt.Errorf("inventory: Namespace %q: %v", name, err)
		}
		out[name] = &ns
	}
	return out, nil
}
