package authz

import (
	"fmt"
	"sort"

	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/authz/rbac"
)

// Subject is one subject the chain allows a request, and what allows it.
type Subject struct {
	Kind      string `json:"subjectKind"` // User, Group or ServiceAccount
	Name      string `json:"subject"`
	Namespace string `json:"subjectNamespace,omitempty"` // of a ServiceAccount
	// Via is the binding or line: "ClusterRoleBinding x", "RoleBinding ns/x", "ABAC line N".
	Via  string `json:"via"`
	Role string `json:"role,omitempty"` // "ClusterRole x", "Role x" (RBAC)
}

// WhoCan lists every subject that the chain's RBAC and ABAC modes allow
// attrs, each with what allows it, sorted by kind, namespace and name.
// Groups are listed as groups. (AlwaysAllow allows everyone, and is not
// listed.)
func (c *Chain) WhoCan(attrs authorizer.Attributes) []Subject {
	var out []Subject
	if c.RBAC != nil {
		for _, a := range rbac.AllowedSubjects(c.Objects, attrs) {
			g := a.Grant
			via := "ClusterRoleBinding " + g.BindingName
			if g.BindingKind == "RoleBinding" {
				via = "RoleBinding " + g.BindingNamespace + "/" + g.BindingName
			}
			out = append(out, Subject{Kind: a.Kind, Name: a.Name, Namespace: a.Namespace, Via: via, Role: g.RoleKind + " " + g.RoleName})
		}
	}
	if c.ABAC != nil {
		for _, a := range c.ABAC.AllowedSubjects(attrs) {
			name := a.Name
			if a.Group != "" {
				name += " (in group " + a.Group + ")"
			}
			out = append(out, Subject{Kind: a.Kind, Name: name, Via: fmt.Sprintf("ABAC line %d", a.Policy.Line)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out
}
