package paths

import rbacv1 "k8s.io/api/rbac/v1"

// statusWrites are the status subresources whose patch or update redirects
// other workloads' traffic, each with how.
var statusWrites = []struct {
	resource, how string
	cluster       bool // cluster-scoped: only a ClusterRoleBinding's rules count
}{
	// CVE-2020-8554: a LoadBalancer ingress IP in a Service's status is
	// routed to that Service by every node's kube-proxy, whoever owns the IP.
	{"services/status", "claim any IP for a Service (CVE-2020-8554)", false},
	// A pod's IP and readiness decide which endpoints a Service sends to.
	{"pods/status", "rewrite a pod's IP or readiness, so that Services send to a chosen address", false},
	// A node's addresses are where kube-apiserver sends exec, attach and
	// log requests for the node's pods.
	{"nodes/status", "rewrite a node's addresses, so that kube-apiserver's exec and log connections go to a chosen address", true},
}

func init() {
	addEdge(&EdgeKind{
		ID:        "status-writes",
		Primitive: "write Service, pod or node status: redirect other workloads' traffic (CVE-2020-8554) or kube-apiserver's connections to the kubelets",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			var out []Grant
			for _, w := range statusWrites {
				if w.cluster && !sc.Cluster() {
					continue
				}
				rule, r := firstRule(sc, rules, request{verb: "patch", resource: w.resource}, request{verb: "update", resource: w.resource})
				if rule == nil {
					continue
				}
				out = append(out, Grant{Action: r.what() + ": " + w.how, Rule: rule, To: Dest{Kind: ToTarget, Name: string(Traffic)}})
			}
			return out
		},
	})
}
