// Package mcs hands out SELinux MCS levels (seLinuxOptions.level) as seed 004
// asks: a pair of categories, "s0:c123,c456", that no other running pod
// holds (a Tenant's seLinux: perPod), or one pair per tenant (perTenant).
//
// The space is the pairs of the categories c0..c1023 (523,776 pairs), in
// blocks of BlockSize. The first TenantBlocks blocks hold the tenants' pairs;
// the others the pods'. A kguard replica hands out pods' pairs only from
// blocks it owns; ownership is recorded in one shared Table that replicas
// change by compare-and-swap (a ConfigMap's resourceVersion in a cluster),
// and a replica that stops renewing loses its blocks to the others. The
// Table is also where the tenants' pairs are kept, so two tenants never get
// one pair and a tenant never gets two.
//
// This package does no I/O: a Store does (package mcs/kube).
package mcs

import (
	"fmt"
	"strconv"
	"strings"
)

const (
	// Categories is the number of MCS categories (c0..c1023), as SELinux's
	// default MCS policy and container runtimes use them.
	Categories = 1024
	// Pairs is the number of category pairs.
	Pairs = Categories * (Categories - 1) / 2
	// BlockSize is the number of pairs a replica reserves at once.
	BlockSize = 256
	// Blocks is the number of blocks (the last one is partial).
	Blocks = (Pairs + BlockSize - 1) / BlockSize
	// TenantBlocks are the blocks of the tenants' pairs (perTenant): 4,096
	// tenants.
	TenantBlocks = 16
)

// Pair is a level of two categories, Lo < Hi.
type Pair struct{ Lo, Hi uint16 }

// String is the level as seLinuxOptions.level spells it: "s0:c1,c2".
func (p Pair) String() string {
	b := make([]byte, 0, len("s0:c1023,c1023"))
	b = append(b, "s0:c"...)
	b = strconv.AppendInt(b, int64(p.Lo), 10)
	b = append(b, ",c"...)
	return string(strconv.AppendInt(b, int64(p.Hi), 10))
}

// rowStart[lo] is the index of the pair (lo, lo+1): pairs are numbered row
// by row, (0,1), (0,2) ... (0,1023), (1,2) ...
var rowStart = func() (r [Categories]int) {
	n := 0
	for lo := 0; lo < Categories; lo++ {
		r[lo] = n
		n += Categories - 1 - lo
	}
	return r
}()

// Index numbers p in [0, Pairs).
func (p Pair) Index() int { return rowStart[p.Lo] + int(p.Hi) - int(p.Lo) - 1 }

// Block is the block of p.
func (p Pair) Block() int { return p.Index() / BlockSize }

// PairAt is the pair numbered i (0 <= i < Pairs).
func PairAt(i int) Pair {
	// The last row whose start is <= i.
	lo, hi := 0, Categories-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if rowStart[mid] <= i {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return Pair{Lo: uint16(lo), Hi: uint16(lo + 1 + i - rowStart[lo])}
}

// blockRange is the first index of block b and the one after its last.
func blockRange(b int) (int, int) {
	end := (b + 1) * BlockSize
	if end > Pairs {
		end = Pairs
	}
	return b * BlockSize, end
}

// ParseLevel reads a level of exactly two categories at sensitivity s0,
// in either order ("s0:c456,c123" is the pair (123, 456)). Anything else is
// an error saying why: a level of more categories dominates every pair of
// them (a process at s0:c1,c2,c3 reads the files of s0:c1,c2), one category
// is not a pair, and ranges or other sensitivities are not MCS levels of a
// pod.
func ParseLevel(s string) (Pair, error) {
	rest, ok := strings.CutPrefix(s, "s0:")
	if !ok {
		return Pair{}, fmt.Errorf("%q is not an MCS level of two categories (s0:cN,cM)", s)
	}
	a, b, ok := strings.Cut(rest, ",")
	if !ok || strings.Contains(b, ",") {
		return Pair{}, fmt.Errorf("%q does not have exactly two categories (s0:cN,cM): a level of more categories dominates every pair of them", s)
	}
	x, err := category(a)
	if err != nil {
		return Pair{}, fmt.Errorf("%q: %v", s, err)
	}
	y, err := category(b)
	if err != nil {
		return Pair{}, fmt.Errorf("%q: %v", s, err)
	}
	if x == y {
		return Pair{}, fmt.Errorf("%q names category c%d twice: a pod's level needs two distinct categories", s, x)
	}
	if x > y {
		x, y = y, x
	}
	return Pair{Lo: x, Hi: y}, nil
}

// category reads "cN", 0 <= N < Categories, without sign or leading zeros.
func category(s string) (uint16, error) {
	d, ok := strings.CutPrefix(s, "c")
	if !ok || d == "" || len(d) > 4 || (len(d) > 1 && d[0] == '0') {
		return 0, fmt.Errorf("%q is not a category c0..c%d", s, Categories-1)
	}
	n := 0
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a category c0..c%d", s, Categories-1)
		}
		n = n*10 + int(c-'0')
	}
	if n >= Categories {
		return 0, fmt.Errorf("%q is not a category c0..c%d", s, Categories-1)
	}
	return uint16(n), nil
}
