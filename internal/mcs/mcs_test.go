package mcs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPairNumbering(t *testing.T) {
	if Pairs != 523776 {
		t.Fatalf("Pairs = %d", Pairs)
	}
	prev := Pair{}
	for i := 0; i < Pairs; i++ {
		p := PairAt(i)
		if p.Lo >= p.Hi || p.Hi >= Categories {
			t.Fatalf("PairAt(%d) = %v", i, p)
		}
		if p.Index() != i {
			t.Fatalf("PairAt(%d).Index() = %d", i, p.Index())
		}
		if i > 0 && !(p.Lo > prev.Lo || p.Lo == prev.Lo && p.Hi > prev.Hi) {
			t.Fatalf("PairAt(%d) = %v not after %v", i, p, prev)
		}
		prev = p
	}
	if last := PairAt(Pairs - 1); last != (Pair{1022, 1023}) {
		t.Errorf("last pair %v", last)
	}
}

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "s0:c1,c2", want: "s0:c1,c2"},
		{in: "s0:c456,c123", want: "s0:c123,c456"},
		{in: "s0:c0,c1023", want: "s0:c0,c1023"},
		{in: "s0:c1,c2,c3", err: "exactly two categories"},
		{in: "s0:c1", err: "exactly two categories"},
		{in: "s0:c5,c5", err: "twice"},
		{in: "s1:c1,c2", err: "not an MCS level"},
		{in: "s0-s0:c0.c1023", err: "not an MCS level"},
		{in: "s0:c1,c1024", err: "not a category"},
		{in: "s0:c01,c2", err: "not a category"},
		{in: "s0:c-1,c2", err: "not a category"},
		{in: "s0:c1.c5,c9", err: "not a category"},
		{in: "", err: "not an MCS level"},
	} {
		p, err := ParseLevel(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: %v, want an error containing %q", tc.in, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.err == "" && p.String() != tc.want:
			t.Errorf("%q = %s, want %s", tc.in, p, tc.want)
		}
	}
}

func FuzzParseLevel(f *testing.F) {
	for _, s := range []string{"s0:c1,c2", "s0:c1023,c0", "s0:c1,c2,c3", "s0:c01,c2", "s0:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseLevel(s)
		if err != nil {
			return
		}
		if p.Lo >= p.Hi || p.Hi >= Categories {
			t.Fatalf("%q: %v", s, p)
		}
		// The canonical spelling reads back as the same pair.
		q, err := ParseLevel(p.String())
		if err != nil || q != p {
			t.Fatalf("%q: %v, then %v %v", s, p, q, err)
		}
	})
}

func TestTableRoundTrip(t *testing.T) {
	now := time.Date(2026, 12, 2, 1, 0, 0, 123, time.UTC)
	tab := &Table{Replicas: map[string]Lease{"kguard-a": {Renewed: now, Blocks: []int{17, 230}}, "kguard-b": {Renewed: now}},
		Tenants: map[string]Pair{"team-a": PairAt(0), "team-b": PairAt(5)}}
	got, err := Decode(tab.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Encode()) != fmt.Sprint(tab.Encode()) {
		t.Errorf("round trip:\n%v\n%v", got.Encode(), tab.Encode())
	}
	for _, tc := range []struct {
		data map[string]string
		err  string
	}{
		{map[string]string{"replica.a": "yesterday 17"}, "renewal time"},
		{map[string]string{"replica.a": "2026-12-02T00:00:00Z 3"}, "not a block of pods' pairs"},
		{map[string]string{"replica.a": "2026-12-02T00:00:00Z 17", "replica.b": "2026-12-02T00:00:00Z 17"}, "is a's too"},
		{map[string]string{"tenant.x": "s0:c1,c2", "tenant.y": "s0:c2,c1"}, "is tenant \"x\"'s too"},
		{map[string]string{"tenant.x": "s0:c1000,c1001"}, "not in the tenants' blocks"},
		{map[string]string{"other": "1"}, "unknown key"},
	} {
		if _, err := Decode(tc.data); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: %v, want %q", tc.data, err, tc.err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("replica.a", "2026-12-02T00:00:00Z 17,18", "tenant.t", "s0:c1,c2")
	f.Add("replica.a", "2026-12-02T00:00:00Z ", "tenant.t", "s0:c2,c1")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		tab, err := Decode(map[string]string{k1: v1, k2: v2})
		if err != nil {
			return
		}
		// What decodes encodes to a table that decodes to the same.
		again, err := Decode(tab.Encode())
		if err != nil {
			t.Fatalf("re-decoding %v: %v", tab.Encode(), err)
		}
		if fmt.Sprint(again.Encode()) != fmt.Sprint(tab.Encode()) {
			t.Fatalf("%v != %v", again.Encode(), tab.Encode())
		}
	})
}

func TestClaimSkipsLiveOwners(t *testing.T) {
	now := time.Now()
	tab := &Table{Replicas: map[string]Lease{
		"live": {Renewed: now.Add(-10 * time.Second), Blocks: []int{TenantBlocks, TenantBlocks + 1}},
		"dead": {Renewed: now.Add(-2 * LeaseDuration), Blocks: []int{TenantBlocks + 2}},
	}, Tenants: map[string]Pair{}}
	free := func(int) int { return 0 }
	b, err := tab.Claim("me", now, LeaseDuration, free, 0, 1)
	if err != nil || len(b) != 1 || b[0] != TenantBlocks+2 {
		t.Fatalf("claimed %v, %v; want the dead replica's block %d", b, err, TenantBlocks+2)
	}
	if _, ok := tab.Replicas["dead"]; ok {
		t.Error("the dead replica is still listed")
	}
	// The least used block wins over the first free one.
	used := func(b int) int {
		if b == TenantBlocks+3 {
			return 200
		}
		return 10
	}
	if b, _ := tab.Claim("me", now, LeaseDuration, used, 3, 1); len(b) != 1 || b[0] != TenantBlocks+4 {
		t.Errorf("claimed %v, want %d (the used one skipped)", b, TenantBlocks+4)
	}
	// Several at once, none owned by a live replica or twice.
	got, err := tab.Claim("me", now, LeaseDuration, free, 0, 4)
	if err != nil || len(got) != 4 {
		t.Fatalf("claimed %v, %v; want 4 blocks", got, err)
	}
	seen := map[int]bool{TenantBlocks: true, TenantBlocks + 1: true, TenantBlocks + 2: true, TenantBlocks + 4: true}
	for _, b := range got {
		if seen[b] {
			t.Errorf("block %d claimed again", b)
		}
		seen[b] = true
	}
	full := func(b int) int { return blockLen(b) }
	if _, err := tab.Claim("me", now, LeaseDuration, full, 0, 1); err == nil || !strings.Contains(err.Error(), "owned or full") {
		t.Errorf("claim with every block full: %v", err)
	}
}

func TestTenantPairs(t *testing.T) {
	tab := &Table{Replicas: map[string]Lease{}, Tenants: map[string]Pair{}}
	a, _ := tab.TenantPair("a", nil)
	b, _ := tab.TenantPair("b", nil)
	if a == b {
		t.Fatalf("two tenants got %v", a)
	}
	if again, _ := tab.TenantPair("a", nil); again != a {
		t.Errorf("tenant a got %v, then %v", a, again)
	}
	// A tenant's first pod may bring a free pair of the tenants' blocks;
	// another tenant's pair or a pods' pair is not taken.
	want := PairAt(100)
	if c, _ := tab.TenantPair("c", &want); c != want {
		t.Errorf("c got %v, want %v", c, want)
	}
	if d, _ := tab.TenantPair("d", &a); d == a {
		t.Errorf("d got tenant a's pair %v", d)
	}
	podPair := PairAt(TenantBlocks * BlockSize)
	if e, _ := tab.TenantPair("e", &podPair); e == podPair {
		t.Errorf("e got a pods' pair %v", e)
	}
	for i := len(tab.Tenants); i < TenantBlocks*BlockSize; i++ {
		if _, err := tab.TenantPair(fmt.Sprint("t", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tab.TenantPair("one-too-many", nil); err == nil {
		t.Error("a tenant beyond the tenants' blocks got a pair")
	}
}

// Two replicas sharing one table, handing out pairs at once, never hand out
// one pair twice.
func TestReplicasNeverShareAPair(t *testing.T) {
	store := NewMemoryStore()
	replicas := []*Allocator{New("a", store), New("b", store)}
	seen := map[Pair]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, a := range replicas {
		a.Synced()
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 500; i++ {
					key := fmt.Sprintf("ns/%s-%d-%d", a.id, w, i)
					p, err := a.Assign(context.Background(), key, false)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if other, dup := seen[p]; dup {
						t.Errorf("%v handed out to %s and %s", p, other, key)
					}
					seen[p] = key
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if len(seen) != 4000 {
		t.Fatalf("%d pairs handed out, want 4000", len(seen))
	}
	owners := map[int]string{}
	for id, l := range store.t.Replicas {
		for _, b := range l.Blocks {
			owners[b] = id
		}
	}
	for p, key := range seen {
		if b := p.Block(); b < TenantBlocks {
			t.Fatalf("%v (for %s) is a tenants' pair", p, key)
		} else if owner := owners[b]; !strings.HasPrefix(key, "ns/"+owner+"-") {
			t.Fatalf("%v (for %s) is in block %d of replica %q", p, key, b, owner)
		}
	}
}

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestPairsOfGonePodsAndExpiredReservations(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	a := New("a", NewMemoryStore())
	a.now = clock.now
	a.ordered = true
	ctx := context.Background()
	if _, err := a.Assign(ctx, "ns/early", false); err != ErrNotSynced {
		t.Fatalf("before Synced: %v", err)
	}
	a.Synced()
	p1, _ := a.Assign(ctx, "ns/one", false)
	held := PairAt(p1.Index() + 1) // the next one of the block, in order
	a.Observe("ns/running", []Pair{held})
	if p, _ := a.Assign(ctx, "ns/two-a", true); p == held {
		t.Fatalf("handed out %v, which a running pod holds", p)
	}
	if err := a.Reserve("ns/two", held, false); err == nil || !strings.Contains(err.Error(), "ns/running") {
		t.Errorf("reserving a held pair: %v", err)
	}
	if err := a.Reserve("ns/two", p1, false); err == nil || !strings.Contains(err.Error(), "just given") {
		t.Errorf("reserving a pair just handed out: %v", err)
	}
	if err := a.Reserve("ns/one", p1, false); err != nil {
		t.Errorf("the same pod bringing its own pair again (kguard's webhook called again): %v", err)
	}
	// The pod that held a pair is gone: its pair is handed out again.
	a.Forget("ns/running")
	if p, _ := a.Assign(ctx, "ns/three", false); p != held {
		t.Errorf("after the pod is gone got %v, want its pair %v", p, held)
	}
	// A pair whose pod was never seen is given back after PendingFor.
	p4, _ := a.Assign(ctx, "ns/four", true) // dry run: reserves nothing
	if p5, _ := a.Assign(ctx, "ns/five", false); p5 != p4 {
		t.Errorf("a dry run reserved %v (next got %v)", p4, p5)
	}
	clock.t = clock.t.Add(PendingFor + time.Second)
	if err := a.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Reserve("ns/six", p1, false); err != nil {
		t.Errorf("a reservation past PendingFor still holds: %v", err)
	}
}

// A replica that stops renewing stops handing out pairs of its blocks
// before another may take them over, and the new owner skips the pairs the
// old owner's pods hold.
func TestLeaseTakeover(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	store := NewMemoryStore()
	a, b := New("a", store), New("b", store)
	for _, x := range []*Allocator{a, b} {
		x.now, x.ordered = clock.now, true
		x.Synced()
	}
	ctx := context.Background()
	pa, err := a.Assign(ctx, "ns/a1", false)
	if err != nil {
		t.Fatal(err)
	}
	b.Observe("ns/a1", []Pair{pa}) // b's informer sees a's pod
	pb, _ := b.Assign(ctx, "ns/b1", false)
	if pb.Block() == pa.Block() {
		t.Fatalf("b handed out %v from a's block", pb)
	}
	// a is cut off: past LeaseDuration-leaseMargin it hands out nothing.
	clock.t = clock.t.Add(LeaseDuration - leaseMargin + time.Second)
	a.mu.Lock()
	_, ok := a.pick()
	a.mu.Unlock()
	if ok {
		t.Error("a still hands out pairs of its blocks after its lease ran out locally")
	}
	// b renews; a does not: past LeaseDuration, b's claim may take a's block
	// and never hands out the pair a's pod holds.
	clock.t = clock.t.Add(leaseMargin)
	if err := b.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.blocks = nil // force a claim: b wants one more block
	b.mu.Unlock()
	for i := 0; i < BlockSize*2; i++ {
		p, err := b.Assign(ctx, fmt.Sprint("ns/b-", i), false)
		if err != nil {
			t.Fatal(err)
		}
		if p == pa || p == pb {
			t.Fatalf("b handed out %v, which a running pod holds", p)
		}
	}
	// a comes back: the table no longer lists it, so it owns nothing and
	// claims a block nobody owns.
	if err := a.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if len(a.blocks) != 0 {
		t.Errorf("a still owns %v", a.blocks)
	}
	p, err := a.Assign(ctx, "ns/a2", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, bb := range store.t.Replicas["b"].Blocks {
		if p.Block() == bb {
			t.Errorf("a handed out %v from b's block %d", p, bb)
		}
	}
}

// A dry run shows the pair a tenant would get and writes nothing.
func TestTenantDryRun(t *testing.T) {
	store := NewMemoryStore()
	a := New("a", store)
	ctx := context.Background()
	dry, err := a.Tenant(ctx, "t", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := store.t.Tenants["t"]; ok {
		t.Fatal("a dry run wrote the tenant's pair")
	}
	real, err := a.Tenant(ctx, "t", nil, false)
	if err != nil || real != dry {
		t.Fatalf("got %v %v, the dry run showed %v", real, err, dry)
	}
	if store.t.Tenants["t"] != real {
		t.Fatalf("the table holds %v", store.t.Tenants)
	}
}

// An offline allocator's blocks are its own for good: a long-running
// process (kguard serve with files, kguard controller) keeps handing out
// from them, however long between pods, instead of claiming more.
func TestOfflineBlocksNeedNoRenewal(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	a := NewOffline()
	a.now = clock.now
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if _, err := a.Assign(ctx, fmt.Sprint("ns/p", i), false); err != nil {
			t.Fatal(err)
		}
		clock.t = clock.t.Add(2 * time.Hour)
	}
	if n := len(a.blocks); n != 1 {
		t.Errorf("10 pods two hours apart took %d blocks, want 1", n)
	}
}

// pick skips the blocks it found full, but a pair given back in one of
// them is found again: an offline allocator still hands out the lowest
// free pair.
func TestFullBlocksSkippedUntilAPairIsFree(t *testing.T) {
	a := NewOffline()
	ctx := context.Background()
	pairs := map[string]Pair{}
	for i := 0; i < BlockSize+10; i++ { // the first block full, some of the second
		key := fmt.Sprint("ns/p", i)
		p, err := a.Assign(ctx, key, false)
		if err != nil {
			t.Fatal(err)
		}
		a.Observe(key, []Pair{p})
		pairs[key] = p
	}
	if a.fullBefore != 1 {
		t.Errorf("fullBefore = %d, want 1 (the first block is full)", a.fullBefore)
	}
	a.Forget("ns/p7")
	if p, _ := a.Assign(ctx, "ns/again", false); p != pairs["ns/p7"] {
		t.Errorf("after ns/p7 is gone got %v, want its pair %v", p, pairs["ns/p7"])
	}
	if p, _ := a.Assign(ctx, "ns/next", false); p.Index() != pairs[fmt.Sprint("ns/p", BlockSize+9)].Index()+1 {
		t.Errorf("then got %v, want the pair after the last one handed out", p)
	}
}
