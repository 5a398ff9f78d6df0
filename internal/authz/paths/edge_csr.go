package paths

import (
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/user"
)

// clientSigners are the names under which approve on the API client signer is granted.
var clientSigners = []string{"kubernetes.io/kube-apiserver-client", "kubernetes.io/*"}

func init() {
	addEdge(&EdgeKind{
		ID:        "csr",
		Primitive: "create and approve CertificateSigningRequests for the API client signer: a client certificate for any user, ServiceAccount or group but system:masters",
		Find: func(sc Scope, rules []rbacv1.PolicyRule) []Grant {
			if !sc.Cluster() {
				return nil
			}
			const group = "certificates.k8s.io"
			create, _ := firstRule(sc, rules, request{verb: "create", group: group, resource: "certificatesigningrequests"})
			approval, _ := firstRule(sc, rules, request{verb: "update", group: group, resource: "certificatesigningrequests", sub: "approval"})
			if create == nil || approval == nil {
				return nil
			}
			approve := request{verb: "approve", group: group, resource: "signers"}
			for i := range rules {
				for _, signer := range clientSigners {
					if approve.allows(sc, &rules[i], signer) {
						// The certificate names any user (a ServiceAccount's
						// user name included: RBAC matches it) and any group
						// but system:masters, which the default-on
						// CertificateSubjectRestriction plugin refuses for
						// this signer (kubernetes
						// plugin/pkg/admission/certificates/subjectrestriction).
						const action = "create and approve certificatesigningrequests: a client certificate for "
						return []Grant{
							{Action: action + "any user", Rule: approval, To: Dest{Kind: ToUser}},
							{Action: action + "any ServiceAccount's user name", Rule: approval, To: Dest{Kind: ToAllSAs}},
							{Action: action + "any group but " + user.SystemPrivilegedGroup, Rule: approval, To: Dest{Kind: ToGroupsButMasters}},
						}
					}
				}
			}
			return nil
		},
	})
}
