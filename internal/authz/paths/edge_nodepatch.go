package paths

import rbacv1 "k8s.io/api/rbac/v1"

func init() {
	addEdge(&EdgeKind{
		ID:        "node-patch",
		Primitive: "patch or update nodes: relabel and taint nodes to draw chosen pods onto a node one controls, or take them off others",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			if !sc.Cluster() {
				return nil
			}
			rule, r := firstRule(sc, rules, request{verb: "patch", resource: "nodes"}, request{verb: "update", resource: "nodes"})
			if rule == nil {
				return nil
			}
			return []Grant{{Action: r.what(), Rule: rule, To: Dest{Kind: ToTarget, Name: string(Nodes)}}}
		},
	})
}
