package source

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/snapshot"
)

// Files builds snapshots from policy files and directories, the ABAC file,
// the token file and the ServiceAccount keys, and rebuilds when any of them
// changes. Changes are found by hashing the files' contents every interval,
// which also sees a Kubernetes ConfigMap or Secret volume swap its symlink.
//
// The policies (policy files, ABAC file) and the authenticators (token file,
// keys) are reloaded on their own: a broken policy file keeps the last good
// policies serving but does not keep a revoked token valid, and the reverse.
type Files struct {
	Config   snapshot.Config
	Paths    []string      // --policy-dir: files and directories of YAML/JSON objects
	Interval time.Duration // how often to look for changes
	// Initial, when set, is served first instead of loading the files again:
	// the snapshot the caller got from this Files' Load.
	Initial *snapshot.Snapshot

	policySum, authnSum [sha256.Size]byte
	policies            *snapshot.Policies
	authn               *snapshot.Authn
	// hadObjects: the policies last loaded held objects. Files that held
	// some and now hold none are being replaced (a directory swapped for an
	// empty one, a file truncated to be rewritten): a failed reload, not a
	// policy set to serve.
	hadObjects bool
}

// Load builds a snapshot from the files as they are now, and remembers their
// fingerprints (taken before reading them, so that a change made meanwhile is
// seen by the next look). Both parts must load.
func (f *Files) Load() (*snapshot.Snapshot, error) {
	f.policySum, f.authnSum = f.fingerprint(f.policyFiles()), f.fingerprint(f.authnFiles())
	p, err := f.loadPolicies()
	if err != nil {
		return nil, err
	}
	a, err := snapshot.BuildAuthn(f.Config)
	if err != nil {
		return nil, err
	}
	f.policies, f.authn = p, a
	return snapshot.Combine(p, a), nil
}

func (f *Files) loadPolicies() (*snapshot.Policies, error) {
	set := &policy.Set{}
	if len(f.Paths) > 0 {
		var err error
		if set, err = policy.Load(f.Paths, nil); err != nil {
			return nil, err
		}
	}
	objects := !set.Empty()
	if !objects && f.hadObjects {
		return nil, fmt.Errorf("no objects in --policy-dir %s, which held some: kept the last good policies (a directory or file being replaced?)", strings.Join(f.Paths, ", --policy-dir "))
	}
	cfg := f.Config
	cfg.PSS.UnknownNamespace = unknownNamespace
	p, err := snapshot.BuildPolicies(cfg, set)
	if err == nil {
		f.hadObjects = objects
	}
	return p, err
}

// reload rebuilds the parts whose files changed, keeping the last good
// version of a part that does not load. It reports whether anything new was
// built and the errors met.
func (f *Files) reload() (changed bool, errs []error) {
	if sum := f.fingerprint(f.policyFiles()); sum != f.policySum {
		f.policySum = sum
		if p, err := f.loadPolicies(); err != nil {
			errs = append(errs, fmt.Errorf("policies (--policy-dir, --authorization-policy-file): %w", err))
		} else {
			f.policies, changed = p, true
		}
	}
	if sum := f.fingerprint(f.authnFiles()); sum != f.authnSum {
		f.authnSum = sum
		if a, err := snapshot.BuildAuthn(f.Config); err != nil {
			errs = append(errs, fmt.Errorf("authentication (--token-auth-file, --service-account-key-file): %w", err))
		} else {
			f.authn, changed = a, true
		}
	}
	return changed, errs
}

func (f *Files) policyFiles() []string {
	paths := append([]string(nil), f.Paths...)
	if f.Config.ABACFile != "" {
		paths = append(paths, f.Config.ABACFile)
	}
	return paths
}

func (f *Files) authnFiles() []string {
	var paths []string
	if f.Config.Authn.TokenFile != "" {
		paths = append(paths, f.Config.Authn.TokenFile)
	}
	return append(paths, f.Config.Authn.ServiceAccount.KeyFiles...)
}

// fingerprint hashes the names and contents of the files under roots. A file
// that cannot be read changes the fingerprint too, so that the reload reports it.
func (f *Files) fingerprint(roots []string) [sha256.Size]byte {
	h := sha256.New()
	for _, root := range roots {
		files, err := manifest.Expand(root) // the files policy.Load reads
		if err != nil {
			fmt.Fprintf(h, "error %s %v\n", root, err)
			continue
		}
		regos, _ := manifest.ExpandExt(root, policy.RegoExt)
		files = append(files, regos...)
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
// ctx ends. A part that does not load is reported (with the failing file) and
// its last good version keeps serving; the snapshot is stale until it loads.
// The first load must succeed.
func (f *Files) Run(ctx context.Context, pub Publisher) error {
	snap := f.Initial
	if snap == nil || f.policies == nil {
		var err error
		if snap, err = f.Load(); err != nil {
			return err
		}
	}
	pub.Store(snap)
	pub.Fresh()
	interval := f.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		changed, errs := f.reload()
		if changed {
			pub.Store(snapshot.Combine(f.policies, f.authn))
		}
		for _, err := range errs {
			pub.ReloadFailed(err)
		}
		if len(errs) > 0 {
			failing = true
		} else if changed && failing {
			// Every part that failed was changed and loads again... unless
			// another part still fails: look again at both next time.
			if f.allLoad() {
				failing = false
				pub.Fresh()
			}
		} else if changed {
			pub.Fresh()
		}
	}
}

// allLoad reports whether both parts load from the files as they are now
// (after a failure, a reload of one part says nothing of the other).
func (f *Files) allLoad() bool {
	if _, err := f.loadPolicies(); err != nil {
		return false
	}
	_, err := snapshot.BuildAuthn(f.Config)
	return err == nil
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

// ErrNoSource is returned when neither files nor a cluster are configured.
var ErrNoSource = errors.New("no policy source: give --policy-dir (files) or --kubeconfig / --in-cluster (cluster)")
