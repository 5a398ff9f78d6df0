package podspec

import (
	"encoding/json"
	"strings"
	"testing"

	evanphx "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// patched applies Patch (SetPod(after) over before) to before's JSON, the way
// kube-apiserver applies a webhook's patch, and reports whether the result is
// after, and whether the per-field patch was used.
func patched(t testing.TB, before, after *corev1.Pod) (same, fast bool) {
	t.Helper()
	original, err := json.Marshal(before)
	if err != nil {
		t.Fatal(err)
	}
	afterJSON, _ := json.Marshal(after)
	_, fast = podPatch(before, after)
	if again, _ := json.Marshal(after); string(again) != string(afterJSON) {
		t.Fatalf("podPatch changed the admitted pod:\n%s\n%s", afterJSON, again)
	}
	w := &Workload{Object: before.DeepCopy()}
	w.SetPod(after)
	p, err := w.Patch()
	if err != nil {
		t.Fatal(err)
	}
	got := original
	if p != nil {
		ops, err := evanphx.DecodePatch(p)
		if err != nil {
			t.Fatalf("patch %s: %v", p, err)
		}
		if got, err = ops.Apply(original); err != nil {
			t.Fatalf("applying %s to %s: %v", p, original, err)
		}
	}
	// Compare through JSON on both sides, so that only what the API server
	// would store counts.
	var g, want corev1.Pod
	wantJSON, _ := json.Marshal(after)
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("patch %s gives %s: %v", p, got, err)
	}
	if err := json.Unmarshal(wantJSON, &want); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(&g, &want) {
		t.Logf("patch %s\nbefore %s\ngot    %s\nwant   %s", p, original, got, wantJSON)
		return false, fast
	}
	return true, fast
}

func basePod() *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			Volumes:             []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}}, {Name: "tmp"}},
			InitContainers:      []corev1.Container{{Name: "init", Image: "i"}},
			Containers:          []corev1.Container{{Name: "a", Image: "a"}, {Name: "b", Image: "b", SecurityContext: &corev1.SecurityContext{Privileged: new(bool)}}},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "d"}}},
		},
	}
}

func TestPodPatch(t *testing.T) {
	uid := int64(1000)
	rc := "gvisor"
	for _, tc := range []struct {
		name   string
		before func(*corev1.Pod)
		change func(*corev1.Pod)
		fast   bool
	}{
		{"nothing", nil, func(*corev1.Pod) {}, true},
		{"first annotation", nil, func(p *corev1.Pod) { p.Annotations = map[string]string{"kubernetes.io/psp": "restricted"} }, true},
		{"annotations added, changed, removed; keys with / and ~", func(p *corev1.Pod) {
			p.Annotations = map[string]string{"a/b": "1", "c~d": "2", "gone": "3"}
		}, func(p *corev1.Pod) {
			p.Annotations = map[string]string{"a/b": "changed", "c~d": "2", "kubernetes.io/psp": "p", "x~/y": "4"}
		}, true},
		{"every annotation removed", func(p *corev1.Pod) { p.Annotations = map[string]string{"a": "1"} }, func(p *corev1.Pod) { p.Annotations = nil }, true},
		{"namespace set", nil, func(p *corev1.Pod) { p.Namespace = "shop" }, true},
		{"pod security context added", nil, func(p *corev1.Pod) { p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &uid} }, true},
		{"pod security context changed", func(p *corev1.Pod) { p.Spec.SecurityContext = &corev1.PodSecurityContext{} }, func(p *corev1.Pod) {
			p.Spec.SecurityContext.FSGroup = &uid
		}, true},
		{"pod security context removed", func(p *corev1.Pod) { p.Spec.SecurityContext = &corev1.PodSecurityContext{} }, func(p *corev1.Pod) { p.Spec.SecurityContext = nil }, true},
		{"container contexts added and changed", nil, func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: &uid}
			p.Spec.Containers[1].SecurityContext.RunAsUser = &uid
			p.Spec.InitContainers[0].SecurityContext = &corev1.SecurityContext{RunAsNonRoot: new(bool)}
			p.Spec.EphemeralContainers[0].SecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: new(bool)}
		}, true},
		{"container context removed", nil, func(p *corev1.Pod) { p.Spec.Containers[1].SecurityContext = nil }, true},
		{"runtime class", nil, func(p *corev1.Pod) { p.Spec.RuntimeClassName = &rc }, true},
		{"volume defaulted", nil, func(p *corev1.Pod) { ApplyDefaults(&p.Spec) }, true},
		{"an image changed: the whole objects are diffed", nil, func(p *corev1.Pod) { p.Spec.Containers[0].Image = "other" }, false},
		{"a label changed, one added (a tenant's required labels)", nil, func(p *corev1.Pod) { p.Labels["app"] = "db"; p.Labels["team/x~y"] = "a" }, true},
		{"every label removed", nil, func(p *corev1.Pod) { p.Labels = nil }, true},
		{"tolerations added (a tenant's)", nil, func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "kguard.io/tenant", Operator: corev1.TolerationOpEqual, Value: "a", Effect: corev1.TaintEffectNoSchedule})
		}, true},
		{"a toleration inserted first", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "b", Operator: corev1.TolerationOpExists}}
		}, func(p *corev1.Pod) {
			p.Spec.Tolerations = append([]corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists}}, p.Spec.Tolerations...)
		}, true},
		{"tolerations removed", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "b", Operator: corev1.TolerationOpExists}}
		}, func(p *corev1.Pod) { p.Spec.Tolerations = nil }, true},
		{"node selector set and changed", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"zone": "a"} }, func(p *corev1.Pod) {
			p.Spec.NodeSelector["zone"] = "b"
			p.Spec.NodeSelector["kguard.io/tenant"] = "a"
		}, true},
		{"first node selector", nil, func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"kguard.io/tenant": "a"} }, true},
		{"a container added", nil, func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "c"}) }, false},
		{"a volume added", nil, func(p *corev1.Pod) { p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "v"}) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := basePod()
			if tc.before != nil {
				tc.before(before)
			}
			after := before.DeepCopy()
			tc.change(after)
			same, fast := patched(t, before, after)
			if !same {
				t.Fatal("the patch does not turn the pod into the admitted one")
			}
			if fast != tc.fast {
				t.Fatalf("per-field patch used: %v, want %v", fast, tc.fast)
			}
		})
	}
}

// FuzzPodPatch: whatever the pod and whichever fields admission changes, the
// patch applied to the pod's JSON gives the admitted pod.
func FuzzPodPatch(f *testing.F) {
	seed, _ := json.Marshal(basePod())
	f.Add(seed, uint32(0xfffff))
	f.Add([]byte(`{"metadata":{"annotations":{"a/b":"x"}},"spec":{"securityContext":{},"containers":[{"name":"c"}]}}`), uint32(0x5a5a))
	f.Add(seed, uint32(0xf0000))
	// kube-apiserver's not-ready and unreachable tolerations, then Tenancy's
	// added at the end (and another; or one in front).
	defaulted := []byte(`{"spec":{"containers":[{"name":"c"}],"tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]}}`)
	f.Add(defaulted, uint32(1<<20|1<<16|1<<15))
	f.Add(defaulted, uint32(1<<20|1<<21))
	f.Add(defaulted, uint32(1<<20|1<<14))
	uid := int64(7)
	f.Fuzz(func(t *testing.T, data []byte, sel uint32) {
		var before corev1.Pod
		if json.Unmarshal(data, &before) != nil {
			return
		}
		after := before.DeepCopy()
		bit := func(i int) bool { return sel&(1<<i) != 0 }
		if bit(0) {
			if after.Annotations == nil {
				after.Annotations = map[string]string{}
			}
			after.Annotations["kubernetes.io/psp"] = "p"
		}
		if bit(1) {
			for k := range after.Annotations {
				delete(after.Annotations, k)
				break
			}
		}
		if bit(2) {
			after.Namespace = "ns"
		}
		if bit(3) {
			after.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &uid}
		}
		if bit(4) {
			after.Spec.SecurityContext = nil
		}
		for i := range after.Spec.Containers {
			if bit(5 + i%4) {
				after.Spec.Containers[i].SecurityContext = &corev1.SecurityContext{RunAsUser: &uid}
			}
		}
		for i := range after.Spec.InitContainers {
			if bit(9) {
				after.Spec.InitContainers[i].SecurityContext = nil
			}
		}
		for i := range after.Spec.EphemeralContainers {
			if bit(10) {
				after.Spec.EphemeralContainers[i].SecurityContext = &corev1.SecurityContext{}
			}
		}
		if bit(11) {
			ApplyDefaults(&after.Spec)
		}
		if bit(12) {
			rc := "x"
			after.Spec.RuntimeClassName = &rc
		}
		if bit(14) { // a tenant's required label and toleration
			if after.Labels == nil {
				after.Labels = map[string]string{}
			}
			after.Labels["team/a~b"] = "x"
			after.Spec.Tolerations = append([]corev1.Toleration{{Key: "kguard.io/tenant", Value: "a"}}, after.Spec.Tolerations...)
		}
		if bit(15) { // a node selector key, a label gone
			if after.Spec.NodeSelector == nil {
				after.Spec.NodeSelector = map[string]string{}
			}
			after.Spec.NodeSelector["kguard.io/tenant"] = "a"
			for k := range after.Labels {
				delete(after.Labels, k)
				break
			}
		}
		// Members of the security contexts, as PodSecurityPolicy and Tenancy
		// set them one by one.
		if bit(16) || bit(17) || bit(19) {
			if after.Spec.SecurityContext == nil {
				after.Spec.SecurityContext = &corev1.PodSecurityContext{}
			}
		}
		if bit(16) {
			after.Spec.SecurityContext.SELinuxOptions = &corev1.SELinuxOptions{Level: "s0:c1,c2"}
		}
		if bit(17) {
			after.Spec.SecurityContext.FSGroup, after.Spec.SecurityContext.SupplementalGroups = &uid, []int64{1}
		}
		if bit(19) {
			yes := true
			after.Spec.SecurityContext.SeccompProfile, after.Spec.SecurityContext.RunAsNonRoot = nil, &yes
		}
		if bit(18) && len(after.Spec.Containers) > 0 {
			c := &after.Spec.Containers[0]
			if c.SecurityContext == nil {
				c.SecurityContext = &corev1.SecurityContext{}
			}
			no := false
			c.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
			c.SecurityContext.AllowPrivilegeEscalation = &no
		}
		if bit(20) { // a toleration added at the end, as Tenancy adds its own
			after.Spec.Tolerations = append(after.Spec.Tolerations, corev1.Toleration{Key: "kguard.io/tenant", Operator: corev1.TolerationOpEqual, Value: "a", Effect: corev1.TaintEffectNoSchedule})
		}
		if bit(21) { // and another
			after.Spec.Tolerations = append(after.Spec.Tolerations, corev1.Toleration{Key: "x", Operator: corev1.TolerationOpExists})
		}
		if bit(13) && len(after.Spec.Containers) > 0 {
			after.Spec.Containers[0].Image += "-other" // outside admission's fields
		}
		if same, _ := patched(t, &before, after); !same {
			t.Fatal("the patch does not turn the pod into the admitted one")
		}
	})
}

// A patch is the same bytes every time: several pod security context members
// changed at once (fsGroup, supplementalGroups, runAsUser...) used to come out
// in map order, so `kguard check -o json` differed from run to run.
func TestPodPatchDeterministic(t *testing.T) {
	before := basePod()
	before.Spec.SecurityContext = &corev1.PodSecurityContext{SupplementalGroups: []int64{5}}
	after := before.DeepCopy()
	one, two := int64(1), int64(2)
	after.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: &one, RunAsUser: &two, RunAsGroup: &two,
		SupplementalGroups: []int64{5, 7}, Sysctls: []corev1.Sysctl{{Name: "a", Value: "1"}}}
	if same, _ := patched(t, before, after); !same {
		t.Fatal("the patch does not produce the pod")
	}
	var first []byte
	for i := 0; i < 50; i++ {
		w := &Workload{Object: before.DeepCopy()}
		w.SetPod(after)
		p, err := w.Patch()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = p
		} else if string(p) != string(first) {
			t.Fatalf("patch %d differs:\n%s\n%s", i, p, first)
		}
	}
}

// BenchmarkPodPatch: the patch of a restricted pod admitted under a
// mutating PodSecurityPolicy (annotations, fsGroup, supplemental groups),
// without and with what Tenancy adds (node selector, toleration, SELinux
// level), from the pods to the encoded operations.
func BenchmarkPodPatch(b *testing.B) {
	no, yes := false, true
	uid, one := int64(1000), int64(1)
	before := &corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns-500"},
		Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid},
			Containers: []corev1.Container{{Name: "app", Image: "app", SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no,
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}}}}}
	ApplyDefaults(&before.Spec)
	without := before.DeepCopy()
	without.Annotations = map[string]string{"kubernetes.io/psp": "restricted", "seccomp.security.alpha.kubernetes.io/pod": "runtime/default"}
	without.Spec.SecurityContext.FSGroup = &one
	without.Spec.SecurityContext.SupplementalGroups = []int64{1}
	with := without.DeepCopy()
	with.Spec.NodeSelector = map[string]string{"kguard.io/tenant": "team-500"}
	with.Spec.Tolerations = append(with.Spec.Tolerations, corev1.Toleration{Key: "kguard.io/tenant", Operator: "Equal", Value: "team-500", Effect: "NoSchedule"})
	with.Spec.SecurityContext.SELinuxOptions = &corev1.SELinuxOptions{Level: "s0:c13,c889"}
	for _, tc := range []struct {
		name  string
		after *corev1.Pod
	}{{"without", without}, {"with", with}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				ops, ok := podPatch(before, tc.after)
				if !ok {
					b.Fatal("slow")
				}
				if _, err := encodeOps(ops); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A toleration added after kube-apiserver's not-ready and unreachable ones
// (Tenancy's) is one "add" at its index, not the whole list again.
func TestTolerationsAppended(t *testing.T) {
	before := basePod()
	before.Spec.Tolerations = []corev1.Toleration{
		{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	}
	after := before.DeepCopy()
	after.Spec.Tolerations = append(after.Spec.Tolerations, corev1.Toleration{Key: "kguard.io/tenant", Operator: corev1.TolerationOpEqual, Value: "a", Effect: corev1.TaintEffectNoSchedule})
	if same, _ := patched(t, before, after); !same {
		t.Fatal("the patch does not produce the pod")
	}
	w := &Workload{Object: before.DeepCopy()}
	w.SetPod(after)
	p, err := w.Patch()
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"op":"add","path":"/spec/tolerations/2","value":{"key":"kguard.io/tenant","operator":"Equal","value":"a","effect":"NoSchedule"}}]`; string(p) != want {
		t.Errorf("patch %s, want %s", p, want)
	}
	// One changed in place: the whole list.
	after.Spec.Tolerations[0].Effect = corev1.TaintEffectNoSchedule
	if same, _ := patched(t, before, after); !same {
		t.Fatal("the patch does not produce the pod")
	}
	w = &Workload{Object: before.DeepCopy()}
	w.SetPod(after)
	if p, _ := w.Patch(); !strings.Contains(string(p), `"path":"/spec/tolerations","value":[`) {
		t.Errorf("a changed toleration: patch %s", p)
	}
}
