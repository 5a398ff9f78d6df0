package authz

import (
	"context"
	"fmt"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
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
	// DeniedBy is the Tenant mode's denial when it overrides the grant
	// (the mode denies before RBAC and ABAC are asked).
	DeniedBy string `json:"deniedBy,omitempty"`
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
	if c.Tenant != nil {
		for i := range out {
			// The mode denies only when the chain asks it before the mode that allows.
			allowing := ModeRBAC
			if strings.HasPrefix(out[i].Via, "ABAC ") {
				allowing = ModeABAC
			}
			if c.asksBefore(ModeTenant, allowing) {
				out[i].DeniedBy = c.tenantDenial(out[i], attrs)
			}
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

// tenantDenial is the Tenant mode's denial of attrs for a subject that RBAC
// or ABAC allows ("" when it has no opinion). A group stands for its
// members: the mode denies them what it denies an owner group.
func (c *Chain) tenantDenial(sub Subject, attrs authorizer.Attributes) string {
	var u user.Info
	switch sub.Kind {
	case rbacv1.UserKind:
		u = &user.DefaultInfo{Name: sub.Name}
	case rbacv1.GroupKind:
		u = &user.DefaultInfo{Name: "a member of " + sub.Name, Groups: []string{sub.Name}}
	case rbacv1.ServiceAccountKind:
		u = serviceaccount.UserInfo(sub.Namespace, sub.Name, "")
	default:
		return ""
	}
	if d, reason, _ := c.Tenant.Authorize(context.Background(), asUser{attrs, u}); d == authorizer.DecisionDeny {
		return reason
	}
	return ""
}

// asUser is a request made by another user.
type asUser struct {
	authorizer.Attributes
	user user.Info
}

func (a asUser) GetUser() user.Info { return a.user }

// asksBefore reports whether the chain asks mode a before mode b.
func (c *Chain) asksBefore(a, b string) bool {
	for _, m := range c.modes {
		switch m {
		case a:
			return true
		case b:
			return false
		}
	}
	return false
}
