package rbac

import (
	"context"
	"fmt"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// Escalation is the answer to "may this user create or update this role or
// binding?" under the API server's escalation prevention (seed 002 §6).
type Escalation struct {
	Allowed bool
	// Reason says which rule of the check decided.
	Reason string
	// Missing are the rules the user would grant without holding them.
	Missing []rbacv1.PolicyRule
}

// fullAuthority is what setting an aggregationRule requires: it can gather anything.
var fullAuthority = []rbacv1.PolicyRule{
	{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
	{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
}

func privileged(u user.Info) bool {
	for _, g := range u.GetGroups() {
		if g == user.SystemPrivilegedGroup {
			return true
		}
	}
	return false
}

// CheckRole decides whether u may write a Role (namespace set) or a
// ClusterRole (namespace "") with these rules: members of system:masters may;
// so may a user allowed the verb "escalate" on it by az (the whole authorizer
// chain); otherwise u must already hold every rule in that scope, and for an
// aggregationRule must hold everything.
func (a *Authorizer) CheckRole(ctx context.Context, az authorizer.Authorizer, u user.Info, namespace, name string, rules []rbacv1.PolicyRule, aggregation bool) Escalation {
	if privileged(u) {
		return Escalation{Allowed: true, Reason: "member of " + user.SystemPrivilegedGroup}
	}
	resource := "clusterroles"
	if namespace != "" {
		resource = "roles"
	}
	attrs := authorizer.AttributesRecord{User: u, Verb: "escalate", APIGroup: rbacv1.GroupName, APIVersion: "*",
		Resource: resource, Name: name, Namespace: namespace, ResourceRequest: true}
	if d, reason, _ := az.Authorize(ctx, attrs); d == authorizer.DecisionAllow {
		return Escalation{Allowed: true, Reason: "may escalate " + resource + " (" + reason + ")"}
	}
	e := a.confirmNoEscalation(u, namespace, rules)
	if e.Allowed && aggregation && namespace == "" {
		if f := a.confirmNoEscalation(u, "", fullAuthority); !f.Allowed {
			return Escalation{Reason: "must have cluster-admin privileges to use the aggregationRule", Missing: f.Missing}
		}
	}
	return e
}

// CheckBinding decides whether u may write a RoleBinding in namespace (or a
// ClusterRoleBinding when namespace is "") to roleRef: members of
// system:masters may; so may a user allowed "bind" on the role; otherwise u
// must already hold every rule of the role in the binding's scope.
func (a *Authorizer) CheckBinding(ctx context.Context, az authorizer.Authorizer, u user.Info, namespace string, ref rbacv1.RoleRef, roleRules []rbacv1.PolicyRule, roleFound bool) Escalation {
	if privileged(u) {
		return Escalation{Allowed: true, Reason: "member of " + user.SystemPrivilegedGroup}
	}
	attrs := authorizer.AttributesRecord{User: u, Verb: "bind", APIGroup: ref.APIGroup, APIVersion: "*",
		Name: ref.Name, Namespace: namespace, ResourceRequest: true}
	switch ref.Kind {
	case "ClusterRole":
		attrs.Resource = "clusterroles"
	case "Role":
		attrs.Resource = "roles"
	default:
		return Escalation{Reason: fmt.Sprintf("unsupported role reference kind: %q", ref.Kind)}
	}
	if d, reason, _ := az.Authorize(ctx, attrs); d == authorizer.DecisionAllow {
		return Escalation{Allowed: true, Reason: "may bind " + attrs.Resource + " " + ref.Name + " (" + reason + ")"}
	}
	if !roleFound {
		return Escalation{Reason: fmt.Sprintf("%s %q not found and no permission to bind it", strings.ToLower(ref.Kind), ref.Name)}
	}
	return a.confirmNoEscalation(u, namespace, roleRules)
}

func (a *Authorizer) confirmNoEscalation(u user.Info, namespace string, rules []rbacv1.PolicyRule) Escalation {
	owner, err := a.Rules(u, namespace)
	ok, missing := Covers(owner, rules)
	if ok {
		return Escalation{Allowed: true, Reason: "already holds every rule it grants"}
	}
	missing = CompactRules(missing)
	var lines []string
	for _, m := range missing {
		lines = append(lines, CompactString(m))
	}
	sort.Strings(lines)
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s", u.GetName(), u.GetGroups(), strings.Join(lines, "\n"))
	if err != nil {
		msg += fmt.Sprintf("; resolution errors: %v", err)
	}
	return Escalation{Reason: msg, Missing: missing}
}

// CompactRules merges rules that differ only in their verbs.
func CompactRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	index := map[string]int{}
	for _, r := range rules {
		key := strings.Join(r.APIGroups, ",") + "|" + strings.Join(r.Resources, ",") + "|" +
			strings.Join(r.ResourceNames, ",") + "|" + strings.Join(r.NonResourceURLs, ",")
		i, ok := index[key]
		if !ok {
			index[key] = len(out)
			out = append(out, *r.DeepCopy())
			continue
		}
		for _, v := range r.Verbs {
			if !contains1(out[i].Verbs, v) {
				out[i].Verbs = append(out[i].Verbs, v)
			}
		}
	}
	return out
}

func contains1(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// CompactString renders a rule as the API server does in escalation errors:
// {APIGroups:["apps"], Resources:["deployments"], Verbs:["create"]}.
func CompactString(r rbacv1.PolicyRule) string {
	var parts []string
	add := func(name string, v []string) {
		if len(v) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", name, v))
		}
	}
	add("APIGroups", r.APIGroups)
	add("Resources", r.Resources)
	add("NonResourceURLs", r.NonResourceURLs)
	add("ResourceNames", r.ResourceNames)
	add("Verbs", r.Verbs)
	return "{" + strings.Join(parts, ", ") + "}"
}

// RoleRules returns the effective rules of a Role (namespace set) or
// ClusterRole, aggregation resolved, and whether it exists.
func (a *Authorizer) RoleRules(kind, namespace, name string) ([]rbacv1.PolicyRule, bool) {
	switch kind {
	case "ClusterRole":
		r, ok := a.clusterRoles[name]
		return r, ok
	case "Role":
		r, ok := a.roles[namespace+"/"+name]
		return r, ok
	}
	return nil, false
}
