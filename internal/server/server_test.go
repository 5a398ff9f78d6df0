package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/admission/clusterimagepolicy"
	"github.com/kguard/kguard/internal/authn"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/registry"
	"github.com/kguard/kguard/internal/server"
	"github.com/kguard/kguard/internal/snapshot"
	"github.com/kguard/kguard/internal/source"
)

// pki is a CA with a serving certificate for 127.0.0.1 and a client certificate.
type pki struct {
	dir               string
	caPool            *x509.CertPool
	ca                *x509.Certificate
	caKey             *ecdsa.PrivateKey
	clientCA          string
	certFile, keyFile string
	clientCert        tls.Certificate
	serial            int64
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kguard-test-ca"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.caKey = key
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(p.ca)
	p.clientCA = filepath.Join(p.dir, "ca.crt")
	os.WriteFile(p.clientCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	p.certFile, p.keyFile = filepath.Join(p.dir, "tls.crt"), filepath.Join(p.dir, "tls.key")
	p.issueServing(t)
	cert, key2 := p.issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "kube-apiserver"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	p.clientCert = tls.Certificate{Certificate: [][]byte{cert}, PrivateKey: key2}
	return p
}

func (p *pki) issue(t testing.TB, tmpl *x509.Certificate) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	tmpl.SerialNumber = big.NewInt(100 + p.serial)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// issueServing writes a new serving certificate and returns its serial number.
func (p *pki) issueServing(t testing.TB) *big.Int {
	t.Helper()
	der, key := p.issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "kguard"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Written as a kubelet updates a Secret volume: whole files replaced.
	writeAtomic(t, p.keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	writeAtomic(t, p.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	c, _ := x509.ParseCertificate(der)
	return c.SerialNumber
}

func writeAtomic(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func (p *pki) client(withCert bool) *http.Client {
	cfg := &tls.Config{RootCAs: p.caPool, MinVersion: tls.VersionTLS12}
	if withCert {
		cfg.Certificates = []tls.Certificate{p.clientCert}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
}

const policies = `apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: example}
spec:
  privileged: false
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  runAsUser: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: ['*']
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: psp-use, namespace: apps}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], resourceNames: [example], verbs: [use]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: psp-use, namespace: apps}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: psp-use}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: apps}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pod-reader, namespace: apps}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: psp-use-example}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], resourceNames: [example], verbs: [use]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: psp-use, namespace: strict}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: psp-use-example}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: v1
kind: Namespace
metadata: {name: strict, labels: {pod-security.kubernetes.io/enforce: restricted, pod-security.kubernetes.io/warn: restricted}}
---
apiVersion: v1
kind: Namespace
metadata: {name: apps}
`

// env is a running kguard serve over files in a temporary directory.
type env struct {
	pki    *pki
	url    string
	srv    *server.Server
	dir    string
	cancel context.CancelFunc
	done   chan error
	client *http.Client
	files  *source.Files
	tokens string // the token file
}

func start(t *testing.T, cfg server.Config, clientCA bool) *env {
	t.Helper()
	e := &env{pki: newPKI(t), dir: t.TempDir(), done: make(chan error, 2)}
	if err := os.WriteFile(filepath.Join(e.dir, "policies.yaml"), []byte(policies), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(t.TempDir(), "tokens.csv")
	os.WriteFile(tokens, []byte("alice-token,alice,1000,\"dev\"\n"), 0o600)
	e.tokens = tokens
	cfg.CertFile, cfg.KeyFile = e.pki.certFile, e.pki.keyFile
	if clientCA {
		cfg.ClientCAFile = e.pki.clientCA
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.url = "https://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.client = e.pki.client(true)
	go func() { e.done <- srv.Serve(ctx, ln) }()
	e.files = &source.Files{Paths: []string{e.dir}, Interval: 50 * time.Millisecond,
		Config: snapshot.Config{Authn: authn.Config{TokenFile: tokens}}}
	go func() { e.done <- e.files.Run(ctx, srv) }()
	go srv.WatchCertificate(ctx, 50*time.Millisecond)
	t.Cleanup(cancel)
	e.waitReady(t)
	return e
}

func (e *env) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if code, _ := e.get(t, "/readyz"); code == 200 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("never ready")
}

func (e *env) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := e.client.Get(e.url + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) post(t *testing.T, c *http.Client, path, contentType string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) postJSON(t *testing.T, path string, body any) (int, string) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return e.post(t, e.client, path, "application/json", b)
}

func sar(user, verb, resource, ns string) map[string]any {
	return map[string]any{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
		"spec": map[string]any{"user": user, "groups": []string{"system:authenticated"},
			"resourceAttributes": map[string]any{"verb": verb, "resource": resource, "namespace": ns}}}
}

func admissionReview(uid, user, ns string, op admissionv1.Operation, pod string, old string) map[string]any {
	req := map[string]any{"uid": uid, "kind": map[string]string{"version": "v1", "kind": "Pod"},
		"resource": map[string]string{"version": "v1", "resource": "pods"}, "namespace": ns, "operation": string(op),
		"userInfo": map[string]any{"username": user, "groups": []string{"system:authenticated"}}, "object": json.RawMessage(pod)}
	if old != "" {
		req["oldObject"] = json.RawMessage(old)
	}
	return map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}
}

const (
	pausePod      = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"pause","namespace":"apps"},"spec":{"serviceAccountName":"default","containers":[{"name":"pause","image":"k8s.gcr.io/pause"}]}}`
	privilegedPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"priv","namespace":"apps"},"spec":{"containers":[{"name":"pause","image":"k8s.gcr.io/pause","securityContext":{"privileged":true}}]}}`
)

func decodeAdmission(t *testing.T, body string) *admissionv1.AdmissionResponse {
	t.Helper()
	var r admissionv1.AdmissionReview
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Response == nil {
		t.Fatalf("not an AdmissionReview answer: %s (%v)", body, err)
	}
	return r.Response
}

func TestEndpoints(t *testing.T) {
	e := start(t, server.Config{}, false)

	// Authentication.
	code, body := e.postJSON(t, server.PathAuthenticate, map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": map[string]string{"token": "alice-token"}})
	if code != 200 || !strings.Contains(body, `"authenticated":true`) || !strings.Contains(body, `"username":"alice"`) || strings.Contains(body, "alice-token") {
		t.Fatalf("token review: %d %s", code, body)
	}
	code, body = e.postJSON(t, server.PathAuthenticate, map[string]any{"apiVersion": "authentication.k8s.io/v1beta1", "kind": "TokenReview", "spec": map[string]string{"token": "mallory"}})
	if code != 200 || strings.Contains(body, `"authenticated":true`) {
		t.Fatalf("unknown token: %d %s", code, body)
	}

	// Authorization.
	for _, tc := range []struct {
		user, verb, ns string
		allowed        bool
	}{{"alice", "list", "apps", true}, {"alice", "delete", "apps", false}, {"alice", "list", "other", false}, {"bob", "get", "apps", false}} {
		code, body := e.postJSON(t, server.PathAuthorize, sar(tc.user, tc.verb, "pods", tc.ns))
		var got authorizationv1.SubjectAccessReview
		if code != 200 || json.Unmarshal([]byte(body), &got) != nil || got.Status.Allowed != tc.allowed {
			t.Errorf("%s %s pods in %s: %d %s", tc.user, tc.verb, tc.ns, code, body)
		}
	}

	// Admission: mutate then validate, as kube-apiserver calls them.
	code, body = e.postJSON(t, server.PathMutate, admissionReview("u1", "alice", "apps", admissionv1.Create, pausePod, ""))
	r := decodeAdmission(t, body)
	if code != 200 || !r.Allowed || r.UID != "u1" || !strings.Contains(string(r.Patch), `"kubernetes.io~1psp"`) && !strings.Contains(string(r.Patch), "kubernetes.io/psp") {
		t.Fatalf("mutate pause: %d %s", code, body)
	}
	annotated := strings.Replace(pausePod, `"namespace":"apps"}`, `"namespace":"apps","annotations":{"kubernetes.io/psp":"example"}}`, 1)
	code, body = e.postJSON(t, server.PathValidate, admissionReview("u2", "alice", "apps", admissionv1.Create, annotated, ""))
	if r := decodeAdmission(t, body); code != 200 || !r.Allowed || r.Patch != nil || r.AuditAnnotations["validate-policy"] != "example" {
		t.Fatalf("validate pause: %d %s", code, body)
	}
	code, body = e.postJSON(t, server.PathMutate, admissionReview("u3", "alice", "apps", admissionv1.Create, privilegedPod, ""))
	if r := decodeAdmission(t, body); r.Allowed || !strings.Contains(r.Result.Message, `pods "priv" is forbidden: unable to validate against any pod security policy`) ||
		!strings.Contains(r.Result.Message, "spec.containers[0].securityContext.privileged") {
		t.Fatalf("privileged pod: %d %s", code, body)
	}
	code, body = e.postJSON(t, server.PathMutate, admissionReview("u4", "bob", "apps", admissionv1.Create, pausePod, ""))
	if r := decodeAdmission(t, body); r.Allowed || !strings.Contains(r.Result.Message, "no providers available to validate pod request") {
		t.Fatalf("bob without use: %d %s", code, body)
	}
	// Pod Security Standards in the validating pass: enforce denies, warn warns.
	strictPod := strings.ReplaceAll(annotated, `"namespace":"apps"`, `"namespace":"strict"`)
	code, body = e.postJSON(t, server.PathValidate, admissionReview("u5", "alice", "strict", admissionv1.Create, strictPod, ""))
	if r := decodeAdmission(t, body); r.Allowed || !strings.Contains(r.Result.Message, `violates PodSecurity "restricted:latest"`) {
		t.Fatalf("restricted namespace: %d %s", code, body)
	}
	// A Deployment: PodSecurity warns about its template (enforce never
	// denies a controller, its pods are refused when created); no PSP verdict.
	deploy := admissionReview("u7", "alice", "strict", admissionv1.Create,
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"strict"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"hostNetwork":true,"containers":[{"name":"c","image":"i"}]}}}}`, "")
	deploy["request"].(map[string]any)["kind"] = map[string]string{"group": "apps", "version": "v1", "kind": "Deployment"}
	deploy["request"].(map[string]any)["resource"] = map[string]string{"group": "apps", "version": "v1", "resource": "deployments"}
	code, body = e.postJSON(t, server.PathValidate, deploy)
	if r := decodeAdmission(t, body); !r.Allowed || len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], `would violate PodSecurity "restricted:latest": host namespaces (hostNetwork=true)`) {
		t.Fatalf("deployment: %d %s", code, body)
	}
	if code, body = e.postJSON(t, server.PathMutate, deploy); !decodeAdmission(t, body).Allowed || strings.Contains(body, "warnings") {
		t.Fatalf("deployment, mutating pass: %d %s", code, body)
	}
	// Not a pod, a subresource, a DELETE: not evaluated.
	other := admissionReview("u6", "bob", "apps", admissionv1.Create, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}`, "")
	other["request"].(map[string]any)["resource"] = map[string]string{"version": "v1", "resource": "configmaps"}
	if code, body = e.postJSON(t, server.PathValidate, other); !decodeAdmission(t, body).Allowed {
		t.Fatalf("configmap: %d %s", code, body)
	}

	// Health and metrics.
	if code, body := e.get(t, "/healthz"); code != 200 {
		t.Fatalf("healthz %d %s", code, body)
	}
	code, body = e.get(t, "/metrics")
	for _, want := range []string{`kguard_requests_total{code="200",endpoint="authorize"} 4`, `kguard_decisions_total{decision="denied",endpoint="mutate"} 2`,
		`kguard_policy_generation 1`, "kguard_request_duration_seconds_bucket", "kguard_serving_certificate_expiry_timestamp_seconds"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestHTTP2OnlyWhenEnabled: a client that would use HTTP/2 (as kube-apiserver's
// authorization and authentication webhook clients would) gets HTTP/1.1 unless
// EnableHTTP2 is set, and its reviews are answered either way.
func TestHTTP2OnlyWhenEnabled(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		e := start(t, server.Config{EnableHTTP2: enabled}, false)
		body, _ := json.Marshal(sar("alice", "list", "pods", "apps"))
		req, err := http.NewRequest(http.MethodPost, e.url+server.PathAuthorize, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := 1
		if enabled {
			want = 2
		}
		if resp.ProtoMajor != want || resp.StatusCode != 200 || !strings.Contains(string(b), `"allowed":true`) {
			t.Errorf("EnableHTTP2=%v: %s %d %s, want HTTP/%d and allowed", enabled, resp.Proto, resp.StatusCode, b, want)
		}
		if resp.TLS == nil || resp.TLS.NegotiatedProtocol != map[bool]string{false: "http/1.1", true: "h2"}[enabled] {
			t.Errorf("EnableHTTP2=%v: ALPN %+v", enabled, resp.TLS)
		}
	}
}

// Every malformed or unanswerable request gets no.
func TestFailClosed(t *testing.T) {
	e := start(t, server.Config{MaxRequestBytes: 64 << 10}, false)
	big := bytes.Repeat([]byte("a"), 65<<10)
	for _, tc := range []struct {
		name, path, contentType string
		body                    []byte
		code                    int
		want                    string
	}{
		{"oversize body", server.PathMutate, "application/json", big, 413, "exceeds the limit"},
		{"not JSON", server.PathAuthorize, "application/json", []byte(`{"apiVersion":`), 400, "malformed JSON"},
		{"wrong content type", server.PathAuthorize, "application/yaml", []byte(`{}`), 415, "want application/json"},
		{"wrong kind", server.PathAuthorize, "application/json", []byte(`{"apiVersion":"authorization.k8s.io/v1","kind":"TokenReview"}`), 400, "want SubjectAccessReview"},
		{"wrong apiVersion", server.PathMutate, "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`), 400, "want admission.k8s.io/v1"},
		{"no request", server.PathValidate, "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), 400, "no request"},
		{"no uid", server.PathValidate, "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}`), 400, "no uid"},
		{"SAR without user", server.PathAuthorize, "application/json", []byte(`{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"resourceAttributes":{"verb":"get"}}}`), 400, "invalid SubjectAccessReview"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := e.post(t, e.client, tc.path, tc.contentType, tc.body)
			if code != tc.code || !strings.Contains(body, tc.want) || strings.Contains(body, `"allowed":true`) {
				t.Fatalf("%d %s, want %d with %q", code, body, tc.code, tc.want)
			}
		})
	}
	resp, err := e.client.Get(e.url + server.PathAuthorize)
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %v %v", resp, err)
	}
	resp.Body.Close()

	// A pod that does not decode is denied, with the reason.
	code, body := e.postJSON(t, server.PathMutate, admissionReview("u1", "alice", "apps", admissionv1.Create, `{"apiVersion":"v1","kind":"Pod","spec":{"containers":"nope"}}`, ""))
	if r := decodeAdmission(t, body); code != 200 || r.Allowed || r.UID != "u1" || r.Result.Code != 400 {
		t.Fatalf("undecodable pod: %d %s", code, body)
	}
	// An UPDATE without its old object is denied.
	code, body = e.postJSON(t, server.PathMutate, admissionReview("u2", "alice", "apps", admissionv1.Update, pausePod, ""))
	if r := decodeAdmission(t, body); r.Allowed {
		t.Fatalf("update without oldObject: %d %s", code, body)
	}
}

// blocking is an authorizer that waits for release (or the request's end) and
// can panic: it injects the slow and broken evaluations real engines do not have.
// With ignoreCtx it allows after sleep whatever the request's context says.
type blocking struct {
	release   chan struct{}
	panics    bool
	entered   chan struct{}
	ignoreCtx bool
	sleep     time.Duration
}

func (b *blocking) Authorize(ctx context.Context, _ authorizer.Attributes) (authorizer.Decision, string, error) {
	if b.panics {
		panic("injected")
	}
	if b.entered != nil {
		b.entered <- struct{}{}
	}
	if b.ignoreCtx {
		time.Sleep(b.sleep)
		return authorizer.DecisionAllow, "too late", nil
	}
	select {
	case <-b.release:
		return authorizer.DecisionAllow, "released", nil
	case <-ctx.Done():
		return authorizer.DecisionNoOpinion, "", ctx.Err()
	}
}

// bare serves with no policy source: the test stores snapshots itself.
func bare(t *testing.T, cfg server.Config) (*pki, *server.Server, net.Listener, context.Context, context.CancelFunc) {
	t.Helper()
	p := newPKI(t)
	cfg.CertFile, cfg.KeyFile = p.certFile, p.keyFile
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return p, srv, ln, ctx, cancel
}

func TestDeadlinePanicAndNotReady(t *testing.T) {
	p, srv, ln, ctx, _ := bare(t, server.Config{RequestTimeout: 200 * time.Millisecond})
	go srv.Serve(ctx, ln)
	e := &env{pki: p, url: "https://" + ln.Addr().String(), client: p.client(false)}
	body, _ := json.Marshal(sar("alice", "get", "pods", "apps"))

	// No snapshot yet: not ready, and every review says no. A
	// SubjectAccessReview kguard cannot decide is an HTTP error, never a 200
	// answer (which kube-apiserver would read as a NoOpinion and cache), so
	// that kube-apiserver applies the webhook's failurePolicy.
	if code, _ := e.get(t, "/readyz"); code != 503 {
		t.Fatalf("ready without policies: %d", code)
	}
	if code, out := e.post(t, e.client, server.PathAuthorize, "application/json", body); code != 503 || strings.Contains(out, `"allowed"`) || !strings.Contains(out, "not loaded its policies") {
		t.Fatalf("before load: %d %s", code, out)
	}
	// A decision that outlives the deadline is no: one that gives up when the
	// request's context ends, and one that ignores it and allows too late.
	slow := &blocking{release: make(chan struct{})}
	defer close(slow.release)
	for _, a := range []*blocking{slow, {ignoreCtx: true, sleep: 400 * time.Millisecond}} {
		srv.Store(&snapshot.Snapshot{Authorizer: authorizer.AuthorizerFunc(a.Authorize)})
		if code, out := e.post(t, e.client, server.PathAuthorize, "application/json", body); code != 504 || strings.Contains(out, `"allowed"`) || !strings.Contains(out, "did not decide within 200ms") {
			t.Fatalf("deadline (ignoring the context: %v): %d %s", a.ignoreCtx, code, out)
		}
	}
	// A panic is recovered and answered no; the server keeps serving.
	srv.Store(&snapshot.Snapshot{Authorizer: authorizer.AuthorizerFunc((&blocking{panics: true}).Authorize)})
	for range 2 {
		if code, out := e.post(t, e.client, server.PathAuthorize, "application/json", body); code != 500 || strings.Contains(out, `"allowed"`) || !strings.Contains(out, "internal error") {
			t.Fatalf("panic: %d %s", code, out)
		}
	}
	// An endpoint without a configured engine says so, and no.
	tr := []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"x"}}`)
	if code, out := e.post(t, e.client, server.PathAuthenticate, "application/json", tr); code != 200 || !strings.Contains(out, `"authenticated":false`) || !strings.Contains(out, "not configured") {
		t.Fatalf("authn not configured: %d %s", code, out)
	}
	srv.Store(&snapshot.Snapshot{})
	if code, out := e.post(t, e.client, server.PathAuthorize, "application/json", body); code != 501 || strings.Contains(out, `"allowed"`) || !strings.Contains(out, "not configured: authorization") {
		t.Fatalf("authz not configured: %d %s", code, out)
	}
	// A real evaluation with no opinion is still a 200 answer.
	srv.Store(&snapshot.Snapshot{Authorizer: authorizer.AuthorizerFunc(func(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
		return authorizer.DecisionNoOpinion, "", nil
	})})
	if code, out := e.post(t, e.client, server.PathAuthorize, "application/json", body); code != 200 || !strings.Contains(out, `"allowed":false`) {
		t.Fatalf("no opinion: %d %s", code, out)
	}
}

func TestClientCertificateRequired(t *testing.T) {
	e := start(t, server.Config{}, true)
	body, _ := json.Marshal(sar("alice", "list", "pods", "apps"))
	if code, out := e.post(t, e.client, server.PathAuthorize, "application/json", body); code != 200 || !strings.Contains(out, `"allowed":true`) {
		t.Fatalf("with a client certificate: %d %s", code, out)
	}
	// Without a certificate the handshake fails: no review, no health, no
	// metrics, and no connection held open.
	anonymous := e.pki.client(false)
	for _, path := range []string{server.PathAuthorize, "/healthz", "/metrics"} {
		resp, err := anonymous.Post(e.url+path, "application/json", bytes.NewReader(body))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s without a client certificate: %d, want the handshake refused", path, resp.StatusCode)
		}
		if !strings.Contains(err.Error(), "certificate required") {
			t.Errorf("%s without a client certificate: %v", path, err)
		}
	}
	// The probe handler (--probe-address) needs none, and serves nothing else.
	probe := httptest.NewServer(e.srv.ProbeHandler())
	defer probe.Close()
	for path, want := range map[string]int{"/readyz": 200, "/healthz": 200, "/metrics": 200, server.PathAuthorize: 404} {
		resp, err := http.Post(probe.URL+path, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("probe address %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	// A certificate from another CA is refused during the handshake.
	other := newPKI(t)
	stranger := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.pki.caPool, Certificates: []tls.Certificate{other.clientCert}}}}
	if resp, err := stranger.Post(e.url+server.PathAuthorize, "application/json", bytes.NewReader(body)); err == nil {
		resp.Body.Close()
		t.Fatalf("a certificate of another CA was accepted: %d", resp.StatusCode)
	}
}

func TestHotReload(t *testing.T) {
	e := start(t, server.Config{}, false)
	list := sar("alice", "delete", "pods", "apps")
	allowed := func() bool {
		_, body := e.postJSON(t, server.PathAuthorize, list)
		return strings.Contains(body, `"allowed":true`)
	}
	if allowed() {
		t.Fatal("delete allowed before the change")
	}
	path := filepath.Join(e.dir, "policies.yaml")
	writeAtomic(t, path, []byte(strings.Replace(policies, "verbs: [get, list]", "verbs: [get, list, delete]", 1)))
	eventually(t, allowed, "the new RoleBinding rule is served")

	// A broken version is reported; the last good snapshot keeps serving.
	writeAtomic(t, path, []byte(policies+"---\napiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: bad}\nspec: {runAsUser: {rule: MustRunAs}}\n"))
	eventually(t, func() bool {
		_, m := e.get(t, "/metrics")
		return strings.Contains(m, "kguard_policy_reload_errors_total 1")
	}, "the broken version is reported")
	if !allowed() {
		t.Fatal("the last good snapshot stopped serving")
	}
	if code, _ := e.get(t, "/readyz"); code != 200 {
		t.Fatal("not ready after a failed reload")
	}

	// The serving certificate is reloaded when its files change.
	serial := e.pki.issueServing(t)
	eventually(t, func() bool {
		conn, err := tls.Dial("tcp", strings.TrimPrefix(e.url, "https://"), &tls.Config{RootCAs: e.pki.caPool})
		if err != nil {
			return false
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Cmp(serial) == 0
	}, "the new serving certificate is presented")
}

// Files mode: a Namespace file emptied for a moment (what `kubectl get ns -o
// yaml > file` does) must not turn Pod Security off: a pod in a namespace the
// snapshot does not know is refused, with the reason.
func TestTruncatedNamespaceFileFailsClosed(t *testing.T) {
	e := start(t, server.Config{}, false)
	// alice may use the PodSecurityPolicy "example" in tenant, which admits
	// the pause pod; only Pod Security (restricted) refuses it.
	writeAtomic(t, filepath.Join(e.dir, "rbac.yaml"), []byte(`apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: psp-use, namespace: tenant}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: psp-use-example}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
`))
	nsFile := filepath.Join(e.dir, "namespaces.yaml")
	writeAtomic(t, nsFile, []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: tenant, labels: {pod-security.kubernetes.io/enforce: restricted}}\n"))
	pod := strings.Replace(pausePod, `"namespace":"apps"}`, `"namespace":"tenant","annotations":{"kubernetes.io/psp":"example"}}`, 1)
	validate := func(uid string) *admissionv1.AdmissionResponse {
		_, body := e.postJSON(t, server.PathValidate, admissionReview(uid, "alice", "tenant", admissionv1.Create, pod, ""))
		return decodeAdmission(t, body)
	}
	eventually(t, func() bool {
		r := validate("u1")
		return !r.Allowed && strings.Contains(r.Result.Message, `violates PodSecurity "restricted:latest"`)
	}, "the restricted namespace is enforced")
	generation := func() string {
		_, body := e.get(t, "/readyz")
		return body
	}
	before := generation()
	writeAtomic(t, nsFile, nil)
	eventually(t, func() bool { return generation() != before }, "the emptied file is loaded")
	r := validate("u2")
	if r.Allowed || !strings.Contains(r.Result.Message, `cannot read the labels of namespace "tenant"`) {
		t.Fatalf("restricted-violating pod in a namespace missing from the files: allowed=%v %+v", r.Allowed, r.Result)
	}
}

// A broken policy file must not keep a revoked token valid: the policies and
// the authenticators reload on their own, and the snapshot says it is stale
// (kguard_snapshot_age_seconds, /readyz) until everything loads again. Each
// load logs what it ignored or overrode.
func TestSourcesReloadIndependently(t *testing.T) {
	var logs syncBuffer
	e := start(t, server.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, false)
	authenticated := func(token string) bool {
		_, body := e.postJSON(t, server.PathAuthenticate, map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": map[string]string{"token": token}})
		return strings.Contains(body, `"authenticated":true`)
	}
	metric := func(name string) string {
		_, m := e.get(t, "/metrics")
		for _, line := range strings.Split(m, "\n") {
			if strings.HasPrefix(line, name+" ") {
				return strings.TrimPrefix(line, name+" ")
			}
		}
		return ""
	}
	if !authenticated("alice-token") || metric("kguard_snapshot_age_seconds") != "0" {
		t.Fatal("not fresh and authenticating at start")
	}
	policyFile := filepath.Join(e.dir, "policies.yaml")
	writeAtomic(t, policyFile, []byte(policies+"---\napiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: bad}\nspec: {runAsUser: {rule: MustRunAs}}\n"))
	eventually(t, func() bool { return metric("kguard_snapshot_age_seconds") != "0" }, "the broken policy file makes the snapshot stale")
	// Revoke alice's token, add carol's twice (a load warning).
	writeAtomic(t, e.tokens, []byte("carol-token,carol,1001\ncarol-token,carol2,1002\n"))
	eventually(t, func() bool { return !authenticated("alice-token") && authenticated("carol-token") }, "the token file is reloaded while a policy file is broken")
	if _, body := e.get(t, "/readyz"); !strings.Contains(body, "stale for") {
		t.Errorf("/readyz does not say the policies are stale: %q", body)
	}
	if !strings.Contains(logs.String(), "policies.yaml") {
		t.Errorf("the log does not name the failing file:\n%s", logs.String())
	}
	// The warning is logged once the new snapshot serves: not necessarily yet.
	eventually(t, func() bool { return strings.Contains(logs.String(), "duplicate token, this record wins") }, "the duplicate token is logged")
	writeAtomic(t, policyFile, []byte(policies))
	eventually(t, func() bool { return metric("kguard_snapshot_age_seconds") == "0" }, "fresh again once the policies load")
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting until %s", what)
}

// Shutdown stops accepting, reports not ready, and lets the request in flight finish.
func TestGracefulShutdown(t *testing.T) {
	p, srv, ln, ctx, cancel := bare(t, server.Config{ShutdownTimeout: 10 * time.Second})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	slow := &blocking{release: make(chan struct{}), entered: make(chan struct{}, 1)}
	srv.Store(&snapshot.Snapshot{Authorizer: authorizer.AuthorizerFunc(slow.Authorize)})
	e := &env{pki: p, url: "https://" + ln.Addr().String(), client: p.client(false)}
	body, _ := json.Marshal(sar("alice", "get", "pods", "apps"))
	var wg sync.WaitGroup
	var code int
	var out string
	wg.Add(1)
	go func() {
		defer wg.Done()
		code, out = e.post(t, e.client, server.PathAuthorize, "application/json", body)
	}()
	<-slow.entered // the request is in flight
	cancel()
	eventually(t, func() bool { return !srv.Ready() }, "not ready while draining")
	select {
	case err := <-done:
		t.Fatalf("Serve returned before the request in flight finished: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(slow.release)
	wg.Wait()
	if code != 200 || !strings.Contains(out, `"allowed":true`) {
		t.Fatalf("request in flight: %d %s", code, out)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("still accepting connections after shutdown")
	}
}

// With ShutdownDelay, a stopping server keeps answering, on pooled and on new
// connections, but closes each after its answer: kube-apiserver's keep-alive
// connections end after an answer, never under a request.
func TestShutdownDelayClosesConnectionsAfterAnswers(t *testing.T) {
	p, srv, ln, ctx, cancel := bare(t, server.Config{ShutdownDelay: 1500 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	srv.Store(&snapshot.Snapshot{Authorizer: authorizer.AuthorizerFunc(func(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
		return authorizer.DecisionAllow, "", nil
	})})
	client := p.client(false)
	url := "https://" + ln.Addr().String() + server.PathAuthorize
	body, _ := json.Marshal(sar("alice", "get", "pods", "apps"))
	post := func() *http.Response {
		t.Helper()
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := post(); resp.StatusCode != 200 || resp.Close {
		t.Fatalf("before the shutdown: %d, close=%v", resp.StatusCode, resp.Close)
	}
	cancel()
	eventually(t, func() bool { return !srv.Ready() }, "not ready once stopping")
	for i := range 2 { // the pooled connection, then a new one
		if resp := post(); resp.StatusCode != 200 || !resp.Close {
			t.Fatalf("answer %d during the delay: %d, close=%v (want 200 and Connection: close)", i, resp.StatusCode, resp.Close)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("still accepting connections after the delay")
	}
}

// Go's profiles only with --profiling, and only on the probe address.
func TestProfilingOnlyOnProbeAddress(t *testing.T) {
	for _, on := range []bool{false, true} {
		p := newPKI(t)
		srv, err := server.New(server.Config{CertFile: p.certFile, KeyFile: p.keyFile, Profiling: on})
		if err != nil {
			t.Fatal(err)
		}
		for name, h := range map[string]http.Handler{"probe": srv.ProbeHandler(), "review": srv.Handler()} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
			want := http.StatusNotFound
			if on && name == "probe" {
				want = http.StatusOK
			}
			if rec.Code != want {
				t.Errorf("profiling=%v, %s handler: /debug/pprof/ answered %d, want %d", on, name, rec.Code, want)
			}
		}
	}
}

// /imagereview: kube-apiserver's ImagePolicyWebhook asks about a pod's
// images; the ClusterImagePolicy plugin answers as in the validating pass.
func TestImageReview(t *testing.T) {
	p, srv, ln, ctx, _ := bare(t, server.Config{})
	go srv.Serve(ctx, ln)
	e := &env{pki: p, url: "https://" + ln.Addr().String(), client: p.client(false)}
	set, err := policy.Read(strings.NewReader(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: mirror}
spec:
  images: [{glob: "mirror.example/**"}]
  authorities: [{static: {action: pass}}]
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: quarantine}
spec:
  images: [{glob: "bad.example/**"}]
  authorities: [{static: {action: fail, message: quarantined}}]
`), "cips.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.New(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	build := func(plugins ...string) {
		built, err := snapshot.BuildPolicies(snapshot.Config{AdmissionPlugins: plugins,
			ImagePolicy: clusterimagepolicy.Config{Registry: reg, AllNamespaces: true}}, set)
		if err != nil {
			t.Fatal(err)
		}
		srv.Store(snapshot.Combine(built, &snapshot.Authn{}))
	}
	build("PodSecurity", "ClusterImagePolicy")
	digest := "@sha256:" + strings.Repeat("1", 64)
	review := func(images ...string) map[string]any {
		var cs []any
		for _, i := range images {
			cs = append(cs, map[string]string{"image": i})
		}
		return map[string]any{"apiVersion": "imagepolicy.k8s.io/v1alpha1", "kind": "ImageReview",
			"spec": map[string]any{"containers": cs, "namespace": "apps", "annotations": map[string]string{"alpha.image-policy.k8s.io/break-glass": "true"}}}
	}
	code, body := e.postJSON(t, server.PathImageReview, review("mirror.example/app"+digest))
	if code != 200 || !strings.Contains(body, `"allowed":true`) || !strings.Contains(body, `"kind":"ImageReview"`) {
		t.Fatalf("mirrored image: %d %s", code, body)
	}
	code, body = e.postJSON(t, server.PathImageReview, review("mirror.example/app"+digest, "bad.example/app"+digest))
	if code != 200 || strings.Contains(body, `"allowed":true`) ||
		!strings.Contains(body, `image \"bad.example/app`+digest+`\" is not admitted by ClusterImagePolicy \"quarantine\": authority \"authority-0\": quarantined`) {
		t.Fatalf("quarantined image (break-glass decides nothing): %d %s", code, body)
	}
	code, body = e.postJSON(t, server.PathImageReview, review("elsewhere.example/app"+digest))
	if code != 200 || strings.Contains(body, `"allowed":true`) || !strings.Contains(body, "matches no ClusterImagePolicy") {
		t.Fatalf("unmatched image: %d %s", code, body)
	}
	// Malformed: refused with 400, never allowed.
	for _, bad := range []string{`{"kind":`, `{"apiVersion":"imagepolicy.k8s.io/v1alpha1","kind":"AdmissionReview"}`,
		`{"apiVersion":"imagepolicy.k8s.io/v1alpha1","kind":"ImageReview","spec":{"containers":[{"image":""}]}}`} {
		if code, body := e.post(t, e.client, server.PathImageReview, "application/json", []byte(bad)); code != 400 || strings.Contains(body, `"allowed":true`) {
			t.Errorf("%s: %d %s", bad, code, body)
		}
	}
	// The verdicts are counted.
	if _, m := e.get(t, "/metrics"); !strings.Contains(m, "kguard_image_admitted_total ") || !strings.Contains(m, "kguard_image_refused_total ") || !strings.Contains(m, "kguard_image_no_match_total ") {
		t.Fatalf("image metrics missing:\n%s", m)
	}
	if clusterimagepolicy.Counters.Refused.Load() == 0 || clusterimagepolicy.Counters.NoMatch.Load() == 0 || clusterimagepolicy.Counters.Admitted.Load() == 0 {
		t.Fatal("verdicts not counted")
	}
	// No image plugin in the chain: refused, saying why.
	build("PodSecurity")
	code, body = e.postJSON(t, server.PathImageReview, review("mirror.example/app"+digest))
	if code != 200 || strings.Contains(body, `"allowed":true`) || !strings.Contains(body, "no image policy plugin is enabled") {
		t.Fatalf("without the plugin: %d %s", code, body)
	}
}
