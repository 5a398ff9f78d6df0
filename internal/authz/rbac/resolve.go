package rbac

import (
	"fmt"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kguard/kguard/internal/authz/defaultroles"
	"github.com/kguard/kguard/internal/policy"
)

// Grant is one subject's access through one binding: what analysis walks.
type Grant struct {
	BindingKind, BindingNamespace, BindingName string // "RoleBinding" or "ClusterRoleBinding"
	RoleKind, RoleName                         string // "Role" or "ClusterRole"
	Subject                                    rbacv1.Subject
	// Namespace is where the rules apply: the RoleBinding's namespace, "" cluster-wide.
	Namespace string
	Rules     []rbacv1.PolicyRule
	// Labels are the binding's labels (e.g. kubernetes.io/bootstrapping=rbac-defaults).
	Labels map[string]string
}

// Grants lists every grant of the set — one per binding and subject, with the
// role resolved and aggregation applied — ClusterRoleBindings first, then
// RoleBindings, each by name; plus the warnings of New.
func Grants(s *policy.Set) ([]Grant, []string) {
	r := resolve(s)
	var out []Grant
	for _, b := range r.bindings {
		if b.err != "" {
			continue
		}
		for _, sub := range b.subjects {
			out = append(out, Grant{
				BindingKind: b.kind, BindingNamespace: b.namespace, BindingName: b.name,
				RoleKind: b.roleRef.Kind, RoleName: b.roleRef.Name,
				Subject: sub, Namespace: b.namespace, Rules: b.rules, Labels: b.labels,
			})
		}
	}
	return out, r.warnings
}

// resolvedBinding is a binding with its role's rules, in deterministic order.
type resolvedBinding struct {
	order           int
	kind            string
	namespace, name string
	roleRef         rbacv1.RoleRef
	subjects        []rbacv1.Subject
	labels          map[string]string
	rules           []rbacv1.PolicyRule
	err             string
}

// describe is upstream's description of a binding and the subject it applies through.
func (b *resolvedBinding) describe(subject int) string {
	s := &b.subjects[subject]
	who := fmt.Sprintf("%s %q", s.Kind, s.Name)
	if s.Kind == rbacv1.ServiceAccountKind {
		ns, _ := SubjectNamespace(*s, b.namespace)
		who = fmt.Sprintf("%s %q", s.Kind, s.Name+"/"+ns)
	}
	if b.kind == "ClusterRoleBinding" {
		return fmt.Sprintf("ClusterRoleBinding %q of %s %q to %s", b.name, b.roleRef.Kind, b.roleRef.Name, who)
	}
	return fmt.Sprintf("RoleBinding %q of %s %q to %s", b.name+"/"+b.namespace, b.roleRef.Kind, b.roleRef.Name, who)
}

type resolution struct {
	bindings     []*resolvedBinding
	warnings     []string
	clusterRoles map[string][]rbacv1.PolicyRule // effective rules by name
	roles        map[string][]rbacv1.PolicyRule // by "namespace/name"
}

func resolve(s *policy.Set) *resolution {
	r := &resolution{}
	clusterRoles := map[string]*rbacv1.ClusterRole{}
	for _, cr := range s.ClusterRoles {
		if _, dup := clusterRoles[cr.Name]; dup {
			r.warnings = append(r.warnings, fmt.Sprintf("ClusterRole %q is defined more than once; the last definition is used", cr.Name))
		}
		clusterRoles[cr.Name] = cr
	}
	roles := map[string]*rbacv1.Role{}
	for _, ro := range s.Roles {
		key := ro.Namespace + "/" + ro.Name
		if _, dup := roles[key]; dup {
			r.warnings = append(r.warnings, fmt.Sprintf("Role %q is defined more than once; the last definition is used", key))
		}
		roles[key] = ro
	}
	clusterRules, warns := aggregate(clusterRoles)
	r.warnings = append(r.warnings, warns...)
	r.clusterRoles = clusterRules
	r.roles = make(map[string][]rbacv1.PolicyRule, len(roles))
	for k, ro := range roles {
		r.roles[k] = ro.Rules
	}

	rules := func(ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, string) {
		switch ref.Kind {
		case "ClusterRole":
			if rs, ok := clusterRules[ref.Name]; ok {
				return rs, ""
			}
			return nil, fmt.Sprintf("clusterrole.rbac.authorization.k8s.io %q not found", ref.Name)
		case "Role":
			if ro, ok := roles[namespace+"/"+ref.Name]; ok && namespace != "" {
				return ro.Rules, ""
			}
			return nil, fmt.Sprintf("role.rbac.authorization.k8s.io %q not found", ref.Name)
		default:
			return nil, fmt.Sprintf("unsupported role reference kind: %q", ref.Kind)
		}
	}

	crbs := append([]*rbacv1.ClusterRoleBinding(nil), s.ClusterRoleBindings...)
	sort.SliceStable(crbs, func(i, j int) bool { return crbs[i].Name < crbs[j].Name })
	for _, b := range crbs {
		rb := &resolvedBinding{order: len(r.bindings), kind: "ClusterRoleBinding", name: b.Name, roleRef: b.RoleRef, subjects: b.Subjects, labels: b.Labels}
		rb.rules, rb.err = rules(b.RoleRef, "")
		if rb.err != "" {
			r.warnings = append(r.warnings, fmt.Sprintf("ClusterRoleBinding %q grants nothing: %s%s", b.Name, rb.err, defaultRoleHint(b.RoleRef)))
		}
		r.bindings = append(r.bindings, rb)
	}
	rbs := append([]*rbacv1.RoleBinding(nil), s.RoleBindings...)
	sort.SliceStable(rbs, func(i, j int) bool {
		if rbs[i].Namespace != rbs[j].Namespace {
			return rbs[i].Namespace < rbs[j].Namespace
		}
		return rbs[i].Name < rbs[j].Name
	})
	for _, b := range rbs {
		rb := &resolvedBinding{order: len(r.bindings), kind: "RoleBinding", namespace: b.Namespace, name: b.Name, roleRef: b.RoleRef, subjects: b.Subjects, labels: b.Labels}
		rb.rules, rb.err = rules(b.RoleRef, b.Namespace)
		if rb.err != "" {
			r.warnings = append(r.warnings, fmt.Sprintf("RoleBinding %q grants nothing: %s%s", b.Namespace+"/"+b.Name, rb.err, defaultRoleHint(b.RoleRef)))
		}
		r.bindings = append(r.bindings, rb)
	}
	return r
}

// aggregate gives every ClusterRole its effective rules. A ClusterRole with an
// aggregationRule gets, as the clusterrole-aggregation controller computes
// them, the rules of every other ClusterRole its selectors match (by name,
// without duplicates), replacing its own; this repeats until nothing changes,
// so that aggregated roles may select aggregated roles.
func aggregate(roles map[string]*rbacv1.ClusterRole) (map[string][]rbacv1.PolicyRule, []string) {
	rules := make(map[string][]rbacv1.PolicyRule, len(roles))
	var aggregated []string
	for name, r := range roles {
		rules[name] = r.Rules
		if r.AggregationRule != nil {
			aggregated = append(aggregated, name)
		}
	}
	if len(aggregated) == 0 {
		return rules, nil
	}
	sort.Strings(aggregated)
	names := sortedKeys(roles)
	var warnings []string
	selectors := map[string][]labels.Selector{}
	invalid := map[string]bool{}
	for _, name := range aggregated {
		for i := range roles[name].AggregationRule.ClusterRoleSelectors {
			sel, err := metav1.LabelSelectorAsSelector(&roles[name].AggregationRule.ClusterRoleSelectors[i])
			if err != nil {
				// The controller fails on this role and leaves its rules as they are.
				warnings = append(warnings, fmt.Sprintf("ClusterRole %q: invalid aggregationRule selector, its rules are not aggregated: %v", name, err))
				invalid[name] = true
				break
			}
			selectors[name] = append(selectors[name], sel)
		}
	}
	for round := 0; round <= len(aggregated); round++ {
		changed := false
		for _, name := range aggregated {
			if invalid[name] {
				continue
			}
			next := []rbacv1.PolicyRule{}
			for _, sel := range selectors[name] {
				for _, other := range names {
					if other == name || !sel.Matches(labels.Set(roles[other].Labels)) {
						continue
					}
					for _, rule := range rules[other] {
						if !contains(next, rule) {
							next = append(next, rule)
						}
					}
				}
			}
			if !equality.Semantic.DeepEqual(next, rules[name]) {
				rules[name] = next
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	return rules, warnings
}

func contains(rules []rbacv1.PolicyRule, rule rbacv1.PolicyRule) bool {
	for i := range rules {
		if equality.Semantic.DeepEqual(rules[i], rule) {
			return true
		}
	}
	return false
}

// defaultRoleHint says, for a missing ClusterRole that Kubernetes creates
// itself (system:auth-delegator, view...), how to add it. Only warnings carry
// it: the authorizer's errors keep upstream's wording.
func defaultRoleHint(ref rbacv1.RoleRef) string {
	if ref.Kind != "ClusterRole" {
		return ""
	}
	defaults, err := defaultroles.Set()
	if err != nil {
		return ""
	}
	for _, cr := range defaults.ClusterRoles {
		if cr.Name == ref.Name {
			return " (a Kubernetes default role: add --default-roles)"
		}
	}
	return ""
}
