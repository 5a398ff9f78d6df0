//go:build e2e

package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// Issue #16 on the real control plane: a cluster seeded with three known
// escalation chains. `kguard authz paths --kubeconfig` finds each one; the
// first two are then walked with kubectl as their subjects to show they
// are real, and once the offending grants are removed the paths are gone.
//
//  1. dev may create pods in "paths-esc", whose ServiceAccount "deployer"
//     may bind cluster-admin: dev runs a pod as deployer, gets the token the
//     kubelet would mount in it, and as deployer makes itself cluster-admin.
//  2. the CI ServiceAccount (of another namespace) may impersonate groups:
//     it acts as system:masters.
//  3. mon may get nodes/proxy (the kubelet API; node root). No kubelet
//     can run here (no container runtime), so a stand-in HTTPS server
//     answers on the Node's kubelet endpoint: kube-apiserver authorizes mon
//     and forwards its request to that endpoint, which is the hop; what a
//     kubelet then runs (exec in any pod of the node) is the kubelet's.
func TestEscalationPaths(t *testing.T) {
	defer kguardLogs(t)
	const ns, ciNS = "paths-esc", "paths-ci"
	testNamespace(t, ns)
	testNamespace(t, ciNS)
	seed := `apiVersion: v1
kind: ServiceAccount
metadata: {name: deployer, namespace: paths-esc}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ci, namespace: paths-ci}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-runner, namespace: paths-esc}
rules: [{apiGroups: [""], resources: [pods], verbs: [create, get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dev-pods, namespace: paths-esc}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-runner}
subjects: [{kind: User, name: e2e-dev, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: e2e-paths-crb-maker}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterrolebindings], verbs: [create]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [cluster-admin]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-paths-deployer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: e2e-paths-crb-maker}
subjects: [{kind: ServiceAccount, name: deployer, namespace: paths-esc}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: e2e-paths-impersonator}
rules: [{apiGroups: [""], resources: [groups, users], verbs: [impersonate]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-paths-ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: e2e-paths-impersonator}
subjects: [{kind: ServiceAccount, name: ci, namespace: paths-ci}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: e2e-paths-node-debugger}
rules: [{apiGroups: [""], resources: [nodes/proxy], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-paths-mon}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: e2e-paths-node-debugger}
subjects: [{kind: User, name: e2e-mon, apiGroup: rbac.authorization.k8s.io}]
`
	if out, err := kubectlIn(t, seed, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() {
		kubectl(t, "delete", "clusterrolebinding", "e2e-paths-deployer", "e2e-paths-ci", "e2e-paths-mon", "e2e-paths-dev-admin", "e2e-paths-ci-admin", "--ignore-not-found")
		kubectl(t, "delete", "clusterrole", "e2e-paths-crb-maker", "e2e-paths-impersonator", "e2e-paths-node-debugger", "--ignore-not-found")
	})
	// kguard admits the dev's pod: a restricted PodSecurityPolicy its
	// ServiceAccounts may use (the e2e chain runs PodSecurityPolicy).
	policy := strings.Replace(crd(t, "../../examples/psp/policies/restricted-psp.yaml"), "name: restricted", "name: e2e-paths", 1)
	if out, err := kubectlIn(t, policy, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "podsecuritypolicies.kguard.io", "e2e-paths", "--ignore-not-found") })
	pspRole := "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: psp, namespace: paths-esc}\n" +
		"rules: [{apiGroups: [kguard.io], resources: [podsecuritypolicies], verbs: [use], resourceNames: [e2e-paths]}]\n"
	if out, err := kubectlIn(t, pspRole, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	mustKubectl(t, "create", "rolebinding", "-n", ns, "psp", "--role=psp", "--group=system:serviceaccounts:"+ns)

	paths := func(args ...string) string {
		t.Helper()
		cmd := append([]string{"authz", "paths", "--kubeconfig", live.kubeconfig, "--fail-on", "info"}, args...)
		out, err := exec.Command(kg.bin, cmd...).CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
			t.Fatalf("kguard %s: %v\n%s", strings.Join(cmd, " "), err, out)
		}
		return string(out)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"dev through the deployer's pods", []string{"--from", "e2e-dev", "--to", "cluster-admin"}, []string{
			`CRITICAL  User "e2e-dev" -> cluster-admin`,
			`create pods in namespace "paths-esc" (RoleBinding paths-esc/dev-pods -> Role paths-esc/pod-runner) => ServiceAccount paths-esc/deployer`,
			`(ClusterRoleBinding e2e-paths-deployer -> ClusterRole e2e-paths-crb-maker) => cluster-admin`,
		}},
		{"the CI ServiceAccount impersonates", []string{"--from", "system:serviceaccount:paths-ci:ci", "--to", "cluster-admin"}, []string{
			`CRITICAL  ServiceAccount paths-ci/ci -> cluster-admin`, `(ClusterRoleBinding e2e-paths-ci -> ClusterRole e2e-paths-impersonator)`,
		}},
		{"mon reaches a node", []string{"--from", "e2e-mon", "--to", "nodes"}, []string{
			`HIGH      User "e2e-mon" -> nodes`, `get nodes/proxy (ClusterRoleBinding e2e-paths-mon -> ClusterRole e2e-paths-node-debugger) => nodes`,
		}},
	} {
		t.Run("found: "+tc.name, func(t *testing.T) {
			got := paths(tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Fatalf("kguard authz paths %s: missing %q in\n%s", strings.Join(tc.args, " "), w, got)
				}
			}
		})
	}

	// Walk 1: as e2e-dev, a pod running as deployer; its token, as the
	// kubelet would request it for the pod; as deployer, dev's promotion.
	pod := `apiVersion: v1
kind: Pod
metadata: {name: runner, namespace: paths-esc}
spec:
  serviceAccountName: deployer
  securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: sh
    image: busybox:1.36
    command: [sleep, "3600"]
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`
	if out, err := kubectlIn(t, pod, "--as=e2e-dev", "create", "-f", "-"); err != nil {
		t.Fatalf("e2e-dev creates a pod as deployer: %v\n%s", err, out)
	}
	token := strings.TrimSpace(mustKubectl(t, "create", "token", "deployer", "-n", ns, "--bound-object-kind=Pod", "--bound-object-name=runner"))
	if out, err := kubectl(t, "--token", token, "create", "clusterrolebinding", "e2e-paths-dev-admin", "--clusterrole=cluster-admin", "--user=e2e-dev"); err != nil {
		t.Fatalf("as deployer, bind cluster-admin to e2e-dev: %v\n%s", err, out)
	}
	if out, _ := kubectl(t, "--as=e2e-dev", "auth", "can-i", "*", "*", "--all-namespaces"); strings.TrimSpace(out) != "yes" {
		t.Fatalf("e2e-dev is not cluster-admin after walking the path: %s", out)
	}
	mustKubectl(t, "delete", "clusterrolebinding", "e2e-paths-dev-admin")

	// Walk 2: the CI ServiceAccount's token, acting as system:masters.
	ciToken := strings.TrimSpace(mustKubectl(t, "create", "token", "ci", "-n", ciNS))
	if out, err := kubectl(t, "--token", ciToken, "--as=e2e-anyone", "--as-group=system:masters", "create", "clusterrolebinding", "e2e-paths-ci-admin", "--clusterrole=cluster-admin", "--user=e2e-anyone"); err != nil {
		t.Fatalf("as ci impersonating system:masters: %v\n%s", err, out)
	}
	// Walk 3: e2e-mon through kube-apiserver to the node's kubelet API.
	node, kubelet := standInKubelet(t)
	if out, err := kubectl(t, "--as=e2e-mon", "get", "--raw", "/api/v1/nodes/"+node+"/proxy/runningpods/"); err != nil || !strings.Contains(out, "PodList") {
		t.Fatalf("e2e-mon through nodes/proxy: %v\n%s", err, out)
	}
	if got := kubelet.requests(); !slices.Contains(got, "GET /runningpods/") {
		t.Fatalf("the kubelet endpoint saw %v, want GET /runningpods/", got)
	}

	// The grants removed, the paths are gone.
	mustKubectl(t, "delete", "clusterrolebinding", "e2e-paths-deployer", "e2e-paths-ci", "e2e-paths-mon", "e2e-paths-ci-admin")
	eventually(t, 10e9, "e2e-mon is refused the kubelet API", func() (bool, string) {
		out, err := kubectl(t, "--as=e2e-mon", "get", "--raw", "/api/v1/nodes/"+node+"/proxy/runningpods/")
		return err != nil && strings.Contains(out, "Forbidden"), out
	})
	for _, from := range []string{"e2e-dev", "system:serviceaccount:paths-ci:ci", "e2e-mon"} {
		if got := paths("--from", from); strings.Contains(got, "->") || !strings.Contains(got, "no escalation paths found") {
			t.Errorf("after the grants are removed, %s still has a path:\n%s", from, got)
		}
	}
}

// kubeletEndpoint records the requests a stand-in kubelet API receives.
type kubeletEndpoint struct {
	mu  sync.Mutex
	got []string
}

func (k *kubeletEndpoint) requests() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.got)
}

// standInKubelet registers a Node whose kubelet endpoint is an HTTPS server
// of the test, on the machine's first non-loopback address (kube-apiserver
// does not proxy to loopback), answering /runningpods/ as a kubelet does.
func standInKubelet(t *testing.T) (string, *kubeletEndpoint) {
	t.Helper()
	var ip net.IP
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			ip = n.IP
			break
		}
	}
	if ip == nil {
		t.Fatal("no non-loopback IPv4 address for the stand-in kubelet")
	}
	k := &kubeletEndpoint{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.got = append(k.got, r.Method+" "+r.URL.Path)
		k.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}`)
	}))
	l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.StartTLS()
	t.Cleanup(srv.Close)
	port := l.Addr().(*net.TCPAddr).Port

	const name = "e2e-paths-node"
	ctx := context.Background()
	nodes := live.client.CoreV1().Nodes()
	if _, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "e2e", Value: "paths", Effect: corev1.TaintEffectNoSchedule}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating node %s: %v", name, err)
	}
	t.Cleanup(func() { nodes.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := nodes.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip.String()}}
		n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
		_, err = nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("writing the status of node %s: %v", name, err)
	}
	return name, k
}
