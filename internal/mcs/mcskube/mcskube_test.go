package mcskube

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kguard/kguard/internal/mcs"
)

func level(l string) *corev1.SecurityContext {
	return &corev1.SecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Level: l}}
}

func TestPairsAndStrip(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"big": "x"}},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Level: "s0:c2,c1"}},
			InitContainers:  []corev1.Container{{Name: "i", SecurityContext: level("s0:c1,c2")}},
			Containers: []corev1.Container{{Name: "a", Image: "x", SecurityContext: level("s0:c5,c9")},
				{Name: "b", SecurityContext: level("s0:c0.c1023")}}, // not a pair: nobody's
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	got := Pairs(&p.Spec)
	if len(got) != 2 || got[0] != (mcs.Pair{Lo: 1, Hi: 2}) || got[1] != (mcs.Pair{Lo: 5, Hi: 9}) {
		t.Fatalf("Pairs = %v", got)
	}
	s, err := strip(p)
	if err != nil {
		t.Fatal(err)
	}
	sp := s.(*corev1.Pod)
	if sp.Labels != nil || sp.Name != "p" || sp.Status.Phase != corev1.PodRunning || len(sp.Spec.Containers) != 2 {
		t.Fatalf("stripped %+v", sp)
	}
	if again := Pairs(&sp.Spec); len(again) != 2 || again[0] != got[0] || again[1] != got[1] {
		t.Errorf("the stripped pod holds %v, want %v", again, got)
	}
}

// A pod that ended gives its pair back; one running holds it.
func TestObserve(t *testing.T) {
	a := mcs.NewOffline()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Level: "s0:c3,c4"}}}}
	observe(a, p)
	if h := a.Holder(mcs.Pair{Lo: 3, Hi: 4}); h != "ns/p" {
		t.Fatalf("holder %q", h)
	}
	p.Status.Phase = corev1.PodSucceeded
	observe(a, p)
	if h := a.Holder(mcs.Pair{Lo: 3, Hi: 4}); h != "" {
		t.Fatalf("a pod that ended still holds its pair (%q)", h)
	}
	if err := a.Reserve("ns/q", mcs.Pair{Lo: 3, Hi: 4}, false); err != nil {
		t.Errorf("the pair of a pod that ended: %v", err)
	}
}
