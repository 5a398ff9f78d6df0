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
