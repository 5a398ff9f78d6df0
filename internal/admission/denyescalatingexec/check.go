package denyescalatingexec

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/kguard/kguard/internal/podspec"
)

// escalation is one way a pod escalates, with upstream's message.
type escalation struct {
	reason string
	in     func(*corev1.PodSpec) bool
}

// escalations are checked in upstream's order (host network, host PID, host
// IPC, privileged), so that a pod that escalates several ways is refused
// with upstream's message.
var escalations = []escalation{
	{"cannot exec into or attach to a container using host network", func(s *corev1.PodSpec) bool { return s.HostNetwork }},
	{"cannot exec into or attach to a container using host pid", func(s *corev1.PodSpec) bool { return s.HostPID }},
	{"cannot exec into or attach to a container using host ipc", func(s *corev1.PodSpec) bool { return s.HostIPC }},
	{"cannot exec into or attach to a privileged container", privileged},
}

// Check returns why exec and attach into a pod of spec are refused, or "".
func Check(spec *corev1.PodSpec) string {
	for _, e := range escalations {
		if e.in(spec) {
			return e.reason
		}
	}
	return ""
}

// privileged reports whether any container of the pod runs privileged:
// init, regular and ephemeral containers (`kubectl debug --profile=sysadmin`
// adds a privileged one to a running pod).
func privileged(s *corev1.PodSpec) bool {
	is := podspec.Privileged
	for i := range s.InitContainers {
		if is(s.InitContainers[i].SecurityContext) {
			return true
		}
	}
	for i := range s.Containers {
		if is(s.Containers[i].SecurityContext) {
			return true
		}
	}
	for i := range s.EphemeralContainers {
		if is(s.EphemeralContainers[i].SecurityContext) {
			return true
		}
	}
	return false
}
