package paths

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// workloadUpdates are the requests that change the pod template of an
// existing pod controller: its next pods run what the template now says.
var workloadUpdates = func() []request {
	var out []request
	for _, w := range workloads {
		if w.resource == "pods" {
			continue
		}
		for _, verb := range []string{"patch", "update"} {
			out = append(out, request{verb: verb, group: w.group, resource: w.resource})
		}
	}
	return out
}()

// podUpdates change a running pod's container images (the only part of its
// spec, with tolerations and activeDeadlineSeconds, an update may change).
var podUpdates = []request{{verb: "patch", resource: "pods"}, {verb: "update", resource: "pods"}}

func init() {
	addEdge(&EdgeKind{
		ID: "workload-updates",
		Primitive: "patch or update pod controllers (a new template: any ServiceAccount of the namespace, and a privileged pod where admission allows one) " +
			"or pods (a new image runs as the pod's ServiceAccount)",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			var out []Grant
			if rule, action := workloadUpdate(sc, rules); rule != nil {
				sas := Dest{Kind: ToAllSAs}
				if !sc.Cluster() {
					sas = Dest{Kind: ToNamespaceSAs, Namespace: sc.Namespace}
				}
				out = append(out,
					Grant{Action: action, Rule: rule, To: sas},
					Grant{Action: action + " (privileged template)", Rule: rule, To: Dest{Kind: ToPrivilegedPod, Namespace: sc.Namespace}})
			}
			if rule, r := firstRule(sc, rules, podUpdates...); rule != nil {
				out = append(out, Grant{Action: r.what() + " (container images)", Rule: rule, To: Dest{Kind: ToPodSAs, Namespace: sc.Namespace}})
			}
			return out
		},
	})
}

// workloadUpdate returns the first rule that lets one rewrite a pod
// controller's template, with the action: on every object, else on the
// controllers its resourceNames list. One named controller is enough: its
// template may name any ServiceAccount of the namespace (ServiceAccount
// admission only checks that it exists) and ask for a privileged pod.
func workloadUpdate(sc Scope, rules []rbacv1.PolicyRule) (*rbacv1.PolicyRule, string) {
	if rule, r := firstRule(sc, rules, workloadUpdates...); rule != nil {
		return rule, r.what()
	}
	for i := range rules {
		for _, r := range workloadUpdates {
			if _, names := r.names(sc, &rules[i]); len(names) > 0 {
				return &rules[i], r.what() + " " + strings.Join(names, ", ")
			}
		}
	}
	return nil, ""
}
