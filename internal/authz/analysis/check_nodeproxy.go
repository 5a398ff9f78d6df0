package analysis

import "github.com/kguard/kguard/internal/authz/rbac"

func init() {
	addCheck(&Check{
		ID: "KG006", Severity: Critical, Title: "may proxy to nodes", Subsumed: true,
		Help: "nodes/proxy reaches the kubelet API of every node: exec into any pod, read any log, bypassing pod-level RBAC and admission.",
		Evaluate: func(g *rbac.Grant) []Hit {
			return hits(g, target{verbs: []string{"get", "create"}, resource: "nodes", sub: "proxy", cluster: true})
		},
	})
}
