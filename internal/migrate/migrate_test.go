package migrate

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/podspec"
	"github.com/kguard/kguard/internal/policy"
)

const strict = `apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: strict
  annotations:
    seccomp.security.alpha.kubernetes.io/allowedProfileNames: runtime/default
    apparmor.security.beta.kubernetes.io/allowedProfileNames: runtime/default
spec:
  privileged: false
  allowPrivilegeEscalation: false
  requiredDropCapabilities: [ALL]
  volumes: [configMap, emptyDir, projected, secret, downwardAPI, persistentVolumeClaim]
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: MustRunAs, seLinuxOptions: {type: container_t}}
  supplementalGroups: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
  fsGroup: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
`

// Like strict, but without the restricted-only requirements.
const middle = `apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: middle
  annotations:
    apparmor.security.beta.kubernetes.io/allowedProfileNames: runtime/default
    seccomp.security.alpha.kubernetes.io/allowedProfileNames: runtime/default
spec:
  volumes: [configMap, emptyDir, secret, nfs]
  runAsUser: {rule: RunAsAny}
  seLinux: {rule: MustRunAs, seLinuxOptions: {type: container_t}}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
`

func plans(t *testing.T, yaml string) map[string]*PolicyPlan {
	t.Helper()
	s, err := policy.Read(strings.NewReader(yaml), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := NewPlanner("latest")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*PolicyPlan{}
	for _, p := range s.PodSecurityPolicies {
		plan, err := pl.PlanPolicy(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		out[p.Name] = plan
	}
	return out
}

func TestPlanPolicy(t *testing.T) {
	got := plans(t, strict+"---\n"+middle)
	// No policy makes a pod set runAsNonRoot (MustRunAsNonRoot admits a
	// non-zero runAsUser without it, which restricted refuses) or keeps a
	// probe off other hosts (which baseline refuses from v1.34): manifests
	// must, which the plan says.
	if p := got["strict"]; p.Level != "restricted" || checks(p.Requires) != "probe or lifecycle host,runAsNonRoot != true" || len(p.Because) != 0 {
		t.Fatalf("strict → %s, requires %s: %s", p.Level, checks(p.Requires), p.Summary())
	}
	if s := got["strict"].Summary(); !strings.Contains(s, "restricted also forbids what no PodSecurityPolicy can; manifests must avoid it themselves:\n    - probe or lifecycle host") ||
		!strings.Contains(s, "- runAsNonRoot != true (") || !strings.Contains(s, "e.g. runAsUser 1000 without runAsNonRoot") {
		t.Errorf("summary does not name what manifests must meet:\n%s", s)
	}
	m := got["middle"]
	if m.Level != "baseline" {
		t.Fatalf("middle → %s: %s", m.Level, m.Summary())
	}
	var checks []string
	for _, g := range m.Stricter["restricted"] {
		checks = append(checks, g.Check)
	}
	joined := strings.Join(checks, ",")
	for _, want := range []string{"allowPrivilegeEscalation != false", "restricted volume types", "runAsNonRoot != true", "unrestricted capabilities"} {
		if !strings.Contains(joined, want) {
			t.Errorf("middle's gaps to restricted lack %q: %s", want, joined)
		}
	}
	// What strict defaulted on a pod that set nothing must be reported.
	d := strings.Join(got["strict"].Defaults, "\n")
	for _, want := range []string{"runAsNonRoot", "allowPrivilegeEscalation", "ALL", "fsGroup", "supplementalGroups", "container_t"} {
		if !strings.Contains(d, want) {
			t.Errorf("defaults lack %s:\n%s", want, d)
		}
	}
}

func TestSeedPolicies(t *testing.T) {
	s, err := policy.Load([]string{"testdata/psp-policies"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := NewPlanner("")
	for _, p := range s.PodSecurityPolicies {
		plan, err := pl.PlanPolicy(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		// The seed's policies all leave SELinux at RunAsAny, which admits custom
		// types that even baseline forbids: none of them maps above privileged.
		if plan.Level != "privileged" {
			t.Errorf("%s → %s", p.Name, plan.Level)
		}
		found := false
		for _, g := range plan.Stricter["baseline"] {
			found = found || strings.HasPrefix(g.Check, "seLinuxOptions")
		}
		if !found {
			t.Errorf("%s: the SELinux gap is not explained: %+v", p.Name, plan.Stricter["baseline"])
		}
	}
}

func TestPlanWorkload(t *testing.T) {
	docs, err := manifest.ReadPaths([]string{"testdata/psp-pods"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := NewPlanner("latest")
	got := map[string]string{}
	for i := range docs {
		w, err := podspec.Decode(&docs[i])
		if err != nil || w == nil {
			continue
		}
		pod := w.Pod()
		level, _ := pl.PlanWorkload(&metav1.ObjectMeta{Annotations: pod.Annotations}, &pod.Spec)
		got[docs[i].Name] = level
	}
	want := map[string]string{"pause": "baseline", "privileged": "privileged", "hardened": "restricted"}
	for name, level := range want {
		if got[name] != level {
			t.Errorf("%s meets %s, want %s", name, got[name], level)
		}
	}
}

// checks are the gaps' checks, comma-separated.
func checks(gaps []Gap) string {
	var out []string
	for _, g := range gaps {
		out = append(out, g.Check)
	}
	return strings.Join(out, ",")
}
