package analysis

import (
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kguard/kguard/internal/authz/rbac"
)

// fullAccess is cluster-admin's power: every verb on every resource of every group.
var fullAccess = rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}

var fullControl = &Check{
	ID: "KG011", Severity: Critical, Title: "holds cluster-admin",
	Help: "A binding to cluster-admin, or to any role granting * on *.*, gives full control of the cluster (or of the namespace, through a RoleBinding). Keep it to break-glass identities.",
	Evaluate: func(g *rbac.Grant) []Hit {
		full, _ := rbac.Covers(g.Rules, []rbacv1.PolicyRule{fullAccess})
		if !(g.RoleKind == "ClusterRole" && g.RoleName == "cluster-admin") && !full {
			return nil
		}
		h := Hit{Message: who(g) + " has full control (" + g.RoleKind + " " + g.RoleName + ")"}
		if g.Namespace != "" {
			h.Severity = sev(High)
		}
		return []Hit{h}
	},
}

func init() { addCheck(fullControl) }
