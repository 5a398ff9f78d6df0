package paths

import (
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
)

func init() {
	addEdge(&EdgeKind{
		ID:        "impersonate",
		Primitive: "impersonate users, groups or ServiceAccounts: act with the impersonated identity's permissions; the group system:masters is cluster-admin",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			var out, groupGrants []Grant
			// Impersonate-Group without Impersonate-User is refused
			// ("requested ... without impersonating a user", k8s.io/apiserver
			// pkg/endpoints/filters/impersonation/impersonation.go
			// buildImpersonationRequests): groups count only when the role
			// also lets one impersonate some user or ServiceAccount.
			someUser := false
			users := request{verb: "impersonate", resource: "users"}
			groups := request{verb: "impersonate", resource: "groups"}
			sas := request{verb: "impersonate", resource: "serviceaccounts"}
			for i := range rules {
				rule := &rules[i]
				if sc.Cluster() {
					all, names := groups.names(sc, rule)
					if all || contains(names, user.SystemPrivilegedGroup) {
						groupGrants = append(groupGrants, Grant{Action: "impersonate group " + user.SystemPrivilegedGroup, Rule: rule, To: Dest{Kind: ToTarget, Name: string(ClusterAdmin)}})
					}
					if all {
						groupGrants = append(groupGrants, Grant{Action: "impersonate any group", Rule: rule, To: Dest{Kind: ToGroup}})
					}
					for _, n := range names {
						if n != user.SystemPrivilegedGroup {
							groupGrants = append(groupGrants, Grant{Action: "impersonate group " + n, Rule: rule, To: Dest{Kind: ToGroup, Name: n}})
						}
					}
					all, names = users.names(sc, rule)
					if all {
						someUser = true
						out = append(out, Grant{Action: "impersonate any user", Rule: rule, To: Dest{Kind: ToUser}})
					}
					for _, n := range names {
						if _, _, err := serviceaccount.SplitUsername(n); err == nil {
							// The header Impersonate-User:
							// system:serviceaccount:NS:NAME is authorized as
							// impersonate on serviceaccounts NS/NAME, never
							// on users (impersonation.go
							// buildImpersonationRequests): this name grants
							// nothing.
							continue
						}
						someUser = true
						out = append(out, Grant{Action: "impersonate user " + n, Rule: rule, To: Dest{Kind: ToUser, Name: n}})
					}
				}
				all, names := sas.names(sc, rule)
				if all || len(names) > 0 {
					someUser = true
				}
				switch {
				case all && sc.Cluster():
					out = append(out, Grant{Action: "impersonate serviceaccounts", Rule: rule, To: Dest{Kind: ToAllSAs}})
				case all:
					out = append(out, Grant{Action: "impersonate serviceaccounts", Rule: rule, To: Dest{Kind: ToNamespaceSAs, Namespace: sc.Namespace}})
				case !sc.Cluster():
					for _, n := range names {
						out = append(out, Grant{Action: "impersonate serviceaccount " + n, Rule: rule, To: Dest{Kind: ToSA, Namespace: sc.Namespace, Name: n}})
					}
				default:
					// The check names the ServiceAccount's namespace: a
					// ClusterRoleBinding's name is that name in every namespace.
					for _, n := range names {
						out = append(out, Grant{Action: "impersonate serviceaccount " + n + " in any namespace", Rule: rule, To: Dest{Kind: ToNamedSAs, Name: n}})
					}
				}
			}
			if !someUser {
				return out
			}
			return append(groupGrants, out...)
		},
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
