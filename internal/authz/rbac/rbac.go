// Package rbac is an indexed RBAC authorizer with the semantics of the
// Kubernetes v1.37 authorizer (plugin/pkg/auth/authorizer/rbac): the same
// matching of verbs, API groups, resources, subresources, resource names and
// non-resource URLs, the same subjects, the same reasons. Unlike upstream,
// which walks every ClusterRoleBinding on every request, bindings are indexed
// by subject when the authorizer is built, so a request costs time
// proportional to the bindings of its own user and groups.
package rbac

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/policy"
)

// Authorizer is immutable and safe for concurrent use.
type Authorizer struct {
	cluster      index
	namespaces   map[string]*index
	warnings     []string
	clusterRoles map[string][]rbacv1.PolicyRule
	roles        map[string][]rbacv1.PolicyRule
}

var (
	_ authorizer.Authorizer   = &Authorizer{}
	_ authorizer.RuleResolver = &Authorizer{}
)

// binding is one RoleBinding or ClusterRoleBinding with its role resolved.
type binding struct {
	order   int
	rules   []rbacv1.PolicyRule
	err     string   // why the role could not be resolved ("" when it was)
	reasons []string // per subject: "RBAC: allowed by ..."
}

// entry is a binding reached through one of its subjects.
type entry struct {
	b       *binding
	subject int
}

// index maps subjects to the bindings that name them. ServiceAccount subjects
// are indexed under their user name (system:serviceaccount:NS:NAME).
type index struct {
	users  map[string][]entry
	groups map[string][]entry
}

func newIndex() *index {
	return &index{users: map[string][]entry{}, groups: map[string][]entry{}}
}

func (ix *index) add(b *binding, subjects []rbacv1.Subject, namespace string) {
	for i, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			ix.users[s.Name] = append(ix.users[s.Name], entry{b, i})
		case rbacv1.GroupKind:
			ix.groups[s.Name] = append(ix.groups[s.Name], entry{b, i})
		case rbacv1.ServiceAccountKind:
			ns, ok := SubjectNamespace(s, namespace)
			if !ok {
				continue
			}
			name := serviceaccount.MakeUsername(ns, s.Name)
			ix.users[name] = append(ix.users[name], entry{b, i})
		}
	}
}

// New builds the authorizer from a policy set. ClusterRoles with an
// aggregationRule get the rules of the ClusterRoles they select, as the
// aggregation controller would give them (the set is not modified). Bindings
// whose role is missing grant nothing and are reported by Warnings.
func New(s *policy.Set) *Authorizer {
	r := resolve(s)
	a := &Authorizer{cluster: *newIndex(), namespaces: map[string]*index{}, warnings: r.warnings,
		clusterRoles: r.clusterRoles, roles: r.roles}
	for _, g := range r.bindings {
		b := &binding{order: g.order, rules: g.rules, err: g.err}
		for i := range g.subjects {
			b.reasons = append(b.reasons, "RBAC: allowed by "+g.describe(i))
		}
		if g.namespace == "" {
			a.cluster.add(b, g.subjects, "")
			continue
		}
		ix := a.namespaces[g.namespace]
		if ix == nil {
			ix = newIndex()
			a.namespaces[g.namespace] = ix
		}
		ix.add(b, g.subjects, g.namespace)
	}
	return a
}

// Warnings lists what the authorizer ignored: bindings to missing roles,
// unsupported role kinds, invalid aggregation selectors, duplicate objects.
func (a *Authorizer) Warnings() []string { return append([]string(nil), a.warnings...) }

// candidates returns the entries of ix that apply to u, in binding order,
// each binding once with the first subject that applies (as upstream's
// appliesTo picks it). buf avoids an allocation in the common case. A group
// named more than once is looked up once, and the sort is O(n log n), so a
// review's cost is linear-logarithmic in its size whatever it repeats.
func (ix *index) candidates(u user.Info, buf []entry) []entry {
	out := buf[:0]
	out = append(out, ix.users[u.GetName()]...)
	groups := u.GetGroups()
	var seen map[string]struct{}
	if len(groups) > smallGroups {
		seen = make(map[string]struct{}, len(groups))
	}
	for i, g := range groups {
		if seen != nil {
			if _, dup := seen[g]; dup {
				continue
			}
			seen[g] = struct{}{}
		} else if slices.Contains(groups[:i], g) {
			continue
		}
		out = append(out, ix.groups[g]...)
	}
	if len(out) < 2 {
		return out
	}
	if len(out) <= smallGroups {
		// Insertion sort by (binding order, subject): the lists are short.
		for i := 1; i < len(out); i++ {
			for j := i; j > 0 && less(out[j], out[j-1]); j-- {
				out[j], out[j-1] = out[j-1], out[j]
			}
		}
	} else {
		slices.SortFunc(out, compare)
	}
	n := 1
	for i := 1; i < len(out); i++ {
		if out[i].b != out[n-1].b {
			out[n] = out[i]
			n++
		}
	}
	return out[:n]
}

// smallGroups is the size up to which a quadratic scan beats a map or a
// general sort (most users have a handful of groups and bindings).
const smallGroups = 16

func less(x, y entry) bool { return compare(x, y) < 0 }

func compare(x, y entry) int {
	if x.b.order != y.b.order {
		return cmp.Compare(x.b.order, y.b.order)
	}
	return cmp.Compare(x.subject, y.subject)
}

// Authorize allows the request when a rule of a binding of the user, one of
// its groups or its ServiceAccount allows it: ClusterRoleBindings first, then
// the RoleBindings of the request's namespace. RBAC never denies: otherwise it
// has no opinion, with the role resolution errors met on the way as reason.
//
// A request whose context ends while its bindings are walked gets no opinion
// and the context's error: evaluation never outlives the caller's deadline.
func (a *Authorizer) Authorize(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	u := attrs.GetUser()
	if u == nil {
		return authorizer.DecisionNoOpinion, "RBAC: no user", nil
	}
	var buf [16]entry
	var errs []string
	for _, ix := range [2]*index{&a.cluster, a.namespaceIndex(attrs.GetNamespace())} {
		if ix == nil {
			continue
		}
		for n, e := range ix.candidates(u, buf[:]) {
			if n%ctxCheckEvery == ctxCheckEvery-1 && ctx.Err() != nil {
				return authorizer.DecisionNoOpinion, "", fmt.Errorf("RBAC: %w", ctx.Err())
			}
			if e.b.err != "" {
				errs = append(errs, e.b.err)
				continue
			}
			for i := range e.b.rules {
				if RuleAllows(attrs, &e.b.rules[i]) {
					return authorizer.DecisionAllow, e.b.reasons[e.subject], nil
				}
			}
		}
	}
	switch len(errs) {
	case 0:
		return authorizer.DecisionNoOpinion, "", nil
	case 1:
		return authorizer.DecisionNoOpinion, "RBAC: " + errs[0], nil
	default:
		return authorizer.DecisionNoOpinion, "RBAC: [" + strings.Join(errs, ", ") + "]", nil
	}
}

// ctxCheckEvery is how many bindings are walked between two looks at the
// request's context: often enough to stop within microseconds, rarely enough
// to cost nothing on the common short walk.
const ctxCheckEvery = 64

func (a *Authorizer) namespaceIndex(ns string) *index {
	if ns == "" {
		return nil
	}
	return a.namespaces[ns]
}

// ConditionsAwareAuthorize reports the unconditional decision of Authorize.
func (a *Authorizer) ConditionsAwareAuthorize(ctx context.Context, attrs authorizer.Attributes) authorizer.ConditionsAwareDecision {
	return authorizer.ConditionsAwareDecisionFromParts(a.Authorize(ctx, attrs))
}

// EvaluateConditions fails closed: RBAC has no conditions.
func (a *Authorizer) EvaluateConditions(context.Context, authorizer.ConditionsAwareDecision, authorizer.ConditionsData) (authorizer.Decision, string, error) {
	return authorizer.DecisionDeny, "", authorizer.ErrorConditionEvaluationNotSupported
}

// Rules returns the policy rules that apply to u in namespace (cluster-wide
// rules, then those of the namespace's RoleBindings), and the resolution errors
// met, like upstream's rule resolver.
func (a *Authorizer) Rules(u user.Info, namespace string) ([]rbacv1.PolicyRule, error) {
	if u == nil {
		return nil, nil
	}
	var rules []rbacv1.PolicyRule
	var errs []string
	var buf [16]entry
	for _, ix := range [2]*index{&a.cluster, a.namespaceIndex(namespace)} {
		if ix == nil {
			continue
		}
		for _, e := range ix.candidates(u, buf[:]) {
			if e.b.err != "" {
				errs = append(errs, e.b.err)
				continue
			}
			rules = append(rules, e.b.rules...)
		}
	}
	if len(errs) > 0 {
		return rules, fmt.Errorf("%s", joinErrors(errs))
	}
	return rules, nil
}

func joinErrors(errs []string) string {
	if len(errs) == 1 {
		return errs[0]
	}
	return "[" + strings.Join(errs, ", ") + "]"
}

// RulesFor lists the rules of u in namespace as authorizer rule infos
// (SelfSubjectRulesReview, `kguard authz can-i --list`).
func (a *Authorizer) RulesFor(_ context.Context, u user.Info, namespace string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	rules, err := a.Rules(u, namespace)
	var rr []authorizer.ResourceRuleInfo
	var nr []authorizer.NonResourceRuleInfo
	for _, r := range rules {
		if len(r.Resources) > 0 {
			rr = append(rr, &authorizer.DefaultResourceRuleInfo{Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources, ResourceNames: r.ResourceNames})
		}
		if len(r.NonResourceURLs) > 0 {
			nr = append(nr, &authorizer.DefaultNonResourceRuleInfo{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
		}
	}
	return rr, nr, false, err
}

// sortedKeys is a helper for deterministic iteration.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
