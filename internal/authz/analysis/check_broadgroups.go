package analysis

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kguard/kguard/internal/authz/rbac"
)

func init() {
	addCheck(&Check{
		ID: "KG010", Severity: High, Title: "grants to everyone in a broad group",
		Help: "system:authenticated is every user with any credential (with some providers, any account on the internet), system:unauthenticated is anonymous requests, system:serviceaccounts is every pod's identity. Bind named users or groups instead.",
		Evaluate: func(g *rbac.Grant) []Hit {
			s := g.Subject
			broad := (s.Kind == rbacv1.GroupKind && (s.Name == "system:authenticated" || s.Name == "system:unauthenticated" ||
				s.Name == "system:serviceaccounts" || strings.HasPrefix(s.Name, "system:serviceaccounts:"))) ||
				(s.Kind == rbacv1.UserKind && s.Name == "system:anonymous")
			if !broad || len(g.Rules) == 0 {
				return nil
			}
			h := Hit{Message: who(g) + " is granted " + g.RoleKind + " " + g.RoleName}
			switch {
			case onlyReadsPaths(g.Rules):
				// Like the default system:public-info-viewer: health and version endpoints.
				h.Severity = sev(Low)
			case s.Name == "system:unauthenticated" || s.Name == "system:anonymous":
				h.Severity = sev(Critical)
			}
			return []Hit{h}
		},
	})
}

// onlyReadsPaths reports whether the rules only allow get on non-resource URLs.
func onlyReadsPaths(rules []rbacv1.PolicyRule) bool {
	for _, r := range rules {
		if len(r.Resources) > 0 {
			return false
		}
		for _, v := range r.Verbs {
			if v != "get" && v != "head" {
				return false
			}
		}
	}
	return true
}
