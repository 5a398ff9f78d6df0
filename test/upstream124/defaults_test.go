package upstream124

import (
	"fmt"
	"math/rand/v2"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	api "k8s.io/kubernetes/pkg/apis/core"
	_ "k8s.io/kubernetes/pkg/apis/core/install" // registers v1 defaults and conversions
	"k8s.io/kubernetes/plugin/pkg/admission/serviceaccount"

	"github.com/kguard/kguard/internal/apidefaults"
)

// upstream is what kube-apiserver v1.24 makes of a created v1 pod before
// PodSecurityPolicy: v1 defaulting, conversion to the internal version (where
// spec.serviceAccount becomes an alias), and the ServiceAccount admission
// plugin's default name (its Admit, lines "Set the default service account if
// needed", skipping mirror pods; the plugin itself needs a cluster).
func upstream(t *testing.T, p *corev1.Pod) *api.Pod {
	t.Helper()
	p = p.DeepCopy()
	legacyscheme.Scheme.Default(p)
	var out api.Pod
	if err := legacyscheme.Scheme.Convert(p, &out, nil); err != nil {
		t.Fatal(err)
	}
	if _, mirror := out.Annotations[api.MirrorPodAnnotationKey]; !mirror && out.Spec.ServiceAccountName == "" {
		out.Spec.ServiceAccountName = serviceaccount.DefaultServiceAccountName
	}
	return &out
}

// kguard is what `kguard check` admits, in the internal version to compare.
func kguard(t *testing.T, p *corev1.Pod) *api.Pod {
	t.Helper()
	p = p.DeepCopy()
	apidefaults.Pod(&p.ObjectMeta, &p.Spec)
	var out api.Pod
	if err := legacyscheme.Scheme.Convert(p, &out, nil); err != nil {
		t.Fatal(err)
	}
	return &out
}

// randomPod is an undefaulted pod with the fields whose defaults admission
// reads. It sets nothing kguard leaves undefaulted on purpose (resources,
// probes, env field references).
func randomPod(r *rand.Rand) *corev1.Pod {
	pick := func(n int) int { return r.IntN(n) }
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	if pick(8) == 0 {
		p.Annotations = map[string]string{api.MirrorPodAnnotationKey: "x"}
	}
	p.Spec.HostNetwork = pick(2) == 0
	switch pick(4) {
	case 1:
		p.Spec.ServiceAccountName = "speaker"
	case 2:
		p.Spec.DeprecatedServiceAccount = "old"
	case 3:
		p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount = "speaker", "old"
	}
	images := []string{"nginx", "nginx:latest", "nginx:1.25", "localhost:5000/app", "localhost:5000/app:latest",
		"quay.io/metallb/speaker:v0.13.7", "nginx@sha256:" + fmt.Sprintf("%064x", 7), "nginx:latest@sha256:" + fmt.Sprintf("%064x", 7)}
	container := func(name string) corev1.Container {
		c := corev1.Container{Name: name, Image: images[pick(len(images))]}
		for j := range pick(3) {
			port := corev1.ContainerPort{ContainerPort: int32(7000 + pick(1000) + j)}
			if pick(3) == 0 {
				port.HostPort = int32(9000 + pick(100))
			}
			if pick(3) == 0 {
				port.Protocol = corev1.ProtocolUDP
			}
			c.Ports = append(c.Ports, port)
		}
		if pick(4) == 0 {
			c.ImagePullPolicy = corev1.PullNever
		}
		return c
	}
	for i := range 1 + pick(3) {
		p.Spec.Containers = append(p.Spec.Containers, container(fmt.Sprintf("c%d", i)))
	}
	for i := range pick(3) {
		p.Spec.InitContainers = append(p.Spec.InitContainers, container(fmt.Sprintf("i%d", i)))
	}
	if pick(4) == 0 {
		p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon(container("e"))}}
	}
	if pick(3) == 0 {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if pick(3) == 0 {
		g := int64(pick(60))
		p.Spec.TerminationGracePeriodSeconds = &g
	}
	mode := int32(0o400)
	sources := []corev1.VolumeSource{{}, {HostPath: &corev1.HostPathVolumeSource{Path: "/var"}},
		{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}, {Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: &mode}},
		{ConfigMap: &corev1.ConfigMapVolumeSource{}}, {DownwardAPI: &corev1.DownwardAPIVolumeSource{}},
		{Projected: &corev1.ProjectedVolumeSource{}}, {EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}
	for i := range pick(4) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: fmt.Sprintf("v%d", i), VolumeSource: *sources[pick(len(sources))].DeepCopy()})
	}
	return p
}

// TestDefaultsMatchUpstream124: kguard's defaulting of random undefaulted pods
// equals kube-apiserver v1.24's, field for field.
func TestDefaultsMatchUpstream124(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 24))
	hostPorts := 0
	for i := range 2000 {
		p := randomPod(r)
		want, got := upstream(t, p), kguard(t, p)
		if !apiequality.Semantic.DeepEqual(want, got) {
			t.Fatalf("pod %d: defaulting differs from v1.24 (- upstream, + kguard):\n%s", i, diff.ObjectReflectDiff(want, got))
		}
		for _, c := range got.Spec.Containers {
			for _, port := range c.Ports {
				if p.Spec.HostNetwork && port.HostPort == port.ContainerPort {
					hostPorts++
				}
			}
		}
	}
	if hostPorts == 0 {
		t.Fatal("no hostNetwork port was defaulted: the generator misses the case")
	}
}
