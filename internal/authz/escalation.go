package authz

import (
	"context"
	"errors"

	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/authz/rbac"
	"github.com/kguard/kguard/internal/policy"
)

// EscalationResult is whether u may create or update one RBAC object under
// the API server's escalation prevention.
type EscalationResult struct {
	Object  string   `json:"object"` // "Role ns/name", "ClusterRoleBinding name"
	Source  string   `json:"source"` // file:line
	Allowed bool     `json:"allowed"`
	Reason  string   `json:"reason"`
	Missing []string `json:"missing,omitempty"` // the rules u lacks, compact
}

// ErrNoRBAC is returned by CheckEscalation when RBAC is not a mode.
var ErrNoRBAC = errors.New("escalation prevention needs RBAC among the authorization modes")

// CheckEscalation decides, for every Role, ClusterRole, RoleBinding and
// ClusterRoleBinding of objects, whether u may write it: roles need the rules
// they grant held in their scope (or `escalate`), bindings need `bind` on
// their role or its rules held in their scope, and system:masters may do
// anything. The roles being written count for the bindings being written,
// as they would once created; u's rights come from the chain alone.
func (c *Chain) CheckEscalation(ctx context.Context, u user.Info, objects *policy.Set) ([]EscalationResult, error) {
	if c.RBAC == nil {
		return nil, ErrNoRBAC
	}
	written := rbac.New(policy.Merge(c.Objects, objects))
	var out []EscalationResult
	add := func(obj, src string, e rbac.Escalation) {
		r := EscalationResult{Object: obj, Source: src, Allowed: e.Allowed, Reason: e.Reason}
		for _, m := range e.Missing {
			r.Missing = append(r.Missing, rbac.CompactString(m))
		}
		out = append(out, r)
	}
	for _, r := range objects.Roles {
		add("Role "+r.Namespace+"/"+r.Name, objects.Source(r), c.RBAC.CheckRole(ctx, c.Authorizer, u, r.Namespace, r.Name, r.Rules, false))
	}
	for _, r := range objects.ClusterRoles {
		add("ClusterRole "+r.Name, objects.Source(r), c.RBAC.CheckRole(ctx, c.Authorizer, u, "", r.Name, r.Rules, r.AggregationRule != nil))
	}
	for _, b := range objects.RoleBindings {
		rules, found := written.RoleRules(b.RoleRef.Kind, b.Namespace, b.RoleRef.Name)
		add("RoleBinding "+b.Namespace+"/"+b.Name, objects.Source(b), c.RBAC.CheckBinding(ctx, c.Authorizer, u, b.Namespace, b.RoleRef, rules, found))
	}
	for _, b := range objects.ClusterRoleBindings {
		rules, found := written.RoleRules(b.RoleRef.Kind, "", b.RoleRef.Name)
		if b.RoleRef.Kind != "ClusterRole" {
			found = false // a ClusterRoleBinding can only refer to a ClusterRole
		}
		add("ClusterRoleBinding "+b.Name, objects.Source(b), c.RBAC.CheckBinding(ctx, c.Authorizer, u, "", b.RoleRef, rules, found))
	}
	return out, nil
}
