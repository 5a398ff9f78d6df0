//go:build e2e

package e2e

import (
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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
	cmd := exec.Command(kg.bin, "serve", "--kubeconfig", kubeconfig, "--listen-address", "127.0.0.1:"+port,
		"--tls-cert-file", live.env["KGUARD_TLS_CERT"], "--tls-private-key-file", live.env["KGUARD_TLS_KEY"])
	logFile := filepath.Join(kg.dir, "kguard-deploy-rbac.log")
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
