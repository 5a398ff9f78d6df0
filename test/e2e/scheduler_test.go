//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// Issue #15's node isolation, shown by the real kube-scheduler: a tenant's
// nodes carry its label and its taint kguard.io/tenant=<tenant>:NoSchedule; a
// pod that tolerates the taint and selects the label is bound to the tenant's
// node, a pod that only selects the label is left unschedulable.
func TestSchedulerTenantNodes(t *testing.T) {
	defer kguardLogs(t)
	nodeA, nodeB := "e2e-scheduler-team-a", "e2e-scheduler-team-b"
	tenantNode(t, nodeA, "team-a")
	tenantNode(t, nodeB, "team-b")

	// The admin may use every policy: the restricted one, under its own name,
	// admits the restricted pods below.
	policy := strings.Replace(crd(t, "../../examples/psp/policies/restricted-psp.yaml"), "name: restricted", "name: e2e-scheduler", 1)
	if out, err := kubectlIn(t, policy, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "podsecuritypolicies.kguard.io", "e2e-scheduler", "--ignore-not-found") })
	const ns = "e2e-scheduler"
	testNamespace(t, ns)
	// Without a kubelet a bound pod is never confirmed deleted: delete the
	// pods at once, or the namespace stays Terminating (cleanups run last
	// registered first: this one before the namespace's and the nodes').
	t.Cleanup(func() {
		zero := int64(0)
		err := live.client.CoreV1().Pods(ns).DeleteCollection(context.Background(),
			metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
		if err != nil {
			t.Errorf("deleting the pods of %s: %v", ns, err)
		}
	})

	pod := func(name, tolerations string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"},"spec":{` +
			`"nodeSelector":{"kguard.io/tenant":"team-a"},"tolerations":[` + tolerations + `],` +
			`"securityContext":{"runAsUser":1000,"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},` +
			`"containers":[{"name":"c","image":"k8s.gcr.io/pause","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`
	}
	eventually(t, 30*time.Second, "the pod without the toleration is admitted", func() (bool, string) {
		out, err := kubectlIn(t, pod("untolerated", ""), "-n", ns, "create", "-f", "-")
		return err == nil, out
	})
	if out, err := kubectlIn(t, pod("team-a", `{"key":"kguard.io/tenant","operator":"Equal","value":"team-a","effect":"NoSchedule"}`),
		"-n", ns, "create", "-f", "-"); err != nil {
		t.Fatalf("creating the tolerating pod: %v\n%s", err, out)
	}

	eventually(t, 30*time.Second, "the tolerating pod is bound to team-a's node", func() (bool, string) {
		p, err := live.client.CoreV1().Pods(ns).Get(context.Background(), "team-a", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return p.Spec.NodeName == nodeA, fmt.Sprintf("nodeName %q, conditions %v", p.Spec.NodeName, p.Status.Conditions)
	})
	// Bound by the scheduler, not by anyone setting spec.nodeName.
	eventually(t, 30*time.Second, "default-scheduler reports the binding", func() (bool, string) {
		events, err := live.client.CoreV1().Events(ns).List(context.Background(),
			metav1.ListOptions{FieldSelector: "involvedObject.name=team-a,reason=Scheduled"})
		if err != nil {
			return false, err.Error()
		}
		for _, e := range events.Items {
			if e.ReportingController == "default-scheduler" && strings.Contains(e.Message, "to "+nodeA) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("events %v", events.Items)
	})
	var reason, message string
	eventually(t, 30*time.Second, "the pod without the toleration is unschedulable", func() (bool, string) {
		p, err := live.client.CoreV1().Pods(ns).Get(context.Background(), "untolerated", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if p.Spec.NodeName != "" {
			t.Fatalf("the pod without the toleration was bound to %s", p.Spec.NodeName)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				reason, message = c.Reason, c.Message
			}
		}
		return reason == corev1.PodReasonUnschedulable, fmt.Sprintf("conditions %v", p.Status.Conditions)
	})
	t.Logf("PodScheduled=False %s: %s", reason, message)
	if !strings.Contains(message, "untolerated taint") {
		t.Errorf("the scheduler's message does not name the untolerated taint: %q", message)
	}
}

// tenantNode creates a Node that the scheduler considers (Ready, with
// allocatable cpu, memory and pods), labelled and tainted for tenant, and
// deletes it when the test ends. No kubelet runs: the test writes the
// status, and renews the node's Lease so that the node lifecycle controller
// does not mark it unreachable during a long test.
func tenantNode(t *testing.T, name, tenant string) {
	t.Helper()
	ctx := context.Background()
	nodes := live.client.CoreV1().Nodes()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kguard.io/tenant": tenant, corev1.LabelHostname: name}},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: "kguard.io/tenant", Value: tenant, Effect: corev1.TaintEffectNoSchedule}}},
	}
	_, err := nodes.Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating node %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := nodes.Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting node %s: %v", name, err)
		}
	})
	now := metav1.Now()
	resources := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("4"),
		corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	// The node lifecycle controller may update the new node meanwhile:
	// write the status on the latest version.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := nodes.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		latest.Status = corev1.NodeStatus{
			Capacity: resources, Allocatable: resources,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
				Reason: "KubeletReady", Message: "status written by the e2e test", LastHeartbeatTime: now, LastTransitionTime: now}},
		}
		_, err = nodes.UpdateStatus(ctx, latest, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("writing the status of node %s: %v", name, err)
	}
	heartbeat(t, name)

	// kube-apiserver's TaintNodesByCondition admission gave the new node the
	// taint node.kubernetes.io/not-ready:NoSchedule; the node lifecycle
	// controller removes it once it sees Ready=True.
	eventually(t, 60*time.Second, "node "+name+" loses the not-ready taint", func() (bool, string) {
		n, err := nodes.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, taint := range n.Spec.Taints {
			if taint.Key != "kguard.io/tenant" {
				return false, fmt.Sprintf("taints %v", n.Spec.Taints)
			}
		}
		return true, ""
	})
}

// heartbeat creates node's Lease in kube-node-lease, as a kubelet does, and
// renews it every 10 seconds until the test ends.
func heartbeat(t *testing.T, node string) {
	t.Helper()
	leases := live.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	holder, duration := node, int32(40)
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: node},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &duration,
			RenewTime: &metav1.MicroTime{Time: time.Now()}},
	}
	lease, err := leases.Create(context.Background(), lease, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the lease of node %s: %v", node, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var renewErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
			updated, err := leases.Update(ctx, lease, metav1.UpdateOptions{})
			if err != nil {
				if ctx.Err() == nil { // not the cancellation of the test's end
					renewErr = err
				}
				return
			}
			lease = updated
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if renewErr != nil {
			t.Errorf("renewing the lease of node %s: %v", node, renewErr)
		}
		leases.Delete(context.Background(), node, metav1.DeleteOptions{})
	})
}
