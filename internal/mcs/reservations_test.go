package mcs

import (
	"context"
	"hash/maphash"
	"testing"
	"time"
)

// FuzzReservations holds the allocator's list of reservations to a map of
// the pairs pending (what it was before the list): after every step of a
// random sequence of reservations, pods seen and gone, renewals and time
// passing (a few pairs, a few pods, so that they meet), every pair is
// pending exactly when the model says, for the same pod and until the same
// time, and the used bits agree.
func FuzzReservations(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 3, 1, 4, 0, 5, 9, 2, 1, 5, 9, 0, 2})
	f.Add([]byte{6, 0, 0, 1, 0, 1, 3, 1, 5, 200, 2, 0, 5, 255, 5, 255, 1, 2})
	f.Fuzz(func(t *testing.T, steps []byte) {
		clock := &fakeClock{t: time.Unix(1e9, 0)}
		a := New("a", NewMemoryStore())
		a.now, a.ordered = clock.now, true
		a.Synced()
		pairs := []Pair{PairAt(0), PairAt(1), PairAt(2), PairAt(BlockSize)}
		keys := []string{"ns/a", "ns/b", "ns/c"}
		type want struct {
			key   string
			until instant
		}
		model := map[Pair]want{}
		for len(steps) >= 2 {
			op, arg := steps[0], int(steps[1])
			steps = steps[2:]
			p, key := pairs[arg%len(pairs)], keys[arg/len(pairs)%len(keys)]
			switch op % 7 {
			case 0, 1: // a pod brings p (or is given it)
				a.mu.Lock()
				e, pending := model[p]
				holdCount := a.heldCount[p]
				a.mu.Unlock()
				err := a.Reserve(key, p, false)
				refused := holdCount > 0 || pending && e.key != key && a.instant() < e.until
				if refused != (err != nil) {
					t.Fatalf("Reserve(%s, %v): %v, want refused %v (model %+v)", key, p, err, refused, model[p])
				}
				if err == nil {
					model[p] = want{key, a.until()}
				}
			case 2: // the pod is seen running with p
				a.Observe(key, []Pair{p})
				delete(model, p)
			case 3: // the pod is gone
				a.Forget(key)
			case 4: // a renewal: reservations past their end are given back
				if err := a.Renew(context.Background()); err != nil {
					t.Fatal(err)
				}
				now := a.instant()
				for q, e := range model {
					if e.until <= now {
						delete(model, q)
					}
				}
			case 5: // time passes: up to about two and a half PendingFors
				clock.t = clock.t.Add(time.Duration(arg) * PendingFor / 100)
			case 6:
				a.NeverReuse()
			}
			a.mu.Lock()
			for _, q := range pairs {
				e, pending := a.pending(q)
				m, inModel := model[q]
				if pending != inModel || pending && (e.until != m.until || e.key != maphash.String(a.seed, m.key)) {
					a.mu.Unlock()
					t.Fatalf("after op %d on %v/%s: pair %v pending %v (%+v), model %v (%+v)", op%7, p, key, q, pending, e, inModel, m)
				}
				i := q.Index()
				if used := a.used[i/64]&(1<<(i%64)) != 0; used != (pending || a.heldCount[q] > 0) {
					a.mu.Unlock()
					t.Fatalf("pair %v: used bit %v, pending %v, held by %d", q, used, pending, a.heldCount[q])
				}
			}
			a.mu.Unlock()
		}
	})
}

// Reserving a pair again for the same pod, for good (NeverReuse), does not
// grow the list of reservations: kguard serve with policy files reserves
// every pod's pair twice (mutating and validating pass), for ever.
func TestReservedForGoodOnce(t *testing.T) {
	a := NewOffline()
	a.NeverReuse()
	p, err := a.Assign(context.Background(), "ns/web", false)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := a.Reserve("ns/web", p, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Reserve("ns/other", p, false); err == nil {
		t.Error("another pod got a pair reserved for good")
	}
	if n := len(a.reservations); n != 1 {
		t.Errorf("%d reservations listed, want 1", n)
	}
}
