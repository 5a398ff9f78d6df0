package paths

import rbacv1 "k8s.io/api/rbac/v1"

func init() {
	addEdge(&EdgeKind{
		ID:        "bind",
		Primitive: "bind on ClusterRoles with create on ClusterRoleBindings: bind oneself to cluster-admin, which escalation prevention lets through",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			if !sc.Cluster() {
				return nil
			}
			bind := request{verb: "bind", group: rbacv1.GroupName, resource: "clusterroles"}
			var rule *rbacv1.PolicyRule
			for i := range rules {
				if bind.allows(sc, &rules[i], "cluster-admin") {
					rule = &rules[i]
					break
				}
			}
			if rule == nil {
				return nil
			}
			if crb, _ := firstRule(sc, rules, request{verb: "create", group: rbacv1.GroupName, resource: "clusterrolebindings"}); crb == nil {
				return nil
			}
			return []Grant{{Action: "bind ClusterRole cluster-admin and create clusterrolebindings", Rule: rule, To: Dest{Kind: ToTarget, Name: string(ClusterAdmin)}}}
		},
	})
}
