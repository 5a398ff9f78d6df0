package podsecurity

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kguard/kguard/internal/podspec"
)

func moduleDir(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-json", path).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", path, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Fatalf("no module directory for %s: %v", path, err)
	}
	return m.Dir
}

// Every fixture of the upstream pod-security-admission module: pods under
// pass/ are admitted at that level and version, pods under fail/ are denied.
func TestUpstreamFixtures(t *testing.T) {
	root := filepath.Join(moduleDir(t, "k8s.io/pod-security-admission"), "test", "testdata")
	files, err := filepath.Glob(filepath.Join(root, "*", "v1.*", "*", "*.yaml"))
	if err != nil || len(files) < 100 {
		t.Fatalf("fixtures: %d, %v", len(files), err)
	}
	var namespaces []*corev1.Namespace
	for _, level := range []string{"baseline", "restricted"} {
		versions, _ := filepath.Glob(filepath.Join(root, level, "v1.*"))
		for _, v := range versions {
			namespaces = append(namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
				Name:   level + "-" + filepath.Base(v),
				Labels: map[string]string{"pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/enforce-version": filepath.Base(v)},
			}})
		}
	}
	e, err := New(Config{}, namespaces)
	if err != nil {
		t.Fatal(err)
	}
	checked := map[string]int{}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		parts := strings.Split(rel, string(filepath.Separator)) // level, version, pass|fail, file
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var pod corev1.Pod
		if err := yaml.Unmarshal(b, &pod); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		ns := parts[0] + "-" + parts[1]
		pod.Namespace = ns
		podspec.ApplyDefaults(&pod.Spec) // as the API server does before admission
		r := e.Evaluate(context.Background(), Request{Operation: admissionv1.Create, Pod: &pod, Namespace: ns, Username: "someone"})
		if want := parts[2] == "pass"; r.Allowed != want {
			t.Errorf("%s: allowed = %v, want %v (%v)", rel, r.Allowed, want, r.Result)
		}
		checked[parts[2]]++
	}
	if checked["pass"] == 0 || checked["fail"] == 0 {
		t.Fatalf("checked %v", checked)
	}
	t.Logf("%d pass and %d fail fixtures agree", checked["pass"], checked["fail"])
}

func privilegedPod(ns string) *corev1.Pod {
	t := true
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Image: "i", SecurityContext: &corev1.SecurityContext{Privileged: &t}}}}}
}

func TestModesDefaultsAndExemptions(t *testing.T) {
	namespaces := []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "strict", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "warned", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/warn": "baseline", "pod-security.kubernetes.io/audit": "baseline"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "open", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}}},
	}
	e, err := New(Config{Enforce: "baseline", ExemptUsernames: []string{"admin"}, ExemptNamespaces: []string{"kube-system"}}, namespaces)
	if err != nil {
		t.Fatal(err)
	}
	eval := func(ns, user string) *admissionv1.AdmissionResponse {
		return e.Evaluate(context.Background(), Request{Operation: admissionv1.Create, Pod: privilegedPod(ns), Namespace: ns, Username: user})
	}
	if r := eval("strict", "u"); r.Allowed || !strings.Contains(r.Result.Message, `violates PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true)`) {
		t.Fatalf("enforce: %+v", r.Result)
	}
	if r := eval("warned", "u"); !r.Allowed || len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "baseline:latest") || r.AuditAnnotations["audit-violations"] == "" {
		t.Fatalf("warn and audit: %+v", r)
	}
	if r := eval("elsewhere", "u"); r.Allowed {
		t.Fatal("the cluster default (baseline) was not enforced")
	}
	if r := eval("open", "u"); !r.Allowed {
		t.Fatal("a privileged namespace denied")
	}
	if r := eval("strict", "admin"); !r.Allowed {
		t.Fatal("exempt user denied")
	}
	if r := eval("kube-system", "u"); !r.Allowed {
		t.Fatal("exempt namespace denied")
	}
	if _, err := New(Config{Enforce: "paranoid"}, nil); err == nil {
		t.Fatal("invalid level accepted")
	}
}

// A namespace the evaluator was not given is asked of UnknownNamespace; when
// that fails its pods are refused with the cause (kguard serve), instead of
// falling back to the cluster default privileged.
func TestUnknownNamespaceRefused(t *testing.T) {
	known := []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "open", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}}}}
	e, err := New(Config{ExemptNamespaces: []string{"kube-system"}, UnknownNamespace: func(_ context.Context, name string) (*corev1.Namespace, error) {
		if name == "fetched" {
			return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}, nil
		}
		return nil, fmt.Errorf("namespace %q is not among the Namespaces of --policy-dir", name)
	}}, known)
	if err != nil {
		t.Fatal(err)
	}
	eval := func(ns string) *admissionv1.AdmissionResponse {
		return e.Evaluate(context.Background(), Request{Operation: admissionv1.Create, Pod: privilegedPod(ns), Namespace: ns, Username: "u"})
	}
	r := eval("gone")
	if r.Allowed || !strings.Contains(r.Result.Message, `cannot read the labels of namespace "gone": namespace "gone" is not among the Namespaces of --policy-dir`) {
		t.Fatalf("unknown namespace: allowed=%v %+v", r.Allowed, r.Result)
	}
	if r := eval("fetched"); r.Allowed || !strings.Contains(r.Result.Message, "restricted:latest") {
		t.Fatalf("a namespace found by the lookup was not enforced: %+v", r.Result)
	}
	if r := eval("open"); !r.Allowed {
		t.Fatalf("a known privileged namespace denied: %+v", r.Result)
	}
	if r := eval("kube-system"); !r.Allowed {
		t.Fatalf("an exempt namespace needs no lookup: %+v", r.Result)
	}
	// Offline (no UnknownNamespace): the cluster defaults apply, as before.
	off, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := off.Evaluate(context.Background(), Request{Operation: admissionv1.Create, Pod: privilegedPod("x"), Namespace: "x"}); !r.Allowed {
		t.Fatalf("offline default privileged denied: %+v", r.Result)
	}
}
