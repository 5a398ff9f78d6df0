package analysis

import "github.com/kguard/kguard/internal/authz/rbac"

func init() {
	addCheck(&Check{
		ID: "KG014", Severity: High, Title: "may add ephemeral containers to running pods", Subsumed: true,
		Help: "pods/ephemeralcontainers (kubectl debug) adds a container, privileged if Pod Security admission allows it, to a running pod: it shares the pod's namespaces, volumes and ServiceAccount token. Grant it only to break-glass identities.",
		Evaluate: func(g *rbac.Grant) []Hit {
			out := hits(g, target{verbs: []string{"patch", "update"}, resource: "pods", sub: "ephemeralcontainers"})
			for i := range out {
				out[i].Message += ": it can run a debug container, privileged where Pod Security admission allows it, inside any pod of the scope"
				if g.Namespace == "" || g.Namespace == "kube-system" {
					out[i].Severity = sev(Critical) // the control plane's pods too
				}
			}
			return out
		},
	})
}
