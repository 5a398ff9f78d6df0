package paths

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// serviceWrites are the requests that set a Service's spec.externalIPs.
var serviceWrites = []request{
	{verb: "create", resource: "services"},
	{verb: "update", resource: "services"},
	{verb: "patch", resource: "services"},
}

func init() {
	addEdge(&EdgeKind{
		ID: "external-ips",
		Primitive: "create or update Services: claim any IP as a Service's external IP, and kube-proxy on every node sends that IP's traffic to it (CVE-2020-8554); " +
			"closed by the DenyServiceExternalIPs admission plugin, or for tenants by kguard's Tenancy plugin",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			// CVE-2020-8554 is first of all spec.externalIPs, which any
			// Service writer sets; the only upstream fix, DenyServiceExternalIPs,
			// is off by default (kubernetes pkg/kubeapiserver/options/plugins.go
			// defaultOnPlugins). Admission is not judged here: the path is
			// reported whether or not a plugin refuses external IPs.
			const how = ": claim any IP as an external IP (CVE-2020-8554)"
			if rule, r := firstRule(sc, rules, serviceWrites...); rule != nil {
				return []Grant{{Action: r.what() + how, Rule: rule, To: Dest{Kind: ToTarget, Name: string(Traffic)}}}
			}
			// An existing Service, named, takes external IPs as well.
			for i := range rules {
				for _, r := range serviceWrites[1:] {
					if _, names := r.names(sc, &rules[i]); len(names) > 0 {
						return []Grant{{Action: r.what() + " " + strings.Join(names, ", ") + how, Rule: &rules[i], To: Dest{Kind: ToTarget, Name: string(Traffic)}}}
					}
				}
			}
			return nil
		},
	})
}
