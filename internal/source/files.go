package source

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/server"
)

// Files builds snapshots from policy files and directories, the ABAC file,
// the token file and the ServiceAccount keys, and rebuilds when any of them
// changes. Changes are found by hashing the files' contents every interval,
// which also sees a Kubernetes ConfigMap or Secret volume swap its symlink.
type Files struct {
	Config   Config
	Paths    []string      // --policy-dir: files and directories of YAML/JSON objects
	Interval time.Duration // how often to look for changes
	// Initial, when set, is served first instead of loading the files again:
	// the snapshot the caller got from this Files' Load.
	Initial *server.Snapshot

	last [sha256.Size]byte
}

// Load builds a snapshot from the files as they are now, and remembers their
// fingerprint (taken before reading them, so that a change made meanwhile is
// seen by the next look).
func (f *Files) Load() (*server.Snapshot, error) {
	f.last = f.fingerprint()
	set := &policy.Set{}
	if len(f.Paths) > 0 {
		var err error
		if set, err = policy.Load(f.Paths, nil); err != nil {
			return nil, err
		}
	}
	cfg := f.Config
	cfg.PSS.UnknownNamespace = unknownNamespace
	return Build(cfg, set)
}

// unknownNamespace refuses the pods of a namespace the files do not hold: its
// Pod Security labels are unknown (a Namespace file emptied or truncated for a
// moment, as `kubectl get ns -o yaml > file` does, must not turn Pod Security
// off until the next reload). Refusing beats keeping the previous labels: a
// namespace deleted from the files stops applying at once, and the answer
// never depends on what was loaded before.
func unknownNamespace(_ context.Context, name string) (*corev1.Namespace, error) {
	return nil, fmt.Errorf("namespace %q is not among the Namespaces of --policy-dir (kguard refuses pods in namespaces whose labels it does not know; add the Namespace to the policy files)", name)
}

// watched lists every input file.
func (f *Files) watched() []string {
	paths := append([]string(nil), f.Paths...)
	for _, p := range []string{f.Config.ABACFile, f.Config.Authn.TokenFile} {
		if p != "" {
			paths = append(paths, p)
		}
	}
	return append(paths, f.Config.Authn.ServiceAccount.KeyFiles...)
}

// fingerprint hashes the names and contents of every input file. A file that
// cannot be read changes the fingerprint too, so that the reload reports it.
func (f *Files) fingerprint() [sha256.Size]byte {
	h := sha256.New()
	for _, root := range f.watched() {
		files, err := manifest.Expand(root) // the files policy.Load reads
		if err != nil {
			fmt.Fprintf(h, "error %s %v\n", root, err)
			continue
		}
		for _, p := range files {
			fmt.Fprintf(h, "file %s\n", p)
			file, err := os.Open(p)
			if err != nil {
				fmt.Fprintf(h, "error %v\n", err)
				continue
			}
			io.Copy(h, file)
			file.Close()
		}
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// Run loads the files into srv, then reloads them whenever they change, until
// ctx ends. A change that does not load is reported and the last good
// snapshot keeps serving. The first load must succeed.
func (f *Files) Run(ctx context.Context, srv *server.Server) error {
	snap := f.Initial
	if snap == nil {
		var err error
		if snap, err = f.Load(); err != nil {
			return err
		}
	}
	srv.Store(snap)
	interval := f.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if f.fingerprint() == f.last {
			continue
		}
		snap, err := f.Load()
		if err != nil {
			srv.ReloadFailed(err)
			continue
		}
		srv.Store(snap)
	}
}

// ErrNoSource is returned when neither files nor a cluster are configured.
var ErrNoSource = errors.New("no policy source: give --policy-dir (files) or --kubeconfig / --in-cluster (cluster)")
