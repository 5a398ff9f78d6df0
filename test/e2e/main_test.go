//go:build e2e

// Package e2e runs kguard against a real control plane: etcd, kube-apiserver
// and kube-controller-manager started by hack/e2e-cluster.sh, driven with
// client-go and the real kubectl. Run it with `make e2e`.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// cluster describes the running control plane (the env file of hack/e2e-cluster.sh).
type cluster struct {
	env        map[string]string
	kubeconfig string
	config     *rest.Config
	client     kubernetes.Interface
}

var live *cluster

func TestMain(m *testing.M) {
	path := os.Getenv("KGUARD_E2E_ENV")
	if path == "" {
		// Never skip: a green run without a cluster would hide that nothing ran.
		fmt.Fprintln(os.Stderr, "KGUARD_E2E_ENV is not set: start a cluster with `hack/e2e-cluster.sh up` and set it to the env file it prints, or run `make e2e`")
		os.Exit(1)
	}
	c, err := load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	live = c
	first, err := setupWebhook()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting kguard:", err)
		os.Exit(1)
	}
	current = first
	code := m.Run()
	if err := current.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: stopping kguard:", err)
		code = 1
	}
	// The webhooks would refuse every pod once kguard is gone.
	kubectlRaw(nil, "delete", "mutatingwebhookconfiguration,validatingwebhookconfiguration", "kguard", "--ignore-not-found")
	exec.Command("bash", "../../hack/supply-chain.sh", "registry-down", kg.registryDir).Run()
	os.RemoveAll(kg.dir)
	os.Exit(code)
}

// current is the replica serving between tests (the failure test replaces it).
var current *replica

func load(path string) (*cluster, error) {
	env, err := readEnv(path)
	if err != nil {
		return nil, err
	}
	c := &cluster{env: env, kubeconfig: env["KUBECONFIG"]}
	c.config, err = clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", c.kubeconfig, err)
	}
	c.client, err = kubernetes.NewForConfig(c.config)
	return c, err
}

// kubectl runs the real kubectl against the cluster and returns its combined output.
func kubectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", live.kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
