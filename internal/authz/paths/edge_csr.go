package paths

import rbacv1 "k8s.io/api/rbac/v1"

// clientSigners are the names under which approve on the API client signer is granted.
var clientSigners = []string{"kubernetes.io/kube-apiserver-client", "kubernetes.io/*"}

func init() {
	addEdge(&EdgeKind{
		ID:        "csr",
		Primitive: "create and approve CertificateSigningRequests for the API client signer: a client certificate for a member of system:masters",
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
						return []Grant{{Action: "create and approve certificatesigningrequests", Rule: approval, To: Dest{Kind: ToTarget, Name: string(ClusterAdmin)}}}
					}
				}
			}
			return nil
		},
	})
}
