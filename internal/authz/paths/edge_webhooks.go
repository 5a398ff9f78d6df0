package paths

import rbacv1 "k8s.io/api/rbac/v1"

func init() {
	addEdge(&EdgeKind{
		ID:        "webhooks",
		Primitive: "create or update admission webhook configurations: see and rewrite every object written, credentials and RBAC objects included",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			if !sc.Cluster() {
				return nil
			}
			const group = "admissionregistration.k8s.io"
			var reqs []request
			for _, res := range []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"} {
				for _, verb := range []string{"create", "update", "patch"} {
					reqs = append(reqs, request{verb: verb, group: group, resource: res})
				}
			}
			rule, r := firstRule(sc, rules, reqs...)
			if rule == nil {
				return nil
			}
			return []Grant{{Action: r.what(), Rule: rule, To: Dest{Kind: ToTarget, Name: string(ClusterAdmin)}}}
		},
	})
}
