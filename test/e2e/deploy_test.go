//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// deploy/ is accepted by the real API server, and the RBAC it grants kguard's
// ServiceAccount is enough for cluster mode: a kguard running with only that
// ServiceAccount's token syncs its informers and becomes ready.
func TestDeployManifests(t *testing.T) {
	defer kguardLogs(t)
	rendered, err := exec.Command("kubectl", "kustomize", "../../deploy").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize deploy: %v\n%s", err, rendered)
	}
	ca, err := os.ReadFile(live.env["CA_CERT"])
	if err != nil {
		t.Fatal(err)
	}
	// Apply the namespace, ServiceAccount and RBAC for real, then run kguard as that ServiceAccount.
	rbac := ""
	for _, f := range []string{"namespace.yaml", "serviceaccount.yaml", "rbac.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../deploy", f))
		if err != nil {
			t.Fatal(err)
		}
		rbac += string(b) + "\n---\n"
	}
	if out, err := kubectlIn(t, rbac, "apply", "-n", "kguard", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() {
		kubectl(t, "delete", "clusterrolebinding,clusterrole", "kguard", "--ignore-not-found")
		kubectl(t, "delete", "namespace", "kguard", "--wait=false")
	})
	// Then the rest, as the API server would take it.
	// The caBundle placeholder is deliberately not base64 (docs/install.md): fill it.
	manifests := regexp.MustCompile(`caBundle: .*`).ReplaceAllString(string(rendered), "caBundle: "+base64.StdEncoding.EncodeToString(ca))
	if out, err := kubectlIn(t, manifests, "apply", "--dry-run=server", "-f", "-"); err != nil {
		t.Fatalf("the API server refuses deploy/: %v\n%s", err, out)
	}
	// The placeholder itself is refused: an unfilled install registers no webhook.
	if out, err := kubectlIn(t, string(rendered), "apply", "--dry-run=server", "-f", "-"); err == nil || !strings.Contains(out, "caBundle") {
		t.Fatalf("the caBundle placeholder was accepted: %v\n%s", err, out)
	}

	token := strings.TrimSpace(mustKubectl(t, "create", "token", "-n", "kguard", "kguard", "--duration=10m"))
	kubeconfig := filepath.Join(t.TempDir(), "kguard.kubeconfig")
	os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: e2e, cluster: {server: %s, certificate-authority: %s}}]
users: [{name: kguard, user: {token: %s}}]
contexts: [{name: e2e, context: {cluster: e2e, user: kguard}}]
current-context: e2e
`, live.env["APISERVER_URL"], live.env["CA_CERT"], token)), 0o600)
	// The ServiceAccount may not do more than read (least privilege).
	for _, verb := range []string{"create", "delete", "patch"} {
		if out, _ := kubectl(t, "auth", "can-i", verb, "pods", "--as=system:serviceaccount:kguard:kguard", "-A"); answer(out) != "no" {
			t.Errorf("kguard's ServiceAccount may %s pods: %q", verb, out)
		}
	}
	port := freePort(t)
	r, logFile := serveAs(t, "deploy-rbac", kubeconfig, port)
	defer r.stop()
	client := kg.client()
	eventually(t, 60*time.Second, "kguard with deploy/'s RBAC is ready", func() (bool, string) {
		resp, err := client.Get("https://127.0.0.1:" + port + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		b, _ := os.ReadFile(logFile)
		return resp.StatusCode == 200, string(b)
	})
	r.stop()
	tenancyComponent(t, kubeconfig, ca)
}

// tenancyComponent: deploy/ with the deploy/tenancy component renders and
// the API server takes it; with its RBAC, kguard's ServiceAccount runs the
// Tenancy plugin's SELinux MCS allocator (pods listed and watched, the
// allocation table written in kguard's namespace) and nothing more.
func tenancyComponent(t *testing.T, kubeconfig string, ca []byte) {
	overlay := t.TempDir()
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(overlay, filepath.Join(wd, "../../deploy"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte("resources: [\""+rel+"\"]\ncomponents: [\""+rel+"/tenancy\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rendered, err := kubectl(t, "kustomize", "--load-restrictor", "LoadRestrictionsNone", overlay)
	if err != nil {
		t.Fatalf("kubectl kustomize with deploy/tenancy: %v\n%s", err, rendered)
	}
	for _, want := range []string{"--enable-admission-plugins=Tenancy,", "name: POD_NAME", "name: POD_NAMESPACE", "sideEffects: NoneOnDryRun", "name: kguard-mcs", "name: tenancy.kguard.io"} {
		if !strings.Contains(rendered, want) {
			t.Errorf("deploy/ with deploy/tenancy lacks %q", want)
		}
	}
	manifests := regexp.MustCompile(`caBundle: .*`).ReplaceAllString(rendered, "caBundle: "+base64.StdEncoding.EncodeToString(ca))
	if out, err := kubectlIn(t, manifests, "apply", "--dry-run=server", "-f", "-"); err != nil {
		t.Errorf("the API server refuses deploy/ with deploy/tenancy: %v\n%s", err, out)
	}
	b, err := os.ReadFile("../../deploy/tenancy/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := kubectlIn(t, string(b), "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "clusterrolebinding,clusterrole", "kguard-tenancy", "--ignore-not-found") })
	as := "--as=system:serviceaccount:kguard:kguard"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "pods", "-A"}, "yes"},
		{[]string{"watch", "pods", "-A"}, "yes"},
		{[]string{"update", "configmaps/kguard-mcs", "-n", "kguard"}, "yes"},
		{[]string{"update", "configmaps/other", "-n", "kguard"}, "no"},
		{[]string{"create", "configmaps", "-n", "default"}, "no"},
		{[]string{"delete", "pods", "-A"}, "no"},
	} {
		if out, _ := kubectl(t, append([]string{"auth", "can-i", as}, tc.args...)...); answer(out) != tc.want {
			t.Errorf("can kguard's ServiceAccount %v? %q, want %s", tc.args, out, tc.want)
		}
	}
	tenant := "apiVersion: kguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: deploy-mcs}\nspec:\n  namespaces: {names: [deploy-mcs]}\n"
	if out, err := kubectlIn(t, tenant, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "tenants.kguard.io", "deploy-mcs", "--ignore-not-found") })

	port := freePort(t)
	r, logFile := serveAs(t, "deploy-tenancy", kubeconfig, port,
		"--enable-admission-plugins", "Tenancy,PodSecurity", "--mcs-namespace", "kguard", "--mcs-identity", "deploy-test")
	defer r.stop()
	client := kg.client()
	review := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},` +
		`"resource":{"group":"","version":"v1","resource":"pods"},"name":"p","namespace":"deploy-mcs","operation":"CREATE","userInfo":{"username":"alice"},` +
		`"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"deploy-mcs"},"spec":{"containers":[{"name":"c","image":"x"}]}}}}`
	eventually(t, 60*time.Second, "kguard with deploy/tenancy's RBAC gives a tenant's pod its level", func() (bool, string) {
		resp, err := client.Post("https://127.0.0.1:"+port+"/mutate", "application/json", strings.NewReader(review))
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var ar struct {
			Response struct {
				Allowed bool
				Patch   []byte
				Status  struct{ Message string }
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&ar); err != nil {
			return false, err.Error()
		}
		log, _ := os.ReadFile(logFile)
		return ar.Response.Allowed && strings.Contains(string(ar.Response.Patch), `"seLinuxOptions":{"level":"s0:c`),
			fmt.Sprintf("%d %+v %s\n%s", resp.StatusCode, ar.Response, ar.Response.Patch, log)
	})
	cm, err := live.client.CoreV1().ConfigMaps("kguard").Get(context.Background(), "kguard-mcs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.Data["replica.deploy-test"]; !ok {
		t.Errorf("the allocation table does not list the replica: %v", cm.Data)
	}
}

// serveAs starts `kguard serve` with kubeconfig's credentials on port, its
// output in kguard-<name>.log.
func serveAs(t *testing.T, name, kubeconfig, port string, args ...string) (*replica, string) {
	t.Helper()
	cmd := exec.Command(kg.bin, append([]string{"serve", "--kubeconfig", kubeconfig, "--listen-address", "127.0.0.1:" + port,
		"--tls-cert-file", live.env["KGUARD_TLS_CERT"], "--tls-private-key-file", live.env["KGUARD_TLS_KEY"]}, args...)...)
	logFile := filepath.Join(kg.dir, "kguard-"+name+".log")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd, log: logFile, done: make(chan error, 1)}
	go func() { r.done <- cmd.Wait(); f.Close() }()
	return r, logFile
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}
