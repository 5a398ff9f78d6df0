package apidefaults

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultServiceAccountName is the ServiceAccount of a pod that names none.
const DefaultServiceAccountName = "default"

// MirrorPodAnnotation marks a kubelet's mirror of a static pod; the
// ServiceAccount admission plugin leaves such pods without ServiceAccount.
const MirrorPodAnnotation = "kubernetes.io/config.mirror"

// Pod defaults, in place, a pod about to be created, from its metadata and
// spec (a Pod's, or a template's that a controller will create pods from), as
// the API server does before admission. It is idempotent.
func Pod(meta *metav1.ObjectMeta, spec *corev1.PodSpec) {
	podSpec(spec)
	pod(spec)
	containers(spec)
	volumes(spec.Volumes)
	serviceAccount(meta, spec)
}

// podSpec is SetDefaults_PodSpec: what every pod spec, templates included, gets.
func podSpec(spec *corev1.PodSpec) {
	if spec.ServiceAccountName == "" {
		// The deprecated alias; when both are set, serviceAccountName wins.
		spec.ServiceAccountName = spec.DeprecatedServiceAccount
	}
	spec.DeprecatedServiceAccount = spec.ServiceAccountName
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if spec.TerminationGracePeriodSeconds == nil {
		grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
		spec.TerminationGracePeriodSeconds = &grace
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = corev1.DefaultSchedulerName
	}
}

// pod is SetDefaults_Pod: what a Pod gets and a template does not (since
// v1.26 for host ports; before, every pod spec got them, which for admission
// of pods is the same).
func pod(spec *corev1.PodSpec) {
	if g := spec.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		one := int64(1)
		spec.TerminationGracePeriodSeconds = &one
	}
	if spec.EnableServiceLinks == nil {
		links := corev1.DefaultEnableServiceLinks
		spec.EnableServiceLinks = &links
	}
	if spec.HostNetwork {
		hostNetworkPorts(spec.Containers)
		hostNetworkPorts(spec.InitContainers)
		// Ephemeral containers may not declare ports: upstream defaults none.
	}
}

// hostNetworkPorts: on the host's network a container port is a host port.
func hostNetworkPorts(cs []corev1.Container) {
	for i := range cs {
		for j := range cs[i].Ports {
			if p := &cs[i].Ports[j]; p.HostPort == 0 {
				p.HostPort = p.ContainerPort
			}
		}
	}
}

// serviceAccount is the ServiceAccount admission plugin's default, which runs
// before PodSecurityPolicy.
func serviceAccount(meta *metav1.ObjectMeta, spec *corev1.PodSpec) {
	if meta != nil {
		if _, mirror := meta.Annotations[MirrorPodAnnotation]; mirror {
			return
		}
	}
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = DefaultServiceAccountName
		spec.DeprecatedServiceAccount = DefaultServiceAccountName // the alias, as stored
	}
}

// Template defaults, in place, the pod template of a pod controller
// (Deployment, Job, ...) as the API server stores the controller:
// SetDefaults_PodSpec and the containers' and volumes' defaults, without
// what only a created Pod gets (SetDefaults_Pod: enableServiceLinks, host
// ports; the ServiceAccount admission plugin's default name). Pod defaults
// the pods the controller will create.
func Template(spec *corev1.PodSpec) {
	podSpec(spec)
	containers(spec)
	volumes(spec.Volumes)
}
