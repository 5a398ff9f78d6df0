// Package source builds the policy snapshots `kguard serve` answers from —
// out of files (watched and reloaded atomically) or out of a cluster
// (client-go informers) — with the builder every command uses
// (internal/snapshot), and publishes them.
package source

import "github.com/kguard/kguard/internal/snapshot"

// Publisher receives what a source builds: the server, in `kguard serve`.
type Publisher interface {
	// Store serves snap from now on.
	Store(snap *snapshot.Snapshot)
	// ReloadFailed reports a source that could not build a new snapshot (or
	// part of one): the last good version keeps serving, and is stale.
	ReloadFailed(err error)
	// Fresh reports that the snapshot served reflects every source as it is.
	Fresh()
}

// Publishers hands what a source builds to each of its publishers in turn:
// one source feeding several consumers in one process (`kguard controller`'s
// report writer and tenant reconciler).
type Publishers []Publisher

var _ Publisher = Publishers(nil)

func (ps Publishers) Store(snap *snapshot.Snapshot) {
	for _, p := range ps {
		p.Store(snap)
	}
}

func (ps Publishers) ReloadFailed(err error) {
	for _, p := range ps {
		p.ReloadFailed(err)
	}
}

func (ps Publishers) Fresh() {
	for _, p := range ps {
		p.Fresh()
	}
}
