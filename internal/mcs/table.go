package mcs

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Table is the shared record of the allocation: which replica owns which
// blocks of pods' pairs, when it last renewed them, and each tenant's pair.
// Replicas change it only by compare-and-swap (Store.Update).
type Table struct {
	Replicas map[string]Lease
	Tenants  map[string]Pair
}

// Lease is what one replica holds.
type Lease struct {
	Renewed time.Time
	Blocks  []int
}

// Data keys of the encoded table (a ConfigMap's data).
const (
	replicaPrefix = "replica."
	tenantPrefix  = "tenant."
)

// Clone is a deep copy.
func (t *Table) Clone() *Table {
	c := &Table{Replicas: make(map[string]Lease, len(t.Replicas)), Tenants: maps.Clone(t.Tenants)}
	if c.Tenants == nil {
		c.Tenants = map[string]Pair{}
	}
	for id, l := range t.Replicas {
		c.Replicas[id] = Lease{Renewed: l.Renewed, Blocks: slices.Clone(l.Blocks)}
	}
	return c
}

// Encode writes the table as string data: "replica.<id>" is the renewal
// time (RFC 3339) and the blocks ("2026-12-02T00:00:00Z 17,230"),
// "tenant.<name>" the tenant's level.
func (t *Table) Encode() map[string]string {
	out := make(map[string]string, len(t.Replicas)+len(t.Tenants))
	for id, l := range t.Replicas {
		bs := make([]string, len(l.Blocks))
		for i, b := range l.Blocks {
			bs[i] = strconv.Itoa(b)
		}
		out[replicaPrefix+id] = l.Renewed.UTC().Format(time.RFC3339Nano) + " " + strings.Join(bs, ",")
	}
	for name, p := range t.Tenants {
		out[tenantPrefix+name] = p.String()
	}
	return out
}

// Decode reads what Encode wrote. Anything else is an error: a table kguard
// cannot read hands out nothing (two replicas must never guess).
func Decode(data map[string]string) (*Table, error) {
	t := &Table{Replicas: map[string]Lease{}, Tenants: map[string]Pair{}}
	owner := map[int]string{}
	tenantOf := map[Pair]string{}
	for _, k := range slices.Sorted(maps.Keys(data)) {
		v := data[k]
		switch {
		case strings.HasPrefix(k, replicaPrefix) && len(k) > len(replicaPrefix):
			id := k[len(replicaPrefix):]
			ts, list, _ := strings.Cut(v, " ")
			renewed, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil {
				return nil, fmt.Errorf("%s: renewal time: %v", k, err)
			}
			var blocks []int
			if list != "" {
				for _, s := range strings.Split(list, ",") {
					b, err := strconv.Atoi(s)
					if err != nil || b < TenantBlocks || b >= Blocks || strconv.Itoa(b) != s {
						return nil, fmt.Errorf("%s: %q is not a block of pods' pairs (%d..%d)", k, s, TenantBlocks, Blocks-1)
					}
					if o, dup := owner[b]; dup {
						return nil, fmt.Errorf("%s: block %d is %s's too", k, b, o)
					}
					owner[b] = id
					blocks = append(blocks, b)
				}
			}
			t.Replicas[id] = Lease{Renewed: renewed, Blocks: blocks}
		case strings.HasPrefix(k, tenantPrefix) && len(k) > len(tenantPrefix):
			name := k[len(tenantPrefix):]
			p, err := ParseLevel(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", k, err)
			}
			if p.Block() >= TenantBlocks {
				return nil, fmt.Errorf("%s: %s is not in the tenants' blocks", k, v)
			}
			if o, dup := tenantOf[p]; dup {
				return nil, fmt.Errorf("%s: %s is tenant %q's too", k, v, o)
			}
			tenantOf[p] = name
			t.Tenants[name] = p
		default:
			return nil, fmt.Errorf("unknown key %q", k)
		}
	}
	return t, nil
}

// live: the replica renewed within ttl of now.
func (l Lease) live(now time.Time, ttl time.Duration) bool { return now.Sub(l.Renewed) < ttl }

// Renew records that id is alive at now. It reports false when id holds
// nothing in the table (its lease expired and another replica removed it):
// it owns no block any more.
func (t *Table) Renew(id string, now time.Time) bool {
	l, ok := t.Replicas[id]
	if !ok {
		return false
	}
	l.Renewed = now
	t.Replicas[id] = l
	return true
}

// Claim gives id up to n more blocks of pods' pairs (at least one, or an
// error): ones no live replica owns (the blocks of replicas that did not
// renew within ttl are free again, and their entries are removed), the
// least used by running pods according to used (ties: the first at or
// after start, so that replicas spread out).
func (t *Table) Claim(id string, now time.Time, ttl time.Duration, used func(block int) int, start, n int) ([]int, error) {
	owned := map[int]bool{}
	for rid, l := range t.Replicas {
		if rid != id && !l.live(now, ttl) {
			delete(t.Replicas, rid)
			continue
		}
		for _, b := range l.Blocks {
			owned[b] = true
		}
	}
	var got []int
	for len(got) < max(n, 1) {
		b, ok := t.leastUsed(owned, used, start)
		if !ok {
			break
		}
		owned[b] = true
		got = append(got, b)
	}
	if len(got) == 0 {
		return nil, fmt.Errorf("every block of SELinux MCS pairs is owned or full (%d pairs)", Pairs-TenantBlocks*BlockSize)
	}
	l := t.Replicas[id]
	l.Renewed = now
	l.Blocks = append(l.Blocks, got...)
	sort.Ints(l.Blocks)
	t.Replicas[id] = l
	return got, nil
}

// leastUsed is the block of pods' pairs not in owned with the fewest used
// pairs, if one has a free pair.
func (t *Table) leastUsed(owned map[int]bool, used func(int) int, start int) (int, bool) {
	n := Blocks - TenantBlocks
	best, bestUsed := -1, BlockSize+1
	for i := 0; i < n; i++ {
		b := TenantBlocks + (start+i)%n
		if owned[b] {
			continue
		}
		if u := used(b); u < bestUsed {
			best, bestUsed = b, u
			if u == 0 {
				break
			}
		}
	}
	return best, best >= 0 && bestUsed < blockLen(best)
}

// TenantPair is the tenant's pair, given it now when it has none: want if
// it is a pair of the tenants' blocks no other tenant holds, otherwise the
// first such pair.
func (t *Table) TenantPair(name string, want *Pair) (Pair, error) {
	if p, ok := t.Tenants[name]; ok {
		return p, nil
	}
	taken := make(map[Pair]bool, len(t.Tenants))
	for _, p := range t.Tenants {
		taken[p] = true
	}
	if want != nil && want.Block() < TenantBlocks && !taken[*want] {
		t.Tenants[name] = *want
		return *want, nil
	}
	for i := 0; i < TenantBlocks*BlockSize; i++ {
		if p := PairAt(i); !taken[p] {
			t.Tenants[name] = p
			return p, nil
		}
	}
	return Pair{}, fmt.Errorf("all %d tenants' SELinux MCS pairs are given (release the pair of a deleted tenant by removing its %s<name> key from the allocation table)", TenantBlocks*BlockSize, tenantPrefix)
}

func blockLen(b int) int {
	lo, hi := blockRange(b)
	return hi - lo
}

// CheckIdentity: id can name a replica in the table (a ConfigMap data key:
// letters, digits, '-', '_' and '.').
func CheckIdentity(id string) error {
	if id == "" || len(id) > 200 {
		return fmt.Errorf("%q: a replica's name has 1 to 200 characters", id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%q: a replica's name has only letters, digits, '-', '_' and '.'", id)
		}
	}
	return nil
}
