//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kguard/kguard/internal/mcs"
	"github.com/kguard/kguard/internal/mcs/mcskube"
)

// Issue #15's SELinux MCS levels on the real control plane, with two kguard
// replicas behind a round-robin HTTPS proxy that sends each admission to
// the next replica (kube-apiserver keeps its connections to the webhook
// open, so replicas sharing a port would see them all go to the first):
// 200 pods of a perPod tenant created at once all
// get distinct pairs, handed out by both replicas from the blocks each
// reserved in the shared table; a pod that brings a running pod's pair is
// refused, a free one admitted; the pods of a perTenant tenant share its
// one pair; a dry run shows a level and reserves nothing.
func TestSELinuxLevels(t *testing.T) {
	defer kguardLogs(t)
	const nsPod, nsTenant = "mcs-perpod", "mcs-pertenant"
	testNamespace(t, nsPod)
	testNamespace(t, nsTenant)
	tenants := `apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: mcs-pods}
spec:
  namespaces: {names: [mcs-perpod]}
  podSecurity: {level: restricted, seLinux: perPod}
---
apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: mcs-tenant}
spec:
  namespaces: {names: [mcs-pertenant]}
  podSecurity: {level: restricted, seLinux: perTenant}
`
	if out, err := kubectlIn(t, tenants, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "tenants.kguard.io", "mcs-pods", "mcs-tenant", "--ignore-not-found") })
	policy := strings.Replace(crd(t, "../../examples/psp/policies/restricted-psp.yaml"), "name: restricted", "name: e2e-mcs", 1)
	if out, err := kubectlIn(t, policy, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "podsecuritypolicies.kguard.io", "e2e-mcs", "--ignore-not-found") })
	role := "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: e2e-mcs-psp}\n" +
		"rules: [{apiGroups: [kguard.io], resources: [podsecuritypolicies], verbs: [use], resourceNames: [e2e-mcs]}]\n"
	if out, err := kubectlIn(t, role, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "clusterrole", "e2e-mcs-psp", "--ignore-not-found") })
	// The pods are created by the test's admin user.
	mustKubectl(t, "create", "clusterrolebinding", "e2e-mcs-psp", "--clusterrole=e2e-mcs-psp", "--group=system:masters")
	t.Cleanup(func() { kubectl(t, "delete", "clusterrolebinding", "e2e-mcs-psp", "--ignore-not-found") })
	for _, ns := range []string{nsPod, nsTenant} {
		ns := ns
		t.Cleanup(func() {
			zero := int64(0)
			live.client.CoreV1().Pods(ns).DeleteCollection(context.Background(), metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
		})
	}

	newPod := func(name string, level string) *corev1.Pod {
		yes, uid := true, int64(1000)
		no := false
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid},
				Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
					SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}}}}}
		if level != "" {
			p.Spec.SecurityContext.SELinuxOptions = &corev1.SELinuxOptions{Level: level}
		}
		return p
	}
	ctx := context.Background()
	for _, ns := range []string{nsPod, nsTenant} {
		eventually(t, 30*time.Second, "kguard gives the tenant's pods a level (a dry run)", func() (bool, string) {
			p, err := live.client.CoreV1().Pods(ns).Create(ctx, newPod("first", ""), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				return false, err.Error()
			}
			sc := p.Spec.SecurityContext
			return sc.SELinuxOptions != nil && sc.SELinuxOptions.Level != "", fmt.Sprint(sc.SELinuxOptions)
		})
	}
	if _, err := live.client.CoreV1().Pods(nsPod).Create(ctx, newPod("first", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// A second replica on a port of its own, and the webhooks pointed at a
	// proxy that alternates between the two.
	b, err := kg.startOn("b", freePort(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.stop() })
	proxy := roundRobin(t, live.env["KGUARD_PORT"], b.port)
	ca, err := os.ReadFile(live.env["CA_CERT"])
	if err != nil {
		t.Fatal(err)
	}
	configs, err := kg.webhookConfigurations(ca)
	if err != nil {
		t.Fatal(err)
	}
	viaProxy := strings.ReplaceAll(configs, "127.0.0.1:"+live.env["KGUARD_PORT"]+"/", "127.0.0.1:"+proxy+"/")
	if out, err := kubectlIn(t, viaProxy, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := kubectlIn(t, configs, "apply", "-f", "-"); err != nil {
			t.Errorf("restoring the webhooks: %v\n%s", err, out)
		}
	})

	// 200 pods at once, 20 at a time.
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	names := make(chan int, n)
	for i := 0; i < n; i++ {
		names <- i
	}
	close(names)
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range names {
				if _, err := live.client.CoreV1().Pods(nsPod).Create(ctx, newPod(fmt.Sprintf("p-%03d", i), ""), metav1.CreateOptions{}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("creating a pod: %v", err)
	}
	pods, err := live.client.CoreV1().Pods(nsPod).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != n+1 {
		t.Fatalf("%d pods, want %d", len(pods.Items), n+1)
	}
	byPair := map[mcs.Pair]string{}
	for _, p := range pods.Items {
		sc := p.Spec.SecurityContext
		if sc == nil || sc.SELinuxOptions == nil {
			t.Fatalf("pod %s has no SELinux options", p.Name)
		}
		pair, err := mcs.ParseLevel(sc.SELinuxOptions.Level)
		if err != nil {
			t.Fatalf("pod %s: %v", p.Name, err)
		}
		if other, dup := byPair[pair]; dup {
			t.Fatalf("pods %s and %s both got %s", other, p.Name, pair)
		}
		byPair[pair] = p.Name
	}
	// Both replicas handed out pairs, each from its own blocks.
	cm, err := live.client.CoreV1().ConfigMaps(mcsNamespace).Get(ctx, mcskube.ConfigMapName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	table, err := mcs.Decode(cm.Data)
	if err != nil {
		t.Fatal(err)
	}
	owner := map[int]string{}
	for id, l := range table.Replicas {
		for _, blk := range l.Blocks {
			owner[blk] = id
		}
	}
	perReplica := map[string]int{}
	for pair, name := range byPair {
		id, ok := owner[pair.Block()]
		if !ok {
			t.Fatalf("pod %s's %s is in block %d, which no replica owns (%v)", name, pair, pair.Block(), cm.Data)
		}
		perReplica[id]++
	}
	t.Logf("pairs per replica: %v", perReplica)
	if len(perReplica) < 2 {
		t.Errorf("one replica handed out every pair: %v (table %v)", perReplica, cm.Data)
	}

	// A pod that brings a running pod's pair is refused; a free pair is admitted.
	var taken mcs.Pair
	for p := range byPair {
		taken = p
		break
	}
	_, err = live.client.CoreV1().Pods(nsPod).Create(ctx, newPod("copycat", taken.String()), metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), `tenant "mcs-pods": spec.securityContext.seLinuxOptions.level: Invalid value: "`+taken.String()+`": each pod of tenant "mcs-pods" holds a level no other running pod holds`) {
		t.Errorf("a pod at a running pod's level: %v", err)
	}
	free := mcs.Pair{Lo: 1000, Hi: 1001}
	if _, err := live.client.CoreV1().Pods(nsPod).Create(ctx, newPod("chooser", free.String()), metav1.CreateOptions{}); err != nil {
		t.Errorf("a pod at a free level: %v", err)
	}
	// Three categories would dominate other pods' pairs.
	if _, err := live.client.CoreV1().Pods(nsPod).Create(ctx, newPod("greedy", "s0:c1,c2,c3"), metav1.CreateOptions{}); err == nil ||
		!strings.Contains(err.Error(), "does not have exactly two categories") {
		t.Errorf("a pod at a level of three categories: %v", err)
	}
	// A dry run shows a level.
	out, err := kubectl(t, "run", "dry", "-n", nsPod, "--image=registry.k8s.io/pause:3.10", "--dry-run=server", "-o", "jsonpath={.spec.securityContext.seLinuxOptions.level}",
		`--overrides={"spec":{"securityContext":{"runAsNonRoot":true,"runAsUser":1000},"containers":[{"name":"dry","image":"registry.k8s.io/pause:3.10","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`)
	if err != nil {
		t.Errorf("dry run: %v\n%s", err, out)
	} else if _, err := mcs.ParseLevel(out); err != nil {
		t.Errorf("dry run: %v", err)
	}

	// perTenant: every pod of the tenant at its one pair, outside the pods' blocks.
	var levels []string
	for i := 0; i < 3; i++ {
		p, err := live.client.CoreV1().Pods(nsTenant).Create(ctx, newPod(fmt.Sprint("t-", i), ""), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		levels = append(levels, p.Spec.SecurityContext.SELinuxOptions.Level)
	}
	if levels[0] != levels[1] || levels[1] != levels[2] {
		t.Errorf("the perTenant tenant's pods got %v", levels)
	}
	tp, err := mcs.ParseLevel(levels[0])
	if err != nil {
		t.Fatal(err)
	}
	if tp.Block() >= mcs.TenantBlocks {
		t.Errorf("the tenant's pair %s is in the pods' blocks", tp)
	}
	if _, dup := byPair[tp]; dup {
		t.Errorf("the tenant's pair %s is a pod's too", tp)
	}
	// Another tenant's level is refused.
	if _, err := live.client.CoreV1().Pods(nsTenant).Create(ctx, newPod("other", taken.String()), metav1.CreateOptions{}); err == nil ||
		!strings.Contains(err.Error(), `tenant "mcs-tenant"'s pods run at its level `+tp.String()) {
		t.Errorf("a perTenant pod at another level: %v", err)
	}
}

// roundRobin serves HTTPS (kguard's certificate) on a free port and sends
// each request to the next of ports, in turn for each path (so that the
// mutating calls alternate, not the mutating and the validating one); it
// returns its port.
func roundRobin(t *testing.T, ports ...string) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(live.env["KGUARD_TLS_CERT"], live.env["KGUARD_TLS_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	var mutate, other atomic.Uint64
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			next := &other
			if r.In.URL.Path == "/mutate" {
				next = &mutate
			}
			port := ports[next.Add(1)%uint64(len(ports))]
			r.SetURL(&url.URL{Scheme: "https", Host: "127.0.0.1:" + port})
		},
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: kg.caPool}, MaxIdleConnsPerHost: 64},
	}
	srv := &http.Server{Handler: rp}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
