package registry

import (
	"context"
	"io"
	"log"

	"encoding/pem"
	"github.com/google/go-containerregistry/pkg/authn"
	k8sauthn "github.com/google/go-containerregistry/pkg/authn/kubernetes"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"

	"github.com/kguard/kguard/internal/imagepolicy"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// A private registry: without credentials the image is refused with the
// registry's answer; with a pod's pull Secret (a dockerconfigjson) it is read.
func TestPullSecretCredentials(t *testing.T) {
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "puller" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	ref, _ := name.NewTag(host + "/team/private:v1")
	img, _ := random.Image(64, 1)
	if err := remote.Write(ref, img, remote.WithTransport(srv.Client().Transport), remote.WithAuth(&authn.Basic{Username: "puller", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	ca := filepath.Join(t.TempDir(), "ca.crt")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	c, err := New(Config{Timeout: 5 * time.Second, CAFile: ca, Keychain: authn.NewMultiKeychain()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resolve(context.Background(), ref.String()); err == nil || !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Fatalf("without credentials: want 401 Unauthorized, got %v", err)
	}
	secret := corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: "team"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"` + host + `":{"username":"puller","password":"s3cret"}}}`)}}
	kc, err := k8sauthn.NewFromPullSecrets(context.Background(), []corev1.Secret{secret})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Resolve(imagepolicy.WithCredentials(context.Background(), "team/regcred@1", kc), ref.String())
	if err != nil || got.Digest != want.String() {
		t.Fatalf("with the pull Secret: %v %+v, want %s", err, got, want)
	}
	if _, err := c.Artifacts(imagepolicy.WithCredentials(context.Background(), "team/regcred@1", kc), host+"/team/private", want.String(), false); err != nil {
		t.Fatalf("reading signatures with the pull Secret: %v", err)
	}
}
