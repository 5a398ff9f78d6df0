package analysis

import "github.com/kguard/kguard/internal/authz/rbac"

func init() {
	addCheck(&Check{
		ID: "KG017", Severity: High, Title: "may create PersistentVolumes", Subsumed: true,
		Help: "A PersistentVolume may be a hostPath volume: bound to a claim, it mounts any path of the node (/, /etc/kubernetes, the kubelet's credentials) into a pod, even where Pod Security admission forbids hostPath volumes in pods. Leave PersistentVolume creation to provisioners.",
		Evaluate: func(g *rbac.Grant) []Hit {
			out := hits(g, target{verbs: []string{"create"}, resource: "persistentvolumes", cluster: true})
			for i := range out {
				out[i].Message += ": a hostPath PersistentVolume mounts any node path into a pod"
			}
			return out
		},
	})
}
