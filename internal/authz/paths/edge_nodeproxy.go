package paths

import rbacv1 "k8s.io/api/rbac/v1"

func init() {
	addEdge(&EdgeKind{
		ID:        "node-proxy",
		Primitive: "nodes/proxy: the kubelet API, which runs commands in any pod of the node",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			if !sc.Cluster() {
				return nil
			}
			rule, r := firstRule(sc, rules, request{verb: "create", resource: "nodes", sub: "proxy"}, request{verb: "get", resource: "nodes", sub: "proxy"})
			if rule == nil {
				return nil
			}
			return []Grant{{Action: r.what(), Rule: rule, To: Dest{Kind: ToTarget, Name: string(Nodes)}}}
		},
	})
}
