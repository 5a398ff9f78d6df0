package paths

import rbacv1 "k8s.io/api/rbac/v1"

// workloads are the requests that run a pod of one's choosing.
var workloads = []request{
	{verb: "create", resource: "pods"},
	{verb: "create", group: "apps", resource: "deployments"},
	{verb: "create", group: "apps", resource: "daemonsets"},
	{verb: "create", group: "apps", resource: "statefulsets"},
	{verb: "create", group: "apps", resource: "replicasets"},
	{verb: "create", group: "batch", resource: "jobs"},
	{verb: "create", group: "batch", resource: "cronjobs"},
	{verb: "create", resource: "replicationcontrollers"},
}

func init() {
	addEdge(&EdgeKind{
		ID:        "workloads",
		Primitive: "create pods or workloads: run a pod with any ServiceAccount of the namespace (its token is mounted), and a privileged pod (node root) where admission allows one",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			rule, r := firstRule(sc, rules, workloads...)
			if rule == nil {
				return nil
			}
			action := r.what()
			sas := Dest{Kind: ToAllSAs}
			if !sc.Cluster() {
				sas = Dest{Kind: ToNamespaceSAs, Namespace: sc.Namespace}
			}
			return []Grant{
				{Action: action, Rule: rule, To: sas},
				{Action: action + " (privileged)", Rule: rule, To: Dest{Kind: ToPrivilegedPod, Namespace: sc.Namespace}},
			}
		},
	})
}
