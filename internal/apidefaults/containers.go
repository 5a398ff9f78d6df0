package apidefaults

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// containers is SetDefaults_Container and the ports' protocol, for every
// kind of container.
func containers(spec *corev1.PodSpec) {
	for i := range spec.InitContainers {
		container(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		container(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		container((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
}

func container(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = pullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for j := range c.Ports {
		if c.Ports[j].Protocol == "" {
			c.Ports[j].Protocol = corev1.ProtocolTCP
		}
	}
}

// PullPolicy is the default pull policy of an image, a container's or an
// image volume's: an image whose tag is "latest", said or implied (no tag
// and no digest), is always pulled; any other only when missing.
func PullPolicy(image string) corev1.PullPolicy {
	return pullPolicy(image)
}

func pullPolicy(image string) corev1.PullPolicy {
	if imageTag(image) == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// imageTag is the tag of an image reference: what follows ":" in its last
// path segment, before any "@digest"; "latest" when there is neither tag nor
// digest. ("localhost:5000/app" has no tag: that colon is in the registry.)
func imageTag(image string) string {
	name, _, digested := strings.Cut(image, "@")
	last := name[strings.LastIndexByte(name, '/')+1:]
	if _, tag, tagged := strings.Cut(last, ":"); tagged {
		return tag
	}
	if digested {
		return ""
	}
	return "latest"
}
