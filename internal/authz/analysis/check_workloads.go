package analysis

import "github.com/kguard/kguard/internal/authz/rbac"

func init() {
	addCheck(&Check{
		ID: "KG013", Severity: High, Title: "may rewrite workloads cluster-wide", Subsumed: true,
		Help: "Patching or updating Deployments, DaemonSets, StatefulSets, ReplicaSets, Jobs, CronJobs or ReplicationControllers in every namespace changes the pod template they run: any image, any ServiceAccount of the namespace, and a privileged or hostPath pod (node compromise) wherever Pod Security admission does not stop it. Grant it in the namespaces that need it, through RoleBindings.",
		Evaluate: func(g *rbac.Grant) []Hit {
			if g.Namespace != "" {
				return nil
			}
			w := []string{"patch", "update"}
			out := hits(g,
				target{verbs: w, group: "apps", resource: "deployments"}, target{verbs: w, group: "apps", resource: "daemonsets"},
				target{verbs: w, group: "apps", resource: "statefulsets"}, target{verbs: w, group: "apps", resource: "replicasets"},
				target{verbs: w, group: "batch", resource: "jobs"}, target{verbs: w, group: "batch", resource: "cronjobs"},
				target{verbs: w, resource: "replicationcontrollers"})
			for i := range out {
				out[i].Message += ": it can run any pod in any namespace, privileged ones included where Pod Security admission allows them"
			}
			return out
		},
	})
}
