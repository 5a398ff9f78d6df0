package analysis

import "github.com/kguard/kguard/internal/authz/rbac"

func init() {
	addCheck(&Check{
		ID: "KG007", Severity: High, Title: "may mint ServiceAccount tokens", Subsumed: true,
		Help: "Creating serviceaccounts/token issues tokens for any ServiceAccount of the scope, acting with all of its permissions.",
		Evaluate: func(g *rbac.Grant) []Hit {
			return hits(g, target{verbs: []string{"create"}, resource: "serviceaccounts", sub: "token"})
		},
	})
}
