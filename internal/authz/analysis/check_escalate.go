package analysis

import "github.com/kguard/kguard/internal/authz/rbac"

func init() {
	addCheck(&Check{
		ID: "KG002", Severity: Critical, Title: "may escalate roles", Subsumed: true,
		Help: "The escalate verb on roles or clusterroles lets a subject write roles granting permissions it does not hold, bypassing RBAC's escalation prevention.",
		Evaluate: func(g *rbac.Grant) []Hit {
			return hits(g,
				target{verbs: []string{"escalate"}, group: "rbac.authorization.k8s.io", resource: "roles"},
				target{verbs: []string{"escalate"}, group: "rbac.authorization.k8s.io", resource: "clusterroles"})
		},
	})
}
