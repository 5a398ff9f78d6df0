package analysis

import "github.com/kguard/kguard/internal/authz/rbac"

func init() {
	addCheck(&Check{
		ID: "KG004", Severity: Critical, Title: "may impersonate", Subsumed: true,
		Help: "Impersonating users, groups or ServiceAccounts gives every permission of the impersonated identity, including system:masters.",
		Evaluate: func(g *rbac.Grant) []Hit {
			imp := []string{"impersonate"}
			return hits(g,
				target{verbs: imp, resource: "users", cluster: true}, target{verbs: imp, resource: "groups", cluster: true},
				target{verbs: imp, resource: "serviceaccounts"},
				target{verbs: imp, group: "authentication.k8s.io", resource: "uids", cluster: true},
				target{verbs: imp, group: "authentication.k8s.io", resource: "userextras", cluster: true})
		},
	})
}
