package admitted

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// probe is a pod that by itself gives root on its node.
type probe struct {
	name  string // in the pod's name: kguard-probe-NAME
	what  string // in evidence: "a privileged pod"
	tweak func(*corev1.PodSpec)
}

// probes, tried in order; the first admitted is the evidence. hostNetwork
// alone is not node root, so it is not a probe.
var probes = []probe{
	{name: "privileged", what: "a privileged pod", tweak: func(s *corev1.PodSpec) {
		t := true
		s.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &t}
	}},
	{name: "hostpid", what: "a hostPID pod (nsenter into the node's PID 1)", tweak: func(s *corev1.PodSpec) {
		s.HostPID = true
	}},
	{name: "hostpath", what: `a pod mounting the node's "/" (hostPath)`, tweak: func(s *corev1.PodSpec) {
		s.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
		s.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "host", MountPath: "/host"}}
	}},
}

func (p probe) podName() string { return "kguard-probe-" + p.name }

// pod is the probe in namespace ns, running as ServiceAccount sa.
func (p probe) pod(ns, sa string) *corev1.Pod {
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: p.podName(), Namespace: ns},
		Spec: corev1.PodSpec{
			ServiceAccountName: sa,
			Containers:         []corev1.Container{{Name: "probe", Image: "busybox:1.36"}},
		},
	}
	p.tweak(&pod.Spec)
	return pod
}
