package source

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kguard/kguard/internal/snapshot"
)

// recorder is a Publisher that remembers what a source told it.
type recorder struct {
	mu     sync.Mutex
	snap   *snapshot.Snapshot
	stores int
	errs   []error
	fresh  bool
}

func (r *recorder) Store(s *snapshot.Snapshot) {
	r.mu.Lock()
	r.snap, r.stores = s, r.stores+1
	r.mu.Unlock()
}
func (r *recorder) ReloadFailed(err error) {
	r.mu.Lock()
	r.errs, r.fresh = append(r.errs, err), false
	r.mu.Unlock()
}
func (r *recorder) Fresh() { r.mu.Lock(); r.fresh = true; r.mu.Unlock() }

// runFiles runs f into a recorder until the test ends.
func runFiles(t *testing.T, f *Files) *recorder {
	t.Helper()
	r := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx, r) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return r
}

// waitUntil waits for cond on r (under its lock), up to 5s.
func waitUntil(t *testing.T, r *recorder, what string, cond func(r *recorder) bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		r.mu.Lock()
		ok := cond(r)
		r.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 5s for %s", what)
		}
	}
}

// TestFilesEmptiedKeepsLastGood: a --policy-dir that held policies and now
// holds none — the directory replaced by an empty one before the new files
// are copied in, or its only file truncated while being rewritten — is a
// reload that failed, not "no policies" served as fresh (RBAC then denies
// everything, Pod Security refuses every pod, constraints admit anything).
func TestFilesEmptiedKeepsLastGood(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "policies")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rbac.yaml"), []byte(podReaders("alice")), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runFiles(t, &Files{Paths: []string{dir}, Interval: 5 * time.Millisecond})
	waitUntil(t, r, "the first snapshot", func(r *recorder) bool { return r.stores == 1 && r.fresh })

	// The directory replaced: removed, created again empty.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, r, "a look at the empty directory", func(r *recorder) bool { return r.stores > 1 || len(r.errs) > 0 })
	time.Sleep(50 * time.Millisecond)
	r.mu.Lock()
	snap, stores, errs, fresh := r.snap, r.stores, append([]error(nil), r.errs...), r.fresh
	r.mu.Unlock()
	if stores != 1 || fresh || len(errs) == 0 || !canGetPods(t, snap, "alice") {
		t.Fatalf("emptied --policy-dir: %d snapshots stored (want 1), fresh %v (want false), errors %v (want one), alice served %v (want true)",
			stores, fresh, errs, canGetPods(t, snap, "alice"))
	}
	if !strings.Contains(errs[len(errs)-1].Error(), "no objects") {
		t.Errorf("the error does not say the directory holds no objects: %v", errs[len(errs)-1])
	}

	// The new files arrive: they load, and the snapshot is fresh again.
	if err := os.WriteFile(filepath.Join(dir, "rbac.yaml"), []byte(podReaders("bob")), 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, r, "the new files", func(r *recorder) bool { return r.stores == 2 && r.fresh })
	r.mu.Lock()
	snap = r.snap
	r.mu.Unlock()
	if canGetPods(t, snap, "alice") || !canGetPods(t, snap, "bob") {
		t.Fatal("the new files: want bob, not alice")
	}

	// Truncated to nothing while rewritten: the same.
	if err := os.WriteFile(filepath.Join(dir, "rbac.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, r, "the truncated file", func(r *recorder) bool { return r.stores > 2 || !r.fresh })
	time.Sleep(50 * time.Millisecond)
	r.mu.Lock()
	snap, stores, fresh = r.snap, r.stores, r.fresh
	r.mu.Unlock()
	if stores != 2 || fresh || !canGetPods(t, snap, "bob") {
		t.Fatalf("truncated file: %d snapshots stored (want 2), fresh %v (want false), bob served %v (want true)", stores, fresh, canGetPods(t, snap, "bob"))
	}
}

// TestFilesDuplicateNamespaceWarns: a Namespace defined in two files (a
// backup copy left beside the real one) silently shadowed the other, its
// Pod Security labels with it — here the copy without labels turned
// "restricted" into the default "privileged". The last definition is still
// used, as for Roles, but the load says so.
func TestFilesDuplicateNamespaceWarns(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ns.yaml"), []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: apps, labels: {pod-security.kubernetes.io/enforce: restricted}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ns.yaml.bak.yaml"), []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, err := (&Files{Paths: []string{dir}}).Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range snap.Warnings {
		if strings.Contains(w, `Namespace "apps" is defined more than once`) && strings.Contains(w, "ns.yaml.bak.yaml") {
			return
		}
	}
	t.Fatalf("no warning names the Namespace defined twice and the file whose definition is used: %q", snap.Warnings)
}
