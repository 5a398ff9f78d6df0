// Package parallel runs independent pieces of work on every core.
package parallel

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Do runs fn(0), ..., fn(n-1) on GOMAXPROCS goroutines, inline when n is
// small or there is one core. fn must be safe to run concurrently. A panic
// of fn is raised again on the caller, as Workers does.
func Do(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if n < 16 {
		workers = 1
	}
	Workers(n, workers, func(next func() (int, bool)) {
		for i, ok := next(); ok; i, ok = next() {
			fn(i)
		}
	})
}

// Workers runs work on workers goroutines, the caller's among them (on the
// caller's alone when workers is 1 or less), and returns when every one
// has returned. They share the items 0, ..., n-1: each call of next hands
// out one no other got, ok false when none is left. A panic on another
// goroutine stops the handing out and, once all have returned, is raised
// again on the caller as a *Panic, as if the work had all run there.
func Workers(n, workers int, work func(next func() (i int, ok bool))) {
	var taken atomic.Int64
	next := func() (int, bool) {
		i := taken.Add(1) - 1
		return int(i), i < int64(n)
	}
	if workers <= 1 {
		work(next)
		return
	}
	var first atomic.Pointer[Panic]
	guarded := func() {
		defer func() {
			if v := recover(); v != nil {
				first.CompareAndSwap(nil, &Panic{Value: v, Stack: debug.Stack()})
				taken.Store(int64(n)) // the others stop after their current item
			}
		}()
		work(next)
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(guarded)
	}
	guarded()
	wg.Wait()
	if p := first.Load(); p != nil {
		panic(p)
	}
}

// Panic is a panic of a worker, with the stack of the goroutine it
// happened on.
type Panic struct {
	Value any
	Stack []byte
}

func (p *Panic) String() string {
	return fmt.Sprintf("%v [on a worker goroutine:\n%s]", p.Value, p.Stack)
}
