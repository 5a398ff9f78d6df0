package paths

import rbacv1 "k8s.io/api/rbac/v1"

func init() {
	addEdge(&EdgeKind{
		ID:        "exec",
		Primitive: "create pods/exec or pods/attach, or update pods/ephemeralcontainers: run commands in a running pod and read its ServiceAccount token",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			rule, r := firstRule(sc, rules,
				request{verb: "create", resource: "pods", sub: "exec"},
				request{verb: "create", resource: "pods", sub: "attach"},
				request{verb: "update", resource: "pods", sub: "ephemeralcontainers"},
				request{verb: "patch", resource: "pods", sub: "ephemeralcontainers"})
			if rule == nil {
				return nil
			}
			return []Grant{{Action: r.what(), Rule: rule, To: Dest{Kind: ToPodSAs, Namespace: sc.Namespace}}}
		},
	})
}
