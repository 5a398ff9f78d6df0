//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Scenario 4: with kguard stopped nothing is admitted; after a restart
// everything works again; restarting one of two replicas under load loses no
// answer.
func TestFailure(t *testing.T) {
	defer kguardLogs(t)
	const ns = "e2e-failure"
	testNamespace(t, ns)
	if out, err := kubectlIn(t, crd(t, "../../examples/psp/policies/privileged-psp.yaml"), "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "podsecuritypolicies.kguard.io", "privileged", "--ignore-not-found") })
	pod := func(name string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"},"spec":{"containers":[{"name":"c","image":"k8s.gcr.io/pause"}]}}`
	}
	eventually(t, 30*time.Second, "pods are admitted while kguard runs", func() (bool, string) {
		out, err := kubectlIn(t, pod("before"), "-n", ns, "create", "-f", "-")
		return err == nil, out
	})

	// Stopped: refused, and nothing was created.
	if err := current.stop(); err != nil {
		t.Fatal(err)
	}
	current = nil
	out, err := kubectlIn(t, pod("while-down"), "-n", ns, "create", "-f", "-")
	if err == nil || !strings.Contains(out, `failed calling webhook "mutate.kguard.io"`) {
		t.Fatalf("pod created while kguard was down: %v\n%s", err, out)
	}
	if _, err := live.client.CoreV1().Pods(ns).Get(context.Background(), "while-down", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the refused pod exists: %v", err)
	}

	// Restarted: admitted again.
	if current, err = kg.start("a"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "pods are admitted after the restart", func() (bool, string) {
		out, err := kubectlIn(t, pod("after-restart"), "-n", ns, "create", "-f", "-")
		return err == nil, out
	})

	// Two replicas on the port; restart one under a steady load of pod creations.
	b, err := kg.start("b")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var created, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("load-%d-%d", w, i)},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "k8s.gcr.io/pause"}}}}
				if _, err := live.client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				created.Add(1)
			}
		}()
	}
	time.Sleep(2 * time.Second)
	before := created.Load()
	if err := current.stop(); err != nil {
		cancel()
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // replica b alone
	if current, err = kg.start("a"); err != nil {
		cancel()
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	cancel()
	wg.Wait()
	t.Logf("%d pods created under load (%d before the restart), %d refused", created.Load(), before, failed.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d creations failed during the restart, e.g. %s", failed.Load(), failures[0])
	}
	if created.Load() <= before {
		t.Fatal("no pod was created while one replica restarted")
	}
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
}
