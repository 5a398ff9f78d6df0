//go:build e2e

package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issue #16: what already runs. A privileged pod admitted under a
// permissive PodSecurityPolicy keeps running when the namespace's grant
// moves to the restricted policy; `kguard audit --kubeconfig` then reports
// it as the webhook would judge its creation today, and a restricted pod
// beside it stays clean; `kguard controller` (started before the change)
// writes the violation into the namespace's PolicyReport within seconds.
func TestAuditExistingObjects(t *testing.T) {
	defer kguardLogs(t)
	const ns = "audit-existing"
	testNamespace(t, ns)
	for _, p := range []struct{ file, name string }{
		{"../../examples/psp/policies/privileged-psp.yaml", "e2e-audit-privileged"},
		{"../../examples/psp/policies/restricted-psp.yaml", "e2e-audit-restricted"},
	} {
		name := strings.TrimPrefix(p.name, "e2e-audit-")
		policy := strings.Replace(crd(t, p.file), "name: "+name, "name: "+p.name, 1)
		if out, err := kubectlIn(t, policy, "apply", "-f", "-"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		t.Cleanup(func() { kubectl(t, "delete", "podsecuritypolicies.kguard.io", p.name, "--ignore-not-found") })
	}
	grant := func(policy string) {
		t.Helper()
		role := "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: psp, namespace: audit-existing}\n" +
			"rules: [{apiGroups: [kguard.io], resources: [podsecuritypolicies], verbs: [use], resourceNames: [" + policy + "]}]\n"
		if out, err := kubectlIn(t, role, "apply", "-f", "-"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	grant("e2e-audit-privileged")
	mustKubectl(t, "create", "rolebinding", "-n", ns, "psp", "--role=psp", "--group=system:serviceaccounts:"+ns)
	privileged := `apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: audit-existing}
spec:
  containers: [{name: sh, image: busybox:1.36, command: [sleep, "3600"], securityContext: {privileged: true}}]
`
	restricted := `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: audit-existing}
spec:
  securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
  containers:
  - {name: web, image: busybox:1.36, command: [sleep, "3600"], securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}
`
	eventually(t, 20e9, "kguard admits the privileged pod under the permissive grant", func() (bool, string) {
		out, err := kubectlIn(t, privileged, "create", "-f", "-")
		return err == nil, out
	})
	if out, err := kubectlIn(t, restricted, "create", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	audit := func() (string, int) { return runAudit(t) }
	// The controller, as deploy/controller runs it, with the webhook's plugins;
	// without the tenant reconciler, which would apply the objects of the
	// Tenants other tests leave in the cluster (the tenant e2e test runs it).
	startController(t, "--audit-interval", "1m", "--reconcile-tenants=false")
	report := func() string {
		out, _ := kubectl(t, "get", "policyreports.wgpolicyk8s.io", "kguard-audit", "-n", ns, "-o", "json")
		return out
	}
	eventually(t, 60e9, "the controller writes the namespace's PolicyReport", func() (bool, string) {
		out := report()
		return strings.Contains(out, `"pass": 2`), out
	})

	out, code := audit()
	if strings.Contains(out, ns+" Pod/") {
		t.Fatalf("under the permissive grant nothing in %s violates (exit %d):\n%s", ns, code, out)
	}

	// The namespace now may use the restricted policy only.
	grant("e2e-audit-restricted")
	out, code = audit()
	for _, want := range []string{
		ns + ` Pod/debug  PodSecurityPolicy: pods "debug" is forbidden: unable to validate against any pod security policy: [`,
		`spec.containers[0].securityContext.privileged: Invalid value: true: Privileged containers are not allowed]`,
	} {
		if code != 1 || !strings.Contains(out, want) {
			t.Fatalf("kguard audit exit %d, want 1 and %q in\n%s", code, want, out)
		}
	}
	if strings.Contains(out, ns+" Pod/web") {
		t.Fatalf("the restricted pod is reported:\n%s", out)
	}
	eventually(t, 30e9, "the PolicyReport shows the privileged pod failing", func() (bool, string) {
		out := report()
		ok := strings.Contains(out, `"fail": 1`) && strings.Contains(out, `"policy": "PodSecurityPolicy"`) &&
			strings.Contains(out, "Privileged containers are not allowed") && strings.Contains(out, `"name": "debug"`) &&
			strings.Contains(out, `"app.kubernetes.io/managed-by": "kguard"`)
		return ok, out
	})
	// The pod deleted, the report holds no failure.
	mustKubectl(t, "delete", "pod", "debug", "-n", ns, "--grace-period=0", "--force", "--wait=false")
	eventually(t, 30e9, "the failure leaves the report with the pod", func() (bool, string) {
		out := report()
		return strings.Contains(out, `"fail": 0`) && !strings.Contains(out, `"name": "debug"`), out
	})
}

// startController runs `kguard controller` against the cluster, with the
// webhook's pod plugins and a short debounce, until the test ends; its log
// is printed when the test failed.
func startController(t *testing.T, args ...string) {
	t.Helper()
	base := []string{"controller", "--kubeconfig", live.kubeconfig, "--enable-admission-plugins=PodSecurityPolicy,PodSecurity",
		"--metrics-address", "127.0.0.1:" + freePort(t), "--debounce", "200ms"}
	ctl := exec.Command(kg.bin, append(base, args...)...)
	var log syncBuilder
	ctl.Stdout, ctl.Stderr = &log, &log
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctl.Process.Kill()
		ctl.Wait()
		if t.Failed() {
			t.Logf("kguard controller log:\n%s", log.String())
		}
	})
}

// syncBuilder is a strings.Builder that a process's stdout and stderr may
// write to at once.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runAudit runs `kguard audit --kubeconfig` with args; it returns the output
// and the exit code.
func runAudit(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(kg.bin, append([]string{"audit", "--kubeconfig", live.kubeconfig}, args...)...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("kguard audit: %v\n%s", err, out)
	return "", 0
}

// Gatekeeper constraints judge existing objects of every kind they match:
// an Ingress created before the gatekeeper-library's https-only constraint
// is reported by `kguard audit --kubeconfig` (which reads the cluster's
// templates and constraints, and lists Ingresses because the constraint
// matches them) and by `kguard controller` in the namespace's PolicyReport;
// an Ingress with TLS beside it is not.
func TestAuditConstraints(t *testing.T) {
	defer kguardLogs(t)
	const ns = "audit-gk"
	testNamespace(t, ns)
	mustKubectl(t, "apply", "-f", gkLibrary+"general/httpsonly/template.yaml")
	t.Cleanup(func() {
		kubectl(t, "delete", "--ignore-not-found", "--wait=false", "constrainttemplates.templates.gatekeeper.sh", "k8shttpsonly")
	})
	eventually(t, 60*time.Second, "kguard creates the K8sHttpsOnly CRD", func() (bool, string) {
		out, err := kubectl(t, "wait", "--for=condition=Established", "--timeout=5s", "crd/k8shttpsonly.constraints.gatekeeper.sh")
		return err == nil, out
	})
	ingress := func(name, tls string) string {
		return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ` + name + `, namespace: audit-gk, annotations: {kubernetes.io/ingress.allow-http: "false"}}
spec:
` + tls + `  rules:
  - host: ` + name + `.example.com
    http:
      paths: [{pathType: Prefix, path: /, backend: {service: {name: web, port: {number: 80}}}}]
`
	}
	// Both exist before the constraint does.
	for _, in := range []string{ingress("plain", ""), ingress("secure", "  tls: [{hosts: [secure.example.com], secretName: secure-tls}]\n")} {
		if out, err := kubectlIn(t, in, "apply", "-f", "-"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	const constraint = `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sHttpsOnly
metadata: {name: e2e-audit-https-only}
spec:
  match:
    kinds: [{apiGroups: [networking.k8s.io], kinds: [Ingress]}]
    namespaces: [audit-gk]
`
	if out, err := kubectlIn(t, constraint, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() {
		kubectl(t, "delete", "--ignore-not-found", "k8shttpsonly.constraints.gatekeeper.sh", "e2e-audit-https-only")
	})

	want := ns + " Ingress/plain  Constraints: [e2e-audit-https-only] Ingress should be https."
	for _, args := range [][]string{{"--enable-admission-plugins", "Constraints"}, nil} { // asked for, and by default
		out, code := runAudit(t, args...)
		if code != 1 || !strings.Contains(out, want) {
			t.Fatalf("kguard audit %v: exit %d, want 1 and %q in\n%s", args, code, want, out)
		}
		if strings.Contains(out, "Ingress/secure") {
			t.Fatalf("kguard audit %v reports the Ingress with TLS:\n%s", args, out)
		}
	}

	startController(t, "--enable-admission-plugins=Constraints", "--audit-interval", "1m", "--reconcile-tenants=false")
	eventually(t, 90*time.Second, "the PolicyReport shows the plain Ingress failing", func() (bool, string) {
		out, _ := kubectl(t, "get", "policyreports.wgpolicyk8s.io", "kguard-audit", "-n", ns, "-o", "json")
		ok := strings.Contains(out, `"fail": 1`) && strings.Contains(out, `"pass": 1`) && strings.Contains(out, `"policy": "Constraints"`) &&
			strings.Contains(out, "[e2e-audit-https-only] Ingress should be https") && strings.Contains(out, `"name": "plain"`)
		return ok, out
	})
}
