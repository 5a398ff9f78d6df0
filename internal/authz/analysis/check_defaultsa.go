package analysis

import (
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kguard/kguard/internal/authz/rbac"
)

func init() {
	addCheck(&Check{
		ID: "KG012", Severity: Medium, Title: "default ServiceAccount holds grants",
		Help: "Every pod that names no ServiceAccount runs as its namespace's default one, so its grants go to every such pod. Create a dedicated ServiceAccount for the workload that needs them.",
		Evaluate: func(g *rbac.Grant) []Hit {
			if g.Subject.Kind != rbacv1.ServiceAccountKind || g.Subject.Name != "default" || len(g.Rules) == 0 {
				return nil
			}
			return []Hit{{Message: who(g) + " is granted " + g.RoleKind + " " + g.RoleName}}
		},
	})
}
