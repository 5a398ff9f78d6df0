//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kguard/kguard/internal/mcs"
	"github.com/kguard/kguard/internal/mcs/mcskube"
)

// BenchmarkMCSAllocator: how fast two replicas hand out SELinux MCS pairs
// with their allocation table in a ConfigMap of the real kube-apiserver
// (each block of 256 pairs claimed by compare-and-swap, the two replicas
// claiming at once), every pair seen running at once as the informer would
// report it. pairs/s is what the allocator sustains; a cluster creating 500
// pods per second needs 500.
//
//	go test -tags e2e -run XXX -bench BenchmarkMCSAllocator ./test/e2e/
func BenchmarkMCSAllocator(b *testing.B) {
	ctx := context.Background()
	name := fmt.Sprintf("bench-mcs-%d", b.N)
	live.client.CoreV1().ConfigMaps(mcsNamespace).Delete(ctx, name, metav1.DeleteOptions{})
	b.Cleanup(func() { live.client.CoreV1().ConfigMaps(mcsNamespace).Delete(ctx, name, metav1.DeleteOptions{}) })
	rc, err := clientcmd.BuildConfigFromFlags("", live.kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	var replicas []*mcs.Allocator
	for _, id := range []string{"bench-a", "bench-b"} {
		client, err := mcskube.Client(rc) // each replica its own, as kguard serve makes it
		if err != nil {
			b.Fatal(err)
		}
		a := mcs.New(id, &mcskube.Store{Client: client, Namespace: mcsNamespace, Name: name})
		a.Synced()
		replicas = append(replicas, a)
	}
	var n atomic.Int64
	b.SetParallelism(4) // 8 goroutines on 2 cores, half on each replica
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := n.Add(1)
		a, other := replicas[i%2], replicas[(i+1)%2]
		for j := 0; pb.Next(); j++ {
			key := fmt.Sprintf("bench/%d-%d", i, j)
			p, err := a.Assign(ctx, key, false)
			if err != nil {
				b.Error(err)
				return
			}
			a.Observe(key, []mcs.Pair{p})
			other.Observe(key, []mcs.Pair{p})
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
	cm, err := live.client.CoreV1().ConfigMaps(mcsNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	t, err := mcs.Decode(cm.Data)
	if err != nil {
		b.Fatal(err)
	}
	blocks := 0
	for _, l := range t.Replicas {
		blocks += len(l.Blocks)
	}
	b.ReportMetric(float64(blocks), "blocks")
}
