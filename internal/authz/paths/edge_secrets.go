package paths

import rbacv1 "k8s.io/api/rbac/v1"

func init() {
	addEdge(&EdgeKind{
		ID:        "secrets",
		Primitive: "get, list or watch secrets: read the ServiceAccount token Secrets (and every other secret) of a namespace",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			// A watch without resourceVersion starts with an ADDED event,
			// data included, for every existing object
			// (https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-watch):
			// it reads as list does.
			rule, r := firstRule(sc, rules, request{verb: "list", resource: "secrets"}, request{verb: "get", resource: "secrets"}, request{verb: "watch", resource: "secrets"})
			if rule == nil {
				return nil
			}
			if sc.Cluster() {
				return []Grant{{Action: r.what(), Rule: rule, To: Dest{Kind: ToTarget, Name: string(Secrets)}}}
			}
			return []Grant{{Action: r.what(), Rule: rule, To: Dest{Kind: ToNamespaceSAs, Namespace: sc.Namespace}}}
		},
	})
}
