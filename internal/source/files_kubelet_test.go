package source

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/server"
	"github.com/kguard/kguard/internal/snapshot"
)

// kubeletWrite does what the kubelet's atomic writer does to publish a new
// version of a ConfigMap or Secret volume in dir: the files in a new
// "..<timestamp>" directory, a "..data_tmp" symlink to it renamed over
// "..data", the user-visible "name -> ..data/name" links, and the previous
// timestamped directory removed.
func kubeletWrite(t *testing.T, dir, ts string, files map[string]string) {
	t.Helper()
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, ts, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(ts, filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			t.Fatal(err)
		}
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}

const kubeletPSP = `apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: example}
spec:
  privileged: false
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  runAsUser: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: ['*']
`

func podReaders(user string) string {
	return `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: apps}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pod-reader, namespace: apps}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: User, name: ` + user + `, apiGroup: rbac.authorization.k8s.io}]
`
}

func canGetPods(t *testing.T, snap *snapshot.Snapshot, name string) bool {
	t.Helper()
	d, _, err := snap.Authorizer.Authorize(context.Background(), authorizer.AttributesRecord{
		User: &user.DefaultInfo{Name: name}, Verb: "get", Namespace: "apps", Resource: "pods", ResourceRequest: true})
	if err != nil {
		t.Fatal(err)
	}
	return d == authorizer.DecisionAllow
}

// TestFilesKubeletVolume serves --policy-dir from a ConfigMap volume: each
// file is read once (not again inside ..data), and an update is seen, loaded
// once, and read whole in its new version.
func TestFilesKubeletVolume(t *testing.T) {
	dir := t.TempDir()
	kubeletWrite(t, dir, "..2026_12_01_15_04_05.123456789", map[string]string{"psp.yaml": kubeletPSP, "rbac.yaml": podReaders("alice")})
	snap, err := (&Files{Paths: []string{dir}}).Load()
	if err != nil {
		t.Fatalf("loading a ConfigMap volume: %v", err)
	}
	if !canGetPods(t, snap, "alice") || canGetPods(t, snap, "bob") {
		t.Fatal("first version: want alice, not bob")
	}

	logs := &lockedBuffer{}
	cert := selfSigned(t)
	srv, err := server.New(server.Config{CertFile: cert, KeyFile: filepath.Join(filepath.Dir(cert), "tls.key"),
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Files{Paths: []string{dir}, Interval: 5 * time.Millisecond}).Run(ctx, srv) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	loads := func() int { return strings.Count(logs.String(), "policy snapshot loaded") }
	waitFor := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); loads() < n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d snapshots loaded, waited for %d; log:\n%s", loads(), n, logs.String())
			}
		}
	}
	waitFor(1)
	time.Sleep(50 * time.Millisecond) // ten looks at an unchanged volume
	if loads() != 1 {
		t.Fatalf("an unchanged volume was reloaded; log:\n%s", logs.String())
	}

	kubeletWrite(t, dir, "..2026_12_01_15_06_05.987654321", map[string]string{"psp.yaml": kubeletPSP, "rbac.yaml": podReaders("bob")})
	waitFor(2)
	time.Sleep(50 * time.Millisecond)
	if n := loads(); n != 2 || strings.Contains(logs.String(), "reload failed") {
		t.Fatalf("one update: %d snapshots loaded, want 2; log:\n%s", n, logs.String())
	}
	if snap, err = (&Files{Paths: []string{dir}}).Load(); err != nil {
		t.Fatalf("loading the updated volume: %v", err)
	}
	if canGetPods(t, snap, "alice") {
		t.Fatal("the old grant to alice outlived the update")
	}
	if !canGetPods(t, snap, "bob") {
		t.Fatal("the new grant to bob is not served")
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// selfSigned writes a serving certificate and key (tls.crt, tls.key) into a
// new directory and returns the certificate's path.
func selfSigned(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kguard"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "tls.crt")
}
