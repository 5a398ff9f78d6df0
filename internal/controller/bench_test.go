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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/controller"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/snapshot"
)

// BenchmarkReconcile: one audit of every pod in the informer caches (100
// namespaces enforcing Pod Security baseline, 2% of the pods privileged)
// and the report writes, for 10,000 and 40,000 pods. Besides time it
// reports the live heap the audit adds at its peak over the caches
// themselves (peak-extra-MB): a first audit runs while a sampler collects
// garbage and reads the heap again and again, so that garbage waiting for
// a collection (which Go lets grow with the live heap, here mostly the
// caches) does not count. That is what "memory flat in the number of
// objects" means for the controller. objects/s is measured without the
// sampler.
//
//	go test -run '^$' -bench Reconcile -benchtime 3x ./internal/controller/
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
			snap, err := snapshot.Build(snapshot.Config{AuthorizationModes: []string{"RBAC"}, AdmissionPlugins: []string{podsecurity.PluginName}}, set)
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
			var peakExtra uint64
			measure := func() {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				base := ms.HeapAlloc
				var peak atomic.Uint64
				done := make(chan struct{})
				go func() {
					var m runtime.MemStats
					for {
						select {
						case <-done:
							return
						default:
						}
						runtime.GC()
						runtime.ReadMemStats(&m)
						if m.HeapAlloc > peak.Load() {
							peak.Store(m.HeapAlloc)
						}
						time.Sleep(5 * time.Millisecond)
					}
				}()
				err := c.Reconcile(ctx)
				close(done)
				if err != nil {
					b.Fatal(err)
				}
				if p := peak.Load(); p > base {
					peakExtra = p - base
				}
			}
			measure()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.Reconcile(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
			b.ReportMetric(float64(peakExtra)/(1<<20), "peak-extra-MB")
		})
	}
}
