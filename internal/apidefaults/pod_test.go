package apidefaults

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestHostNetworkPorts(t *testing.T) {
	for _, tc := range []struct {
		name        string
		hostNetwork bool
		port        corev1.ContainerPort
		want        int32
	}{
		{"host network, no host port", true, corev1.ContainerPort{ContainerPort: 7472}, 7472},
		{"host network, host port kept", true, corev1.ContainerPort{ContainerPort: 7472, HostPort: 80}, 80},
		{"pod network", false, corev1.ContainerPort{ContainerPort: 7472}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := corev1.PodSpec{HostNetwork: tc.hostNetwork,
				Containers:     []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{tc.port}}},
				InitContainers: []corev1.Container{{Name: "i", Ports: []corev1.ContainerPort{tc.port}}}}
			Pod(&metav1.ObjectMeta{}, &spec)
			for _, c := range append(spec.Containers, spec.InitContainers...) {
				if p := c.Ports[0]; p.HostPort != tc.want || p.Protocol != corev1.ProtocolTCP {
					t.Errorf("container %q: hostPort %d protocol %q, want %d TCP", c.Name, p.HostPort, p.Protocol, tc.want)
				}
			}
		})
	}
}

func TestServiceAccount(t *testing.T) {
	for _, tc := range []struct {
		name, sa, deprecated string
		annotations          map[string]string
		want                 string
	}{
		{"none", "", "", nil, "default"},
		{"named", "speaker", "", nil, "speaker"},
		{"deprecated alias", "", "old", nil, "old"},
		{"name wins over alias", "speaker", "old", nil, "speaker"},
		{"mirror pod", "", "", map[string]string{MirrorPodAnnotation: "x"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := corev1.PodSpec{ServiceAccountName: tc.sa, DeprecatedServiceAccount: tc.deprecated}
			Pod(&metav1.ObjectMeta{Annotations: tc.annotations}, &spec)
			if spec.ServiceAccountName != tc.want {
				t.Errorf("serviceAccountName %q, want %q", spec.ServiceAccountName, tc.want)
			}
		})
	}
}

func TestImageTag(t *testing.T) {
	for image, want := range map[string]string{
		"nginx": "latest", "nginx:1.25": "1.25", "nginx:latest": "latest",
		"localhost:5000/app": "latest", "localhost:5000/app:v1": "v1",
		"nginx@sha256:abc": "", "nginx:1.25@sha256:abc": "1.25",
	} {
		if got := imageTag(image); got != want {
			t.Errorf("imageTag(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestVolumesAndSpec(t *testing.T) {
	mode := int32(0o400)
	spec := corev1.PodSpec{Volumes: []corev1.Volume{
		{Name: "none"},
		{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var"}}},
		{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}},
		{Name: "secret-mode", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{DefaultMode: &mode}}},
	}}
	Pod(nil, &spec)
	if spec.Volumes[0].EmptyDir == nil {
		t.Error("a volume without source is not an emptyDir")
	}
	if ty := spec.Volumes[1].HostPath.Type; ty == nil || *ty != corev1.HostPathUnset {
		t.Errorf("hostPath type %v, want \"\"", ty)
	}
	if m := spec.Volumes[2].Secret.DefaultMode; m == nil || *m != 0o644 {
		t.Errorf("secret defaultMode %v, want 0644", m)
	}
	if m := *spec.Volumes[3].Secret.DefaultMode; m != 0o400 {
		t.Errorf("secret defaultMode %o, want 0400 kept", m)
	}
	if spec.SecurityContext == nil || spec.DNSPolicy != corev1.DNSClusterFirst || spec.RestartPolicy != corev1.RestartPolicyAlways ||
		spec.SchedulerName != corev1.DefaultSchedulerName || *spec.TerminationGracePeriodSeconds != 30 || !*spec.EnableServiceLinks {
		t.Errorf("pod spec not defaulted: %+v", spec)
	}
	again := spec.DeepCopy()
	Pod(nil, again)
	if !equality.Semantic.DeepEqual(&spec, again) {
		t.Error("defaulting is not idempotent")
	}
}
