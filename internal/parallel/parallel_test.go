package parallel

import (
	"strings"
	"sync/atomic"
	"testing"
)

func TestDo(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 1000} {
		seen := make([]int32, n)
		var calls atomic.Int64
		Do(n, func(i int) { atomic.AddInt32(&seen[i], 1); calls.Add(1) })
		if int(calls.Load()) != n {
			t.Fatalf("n=%d: %d calls", n, calls.Load())
		}
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("n=%d: item %d ran %d times", n, i, c)
			}
		}
	}
}

func TestWorkers(t *testing.T) {
	for _, workers := range []int{0, 1, 2, 4} {
		for _, n := range []int{0, 1, 3, 100} {
			seen := make([]int32, n)
			var running, most atomic.Int32
			Workers(n, workers, func(next func() (int, bool)) {
				if r := running.Add(1); r > most.Load() {
					most.Store(r)
				}
				defer running.Add(-1)
				for i, ok := next(); ok; i, ok = next() {
					atomic.AddInt32(&seen[i], 1)
				}
			})
			for i, c := range seen {
				if c != 1 {
					t.Fatalf("workers=%d n=%d: item %d ran %d times", workers, n, i, c)
				}
			}
			if running.Load() != 0 || most.Load() > int32(max(workers, 1)) {
				t.Fatalf("workers=%d n=%d: %d still running, %d at once", workers, n, running.Load(), most.Load())
			}
		}
	}
}

// TestWorkersPanic: a panic on any goroutine reaches the caller, after
// every worker has returned. (That it also ends the handing out of items
// is not asserted: the other workers may take every item before the
// panicking one recovers.)
func TestWorkersPanic(t *testing.T) {
	for range 20 { // the panicking item lands on a helper goroutine in most runs
		var running atomic.Int32
		func() {
			defer func() {
				p, ok := recover().(*Panic)
				if !ok || p.Value != "boom" || !strings.Contains(p.String(), "boom") || len(p.Stack) == 0 {
					t.Fatalf("recovered %v, want the worker's panic", p)
				}
				if running.Load() != 0 {
					t.Fatalf("%d workers still running", running.Load())
				}
			}()
			Workers(1000, 4, func(next func() (int, bool)) {
				running.Add(1)
				defer running.Add(-1)
				for i, ok := next(); ok; i, ok = next() {
					if i == 10 {
						panic("boom")
					}
				}
			})
		}()
	}
}
