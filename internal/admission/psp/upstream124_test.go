package psp

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// Today's authorizer.RuleResolver is this package's RuleResolver (declared
// here so that the engine builds against v1.24's apiserver too), so the
// PodSecurityPolicy plugin can pass the chain's rule resolver on.
var _ RuleResolver = authorizer.RuleResolver(nil)

// TestAppArmorPrefixIsUpstreams: the prefix spelled out for k8s.io/api v0.24
// is today's constant.
func TestAppArmorPrefixIsUpstreams(t *testing.T) {
	if appArmorContainerAnnotationPrefix != corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix {
		t.Errorf("appArmorContainerAnnotationPrefix = %q, k8s.io/api says %q",
			appArmorContainerAnnotationPrefix, corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix)
	}
}
