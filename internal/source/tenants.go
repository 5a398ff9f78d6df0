package source

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1/tenantvalidation"

	"github.com/kguard/kguard/internal/policy"
)

// tenantHistory keeps, per Tenant name, the last version of each Tenant
// that converted, validated and did not conflict with the others: what
// cluster mode holds in force when a Tenant turns bad. No webhook
// validates Tenants, so a bad one can be stored at any time; refusing it
// alone, as the API server would have, keeps every other object updating.
type tenantHistory struct {
	mu       sync.Mutex
	lastGood map[string]*v1alpha1.Tenant // by name
}

// choose returns the Tenants in force (sorted by name) from the informer's
// objects and the known Namespaces (which the Tenants' selectors are
// matched against), and the Tenants refused, in name order, both as values
// (for their status) and as broken errors (for the log). A Tenant
// that does not convert or validate is refused; so is one that conflicts
// with the Tenants in force (a namespace of two tenants, a selector
// matching a system namespace). The Tenants that changed since the last
// call are taken one at a time, in name order, onto the last good set, so
// that it is the changed one that is refused, never the one in force. A
// refused Tenant keeps its last good version, or is left out when it has
// none (it then implies nothing, as a Tenant the API server refused at
// creation would). Before any set was good (kguard starting: it keeps no
// history across restarts) a bad Tenant is an error: kguard does not start
// without the guardrails of a Tenant that may have been in force.
func (h *tenantHistory) choose(objs []runtime.Object, namespaces []*corev1.Namespace) ([]*v1alpha1.Tenant, []policy.RefusedTenant, []error, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var names []string
	stored := map[string]runtime.Object{}    // by name, as the informer holds them
	current := map[string]*v1alpha1.Tenant{} // the Tenants valid alone
	bad := map[string]error{}                // the others: why
	for _, o := range objs {
		t, name, err := toTenant(o)
		names = append(names, name)
		stored[name] = o
		if err != nil {
			bad[name] = err
			continue
		}
		current[name] = t
	}
	sort.Strings(names)
	list := func(by map[string]*v1alpha1.Tenant) []*v1alpha1.Tenant {
		out := make([]*v1alpha1.Tenant, 0, len(by))
		for _, n := range names {
			if t, ok := by[n]; ok {
				out = append(out, t)
			}
		}
		return out
	}
	if len(bad) == 0 && len(tenantvalidation.ValidateTenants(list(current), namespaces)) == 0 { // as they are
		h.lastGood = current
		return list(current), nil, nil, nil
	}
	starting := h.lastGood == nil
	// The base: the last good version of each Tenant that still exists
	// (its current object when its spec is the same), in name order. One
	// that no longer fits with those before it (a Namespace's labels
	// changed: two selectors match it) is dropped, and taken as changed.
	base := map[string]*v1alpha1.Tenant{}
	dropped := map[string]error{}
	for _, n := range names {
		last, ok := h.lastGood[n]
		if !ok {
			continue
		}
		if cur, ok := current[n]; ok && apiequality.Semantic.DeepEqual(cur.Spec, last.Spec) {
			last = cur
		}
		base[n] = last
		if errs := tenantvalidation.ValidateTenants(list(base), namespaces); len(errs) > 0 {
			delete(base, n)
			dropped[n] = errs.ToAggregate()
		}
	}
	var (
		refused []policy.RefusedTenant
		broken  []error
	)
	refuse := func(n string, err error) {
		generation, conditions := storedStatus(stored[n])
		refused = append(refused, policy.RefusedTenant{Name: n, Generation: generation, Reason: err.Error(), Conditions: conditions})
		what := "it is left out (no version of it has been valid since kguard started)"
		if last, ok := base[n]; ok {
			what = fmt.Sprintf("its last valid version (generation %d) is used", last.Generation)
		} else if d, ok := dropped[n]; ok {
			what = fmt.Sprintf("it is left out (its last valid version no longer is either: %v)", d)
		}
		broken = append(broken, fmt.Errorf("Tenant %s refused: %v; %s", n, err, what))
	}
	for _, n := range names {
		if err, ok := bad[n]; ok {
			refuse(n, err)
			continue
		}
		cur := current[n]
		last, had := base[n]
		if had && last == cur {
			continue // in force as it is
		}
		// The others first: a conflict is reported at the changed one.
		delete(base, n)
		if errs := tenantvalidation.ValidateTenants(append(list(base), cur), namespaces); len(errs) > 0 {
			if had {
				base[n] = last
			}
			refuse(n, fmt.Errorf("it conflicts with the Tenants in force: %v", errs.ToAggregate()))
			continue
		}
		base[n] = cur
	}
	if starting {
		return nil, nil, nil, errors.Join(broken...)
	}
	h.lastGood = base
	return list(base), refused, broken, nil
}

// storedStatus is the generation and the status conditions of a Tenant
// object as stored, read leniently: the object may not convert (a
// condition that does not is skipped).
func storedStatus(o runtime.Object) (int64, []metav1.Condition) {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return 0, nil
	}
	list, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var conds []metav1.Condition
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		var c metav1.Condition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &c); err != nil {
			continue
		}
		conds = append(conds, c)
	}
	return u.GetGeneration(), conds
}

// toTenant converts an object of the Tenant informer strictly, defaults
// and validates it alone (conflicts with other Tenants are choose's).
func toTenant(o runtime.Object) (*v1alpha1.Tenant, string, error) {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Sprintf("%T", o), fmt.Errorf("unexpected %T in the Tenant informer", o)
	}
	t := new(v1alpha1.Tenant)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, t, true); err != nil {
		return nil, u.GetName(), fmt.Errorf("it does not convert: %w", err)
	}
	if err := policy.CheckTenant(t); err != nil {
		return nil, u.GetName(), err
	}
	return t, u.GetName(), nil
}
