package mcs

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"math/rand/v2"
	"sync"
	"time"
)

// Store keeps the Table shared by the replicas.
type Store interface {
	// Update reads the table, applies change to it and writes it back,
	// all or nothing: when another replica wrote in between, it reads again
	// and calls change again (change must depend only on the table it is
	// given). An error of change is returned as is, nothing written. It
	// returns the table as written.
	Update(ctx context.Context, change func(*Table) error) (*Table, error)
}

// Timing of the blocks' leases.
const (
	// LeaseDuration: a replica that did not renew for this long loses its
	// blocks to the others.
	LeaseDuration = 60 * time.Second
	// RenewEvery is how often a replica renews.
	RenewEvery = 15 * time.Second
	// leaseMargin: a replica stops handing out pairs of its blocks this long
	// before the others may take them (clock skew, a slow write).
	leaseMargin = 15 * time.Second
	// PendingFor is how long a pair handed out stays reserved before the
	// pod that got it is seen running: an admission that is refused later
	// (by another webhook) or never stored gives its pair back then.
	PendingFor = 2 * time.Minute
)

// errDryRun stops a dry run's Update before it writes.
var errDryRun = errors.New("dry run")

// maxClaimAttempts bounds the blocks one Assign claims before it gives up
// (each claim's pairs may be taken by concurrent admissions first).
const maxClaimAttempts = 8

// Claim sizes: see Allocator.claimN.
const (
	claimWindow = 5 * time.Second
	maxClaim    = 16
)

// ErrNotSynced is returned until the allocator knows every running pod.
var ErrNotSynced = errors.New("kguard has not read the cluster's pods yet, so it cannot tell which SELinux MCS levels are in use")

// Allocator hands out pairs for one replica. It learns the pods' levels
// from Observe and Forget (an informer in a cluster), and keeps the blocks
// it owns and each tenant's pair in the Store. It is safe for concurrent use.
type Allocator struct {
	id    string
	store Store
	now   func() time.Time
	epoch time.Time // where instants count from

	claimMu sync.Mutex // one block claim at a time
	// lastClaim and claimN (under claimMu): a replica that claimed less
	// than claimWindow ago claims twice as many blocks as then (up to
	// maxClaim), so that a burst of pods costs few writes of the table.
	lastClaim time.Time
	claimN    int

	mu        sync.Mutex
	synced    bool
	heldCount map[Pair]int32
	holder    map[Pair]string // one pod holding the pair, for messages
	podPairs  map[string][]Pair
	// Reservations (pairs handed out, or brought by a pod, and not yet
	// seen held by a running pod): reservations lists them in the order
	// they were made, and so of their ends, for expirePending to stop at
	// the first current one; a pair's current reservation is, when its bit
	// in pendingBits is set, at position pendingAt[pair] - dropped of that
	// list (positions count every reservation ever made, modulo 2^32). An
	// entry whose pair was since seen or reserved again stays until its end
	// and is skipped. Dense arrays and a list without pointers, not a map:
	// a map's insertion was a tenth of what Tenancy adds to a pod's
	// admission, and at hundreds of pods a second the list holds tens of
	// thousands of entries, which the collector would otherwise scan on
	// every cycle.
	reservations []reservation
	dropped      uint32
	pendingAt    []uint32 // Pairs of them
	pendingBits  [Pairs/64 + 1]uint64
	// seed hashes the pods' keys (reservation.key).
	seed      maphash.Seed
	used      [Pairs/64 + 1]uint64 // held or pending
	blockUsed [Blocks]uint16
	blocks    []int
	// fullBefore: the blocks before this position in blocks had no free
	// pair when pick last looked (a pair given back or a change of blocks
	// sets it to 0), so that pick does not walk the full blocks again on
	// every pod.
	fullBefore  int
	usableUntil time.Time
	tenants     map[string]Pair
	// pendingFor is PendingFor, or 0: pairs handed out are never given
	// again (NeverReuse).
	pendingFor time.Duration
	// ordered hands out pairs in order (offline: the same input gives the
	// same levels), not from a random place.
	ordered bool
	// local: the table is this process's own (offline), no other replica
	// can take its blocks, so they need no renewal.
	local bool
}

// reservation is a pair handed out to, or brought by, the pods of a key
// until a time. It holds no pointer: the key is kept as its hash, with the
// allocator's random seed (two keys share one with a chance of 2^-64,
// which nobody can steer without the seed).
type reservation struct {
	p     Pair
	until instant
	key   uint64
}

// instant is a time on the allocator's clock: nanoseconds since its epoch
// (monotonic with the real clock).
type instant int64

// never is the end of a reservation that never ends (NeverReuse).
const never = instant(math.MaxInt64)

// reserve records that p was handed out to (or brought by) key. a.mu is held.
func (a *Allocator) reserve(p Pair, key string) {
	r := reservation{p: p, until: a.until(), key: maphash.String(a.seed, key)}
	if e, ok := a.pending(p); ok && e == r {
		return // reserved for good already (NeverReuse): the list need not grow
	}
	i := p.Index()
	a.pendingAt[i] = a.dropped + uint32(len(a.reservations))
	a.pendingBits[i/64] |= 1 << (i % 64)
	a.reservations = append(a.reservations, r)
	a.setUsed(i, true) // pending: in use, whatever else holds it
}

// pending is p's current reservation, if any. a.mu is held.
func (a *Allocator) pending(p Pair) (reservation, bool) {
	i := p.Index()
	if a.pendingBits[i/64]&(1<<(i%64)) == 0 {
		return reservation{}, false
	}
	return a.reservations[a.pendingAt[i]-a.dropped], true
}

// unpend ends p's reservation (its pod is seen, or the time is up). a.mu
// is held.
func (a *Allocator) unpend(p Pair) {
	i := p.Index()
	a.pendingBits[i/64] &^= 1 << (i % 64)
}

// instant is now on the allocator's clock.
func (a *Allocator) instant() instant { return instant(a.now().Sub(a.epoch)) }

// New is the allocator of replica id (unique among the replicas sharing
// store).
func New(id string, store Store) *Allocator {
	return &Allocator{id: id, store: store, now: time.Now, epoch: time.Now(),
		heldCount: map[Pair]int32{}, holder: map[Pair]string{}, podPairs: map[string][]Pair{},
		pendingAt: make([]uint32, Pairs), seed: maphash.MakeSeed(), tenants: map[string]Pair{}, pendingFor: PendingFor}
}

// NeverReuse makes the allocator keep every pair it hands out or checks for
// good: for a process that learns of no pod (kguard serve with policy
// files), which cannot tell when a pod is gone.
func (a *Allocator) NeverReuse() {
	a.mu.Lock()
	a.pendingFor = 0
	a.mu.Unlock()
}

// until is when a pair reserved now is given back.
func (a *Allocator) until() instant {
	if a.pendingFor == 0 {
		return never
	}
	return a.instant() + instant(a.pendingFor)
}

// current: the reservation still holds at now.
func (e reservation) current(now instant) bool { return now < e.until }

// NewOffline is an allocator of its own, for one process judging objects
// offline (kguard check, kguard audit): every pair is free until it hands
// it out or Observes a pod holding it; pairs are handed out in order, so
// the same objects get the same levels.
func NewOffline() *Allocator {
	a := New("offline", NewMemoryStore())
	a.ordered, a.local = true, true
	a.Synced()
	return a
}

// Synced marks that every running pod was Observed: the allocator hands out
// nothing before.
func (a *Allocator) Synced() {
	a.mu.Lock()
	a.synced = true
	a.mu.Unlock()
}

// Observe records the pairs a running pod (key "namespace/name") holds,
// replacing what it held before; levels that are not pairs are ignored
// (they are nobody's pair).
func (a *Allocator) Observe(key string, pairs []Pair) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.forget(key)
	if len(pairs) == 0 {
		return
	}
	a.podPairs[key] = pairs
	for _, p := range pairs {
		a.heldCount[p]++
		a.holder[p] = key
		a.unpend(p) // handed out, and now held
		a.mark(p)
	}
}

// Forget records that the pod is gone (deleted, or no longer running).
func (a *Allocator) Forget(key string) {
	a.mu.Lock()
	a.forget(key)
	a.mu.Unlock()
}

func (a *Allocator) forget(key string) {
	for _, p := range a.podPairs[key] {
		if a.heldCount[p]--; a.heldCount[p] <= 0 {
			delete(a.heldCount, p)
			delete(a.holder, p)
		} else if a.holder[p] == key {
			// Another pod still holds it; which one is not kept.
			a.holder[p] = "another pod"
		}
		a.mark(p)
	}
	delete(a.podPairs, key)
}

// mark brings the used bit of p and its block's count up to date.
func (a *Allocator) mark(p Pair) {
	_, pend := a.pending(p)
	a.setUsed(p.Index(), a.heldCount[p] > 0 || pend)
}

// setUsed sets the used bit of pair i and its block's count. a.mu is held.
func (a *Allocator) setUsed(i int, used bool) {
	was := a.used[i/64]&(1<<(i%64)) != 0
	switch {
	case used && !was:
		a.used[i/64] |= 1 << (i % 64)
		a.blockUsed[i/BlockSize]++
	case !used && was:
		a.used[i/64] &^= 1 << (i % 64)
		a.blockUsed[i/BlockSize]--
		a.fullBefore = 0
	}
}

// Holder names a running pod that holds p ("" when none is known).
func (a *Allocator) Holder(p Pair) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.heldCount[p] > 0 {
		return a.holder[p]
	}
	return ""
}

// Assign hands out a pair no running pod holds and no other admission got,
// for the pod key ("namespace/name", or "namespace/generateName*"). A dry
// run reserves nothing: it shows a pair that is free now.
func (a *Allocator) Assign(ctx context.Context, key string, dryRun bool) (Pair, error) {
	for attempt := 0; ; attempt++ {
		a.mu.Lock()
		if !a.synced {
			a.mu.Unlock()
			return Pair{}, ErrNotSynced
		}
		if p, ok := a.pick(); ok {
			if !dryRun {
				a.reserve(p, key)
			}
			a.mu.Unlock()
			return p, nil
		}
		a.mu.Unlock()
		if attempt == maxClaimAttempts {
			return Pair{}, fmt.Errorf("kguard could not reserve a block of SELinux MCS pairs with a free pair (%d claims; the other admissions took them first)", attempt)
		}
		if dryRun {
			// Show the pair a claim would most likely start with.
			a.mu.Lock()
			p, ok := a.firstFree(TenantBlocks, Blocks)
			a.mu.Unlock()
			if !ok {
				return Pair{}, fmt.Errorf("every SELinux MCS pair is in use")
			}
			return p, nil
		}
		if err := a.claim(ctx); err != nil {
			return Pair{}, err
		}
	}
}

// pick is a free pair of an owned block while the blocks' lease holds,
// from a random place in the block so that the next pair cannot be
// predicted from the last. a.mu is held.
func (a *Allocator) pick() (Pair, bool) {
	if !a.local && !a.now().Before(a.usableUntil) {
		return Pair{}, false
	}
	if a.fullBefore > len(a.blocks) {
		a.fullBefore = 0
	}
	start, prefixFull := a.fullBefore, true
	for k, b := range a.blocks[start:] {
		if int(a.blockUsed[b]) >= blockLen(b) {
			if prefixFull {
				a.fullBefore = start + k + 1
			}
			continue
		}
		prefixFull = false
		lo, hi := blockRange(b)
		start := lo
		if !a.ordered {
			start += rand.IntN(hi - lo)
		}
		if i, ok := a.freeIn(start, hi); ok {
			return PairAt(i), true
		}
		if i, ok := a.freeIn(lo, start); ok {
			return PairAt(i), true
		}
	}
	return Pair{}, false
}

// freeIn is the first pair of [from, to) whose used bit is clear, a word
// of 64 at a time. a.mu is held.
func (a *Allocator) freeIn(from, to int) (int, bool) {
	for i := from; i < to; {
		w := ^a.used[i/64] >> (i % 64) // free bits from i on
		if w == 0 {
			i += 64 - i%64
			continue
		}
		if j := i + bits.TrailingZeros64(w); j < to {
			return j, true
		}
		return 0, false
	}
	return 0, false
}

// firstFree is the first free pair of blocks [from, to) that no replica is
// known to own. a.mu is held.
func (a *Allocator) firstFree(from, to int) (Pair, bool) {
	for b := from; b < to; b++ {
		if int(a.blockUsed[b]) >= blockLen(b) {
			continue
		}
		if i, ok := a.freeIn(blockRange(b)); ok {
			return PairAt(i), true
		}
	}
	return Pair{}, false
}

// expirePending frees the pairs whose pod was not seen in time (on every
// renewal, and before a block is claimed). a.mu is held.
func (a *Allocator) expirePending() {
	now := a.instant()
	n := 0
	for _, r := range a.reservations {
		if r.until > now {
			break
		}
		if a.pendingAt[r.p.Index()] == a.dropped+uint32(n) { // r is the pair's current reservation
			if _, ok := a.pending(r.p); ok {
				a.unpend(r.p)
				a.mark(r.p)
			}
		}
		n++
	}
	a.reservations = a.reservations[n:]
	a.dropped += uint32(n)
}

// claim reserves one more block in the table.
func (a *Allocator) claim(ctx context.Context) error {
	a.claimMu.Lock()
	defer a.claimMu.Unlock()
	a.mu.Lock()
	a.expirePending() // give back what was never seen, before claiming more
	_, ok := a.pick()
	a.mu.Unlock()
	if ok { // another call claimed one meanwhile, or pairs came back
		return nil
	}
	before := a.now()
	start := 0
	if !a.ordered {
		start = rand.IntN(Blocks - TenantBlocks)
	}
	a.mu.Lock()
	used := a.blockUsed // a copy: the claim reads it without the lock
	a.mu.Unlock()
	n := 1
	if !a.lastClaim.IsZero() && before.Sub(a.lastClaim) < claimWindow {
		n = min(2*a.claimN, maxClaim)
	}
	t, err := a.store.Update(ctx, func(t *Table) error {
		_, err := t.Claim(a.id, a.now(), LeaseDuration, func(b int) int { return int(used[b]) }, start, n)
		return err
	})
	if err != nil {
		return fmt.Errorf("reserving a block of SELinux MCS pairs: %w", err)
	}
	a.lastClaim, a.claimN = before, n
	a.adopt(t, before)
	return nil
}

// adopt takes this replica's blocks and the tenants' pairs from the table
// written at or after before.
func (a *Allocator) adopt(t *Table, before time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	l, ok := t.Replicas[a.id]
	a.blocks, a.fullBefore = l.Blocks, 0
	if ok {
		a.usableUntil = before.Add(LeaseDuration - leaseMargin)
	}
	for name, p := range t.Tenants {
		a.tenants[name] = p
	}
}

// Renew renews this replica's blocks; the Run loop calls it. A replica the
// table no longer lists has lost its blocks and claims new ones when it
// needs them.
func (a *Allocator) Renew(ctx context.Context) error {
	before := a.now()
	t, err := a.store.Update(ctx, func(t *Table) error {
		t.Renew(a.id, a.now())
		return nil
	})
	if err != nil {
		return err
	}
	a.adopt(t, before)
	a.mu.Lock()
	a.expirePending()
	a.mu.Unlock()
	return nil
}

// Run renews the blocks every RenewEvery until ctx is done; errors go to
// onError (the replica stops handing out pairs LeaseDuration - 15s after its
// last renewal).
func (a *Allocator) Run(ctx context.Context, onError func(error)) {
	t := time.NewTicker(RenewEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.Renew(ctx); err != nil && onError != nil {
				onError(err)
			}
		}
	}
}

// Reserve checks a pair a pod brings (it set its own level, or kguard's
// mutating webhook runs again on a pod it gave one): no running pod may
// hold it, nor another admission have got it. It is then reserved for key.
func (a *Allocator) Reserve(key string, p Pair, dryRun bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.synced {
		return ErrNotSynced
	}
	if a.heldCount[p] > 0 {
		return fmt.Errorf("%s is the level of the running pod %s", p, a.holder[p])
	}
	if e, ok := a.pending(p); ok && e.key != maphash.String(a.seed, key) && e.current(a.instant()) {
		return fmt.Errorf("%s was just given to another pod", p)
	}
	if !dryRun {
		a.reserve(p, key)
	}
	return nil
}

// Tenant is the tenant's pair, given it in the table when it has none:
// want when it is a free pair of the tenants' blocks (the pair a tenant's
// first pod brings: kguard audit then judges a cluster's pods against the
// pair they hold), otherwise the first free one.
func (a *Allocator) Tenant(ctx context.Context, name string, want *Pair, dryRun bool) (Pair, error) {
	a.mu.Lock()
	p, ok := a.tenants[name]
	a.mu.Unlock()
	if ok {
		return p, nil
	}
	var got Pair
	t, err := a.store.Update(ctx, func(t *Table) error {
		var err error
		if got, err = t.TenantPair(name, want); err == nil && dryRun {
			return errDryRun // the pair it would get; nothing written
		}
		return err
	})
	if err == errDryRun {
		return got, nil
	}
	if err != nil {
		return Pair{}, fmt.Errorf("giving tenant %q its SELinux MCS level: %w", name, err)
	}
	a.mu.Lock()
	for n, p := range t.Tenants {
		a.tenants[n] = p
	}
	a.mu.Unlock()
	return got, nil
}

// MemoryStore is a Store in memory: offline, and for tests of several
// replicas sharing one table.
type MemoryStore struct {
	mu sync.Mutex
	t  *Table
}

// NewMemoryStore is an empty table.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{t: &Table{Replicas: map[string]Lease{}, Tenants: map[string]Pair{}}}
}

// Update applies change to a copy and keeps it unless change fails.
func (s *MemoryStore) Update(ctx context.Context, change func(*Table) error) (*Table, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.t.Clone()
	if err := change(c); err != nil {
		return nil, err
	}
	s.t = c
	return c.Clone(), nil
}
