package source

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func regoConfigMap(name, rego string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kguard", Name: name}, Data: map[string]string{"main.rego": rego}}
}

const (
	denyPrivileged = "package kubernetes.admission\ndeny contains \"privileged\" if input.request.object.spec.containers[_].securityContext.privileged\n"
	denyHostPID    = "package kubernetes.admission\ndeny contains \"hostPID\" if input.request.object.spec.hostPID\n"
	warnNoApp      = "package kubernetes.admission\nwarn contains \"no app label\" if not input.request.object.metadata.labels.app\n"
	doesNotParse   = "package kubernetes.admission\ndeny contains msg if {\n"
	// a complete rule deny beside the partial set rules of the package
	conflicting = "package kubernetes.admission\ndeny := {\"everything\"}\n"
)

// One Rego ConfigMap that does not compile is refused, as OPA refuses what
// kube-mgmt loads into it: its last version that compiled stays (none, if
// none did), the others update, and it is reported.
func TestRegoModulesRefuseWhatDoesNotCompile(t *testing.T) {
	g := &gatekeeper{}
	// Starting (no set compiled yet), a broken ConfigMap is an error: its
	// rules may have been in force before the restart.
	if _, _, err := g.regoModules([]*corev1.ConfigMap{regoConfigMap("a", denyPrivileged), regoConfigMap("b", doesNotParse)}); err == nil ||
		!strings.Contains(err.Error(), "the Rego ConfigMaps do not compile") {
		t.Fatalf("starting with a broken ConfigMap: %v, want an error", err)
	}
	type want struct {
		sources []string // the modules' sources, in ConfigMap order
		broken  []string // substrings, one per broken ConfigMap
	}
	steps := []struct {
		name string
		cms  []*corev1.ConfigMap
		want want
	}{
		{"all compile", []*corev1.ConfigMap{regoConfigMap("b", warnNoApp), regoConfigMap("a", denyPrivileged)},
			want{[]string{denyPrivileged, warnNoApp}, nil}},
		{"b broken, a updated", []*corev1.ConfigMap{regoConfigMap("a", denyHostPID), regoConfigMap("b", doesNotParse)},
			want{[]string{denyHostPID, warnNoApp}, []string{"Rego ConfigMap kguard/b: ", "its last version that compiled is used"}}},
		{"a new ConfigMap that never compiled", []*corev1.ConfigMap{regoConfigMap("a", denyHostPID), regoConfigMap("b", doesNotParse), regoConfigMap("c", doesNotParse)},
			want{[]string{denyHostPID, warnNoApp}, []string{"kguard/b", "Rego ConfigMap kguard/c: ", "left out (no version of it has compiled)"}}},
		{"b fixed, c deleted", []*corev1.ConfigMap{regoConfigMap("a", denyHostPID), regoConfigMap("b", denyPrivileged)},
			want{[]string{denyHostPID, denyPrivileged}, nil}},
		{"a newcomer conflicting with what compiled is refused, even first in order", []*corev1.ConfigMap{regoConfigMap("0", conflicting), regoConfigMap("a", denyHostPID), regoConfigMap("b", denyPrivileged)},
			want{[]string{denyHostPID, denyPrivileged}, []string{"Rego ConfigMap kguard/0: ", "conflicting rules"}}},
		{"everything deleted", nil, want{nil, nil}},
		{"from nothing after a start, a broken one is left out", []*corev1.ConfigMap{regoConfigMap("a", doesNotParse), regoConfigMap("b", warnNoApp)},
			want{[]string{warnNoApp}, []string{"Rego ConfigMap kguard/a: ", "left out"}}},
	}
	for _, step := range steps {
		mods, broken, err := g.regoModules(step.cms)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		var sources []string
		for _, m := range mods {
			sources = append(sources, m.Source)
		}
		if strings.Join(sources, "|") != strings.Join(step.want.sources, "|") {
			t.Errorf("%s: modules\n%q\nwant\n%q", step.name, sources, step.want.sources)
		}
		var msgs []string
		for _, b := range broken {
			msgs = append(msgs, b.Error())
		}
		all := strings.Join(msgs, "\n")
		for _, w := range step.want.broken {
			if !strings.Contains(all, w) {
				t.Errorf("%s: broken %q, want %q in it", step.name, all, w)
			}
		}
		if step.want.broken == nil && len(broken) > 0 {
			t.Errorf("%s: broken %q, want none", step.name, all)
		}
		if err := compiles(mods); err != nil {
			t.Errorf("%s: the modules chosen do not compile: %v", step.name, err)
		}
	}
}

// A deletion that breaks the other ConfigMaps' last versions (a library
// removed) must not drop the rules of a ConfigMap broken at the same time
// whose last version still compiles: they were in force and compile.
func TestRegoModulesDeletionKeepsOthersLastGood(t *testing.T) {
	const lib = "package lib\nprivileged(c) if c.securityContext.privileged\n"
	const usesLib = "package kubernetes.admission\nimport data.lib\ndeny contains \"privileged (lib)\" if lib.privileged(input.request.object.spec.containers[_])\n"
	g := &gatekeeper{}
	if _, broken, err := g.regoModules([]*corev1.ConfigMap{regoConfigMap("a-lib", lib), regoConfigMap("b", usesLib), regoConfigMap("c", denyHostPID)}); err != nil || len(broken) > 0 {
		t.Fatalf("all compile: %v %v", broken, err)
	}
	// a-lib deleted, and c broken by an edit, in the same rebuild.
	mods, broken, err := g.regoModules([]*corev1.ConfigMap{regoConfigMap("b", usesLib), regoConfigMap("c", doesNotParse)})
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, m := range mods {
		sources = append(sources, m.Source)
	}
	if !slices.Contains(sources, denyHostPID) {
		t.Errorf("modules %q: c's last version that compiled (deny hostPID) was dropped; broken: %v", sources, broken)
	}
	if err := compiles(mods); err != nil {
		t.Errorf("the modules chosen do not compile: %v", err)
	}
}
