package analysis

import "github.com/kguard/kguard/internal/authz/rbac"

func init() {
	addCheck(&Check{
		ID: "KG005", Severity: High, Title: "may exec or attach into pods", Subsumed: true,
		Help: "pods/exec and pods/attach run commands in containers, reaching their ServiceAccount tokens and mounted secrets (create; get for the legacy websocket path).",
		Evaluate: func(g *rbac.Grant) []Hit {
			verbs := []string{"create", "get"}
			return hits(g, target{verbs: verbs, resource: "pods", sub: "exec"}, target{verbs: verbs, resource: "pods", sub: "attach"})
		},
	})
}
