package registry

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// go-containerregistry falls back to plain HTTP for loopback and private
// addresses; kguard must not: a plain-HTTP registry is refused, not read.
func TestPlainHTTPIsRefused(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("a", 64))
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	c, err := New(Config{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	_, err = c.Resolve(context.Background(), host+"/team/app:v1")
	if err == nil || !strings.Contains(err.Error(), "refusing plain HTTP") {
		t.Fatalf("want the plain-HTTP registry refused, got %v", err)
	}
	if hits != 0 {
		t.Fatalf("%d plain-HTTP requests reached the registry", hits)
	}
	if _, err := c.Artifacts(context.Background(), host+"/team/app", "sha256:"+strings.Repeat("b", 64), false); err == nil || !strings.Contains(err.Error(), "refusing plain HTTP") {
		t.Fatalf("artifacts: want refusal, got %v", err)
	}
}

// A registry that does not answer within the timeout refuses, naming it.
func TestTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	ca := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Timeout: 300 * time.Millisecond, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "https://")
	calls, failures := Counters.Calls.Load(), Counters.Failures.Load()
	_, err = c.Resolve(context.Background(), host+"/team/app:v1")
	if err == nil || !strings.Contains(err.Error(), "did not answer in time") {
		t.Fatalf("want a timeout, got %v", err)
	}
	if Counters.Calls.Load() != calls+1 || Counters.Failures.Load() != failures+1 {
		t.Fatalf("the failed call was not counted: calls %d→%d, failures %d→%d", calls, Counters.Calls.Load(), failures, Counters.Failures.Load())
	}
}
