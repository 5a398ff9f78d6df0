package analysis

import "github.com/kguard/kguard/internal/authz/rbac"

func init() {
	addCheck(&Check{
		ID: "KG008", Severity: High, Title: "may run workloads in kube-system", Subsumed: true,
		Help: "Pods in kube-system can mount the control plane's ServiceAccounts and secrets; creating pods or workloads there is a path to cluster-admin.",
		Evaluate: func(g *rbac.Grant) []Hit {
			if g.Namespace != "" && g.Namespace != "kube-system" {
				return nil
			}
			kube := *g
			kube.Namespace = "kube-system"
			c := []string{"create"}
			out := hits(&kube,
				target{verbs: c, resource: "pods"}, target{verbs: c, resource: "replicationcontrollers"},
				target{verbs: c, group: "apps", resource: "deployments"}, target{verbs: c, group: "apps", resource: "daemonsets"},
				target{verbs: c, group: "apps", resource: "statefulsets"}, target{verbs: c, group: "apps", resource: "replicasets"},
				target{verbs: c, group: "batch", resource: "jobs"}, target{verbs: c, group: "batch", resource: "cronjobs"})
			return out
		},
	})
}
