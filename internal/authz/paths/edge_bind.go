package paths

import rbacv1 "k8s.io/api/rbac/v1"

func init() {
	addEdge(&EdgeKind{
		ID:        "bind",
		Primitive: "bind on ClusterRoles with create on ClusterRoleBindings (or update of the one binding cluster-admin): bind oneself to cluster-admin, which escalation prevention lets through",
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
			if crb, _ := firstRule(sc, rules, request{verb: "create", group: rbacv1.GroupName, resource: "clusterrolebindings"}); crb != nil {
				return []Grant{{Action: "bind ClusterRole cluster-admin and create clusterrolebindings", Rule: rule, To: Dest{Kind: ToTarget, Name: string(ClusterAdmin)}}}
			}
			// An update runs the same bind check as a create (kubernetes
			// pkg/registry/rbac/clusterrolebinding/policybased/storage.go
			// Update), so adding oneself to the subjects of a binding of
			// cluster-admin is binding it. roleRef is immutable: only a
			// binding that already binds cluster-admin helps, and every
			// cluster has one, the ClusterRoleBinding cluster-admin.
			for _, verb := range []string{"update", "patch"} {
				edit := request{verb: verb, group: rbacv1.GroupName, resource: "clusterrolebindings"}
				for i := range rules {
					if edit.allows(sc, &rules[i], "cluster-admin") {
						return []Grant{{Action: "bind ClusterRole cluster-admin and " + verb + " clusterrolebinding cluster-admin", Rule: rule, To: Dest{Kind: ToTarget, Name: string(ClusterAdmin)}}}
					}
				}
			}
			return nil
		},
	})
}
