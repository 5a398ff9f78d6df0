package analysis

import "github.com/kguard/kguard/internal/authz/rbac"

func init() {
	addCheck(&Check{
		ID: "KG015", Severity: High, Title: "may change admission webhooks", Subsumed: true,
		Help: "Whoever writes MutatingWebhookConfigurations or ValidatingWebhookConfigurations decides admission: deleting or rewriting one turns a policy off, and a new mutating webhook receives (and may change) every object created, Secrets and pods included. Keep it to the installer of the cluster's admission controllers.",
		Evaluate: func(g *rbac.Grant) []Hit {
			verbs := []string{"create", "update", "patch", "delete", "deletecollection"}
			const group = "admissionregistration.k8s.io"
			mutating := target{verbs: verbs, group: group, resource: "mutatingwebhookconfigurations", cluster: true}
			out := hits(g, mutating, target{verbs: verbs, group: group, resource: "validatingwebhookconfigurations", cluster: true})
			for i := range out {
				why := ": it can turn admission policies off"
				for _, v := range allowedVerbs(g, out[i].Rule, mutating) {
					if v == "create" || v == "update" || v == "patch" {
						why += " or intercept and rewrite every object sent to the API server"
						out[i].Severity = sev(Critical)
						break
					}
				}
				out[i].Message += why
			}
			return out
		},
	})
}
