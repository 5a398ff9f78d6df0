// Package tenant is the authorization mode Tenant (seed 004): it denies,
// whatever RBAC grants, what a tenant's members must never do, and has no
// opinion on everything else. Members are a kguard.io Tenant's owners and
// the ServiceAccounts of its namespaces. Denied to them:
//
//   - writing any status subresource (tenants never patch status);
//   - any request on an object in a namespace that is not one of their
//     tenants' (another tenant's, or no tenant's);
//   - any request across all namespaces (namespace "") on a namespaced
//     resource, such as `kubectl get secrets -A`: it reaches every
//     namespace's objects (scope.go says which resources are namespaced);
//   - writing cluster-scoped objects, Namespaces included (a namespace's
//     labels set its Pod Security level), except the self-reviews kubectl
//     asks (`kubectl auth can-i`, `kubectl auth whoami`);
//   - impersonate, escalate and bind outside their namespaces.
//
// A Deny is final in kube-apiserver's chain as in kguard's: placed before
// RBAC (--authorization-mode=Tenant,RBAC) it overrides any grant.
package tenant

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/tenant"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// Authorizer is the Tenant mode over a fixed set of tenants.
type Authorizer struct {
	own *tenant.Ownership
}

var (
	_ authorizer.Authorizer   = &Authorizer{}
	_ authorizer.RuleResolver = &Authorizer{}
)

// New is the Tenant mode over the tenants own knows.
func New(own *tenant.Ownership) *Authorizer { return &Authorizer{own: own} }

// writes are the verbs that change objects.
var writes = map[string]bool{"create": true, "update": true, "patch": true, "delete": true, "deletecollection": true}

// selfReviews are the cluster-scoped creates that change nothing and that
// kubectl needs (auth can-i, auth whoami).
var selfReviews = map[string]bool{
	"authorization.k8s.io/selfsubjectaccessreviews": true,
	"authorization.k8s.io/selfsubjectrulesreviews":  true,
	"authentication.k8s.io/selfsubjectreviews":      true,
}

// starVerbs are the verbs the mode decides differently from one another: verb
// "*" stands for all of them.
var starVerbs = []string{"create", "update", "patch", "delete", "deletecollection", "impersonate", "escalate", "bind", "get", "list", "watch"}

// withVerb is attrs asking about another verb.
type withVerb struct {
	authorizer.Attributes
	verb string
}

func (w withVerb) GetVerb() string { return w.verb }

// Authorize denies a tenant member's forbidden requests; it has no opinion
// on anyone else's, nor on non-resource requests.
//
// Verb "*" (a SubjectAccessReview's `kubectl auth can-i '*' …`) asks about
// every verb: RBAC allows it only through a "*" rule, which grants them all.
// It is denied wherever one real verb on the same attributes is, so that the
// answer never claims every verb is allowed when some is denied.
func (a *Authorizer) Authorize(_ context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	if attrs.GetVerb() != "*" {
		return a.authorize(attrs)
	}
	for _, v := range starVerbs {
		if d, reason, err := a.authorize(withVerb{attrs, v}); d == authorizer.DecisionDeny {
			return d, fmt.Sprintf("Tenant: verb \"*\" includes %s, and %s", v, strings.TrimPrefix(reason, "Tenant: ")), err
		}
	}
	return authorizer.DecisionNoOpinion, "", nil
}

func (a *Authorizer) authorize(attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	if !attrs.IsResourceRequest() {
		return authorizer.DecisionNoOpinion, "", nil
	}
	ts := a.own.MemberOf(attrs.GetUser())
	if len(ts) == 0 {
		return authorizer.DecisionNoOpinion, "", nil
	}
	who := member(attrs.GetUser(), ts)
	verb, ns, sub := attrs.GetVerb(), attrs.GetNamespace(), attrs.GetSubresource()
	resource := attrs.GetResource()
	if attrs.GetAPIGroup() != "" {
		resource += "." + attrs.GetAPIGroup()
	}
	// A "*" in a SubjectAccessReview (`kubectl auth can-i patch '*'`) asks
	// about every group, resource or subresource, as RBAC reads it: it is
	// denied wherever the one it stands for would be (as verb "*" is).
	if (sub == "status" || sub == "*") && writes[verb] {
		return deny("%s may not write status subresources (%s/%s): a tenant never changes an object's status", who, resource, sub)
	}
	if ns != "" && !owns(ts, a.own.TenantOf(ns)) {
		owner := "no tenant"
		if t := a.own.TenantOf(ns); t != nil {
			owner = fmt.Sprintf("tenant %q", t.Name)
		}
		return deny("%s may not %s %s in namespace %q, which belongs to %s", who, verb, resource, ns, owner)
	}
	if (attrs.GetAPIGroup() == "" || attrs.GetAPIGroup() == "*") && (attrs.GetResource() == "namespaces" || attrs.GetResource() == "*") && writes[verb] {
		return deny("%s may not %s %s: a tenant's namespaces and their labels are the cluster's to manage", who, verb, resource)
	}
	if ns == "" {
		switch {
		case impersonates(verb) || verb == "escalate" || verb == "bind":
			return deny("%s may not %s %s outside its tenant's namespaces", who, verb, resource)
		case writes[verb] && !selfReviews[attrs.GetAPIGroup()+"/"+attrs.GetResource()]:
			return deny("%s may not %s %s: cluster-scoped writes are not a tenant's", who, verb, resource)
		case !ClusterScoped(attrs.GetAPIGroup(), attrs.GetResource()):
			// A namespaced resource without a namespace is every namespace's
			// objects (`kubectl get secrets -A` is a list with namespace "",
			// answered with all of them), and every namespace includes
			// namespaces of no tenant (kube-system, default) and other
			// tenants': denied as the request in any one of them would be.
			return deny("%s may not %s %s across all namespaces, which include namespaces of other tenants or of none: %s them in its tenant's namespaces (-n NAMESPACE)", who, verb, resource, verb)
		}
	}
	return authorizer.DecisionNoOpinion, "", nil
}

// impersonates reports an impersonation verb: "impersonate", and the
// constrained impersonation verbs kube-apiserver asks first
// ("impersonate:user-info", "impersonate:serviceaccount", ...).
func impersonates(verb string) bool {
	return verb == "impersonate" || strings.HasPrefix(verb, "impersonate:")
}

func deny(format string, args ...any) (authorizer.Decision, string, error) {
	return authorizer.DecisionDeny, "Tenant: " + fmt.Sprintf(format, args...), nil
}

// owns reports whether t is one of ts (a nil t, no tenant, is none).
func owns(ts []*v1alpha1.Tenant, t *v1alpha1.Tenant) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// member names the user and its tenants: `User "alice" (tenant "team-a")`.
func member(u user.Info, ts []*v1alpha1.Tenant) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = fmt.Sprintf("%q", t.Name)
	}
	word := "tenant"
	if len(ts) > 1 {
		word = "tenants"
	}
	return fmt.Sprintf("User %q (%s %s)", u.GetName(), word, strings.Join(names, ", "))
}

// RulesFor lists no rules: the mode only denies, and a rule list cannot say
// so (kube-apiserver's webhook mode lists none either).
func (a *Authorizer) RulesFor(context.Context, user.Info, string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	return nil, nil, false, nil
}

// ConditionsAwareAuthorize reports the unconditional decision of Authorize.
func (a *Authorizer) ConditionsAwareAuthorize(ctx context.Context, attrs authorizer.Attributes) authorizer.ConditionsAwareDecision {
	return authorizer.ConditionsAwareDecisionFromParts(a.Authorize(ctx, attrs))
}

// EvaluateConditions fails closed: the mode has no conditions.
func (a *Authorizer) EvaluateConditions(context.Context, authorizer.ConditionsAwareDecision, authorizer.ConditionsData) (authorizer.Decision, string, error) {
	return authorizer.DecisionDeny, "", authorizer.ErrorConditionEvaluationNotSupported
}
