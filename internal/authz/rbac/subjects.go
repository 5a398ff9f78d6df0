package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/policy"
)

// SubjectNamespace is the namespace of a binding's ServiceAccount subject:
// its own, or else the binding's. ok is false for a ClusterRoleBinding's
// ServiceAccount that names none: upstream's authorizer matches nobody with
// it. Subjects of other kinds have no namespace (ok true).
func SubjectNamespace(s rbacv1.Subject, bindingNamespace string) (ns string, ok bool) {
	if s.Kind != rbacv1.ServiceAccountKind {
		return "", true
	}
	if s.Namespace != "" {
		return s.Namespace, true
	}
	return bindingNamespace, bindingNamespace != ""
}

// Allowed is a subject that a binding lets perform a request.
type Allowed struct {
	Kind, Name string
	// Namespace of a ServiceAccount subject, defaulted as the authorizer does.
	Namespace string
	Grant     Grant
}

// AllowedSubjects lists every subject of a binding whose role allows attrs,
// as upstream's SubjectAccessEvaluator (rbac's subject_locator.go) does:
// ClusterRoleBindings everywhere, RoleBindings only in the request's
// namespace, ServiceAccounts without namespace left out. The order is the
// bindings' (ClusterRoleBindings first), then the subjects'.
func AllowedSubjects(s *policy.Set, attrs authorizer.Attributes) []Allowed {
	grants, _ := Grants(s)
	var out []Allowed
	for _, g := range grants {
		if g.Namespace != "" && g.Namespace != attrs.GetNamespace() {
			continue
		}
		ns, ok := SubjectNamespace(g.Subject, g.BindingNamespace)
		if !ok || !anyRuleAllows(attrs, g.Rules) {
			continue
		}
		out = append(out, Allowed{Kind: g.Subject.Kind, Name: g.Subject.Name, Namespace: ns, Grant: g})
	}
	return out
}

func anyRuleAllows(attrs authorizer.Attributes, rules []rbacv1.PolicyRule) bool {
	for i := range rules {
		if RuleAllows(attrs, &rules[i]) {
			return true
		}
	}
	return false
}
