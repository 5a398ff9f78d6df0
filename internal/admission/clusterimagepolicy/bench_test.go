package clusterimagepolicy

import (
	"context"
	"testing"

	"github.com/kguard/kguard/internal/admission"
)

// BenchmarkWarmPod is the engine time of a pod with three images whose
// verdicts are cached (docs/performance.md): the mutating pass, which
// resolves, verifies and pins, with every answer from the cache.
func BenchmarkWarmPod(b *testing.B) {
	t := &testing.T{}
	p, _ := setup(t, Config{}, "")
	m := p.(admission.Mutator)
	// Three images, all signed (tags of the signed digest in the fake).
	pd := pod("registry.example/app:signed", "registry.example/app:v1", "registry.example/app:v2")
	r := &admission.Request{Namespace: "in"}
	if d := m.Mutate(context.Background(), r, pd); d.Denied {
		b.Fatal(d.Reason)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if d := m.Mutate(context.Background(), r, pd); d.Denied || d.Pod == nil {
			b.Fatal(d.Reason)
		}
	}
}
