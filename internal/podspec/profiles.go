package podspec

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// Seccomp and AppArmor profiles are spelt two ways: the annotations of
// v1.24 and earlier (which PodSecurityPolicy reads and writes) and the
// securityContext fields of today's clusters (which the kubelet reads).

// SeccompProfileOf is the seccompProfile field for a seccomp annotation
// value, as kube-apiserver's SeccompFieldForAnnotation maps it (nil for none:
// an empty or unknown value, "localhost/" without a name).
func SeccompProfileOf(annotation string) *corev1.SeccompProfile {
	switch v := annotation; {
	case v == corev1.SeccompProfileRuntimeDefault || v == corev1.DeprecatedSeccompProfileDockerDefault:
		return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	case v == corev1.SeccompProfileNameUnconfined:
		return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
	case strings.HasPrefix(v, corev1.SeccompLocalhostProfileNamePrefix) && len(v) > len(corev1.SeccompLocalhostProfileNamePrefix):
		name := strings.TrimPrefix(v, corev1.SeccompLocalhostProfileNamePrefix)
		return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &name}
	}
	return nil
}

// SyncSeccompFields sets the seccompProfile field of the pod and of each of
// its containers from their seccomp annotation where the field is unset, as
// kube-apiserver v1.19 to v1.26 did to every pod it created
// (applySeccompVersionSkew, before validating admission). A field already
// set is kept (kube-apiserver refuses a pod whose annotation and field
// differ); the annotations are kept too.
func SyncSeccompFields(pod *corev1.Pod) {
	if f := SeccompProfileOf(pod.Annotations[corev1.SeccompPodAnnotationKey]); f != nil {
		if pod.Spec.SecurityContext == nil {
			pod.Spec.SecurityContext = &corev1.PodSecurityContext{}
		}
		if pod.Spec.SecurityContext.SeccompProfile == nil {
			pod.Spec.SecurityContext.SeccompProfile = f
		}
	}
	EachContainer(&pod.Spec, func(c *corev1.Container) {
		f := SeccompProfileOf(pod.Annotations[corev1.SeccompContainerAnnotationKeyPrefix+c.Name])
		if f == nil || c.SecurityContext != nil && c.SecurityContext.SeccompProfile != nil {
			return
		}
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		c.SecurityContext.SeccompProfile = f
	})
}

// AppArmorProfileOf is the appArmorProfile field for an AppArmor annotation
// value, nil for one with no field (kube-apiserver then keeps the
// annotation alone).
func AppArmorProfileOf(annotation string) *corev1.AppArmorProfile {
	switch v := annotation; {
	case v == corev1.DeprecatedAppArmorBetaProfileRuntimeDefault:
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
	case v == corev1.DeprecatedAppArmorBetaProfileNameUnconfined:
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
	case strings.HasPrefix(v, corev1.DeprecatedAppArmorBetaProfileNamePrefix) && len(v) > len(corev1.DeprecatedAppArmorBetaProfileNamePrefix):
		name := strings.TrimPrefix(v, corev1.DeprecatedAppArmorBetaProfileNamePrefix)
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: &name}
	}
	return nil
}

// SyncAppArmorFields sets the appArmorProfile field of each container from
// its AppArmor annotation where the field is unset and the annotation says
// another profile than the pod's field, as kube-apiserver v1.30+ does to a
// pod it creates (applyAppArmorVersionSkew); Windows pods are left alone, as
// it leaves them. The annotations are kept.
func SyncAppArmorFields(pod *corev1.Pod) {
	if pod.Spec.OS != nil && pod.Spec.OS.Name == corev1.Windows {
		return
	}
	var podProfile *corev1.AppArmorProfile
	if pod.Spec.SecurityContext != nil {
		podProfile = pod.Spec.SecurityContext.AppArmorProfile
	}
	EachContainer(&pod.Spec, func(c *corev1.Container) {
		v, ok := pod.Annotations[corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+c.Name]
		if !ok || c.SecurityContext != nil && c.SecurityContext.AppArmorProfile != nil {
			return
		}
		f := AppArmorProfileOf(v)
		if f == nil || equality.Semantic.DeepEqual(f, podProfile) {
			return
		}
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		c.SecurityContext.AppArmorProfile = f
	})
}

// AppArmorAnnotationOf is the annotation value for an appArmorProfile field
// ("" for one that names no profile: Localhost without a name, an unknown
// type).
func AppArmorAnnotationOf(f *corev1.AppArmorProfile) string {
	switch f.Type {
	case corev1.AppArmorProfileTypeRuntimeDefault:
		return corev1.DeprecatedAppArmorBetaProfileRuntimeDefault
	case corev1.AppArmorProfileTypeUnconfined:
		return corev1.DeprecatedAppArmorBetaProfileNameUnconfined
	case corev1.AppArmorProfileTypeLocalhost:
		if f.LocalhostProfile != nil && *f.LocalhostProfile != "" {
			return corev1.DeprecatedAppArmorBetaProfileNamePrefix + *f.LocalhostProfile
		}
	}
	return ""
}

// EachContainer calls fn with each init, regular and ephemeral container of
// spec, in that order.
func EachContainer(spec *corev1.PodSpec, fn func(*corev1.Container)) {
	for i := range spec.InitContainers {
		fn(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		fn(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		fn((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
}
