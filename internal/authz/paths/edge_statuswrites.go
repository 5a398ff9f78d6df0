package paths

import rbacv1 "k8s.io/api/rbac/v1"

// statusWrites are the status writes that redirect other workloads'
// traffic, each with how.
var statusWrites = []struct {
	req request
	how string
}{
	// CVE-2020-8554: a LoadBalancer ingress IP in a Service's status is
	// routed to that Service by every node's kube-proxy, whoever owns the IP.
	{request{verb: "patch", resource: "services/status"}, "claim any IP for a Service (CVE-2020-8554)"},
	{request{verb: "update", resource: "services/status"}, "claim any IP for a Service (CVE-2020-8554)"},
	// A pod's IP and readiness decide which endpoints a Service sends to.
	{request{verb: "patch", resource: "pods/status"}, "rewrite a pod's IP or readiness, so that Services send to a chosen address"},
	{request{verb: "update", resource: "pods/status"}, "rewrite a pod's IP or readiness, so that Services send to a chosen address"},
	// A node's addresses are where kube-apiserver sends exec, attach and
	// log requests for the node's pods.
	{request{verb: "patch", resource: "nodes/status"}, "rewrite a node's addresses, so that kube-apiserver's exec and log connections go to a chosen address"},
	{request{verb: "update", resource: "nodes/status"}, "rewrite a node's addresses, so that kube-apiserver's exec and log connections go to a chosen address"},
}

func init() {
	addEdge(&EdgeKind{
		ID:        "status-writes",
		Primitive: "write Service, pod or node status: redirect other workloads' traffic (CVE-2020-8554) or kube-apiserver's connections to the kubelets",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			var out []Grant
			seen := map[string]bool{}
			for _, w := range statusWrites {
				if seen[w.req.resource] {
					continue
				}
				if w.req.resource == "nodes/status" && !sc.Cluster() {
					continue // nodes are cluster-scoped
				}
				rule, r := firstRule(sc, rules, w.req)
				if rule == nil {
					continue
				}
				seen[w.req.resource] = true
				out = append(out, Grant{Action: r.what() + ": " + w.how, Rule: rule, To: Dest{Kind: ToTarget, Name: string(Traffic)}})
			}
			return out
		},
	})
}
