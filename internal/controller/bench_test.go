package controller_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/controller"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/snapshot"
)

// BenchmarkReconcile: one audit of every pod in the informer caches (100
// namespaces enforcing Pod Security baseline, 2% of the pods privileged)
// and the report writes, for 10,000 and 40,000 pods. Besides time it
// reports the live heap the audit holds when 90% of the objects are
// reviewed (held-at-90%-MB, over the heap before it, caches excluded):
// what "memory flat in the number of objects" means for the controller —
// the pointer slice of a cache's List and the results, at most twice
// --report-max-results per namespace.
//
//	go test -run '^$' -bench Reconcile -benchtime 3x ./internal/controller/
//
// pausePlugin is a test admission plugin that, once armed, stops every
// review after the first `at` until released: the audit then holds what it
// retains at that point and allocates nothing, so that two collections
// measure its live heap exactly.
type pausePlugin struct{}

var pause struct {
	at      atomic.Int64 // 0: not armed
	seen    atomic.Int64
	reached chan struct{}
	release chan struct{}
}

func (pausePlugin) Handles(admissionv1.Operation, string) bool { return true }

func (pausePlugin) Validate(context.Context, *admission.Request, *corev1.Pod) admission.Decision {
	if at := pause.at.Load(); at > 0 {
		switch n := pause.seen.Add(1); {
		case n == at:
			close(pause.reached)
			<-pause.release
		case n > at:
			<-pause.release
		}
	}
	return admission.Decision{}
}

func init() {
	admission.Register("BenchPause", func(admission.Inputs) (admission.Plugin, error) { return pausePlugin{}, nil })
}

// retained is the live heap an audit of c's caches holds when 90% of its n
// objects are reviewed, over the heap before it.
func retained(b *testing.B, c *controller.Controller, n int) uint64 {
	b.Helper()
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	pause.seen.Store(0)
	pause.reached, pause.release = make(chan struct{}), make(chan struct{})
	pause.at.Store(int64(n * 9 / 10))
	done := make(chan error, 1)
	go func() { done <- c.Reconcile(context.Background()) }()
	<-pause.reached
	time.Sleep(50 * time.Millisecond) // the other worker reaches the pause too
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	pause.at.Store(0)
	close(pause.release)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if ms.HeapAlloc < base {
		return 0
	}
	return ms.HeapAlloc - base
}

func BenchmarkReconcile(b *testing.B) {
	for _, n := range []int{10000, 40000} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			const namespaces = 100
			set := &policy.Set{}
			objs := []k8sruntime.Object{}
			for i := 0; i < namespaces; i++ {
				ns := fmt.Sprintf("ns-%d", i)
				objs = append(objs, namespace(ns))
				set.Namespaces = append(set.Namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
					Labels: map[string]string{"pod-security.kubernetes.io/enforce": "baseline"}}})
			}
			for i := 0; i < n; i++ {
				objs = append(objs, pod(fmt.Sprintf("ns-%d", i%namespaces), fmt.Sprintf("p-%d", i), i%50 == 0))
			}
			snap, err := snapshot.Build(snapshot.Config{AuthorizationModes: []string{"RBAC"}, AdmissionPlugins: []string{podsecurity.PluginName, "BenchPause"}}, set)
			if err != nil {
				b.Fatal(err)
			}
			client := fakeCluster(b, objs...)
			objs = nil
			c := &controller.Controller{Client: client, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			ctx, cancel := context.WithCancel(context.Background())
			defer func() { cancel(); c.Shutdown() }()
			if err := c.Start(ctx); err != nil {
				b.Fatal(err)
			}
			c.Store(snap)
			held := retained(b, c, n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.Reconcile(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
			b.ReportMetric(float64(held)/(1<<20), "held-at-90%-MB")
		})
	}
}
