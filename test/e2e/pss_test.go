//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Scenario 3: Pod Security Standards through kguard (kube-apiserver's own
// PodSecurity admission is disabled): enforce=restricted refuses a privileged
// pod with the standard message; warn=baseline makes kubectl print the warning.
func TestPodSecurityStandards(t *testing.T) {
	defer kguardLogs(t)
	if out, err := kubectlIn(t, crd(t, "../../examples/psp/policies/privileged-psp.yaml"), "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "podsecuritypolicies.kguard.io", "privileged", "--ignore-not-found") })
	namespaces := `apiVersion: v1
kind: Namespace
metadata: {name: pss-restricted, labels: {pod-security.kubernetes.io/enforce: restricted}}
---
apiVersion: v1
kind: Namespace
metadata: {name: pss-warn, labels: {pod-security.kubernetes.io/warn: baseline}}
`
	if out, err := kubectlIn(t, namespaces, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "pss-restricted", "pss-warn", "--wait=false") })
	privileged := func(name string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"},"spec":{"containers":[{"name":"c","image":"k8s.gcr.io/pause","securityContext":{"privileged":true}}]}}`
	}
	// The admin may use every policy; PodSecurity alone refuses.
	eventually(t, 30*time.Second, "restricted refuses the privileged pod", func() (bool, string) {
		out, err := kubectlIn(t, privileged("p1"), "-n", "pss-restricted", "create", "-f", "-")
		return err != nil && strings.Contains(out, `pods "p1" is forbidden: violates PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true)`), out
	})
	hostNet := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"h1"},"spec":{"hostNetwork":true,"containers":[{"name":"c","image":"k8s.gcr.io/pause"}]}}`
	out, err := kubectlIn(t, hostNet, "-n", "pss-warn", "create", "-f", "-")
	if err != nil || !strings.Contains(out, `Warning: would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)`) {
		t.Fatalf("warn=baseline: %v\n%s", err, out)
	}
	// A Deployment gets the same warning, for its pod template, as with the built-in controller.
	d := appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{Name: "c", Image: "k8s.gcr.io/pause"}}}}}}
	b, _ := json.Marshal(d)
	out, err = kubectlIn(t, string(b), "-n", "pss-warn", "create", "-f", "-")
	if err != nil || !strings.Contains(out, `Warning: would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)`) {
		t.Fatalf("deployment with warn=baseline: %v\n%s", err, out)
	}
}

// `kubectl debug --profile=sysadmin` adds a privileged ephemeral container
// through pods/ephemeralcontainers; in a restricted namespace kguard refuses
// it as the built-in PodSecurity does, and admits a restricted debug container.
func TestDebugContainerInRestrictedNamespace(t *testing.T) {
	defer kguardLogs(t)
	if out, err := kubectlIn(t, crd(t, "../../examples/psp/policies/privileged-psp.yaml"), "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "podsecuritypolicies.kguard.io", "privileged", "--ignore-not-found") })
	ns := `apiVersion: v1
kind: Namespace
metadata: {name: pss-debug, labels: {pod-security.kubernetes.io/enforce: restricted}}
`
	if out, err := kubectlIn(t, ns, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "pss-debug", "--wait=false") })
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},` +
		`"containers":[{"name":"c","image":"k8s.gcr.io/pause","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`
	eventually(t, 30*time.Second, "the restricted pod is created", func() (bool, string) {
		out, err := kubectlIn(t, pod, "-n", "pss-debug", "create", "-f", "-")
		return err == nil, out
	})
	out, err := kubectl(t, "-n", "pss-debug", "debug", "web", "--image=busybox", "--profile=sysadmin", "--container=sysadmin")
	if err == nil || !strings.Contains(out, `violates PodSecurity "restricted:latest"`) || !strings.Contains(out, "privileged") {
		t.Fatalf("kubectl debug --profile=sysadmin in a restricted namespace: %v\n%s", err, out)
	}
	out, err = kubectl(t, "-n", "pss-debug", "debug", "web", "--image=busybox", "--profile=restricted", "--container=restricted")
	if err != nil {
		t.Fatalf("kubectl debug --profile=restricted: %v\n%s", err, out)
	}
	got := mustKubectl(t, "-n", "pss-debug", "get", "pod", "web", "-o", "jsonpath={.spec.ephemeralContainers[*].name}")
	if got != "restricted" {
		t.Fatalf("ephemeral containers = %q, want only the restricted one", got)
	}
}
