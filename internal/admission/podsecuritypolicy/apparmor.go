package podsecuritypolicy

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// syncAppArmorFields sets the appArmorProfile field of each container of
// after whose AppArmor annotation the policy added (absent from before), as
// kube-apiserver >= 1.30 syncs an annotation to the field on create — but
// before it does, so that it does not warn the user about an annotation the
// user never wrote. A container that has the field, or whose profile is the
// pod's, is left alone, as the API server leaves it.
func syncAppArmorFields(before, after *corev1.Pod) {
	var podProfile *corev1.AppArmorProfile
	if after.Spec.SecurityContext != nil {
		podProfile = after.Spec.SecurityContext.AppArmorProfile
	}
	sync := func(c *corev1.Container) {
		key := corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix + c.Name
		v, added := after.Annotations[key]
		if _, had := before.Annotations[key]; !added || had {
			return
		}
		if c.SecurityContext != nil && c.SecurityContext.AppArmorProfile != nil {
			return
		}
		f := appArmorField(v)
		if f == nil || equality.Semantic.DeepEqual(f, podProfile) {
			return
		}
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		c.SecurityContext.AppArmorProfile = f
	}
	eachContainer(&after.Spec, sync)
}

// appArmorField is the field for an annotation value, nil for one with no
// field (kube-apiserver then keeps the annotation alone, and so does kguard).
func appArmorField(v string) *corev1.AppArmorProfile {
	switch {
	case v == corev1.DeprecatedAppArmorBetaProfileRuntimeDefault:
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
	case v == corev1.DeprecatedAppArmorBetaProfileNameUnconfined:
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
	case strings.HasPrefix(v, corev1.DeprecatedAppArmorBetaProfileNamePrefix):
		name := strings.TrimPrefix(v, corev1.DeprecatedAppArmorBetaProfileNamePrefix)
		if name == "" {
			return nil
		}
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: &name}
	}
	return nil
}
