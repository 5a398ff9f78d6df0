package analysis

import (
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/authz/rbac"
)

// clientSigner issues the client certificates the API server trusts.
const clientSigner = "kubernetes.io/kube-apiserver-client"

func init() {
	addCheck(&Check{
		ID: "KG016", Severity: Critical, Title: "may approve API client certificates", Subsumed: true,
		Help: "update on certificatesigningrequests/approval together with approve on the signer " + clientSigner + " lets a subject approve its own CertificateSigningRequest for any user and group, system:masters included: a client certificate with cluster-admin power that RBAC cannot revoke. Restrict approve to the signers the subject must handle (resourceNames).",
		Evaluate: func(g *rbac.Grant) []Hit {
			if g.Namespace != "" {
				return nil // both resources are cluster-scoped
			}
			approval := target{verbs: []string{"update"}, group: "certificates.k8s.io", resource: "certificatesigningrequests", sub: "approval", cluster: true}
			var approves, signs bool
			for i := range g.Rules {
				approves = approves || len(allowedVerbs(g, &g.Rules[i], approval)) > 0
				signs = signs || signerApproved(&g.Rules[i])
			}
			if !approves || !signs {
				return nil
			}
			return []Hit{{Message: who(g) + " can update certificatesigningrequests/approval and approve signer " + clientSigner +
				": it can issue itself a client certificate for any user, e.g. a member of system:masters"}}
		},
	})
}

// signerApproved reports whether rule allows approve on the client signer, as
// the API server checks it: by the signer's name or its domain wildcard.
func signerApproved(rule *rbacv1.PolicyRule) bool {
	for _, name := range []string{clientSigner, "kubernetes.io/*"} {
		attrs := authorizer.AttributesRecord{
			User: &user.DefaultInfo{Name: "kguard:audit"}, Verb: "approve", APIGroup: "certificates.k8s.io",
			Resource: "signers", Name: name, ResourceRequest: true,
		}
		if rbac.RuleAllows(attrs, rule) {
			return true
		}
	}
	return false
}
