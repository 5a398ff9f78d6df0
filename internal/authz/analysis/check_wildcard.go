package analysis

import (
	"strings"

	"github.com/kguard/kguard/internal/authz/rbac"
)

func init() {
	addCheck(&Check{
		ID: "KG009", Severity: Medium, Title: "uses wildcards", Subsumed: true,
		Help: `"*" in verbs, resources or apiGroups grants everything that exists and everything added later (new resources, CRDs, verbs such as escalate). List what is needed.`,
		Evaluate: func(g *rbac.Grant) []Hit {
			var hits []Hit
			for i := range g.Rules {
				r := &g.Rules[i]
				var where []string
				for _, f := range []struct {
					name   string
					values []string
				}{{"verbs", r.Verbs}, {"apiGroups", r.APIGroups}, {"resources", r.Resources}, {"nonResourceURLs", r.NonResourceURLs}} {
					for _, v := range f.values {
						if v == "*" {
							where = append(where, f.name)
							break
						}
					}
				}
				if len(where) > 0 {
					hits = append(hits, Hit{Rule: r, Message: who(g) + " holds a rule with * in " + strings.Join(where, ", ")})
				}
			}
			return hits
		},
	})
}
