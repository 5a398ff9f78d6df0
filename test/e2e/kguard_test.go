//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kguard/kguard/internal/manifest"
)

// webhook is the kguard of the suite: `kguard serve` in cluster mode, the
// cluster's token, authorization and admission webhook on KGUARD_PORT.
type webhook struct {
	bin, dir string
	tokens   map[string]string // user -> token in kguard's token file
	caPool   *x509.CertPool
	// registry is the real OCI registry of the image tests
	// (hack/supply-chain.sh registry-up): KGUARD_REGISTRY,
	// KGUARD_REGISTRY_CA, COSIGN, ...
	registry    map[string]string
	registryDir string
}

var kg *webhook

// mcsNamespace holds the replicas' SELinux MCS allocation table.
const mcsNamespace = "kguard-mcs-e2e"

// replica is one running `kguard serve` process.
type replica struct {
	cmd  *exec.Cmd
	log  string
	port string // "" for a replica started by another helper
	done chan error
}

// setupWebhook builds kguard, writes its token file, installs the CRD and the
// webhook configurations, and starts the first replica.
func setupWebhook() (*replica, error) {
	dir, err := os.MkdirTemp("", "kguard-e2e-")
	if err != nil {
		return nil, err
	}
	w := &webhook{dir: dir, bin: filepath.Join(dir, "kguard"), tokens: map[string]string{}}
	if out, err := exec.Command("go", "build", "-o", w.bin, "github.com/kguard/kguard/cmd/kguard").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building kguard: %v\n%s", err, out)
	}
	// The users of seed 001, and tenancy_test.go's tenant owner, with fresh
	// random tokens.
	var csv strings.Builder
	for i, u := range []string{"alice", "bob", "kubelet", "tara"} {
		b := make([]byte, 16)
		rand.Read(b)
		w.tokens[u] = hex.EncodeToString(b)
		fmt.Fprintf(&csv, "%s,%s,%d\n", w.tokens[u], u, 1001+i)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(csv.String()), 0o600); err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(live.env["CA_CERT"])
	if err != nil {
		return nil, err
	}
	w.caPool = x509.NewCertPool()
	w.caPool.AppendCertsFromPEM(ca)
	kg = w
	// A real registry for the image signature tests, up before kguard
	// starts (its CA is a flag).
	w.registryDir = filepath.Join(dir, "registry")
	out, err := exec.Command("bash", "../../hack/supply-chain.sh", "registry-up", w.registryDir).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("starting the registry: %v\n%s", err, out)
	}
	if w.registry, err = readEnv(strings.TrimSpace(string(out))); err != nil {
		return nil, err
	}
	if out, err := kubectlRaw(nil, "apply", "--server-side", "-f", "../../deploy/crds/", "-f", "../../deploy/constraints/crds.yaml", "-f", "../../deploy/controller/crds.yaml"); err != nil {
		return nil, fmt.Errorf("installing the CRD: %v\n%s", err, out)
	}
	if out, err := kubectlRaw(nil, "wait", "--for=condition=Established", "--timeout=60s", "crd/podsecuritypolicies.kguard.io",
		"crd/clusterimagepolicies.policy.sigstore.dev", "crd/trustroots.policy.sigstore.dev",
		"crd/constrainttemplates.templates.gatekeeper.sh", "crd/configs.config.gatekeeper.sh",
		"crd/policyreports.wgpolicyk8s.io", "crd/clusterpolicyreports.wgpolicyk8s.io"); err != nil {
		return nil, fmt.Errorf("CRD not established: %v\n%s", err, out)
	}
	if out, err := kubectlRaw(strings.NewReader("apiVersion: v1\nkind: Namespace\nmetadata: {name: "+mcsNamespace+"}\n"), "apply", "-f", "-"); err != nil {
		return nil, fmt.Errorf("creating namespace %s: %v\n%s", mcsNamespace, err, out)
	}
	r, err := w.start("a")
	if err != nil {
		return nil, err
	}
	configs, err := w.webhookConfigurations(ca)
	if err != nil {
		return nil, fmt.Errorf("reading deploy/webhooks.yaml: %w", err)
	}
	if out, err := kubectlRaw(strings.NewReader(configs), "apply", "-f", "-"); err != nil {
		return nil, fmt.Errorf("registering the webhooks: %v\n%s", err, out)
	}
	return r, nil
}

// webhookConfigurations are deploy/webhooks.yaml, rules and selectors as
// shipped, with a URL instead of a Service: kube-apiserver runs outside any
// cluster network here.
func (w *webhook) webhookConfigurations(caBundle []byte) (string, error) {
	return w.webhookConfigurationsOf("../../deploy/webhooks.yaml", caBundle)
}

// webhookConfigurationsOf is webhookConfigurations of a file.
func (w *webhook) webhookConfigurationsOf(file string, caBundle []byte) (string, error) {
	docs, err := manifest.ReadFile(file)
	if err != nil {
		return "", err
	}
	var out []string
	for _, d := range docs {
		if d.Kind != "MutatingWebhookConfiguration" && d.Kind != "ValidatingWebhookConfiguration" {
			return "", fmt.Errorf("%s: unexpected %s", file, d.Kind)
		}
		// Generic objects: the shipped caBundle is a placeholder that no
		// typed decoder reads.
		var obj map[string]any
		if err := json.Unmarshal(d.JSON, &obj); err != nil {
			return "", err
		}
		webhooks, _ := obj["webhooks"].([]any)
		for _, wh := range webhooks {
			m := wh.(map[string]any)
			svc, _ := m["clientConfig"].(map[string]any)["service"].(map[string]any)
			path, _ := svc["path"].(string)
			m["clientConfig"] = map[string]any{"url": "https://127.0.0.1:" + live.env["KGUARD_PORT"] + path, "caBundle": caBundle}
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return "", err
		}
		out = append(out, string(b))
	}
	return strings.Join(out, "\n"), nil // a JSON stream, as kubectl reads it
}

// start runs one replica on KGUARD_PORT and waits until it is ready.
func (w *webhook) start(name string) (*replica, error) {
	return w.startOn(name, live.env["KGUARD_PORT"])
}

// startOn runs one replica on port.
func (w *webhook) startOn(name, port string) (*replica, error) {
	log := filepath.Join(w.dir, "kguard-"+name+".log")
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(w.bin, "serve",
		"--kubeconfig", live.kubeconfig, "--reuse-port",
		"--listen-address", "127.0.0.1:"+port,
		"--tls-cert-file", live.env["KGUARD_TLS_CERT"], "--tls-private-key-file", live.env["KGUARD_TLS_KEY"],
		"--authorization-mode", "Tenant,ABAC,RBAC", "--authorization-policy-file", "../../examples/abac/policy.jsonl",
		// The defaults, exec_test.go's, imagepolicy_test.go's (only in
		// namespaces labelled policy.sigstore.dev/include=true) and
		// constraints_test.go's and tenancy_test.go's (no constraint or
		// Tenant outside those tests).
		"--enable-admission-plugins", "Tenancy,PodSecurityPolicy,PodSecurity,DenyEscalatingExec,ClusterImagePolicy,Constraints",
		"--registry-ca-file", w.registry["KGUARD_REGISTRY_CA"],
		// The replicas' shared SELinux MCS allocation table (mcs_test.go).
		"--mcs-namespace", mcsNamespace,
		"--token-auth-file", filepath.Join(w.dir, "tokens.csv"),
		"--service-account-key-file", live.env["SA_PUBLIC_KEY"], "--service-account-issuer", live.env["SA_ISSUER"],
		"--shutdown-timeout", "20s", "--log-format", "json")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	r := &replica{cmd: cmd, log: log, port: port, done: make(chan error, 1)}
	go func() { r.done <- cmd.Wait(); f.Close() }()
	client := w.client()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-r.done:
			out, _ := os.ReadFile(log)
			return nil, fmt.Errorf("kguard %s exited: %v\n%s", name, err, out)
		default:
		}
		if resp, err := client.Get("https://127.0.0.1:" + port + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && r.ready(client) {
				return r, nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.stop()
	out, _ := os.ReadFile(log)
	return nil, fmt.Errorf("kguard %s not ready within a minute\n%s", name, out)
}

// ready: with several replicas on the port, /readyz may be answered by
// another one; this replica logs its first snapshot.
func (r *replica) ready(*http.Client) bool {
	b, _ := os.ReadFile(r.log)
	return strings.Contains(string(b), "policy snapshot loaded")
}

func (w *webhook) client() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: w.caPool}}}
}

// readEnv reads a KEY=VALUE file.
func readEnv(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env, nil
}

// stop sends SIGTERM and waits for the graceful shutdown.
func (r *replica) stop() error {
	if r == nil {
		return nil
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.done:
		return err
	case <-time.After(40 * time.Second):
		r.cmd.Process.Kill()
		return fmt.Errorf("kguard did not stop within 40s")
	}
}

// kubectlRaw runs kubectl as the admin with optional stdin, outside a test.
func kubectlRaw(stdin *strings.Reader, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", live.kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kubectlIn runs kubectl with stdin inside a test.
func kubectlIn(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	return kubectlRaw(strings.NewReader(stdin), args...)
}

// eventually polls cond every 250ms for up to timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	start := time.Now()
	last := ""
	for time.Since(start) < timeout {
		ok, detail := cond()
		if ok {
			t.Logf("%s after %v", what, time.Since(start).Round(10*time.Millisecond))
			return
		}
		last = detail
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting until %s; last: %s", timeout, what, last)
}

// kguardLogs prints the replica logs when a test failed.
func kguardLogs(t *testing.T) {
	t.Helper()
	if !t.Failed() || kg == nil {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(kg.dir, "kguard-*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		t.Logf("%s (last lines):\n%s", filepath.Base(l), strings.Join(lines, "\n"))
	}
}
