package imagepolicy

import "github.com/kguard/kguard/pkg/apis/sigstore"

// The policy.sigstore.dev objects the engine compiles (pkg/apis/sigstore).
type (
	ClusterImagePolicy      = sigstore.ClusterImagePolicy
	AuthoritySpec           = sigstore.AuthoritySpec
	TrustRoot               = sigstore.TrustRoot
	TransparencyLogInstance = sigstore.TransparencyLogInstance
)

// APIGroup is policy-controller's API group.
const APIGroup = sigstore.GroupName
