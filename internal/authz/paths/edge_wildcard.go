package paths

import rbacv1 "k8s.io/api/rbac/v1"

// wildcardID is the edge kind that makes a role's other edges redundant.
const wildcardID = "wildcard"

func init() {
	addEdge(&EdgeKind{
		ID:        wildcardID,
		Primitive: "every verb on every resource of every API group cluster-wide: cluster-admin itself",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			if !sc.Cluster() {
				return nil
			}
			// A verb, group and resource no rule names: only wildcards allow them.
			every := request{verb: "\x00verb", group: "\x00group", resource: "\x00resource"}
			if rule, _ := firstRule(sc, rules, every); rule != nil {
				return []Grant{{Action: "* on *", Rule: rule, To: Dest{Kind: ToTarget, Name: string(ClusterAdmin)}}}
			}
			return nil
		},
	})
}
