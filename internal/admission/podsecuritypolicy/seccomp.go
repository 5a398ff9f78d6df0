package podsecuritypolicy

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// syncSeccompFields sets the seccompProfile field of the pod and of each of
// its containers from their seccomp annotation where the field is unset, as
// kube-apiserver v1.19 to v1.26 did to every pod it created
// (applySeccompVersionSkew, before validating admission). From v1.27 the API
// server no longer does, and the kubelet ignores the annotations: a policy's
// default profile (which v1.24's engine writes as the pod's annotation) and
// a profile a policy allows because the pod names it by annotation would
// otherwise not run, and the pod would run without the profile the policy
// admitted it with. A field already set is kept (kube-apiserver refuses a
// pod whose annotation and field differ); the annotations are kept too.
func syncSeccompFields(pod *corev1.Pod) {
	if f := seccompField(pod.Annotations[corev1.SeccompPodAnnotationKey]); f != nil {
		if pod.Spec.SecurityContext == nil {
			pod.Spec.SecurityContext = &corev1.PodSecurityContext{}
		}
		if pod.Spec.SecurityContext.SeccompProfile == nil {
			pod.Spec.SecurityContext.SeccompProfile = f
		}
	}
	sync := func(c *corev1.Container) {
		f := seccompField(pod.Annotations[corev1.SeccompContainerAnnotationKeyPrefix+c.Name])
		if f == nil || c.SecurityContext != nil && c.SecurityContext.SeccompProfile != nil {
			return
		}
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		c.SecurityContext.SeccompProfile = f
	}
	eachContainer(&pod.Spec, sync)
}

// eachContainer calls fn with each init, regular and ephemeral container of
// spec, in that order.
func eachContainer(spec *corev1.PodSpec, fn func(*corev1.Container)) {
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

// seccompField is the field for an annotation value, as v1.24's
// SeccompFieldForAnnotation maps it (nil: none, or no annotation).
func seccompField(v string) *corev1.SeccompProfile {
	switch {
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
