// Package securitycontextdeny is the SecurityContextDeny admission plugin with
// the behaviour of Kubernetes v1.24's in-tree plugin
// (plugin/pkg/admission/securitycontext/scdeny, removed in v1.30): it refuses
// a pod that sets the security context fields a cluster without
// PodSecurityPolicy could not otherwise keep users from choosing.
package securitycontextdeny

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kguard/kguard/internal/admission"
)

// PluginName is the plugin's name in --enable-admission-plugins, as
// kube-apiserver spelled it.
const PluginName = "SecurityContextDeny"

func init() { admission.Register(PluginName, newPlugin) }

// plugin validates pods; it never mutates.
type plugin struct{}

var _ admission.Validator = plugin{}

func newPlugin(in admission.Inputs) (admission.Plugin, error) {
	if in.Config != nil {
		return nil, fmt.Errorf("takes no configuration, got %T", in.Config)
	}
	return plugin{}, nil
}

// Handles pods themselves, on CREATE and UPDATE: upstream ignored every
// subresource, pods/ephemeralcontainers included.
func (plugin) Handles(op admissionv1.Operation, subresource string) bool {
	return subresource == "" && (op == admissionv1.Create || op == admissionv1.Update)
}

// Validate denies the first forbidden field in upstream's order, with
// upstream's message: the pod's supplementalGroups, seLinuxOptions, runAsUser
// and fsGroup, then each init container's and each container's seLinuxOptions
// and runAsUser. Like v1.24, it does not look at runAsGroup nor at ephemeral
// containers.
func (plugin) Validate(_ context.Context, _ *admission.Request, pod *corev1.Pod) admission.Decision {
	if msg := forbiddenField(&pod.Spec); msg != "" {
		return admission.Decision{Denied: true, Reason: msg}
	}
	return admission.Decision{}
}

// forbiddenField is upstream's message for the first forbidden field set, or "".
func forbiddenField(spec *corev1.PodSpec) string {
	if sc := spec.SecurityContext; sc != nil {
		switch {
		case sc.SupplementalGroups != nil:
			return "pod.Spec.SecurityContext.SupplementalGroups is forbidden"
		case sc.SELinuxOptions != nil:
			return "pod.Spec.SecurityContext.SELinuxOptions is forbidden"
		case sc.RunAsUser != nil:
			return "pod.Spec.SecurityContext.RunAsUser is forbidden"
		case sc.FSGroup != nil:
			return "pod.Spec.SecurityContext.FSGroup is forbidden"
		}
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			if sc := cs[i].SecurityContext; sc != nil {
				switch {
				case sc.SELinuxOptions != nil:
					return "SecurityContext.SELinuxOptions is forbidden"
				case sc.RunAsUser != nil:
					return "SecurityContext.RunAsUser is forbidden"
				}
			}
		}
	}
	return ""
}
