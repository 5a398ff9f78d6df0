package paths

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

const admissionGroup = "admissionregistration.k8s.io"

func init() {
	addEdge(&EdgeKind{
		ID: "webhooks",
		Primitive: "create or update admission webhook configurations, or write mutating admission policies and their bindings: " +
			"see and rewrite every object written, credentials and RBAC objects included",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			if !sc.Cluster() {
				return nil
			}
			for _, res := range []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"} {
				if rule, action := admissionWrite(sc, rules, res); rule != nil {
					return []Grant{{Action: action, Rule: rule, To: Dest{Kind: ToTarget, Name: string(ClusterAdmin)}}}
				}
			}
			// A MutatingAdmissionPolicy (GA and on by default since v1.36,
			// kubernetes pkg/features/kube_features.go) rewrites the objects
			// it matches as a mutating webhook does, once a binding selects
			// it: writing both is writing a webhook. A policy alone, even
			// an existing one rewritten, does not count: what it reaches
			// depends on bindings the input need not show.
			policy, action := admissionWrite(sc, rules, "mutatingadmissionpolicies")
			if policy == nil {
				return nil
			}
			if binding, bindAction := admissionWrite(sc, rules, "mutatingadmissionpolicybindings"); binding != nil {
				return []Grant{{Action: action + " and " + bindAction, Rule: policy, To: Dest{Kind: ToTarget, Name: string(ClusterAdmin)}}}
			}
			return nil
		},
	})
}

// admissionWrite returns the first rule that lets one write an admission
// configuration of resource, with the action: create (of any name), or
// update or patch of every object or of the names its resourceNames list,
// since an existing configuration rewritten (its rules, a webhook's
// clientConfig, a policy's mutations) does what a new one does.
func admissionWrite(sc Scope, rules []rbacv1.PolicyRule, resource string) (*rbacv1.PolicyRule, string) {
	reqs := []request{
		{verb: "create", group: admissionGroup, resource: resource},
		{verb: "update", group: admissionGroup, resource: resource},
		{verb: "patch", group: admissionGroup, resource: resource},
	}
	if rule, r := firstRule(sc, rules, reqs...); rule != nil {
		return rule, r.what()
	}
	for i := range rules {
		for _, r := range reqs[1:] {
			if _, names := r.names(sc, &rules[i]); len(names) > 0 {
				return &rules[i], r.what() + " " + strings.Join(names, ", ")
			}
		}
	}
	return nil, ""
}
