package podspec

import (
	"encoding/json"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// deepEqual says what reflect.DeepEqual says on API objects: the same pods,
// copies, and pods that differ anywhere (also inside quantities, maps,
// pointers and slices).
func TestDeepEqual(t *testing.T) {
	base := &corev1.Pod{Spec: corev1.PodSpec{
		NodeSelector: map[string]string{"a": "b"},
		Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": resource.MustParse("100m")}},
			SecurityContext: &corev1.SecurityContext{RunAsUser: new(int64)}}},
		Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}}},
	}}
	for _, tc := range []struct {
		name   string
		change func(p *corev1.Pod)
	}{
		{"copy", func(*corev1.Pod) {}},
		{"node selector value", func(p *corev1.Pod) { p.Spec.NodeSelector["a"] = "c" }},
		{"node selector key", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"x": "b"} }},
		{"empty map against nil", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{}; base.Spec.NodeSelector = nil }},
		{"quantity", func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Limits["cpu"] = resource.MustParse("0.1") }},
		{"pointed-to value", func(p *corev1.Pod) { *p.Spec.Containers[0].SecurityContext.RunAsUser = 1 }},
		{"nil pointer", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.RunAsUser = nil }},
		{"empty slice against nil", func(p *corev1.Pod) { p.Spec.Tolerations = []corev1.Toleration{} }},
		{"slice element", func(p *corev1.Pod) { p.Spec.Volumes[0].Secret.SecretName = "t" }},
		{"slice length", func(p *corev1.Pod) { p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "w"}) }},
		{"command", func(p *corev1.Pod) { p.Spec.Containers[0].Command = []string{"x"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			saved := base.DeepCopy()
			defer func() { base = saved }()
			p := base.DeepCopy()
			tc.change(p)
			if got, want := deepEqual(base, p), reflect.DeepEqual(base, p); got != want {
				t.Fatalf("deepEqual = %v, reflect.DeepEqual = %v", got, want)
			}
		})
	}
	if !deepEqual(base, base) || deepEqual(base, nil) || !deepEqual[corev1.Pod](nil, nil) {
		t.Fatal("identity and nil")
	}
}

// FuzzDeepEqual: on any two decoded pods, and on a pod and its copy,
// deepEqual and reflect.DeepEqual agree.
func FuzzDeepEqual(f *testing.F) {
	for _, s := range [][2]string{
		{`{"spec":{"containers":[{"name":"c"}]}}`, `{"spec":{"containers":[{"name":"c"}]}}`},
		{`{"metadata":{"labels":{"a":"b"}},"spec":{"nodeSelector":{}}}`, `{"metadata":{"labels":{"a":"b"}}}`},
		{`{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"1"}}}]}}`, `{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"1000m"}}}]}}`},
		{`{"spec":{"volumes":[{"name":"v","configMap":{"name":"x","defaultMode":420}}]}}`, `{"spec":{"volumes":[{"name":"v","configMap":{"name":"x"}}]}}`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var pa, pb corev1.Pod
		if json.Unmarshal(a, &pa) != nil || json.Unmarshal(b, &pb) != nil {
			return
		}
		if got, want := deepEqual(&pa, &pb), reflect.DeepEqual(&pa, &pb); got != want {
			t.Fatalf("deepEqual = %v, reflect.DeepEqual = %v\n%s\n%s", got, want, a, b)
		}
		if c := pa.DeepCopy(); !deepEqual(&pa, c) || !reflect.DeepEqual(&pa, c) {
			t.Fatalf("a pod differs from its copy: %s", a)
		}
	})
}
