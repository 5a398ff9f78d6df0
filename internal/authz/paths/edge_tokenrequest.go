package paths

import rbacv1 "k8s.io/api/rbac/v1"

func init() {
	addEdge(&EdgeKind{
		ID:        "token-request",
		Primitive: "create serviceaccounts/token: mint a token of a ServiceAccount and act as it",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			token := request{verb: "create", resource: "serviceaccounts", sub: "token"}
			var out []Grant
			for i := range rules {
				all, names := token.names(sc, &rules[i])
				switch {
				case all && sc.Cluster():
					return []Grant{{Action: "create serviceaccounts/token", Rule: &rules[i], To: Dest{Kind: ToTarget, Name: string(Tokens)}}}
				case all:
					return []Grant{{Action: "create serviceaccounts/token", Rule: &rules[i], To: Dest{Kind: ToNamespaceSAs, Namespace: sc.Namespace}}}
				case !sc.Cluster():
					for _, n := range names {
						out = append(out, Grant{Action: "create serviceaccounts/token " + n, Rule: &rules[i], To: Dest{Kind: ToSA, Namespace: sc.Namespace, Name: n}})
					}
				default:
					// A TokenRequest is authorized with the ServiceAccount's
					// namespace and name: a ClusterRoleBinding's named rule
					// mints tokens for that name in every namespace.
					for _, n := range names {
						out = append(out, Grant{Action: "create serviceaccounts/token " + n + " in any namespace", Rule: &rules[i], To: Dest{Kind: ToNamedSAs, Name: n}})
					}
				}
			}
			return out
		},
	})
}
