package analysis

import "github.com/kguard/kguard/internal/authz/rbac"

func init() {
	addCheck(&Check{
		ID: "KG003", Severity: High, Title: "may bind any role", Subsumed: true,
		Help: "The bind verb lets a subject bind roles whose permissions it does not hold. Restrict it with resourceNames to the roles that may be delegated.",
		Evaluate: func(g *rbac.Grant) []Hit {
			out := hits(g,
				target{verbs: []string{"bind"}, group: "rbac.authorization.k8s.io", resource: "roles"},
				target{verbs: []string{"bind"}, group: "rbac.authorization.k8s.io", resource: "clusterroles"})
			if g.Namespace == "" {
				for i := range out {
					out[i].Severity = sev(Critical)
				}
			}
			return out
		},
	})
}
