package tenancy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/mcs"
)

// Two more tenants: one pair per tenant.
const tenantLevels = `
---
apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: team-c}
spec:
  namespaces: {names: [c-dev]}
  podSecurity: {seLinux: perTenant}
---
apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: team-d}
spec:
  namespaces: {names: [d-dev]}
  podSecurity: {seLinux: perTenant}
`

func leveled(level string) *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Level: level}}
}

// levelChain is the plugin with levels from a (nil: the plugin's own).
func levelChain(t *testing.T, a *mcs.Allocator) *admission.Chain {
	return chainOf(t, tenants+tenantLevels, Config{Levels: a})
}

// mutatedLevel admits pod in the mutating pass and returns the level the
// patch gives it ("" when none).
func mutatedLevel(t *testing.T, c *admission.Chain, ns string, p *corev1.Pod) (string, *admissionv1.AdmissionResponse) {
	t.Helper()
	resp := review(t, c, admission.PhaseMutate, "", "Pod", "pods", ns, p)
	if !resp.Allowed {
		return "", resp
	}
	var ops []struct {
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(resp.Patch, &ops); err != nil && resp.Patch != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		var v struct {
			Level         string `json:"level"`
			SELinuxOption struct {
				Level string `json:"level"`
			} `json:"seLinuxOptions"`
		}
		json.Unmarshal(op.Value, &v)
		switch {
		case op.Path == "/spec/securityContext" && v.SELinuxOption.Level != "":
			return v.SELinuxOption.Level, resp
		case op.Path == "/spec/securityContext/seLinuxOptions" && v.Level != "":
			return v.Level, resp
		case op.Path == "/spec/securityContext/seLinuxOptions/level":
			var s string
			json.Unmarshal(op.Value, &s)
			return s, resp
		}
	}
	return "", resp
}

func TestLevelsPerPod(t *testing.T) {
	c := levelChain(t, nil)
	seen := map[string]bool{}
	for i := 0; i < 300; i++ {
		lvl, resp := mutatedLevel(t, c, "a-dev", pod(corev1.PodSpec{}))
		if lvl == "" {
			t.Fatalf("pod %d got no level: %+v", i, resp.Result)
		}
		if _, err := mcs.ParseLevel(lvl); err != nil {
			t.Fatal(err)
		}
		if seen[lvl] {
			t.Fatalf("pod %d got %s again", i, lvl)
		}
		seen[lvl] = true
	}
	// A pod of a tenant with seLinux off, or of no tenant, gets none.
	for _, ns := range []string{"b-prod", "default"} {
		if lvl, _ := mutatedLevel(t, c, ns, pod(corev1.PodSpec{})); lvl != "" {
			t.Errorf("a pod in %s got %s", ns, lvl)
		}
	}
}

func TestLevelsPerTenant(t *testing.T) {
	c := levelChain(t, nil)
	c1, _ := mutatedLevel(t, c, "c-dev", pod(corev1.PodSpec{}))
	c2, _ := mutatedLevel(t, c, "c-dev", pod(corev1.PodSpec{Containers: []corev1.Container{{Name: "other", Image: "x"}}}))
	d1, _ := mutatedLevel(t, c, "d-dev", pod(corev1.PodSpec{}))
	if c1 == "" || c1 != c2 {
		t.Errorf("team-c's pods got %q and %q, want one level", c1, c2)
	}
	if d1 == "" || d1 == c1 {
		t.Errorf("team-d got %q, team-c %q", d1, c1)
	}
	// A pod that brings its tenant's level passes; another pair does not.
	if lvl, resp := mutatedLevel(t, c, "c-dev", pod(corev1.PodSpec{SecurityContext: leveled(c1)})); !resp.Allowed || lvl != "" {
		t.Errorf("team-c's pod at its level: %+v, level changed to %q", resp.Result, lvl)
	}
	resp := review(t, c, admission.PhaseMutate, "", "Pod", "pods", "c-dev", pod(corev1.PodSpec{SecurityContext: leveled(d1)}))
	if resp.Allowed || !strings.Contains(resp.Result.Message, `spec.securityContext.seLinuxOptions.level: Invalid value: "`+d1+`": tenant "team-c"'s pods run at its level `+c1+` (seLinux: perTenant)`) {
		t.Errorf("team-c's pod at team-d's level: %+v", resp.Result)
	}
	// The validating pass agrees.
	if resp := review(t, c, admission.PhaseValidate, "", "Pod", "pods", "d-dev", pod(corev1.PodSpec{SecurityContext: leveled(c1)})); resp.Allowed {
		t.Errorf("the validating pass admitted team-d's pod at team-c's level")
	}
	if resp := review(t, c, admission.PhaseValidate, "", "Pod", "pods", "d-dev", pod(corev1.PodSpec{SecurityContext: leveled(d1)})); !resp.Allowed {
		t.Errorf("the validating pass refused team-d's pod at its level: %s", resp.Result.Message)
	}
}

func TestLevelsAPodBrings(t *testing.T) {
	a := mcs.NewOffline()
	a.Observe("a-dev/running", []mcs.Pair{{Lo: 7, Hi: 9}})
	c := levelChain(t, a)
	ctr := func(level string) corev1.Container {
		return corev1.Container{Name: "c", Image: "x", SecurityContext: &corev1.SecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Level: level}}}
	}
	for _, tc := range []struct {
		name string
		spec corev1.PodSpec
		want string // "" admitted
	}{
		{"a free pair", corev1.PodSpec{SecurityContext: leveled("s0:c100,c5")}, ""},
		{"the pair of a running pod", corev1.PodSpec{SecurityContext: leveled("s0:c9,c7")},
			`spec.securityContext.seLinuxOptions.level: Invalid value: "s0:c9,c7": each pod of tenant "team-a" holds a level no other running pod holds (seLinux: perPod): s0:c7,c9 is the level of the running pod a-dev/running`},
		{"three categories", corev1.PodSpec{SecurityContext: leveled("s0:c1,c2,c3")}, `does not have exactly two categories`},
		{"one category", corev1.PodSpec{SecurityContext: leveled("s0:c1")}, `does not have exactly two categories`},
		{"all categories", corev1.PodSpec{SecurityContext: leveled("s0:c0.c1023")}, `spec.securityContext.seLinuxOptions.level: Invalid value: "s0:c0.c1023"`},
		{"a container's own pair, free", corev1.PodSpec{Containers: []corev1.Container{ctr("s0:c200,c201")}}, ""},
		{"containers at two levels", corev1.PodSpec{SecurityContext: leveled("s0:c300,c301"), Containers: []corev1.Container{ctr("s0:c302,c303")}},
			`spec.containers[0].securityContext.seLinuxOptions.level: Invalid value: "s0:c302,c303": a pod of tenant "team-a" runs at one level (s0:c300,c301, set above)`},
	} {
		resp := review(t, c, admission.PhaseMutate, "", "Pod", "pods", "a-dev", pod(tc.spec))
		switch {
		case tc.want == "" && !resp.Allowed:
			t.Errorf("%s: refused: %s", tc.name, resp.Result.Message)
		case tc.want != "" && resp.Allowed:
			t.Errorf("%s: admitted", tc.name)
		case tc.want != "" && !strings.Contains(resp.Result.Message, tc.want):
			t.Errorf("%s: %q, want %q", tc.name, resp.Result.Message, tc.want)
		}
	}
	// The container's own level was reserved: another pod cannot have it.
	if resp := review(t, c, admission.PhaseMutate, "", "Pod", "pods", "a-dev", &corev1.Pod{TypeMeta: metaPod,
		ObjectMeta: podMeta("y"), Spec: corev1.PodSpec{SecurityContext: leveled("s0:c200,c201"), Containers: []corev1.Container{{Name: "c", Image: "x"}}}}); resp.Allowed {
		t.Error("a second pod got s0:c200,c201")
	}
	// The validating pass refuses a pair a running pod holds.
	if resp := review(t, c, admission.PhaseValidate, "", "Pod", "pods", "a-dev", pod(corev1.PodSpec{SecurityContext: leveled("s0:c7,c9")})); resp.Allowed ||
		!strings.Contains(resp.Result.Message, "is the level of the running pod a-dev/running") {
		t.Errorf("validating a held pair: %+v", resp.Result)
	}
}

func TestLevelsOfTemplates(t *testing.T) {
	c := levelChain(t, nil)
	deploy := func(level string) map[string]any {
		return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "x"},
			"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]string{"a": "b"}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]string{"a": "b"}},
					"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "app"}},
						"securityContext": map[string]any{"seLinuxOptions": map[string]any{"level": level}}}}}}
	}
	for _, phase := range []admission.Phase{admission.PhaseMutate, admission.PhaseValidate} {
		resp := review(t, c, phase, "apps", "Deployment", "deployments", "a-dev", deploy("s0:c1,c2"))
		if resp.Allowed || !strings.Contains(resp.Result.Message, `spec.template.spec.securityContext.seLinuxOptions.level: Forbidden: every pod of the template would run at this one level`) {
			t.Errorf("phase %d: a perPod template with a level: %+v", phase, resp.Result)
		}
	}
	tenantLevel, _ := mutatedLevel(t, c, "c-dev", pod(corev1.PodSpec{}))
	if resp := review(t, c, admission.PhaseValidate, "apps", "Deployment", "deployments", "c-dev", deploy(tenantLevel)); !resp.Allowed {
		t.Errorf("a perTenant template at the tenant's level: %s", resp.Result.Message)
	}
	if resp := review(t, c, admission.PhaseValidate, "apps", "Deployment", "deployments", "c-dev", deploy("s0:c900,c901")); resp.Allowed {
		t.Error("a perTenant template at another level was admitted")
	}
}

// An allocator that cannot hand out levels refuses the pod: nothing is
// admitted without its level.
func TestLevelsFailClosed(t *testing.T) {
	a := mcs.New("not-synced", mcs.NewMemoryStore())
	c := levelChain(t, a)
	resp := review(t, c, admission.PhaseMutate, "", "Pod", "pods", "a-dev", pod(corev1.PodSpec{}))
	if resp.Allowed || !strings.Contains(resp.Result.Message, `tenant "team-a": spec.securityContext.seLinuxOptions.level: kguard has not read the cluster's pods yet`) {
		t.Errorf("not synced: %+v", resp.Result)
	}
	// A pod with no tenant is not concerned.
	if resp := review(t, c, admission.PhaseMutate, "", "Pod", "pods", "default", pod(corev1.PodSpec{})); !resp.Allowed {
		t.Errorf("a pod of no tenant: %s", resp.Result.Message)
	}
}

// A dry run (kubectl --dry-run=server) shows a level but reserves none.
func TestLevelsDryRun(t *testing.T) {
	c := chainOf(t, tenants, Config{Levels: mcs.NewOffline()})
	p := pod(corev1.PodSpec{})
	p.Namespace = "a-dev"
	raw, _ := json.Marshal(p)
	req := func(dry bool) string {
		resp := reviewRequest(t, c, admission.PhaseMutate, map[string]any{
			"uid": "1", "kind": map[string]string{"version": "v1", "kind": "Pod"}, "resource": map[string]string{"version": "v1", "resource": "pods"},
			"name": "x", "namespace": "a-dev", "operation": "CREATE", "dryRun": dry, "userInfo": map[string]any{"username": "alice"}, "object": json.RawMessage(raw)})
		var ops []struct{ Path, Value any }
		json.Unmarshal(resp.Patch, &ops)
		for _, op := range ops {
			if op.Path == "/spec/securityContext" {
				return fmt.Sprint(op.Value)
			}
		}
		t.Fatalf("no level in %s", resp.Patch)
		return ""
	}
	dry, real := req(true), req(false)
	if dry != real {
		t.Errorf("the dry run's level was reserved:\n%s\n%s", dry, real)
	}
	if again := req(false); again == real {
		t.Error("two pods got the same level")
	}
}

func podMeta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }
