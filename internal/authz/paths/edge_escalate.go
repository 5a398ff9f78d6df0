package paths

import rbacv1 "k8s.io/api/rbac/v1"

func init() {
	addEdge(&EdgeKind{
		ID:        "escalate",
		Primitive: "escalate with update or patch on ClusterRoles: add any rule to a ClusterRole one is bound to, which escalation prevention lets through",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			if !sc.Cluster() {
				return nil
			}
			rule, _ := firstRule(sc, rules, request{verb: "escalate", group: rbacv1.GroupName, resource: "clusterroles"})
			if rule == nil {
				return nil
			}
			if edit, _ := firstRule(sc, rules,
				request{verb: "update", group: rbacv1.GroupName, resource: "clusterroles"},
				request{verb: "patch", group: rbacv1.GroupName, resource: "clusterroles"}); edit == nil {
				return nil
			}
			return []Grant{{Action: "escalate and update clusterroles", Rule: rule, To: Dest{Kind: ToTarget, Name: string(ClusterAdmin)}}}
		},
	})
}
