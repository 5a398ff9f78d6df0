package podsecuritypolicy

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/kguard/kguard/internal/podspec"
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
		f := podspec.AppArmorProfileOf(v)
		if f == nil || equality.Semantic.DeepEqual(f, podProfile) {
			return
		}
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		c.SecurityContext.AppArmorProfile = f
	}
	podspec.EachContainer(&after.Spec, sync)
}

// appArmorView is the pod as v1.24's engine must see it to judge AppArmor:
// the engine reads a container's profile from its annotation only, which was
// all there was, but since v1.30 a pod sets it with the appArmorProfile field
// (the container's, else the pod's) and kube-apiserver v1.37 never writes
// the annotation for it (it syncs the annotation to the field, not back). So
// a container whose field says a profile and whose annotation is absent
// gets, in the view, the annotation that says the same profile: the policy
// judges the profile the container runs with, and does not default another
// one over it. The view is a shallow copy with its own annotations (the pod
// itself when nothing is added); synthesized are the keys added, which
// dropAnnotations takes out of the result. Windows pods are left alone, as
// kube-apiserver leaves their AppArmor alone.
func appArmorView(pod *corev1.Pod) (*corev1.Pod, []string) {
	spec := &pod.Spec
	if spec.OS != nil && spec.OS.Name == corev1.Windows {
		return pod, nil
	}
	var podProfile *corev1.AppArmorProfile
	if spec.SecurityContext != nil {
		podProfile = spec.SecurityContext.AppArmorProfile
	}
	var added map[string]string
	podspec.EachContainer(spec, func(c *corev1.Container) {
		profile := podProfile
		if c.SecurityContext != nil && c.SecurityContext.AppArmorProfile != nil {
			profile = c.SecurityContext.AppArmorProfile
		}
		if profile == nil {
			return
		}
		key := corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix + c.Name
		if _, ok := pod.Annotations[key]; ok {
			return // kube-apiserver refuses an annotation the field contradicts
		}
		if v := podspec.AppArmorAnnotationOf(profile); v != "" {
			if added == nil {
				added = map[string]string{}
			}
			added[key] = v
		}
	})
	if len(added) == 0 {
		return pod, nil
	}
	view := *pod
	view.Annotations = make(map[string]string, len(pod.Annotations)+len(added))
	for k, v := range pod.Annotations {
		view.Annotations[k] = v
	}
	keys := make([]string, 0, len(added))
	for k, v := range added {
		view.Annotations[k] = v
		keys = append(keys, k)
	}
	return &view, keys
}

// dropAnnotations takes the view's synthesized keys out of the engine's
// result, which is not the request's pod (its annotations are the view's
// or a copy of them): the pod keeps its field, the API server writes no
// annotation for it, and neither does kguard. An annotation map left empty
// is nil again when the pod's was.
func dropAnnotations(result, pod *corev1.Pod, synthesized []string) {
	if len(synthesized) == 0 {
		return
	}
	for _, k := range synthesized {
		delete(result.Annotations, k)
	}
	if len(result.Annotations) == 0 && pod.Annotations == nil {
		result.Annotations = nil
	}
}
