package analysis

import "github.com/kguard/kguard/internal/authz/rbac"

func init() {
	addCheck(&Check{
		ID: "KG001", Severity: High, Title: "reads secrets", Subsumed: true,
		Help: "Reading Secrets reveals credentials and ServiceAccount tokens; list and watch reveal every Secret of the scope at once. Grant get on named Secrets (resourceNames) instead.",
		Evaluate: func(g *rbac.Grant) []Hit {
			t := target{verbs: []string{"get", "list", "watch"}, resource: "secrets"}
			out := hits(g, t)
			for i := range out {
				if vs := allowedVerbs(g, out[i].Rule, t); g.Namespace == "" && (len(vs) > 1 || vs[0] != "get") {
					out[i].Severity = sev(Critical) // every Secret of the cluster
				}
			}
			return out
		},
	})
}
