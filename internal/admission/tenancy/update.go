package tenancy

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/podspec"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// validateUpdate judges an UPDATE of a tenant's pod by what it can change.
// kube-apiserver keeps a pod's spec but for a few fields (tolerations
// added, a gated pod's node selection, images), and pods/ephemeralcontainers
// adds containers and nothing else. An UPDATE that leaves the spec as it
// was — labels, annotations, finalizers, as controllers write them — is not
// judged again: a pod stored before its tenant's rules (or before mode
// require) could otherwise never lose its finalizers. One that changes the
// spec is judged whole, as a new pod but for the node the scheduler bound.
// Without the stored pod the whole pod is judged.
func (ix *Index) validateUpdate(t *v1alpha1.Tenant, r *admission.Request, pod *corev1.Pod) field.ErrorList {
	if r.SubResource == subresourceEphemeral {
		return validateEphemeral(t, &pod.Spec, r.OldPod)
	}
	if r.OldPod != nil && equality.Semantic.DeepEqual(r.OldPod.Spec, pod.Spec) {
		return nil
	}
	return ix.ValidatePod(t, &pod.Spec, specPath, false)
}

// validateEphemeral judges the ephemeral containers an UPDATE of
// pods/ephemeralcontainers adds (`kubectl debug`): those the stored pod
// does not hold as they are. In a tenant isolated by SELinux MCS levels
// one may not run privileged nor at another level than the pod's; and one
// that names no seccomp profile in a pod that names none would run
// unconfined: kguard's mutating webhook is not sent the subresource and
// cannot give it the tenant's profile, so it is refused, naming the
// profile to set.
func validateEphemeral(t *v1alpha1.Tenant, spec *corev1.PodSpec, old *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	for i := range spec.EphemeralContainers {
		c := &spec.EphemeralContainers[i]
		if old != nil && holds(old.Spec.EphemeralContainers, c) {
			continue
		}
		path := specPath.Child("ephemeralContainers").Index(i)
		sc := c.SecurityContext
		if isolated(t) && podspec.Privileged(sc) {
			errs = append(errs, privilegedUnconfined(t, path))
		}
		if isolated(t) && sc != nil && sc.SELinuxOptions != nil && sc.SELinuxOptions.Level != "" {
			errs = append(errs, ephemeralLevel(t, spec, path.Child("securityContext", "seLinuxOptions", "level"), sc.SELinuxOptions.Level)...)
		}
		profile := t.Spec.PodSecurity.Seccomp
		podSets := spec.SecurityContext != nil && spec.SecurityContext.SeccompProfile != nil
		if profile != "" && !podSets && (sc == nil || sc.SeccompProfile == nil) {
			errs = append(errs, field.Required(path.Child("securityContext", "seccompProfile"),
				fmt.Sprintf("tenant %q's containers run with a seccomp profile (%s when they name none) and this pod names none for the container to inherit: name one (kguard does not change ephemeral containers)", t.Name, profile)))
		}
	}
	return errs
}

// ephemeralLevel judges the level an ephemeral container sets: the pod's
// own, which kguard gave it or checked when it was created. A pod without
// a level of its own (stored before its tenant isolated pods) has none an
// added container may share.
func ephemeralLevel(t *v1alpha1.Tenant, spec *corev1.PodSpec, path *field.Path, level string) field.ErrorList {
	sc := spec.SecurityContext
	if sc == nil || sc.SELinuxOptions == nil || sc.SELinuxOptions.Level == "" {
		return field.ErrorList{field.Forbidden(path, fmt.Sprintf("tenant %q isolates its pods with SELinux MCS levels (seLinux: %s) and this pod has no level of its own for the container to share: set none", t.Name, t.Spec.PodSecurity.SELinux))}
	}
	_, errs := parseLevels(t, []setLevel{
		{specPath.Child("securityContext", "seLinuxOptions", "level"), sc.SELinuxOptions.Level},
		{path, level},
	})
	return errs
}

// holds: cs has c, unchanged (ephemeral containers are named uniquely and
// kube-apiserver lets none change once added).
func holds(cs []corev1.EphemeralContainer, c *corev1.EphemeralContainer) bool {
	for i := range cs {
		if cs[i].Name == c.Name {
			return equality.Semantic.DeepEqual(cs[i], *c)
		}
	}
	return false
}
