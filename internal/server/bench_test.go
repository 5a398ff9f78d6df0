package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/server"
	"github.com/kguard/kguard/internal/snapshot"
	"github.com/kguard/kguard/internal/source"
)

// The load test's policy set and requests, in process and without TLS: where
// the time of one review goes once the HTTP request has been read. Skipped
// unless both are given:
//
//	go run ./hack/loadgen -generate /tmp/lt
//	for n in 0 1 2 3 4 5 6 7 8 9; do go run ./hack/loadgen -print-cases $n; done >/tmp/lt-cases.jsonl
//	KGUARD_BENCH_POLICIES=/tmp/lt KGUARD_BENCH_CASES=/tmp/lt-cases.jsonl \
//	  go test -run '^$' -bench LoadTest -benchmem ./internal/server
func loadTestInputs(b *testing.B) (string, []benchCase) {
	dir, casesFile := os.Getenv("KGUARD_BENCH_POLICIES"), os.Getenv("KGUARD_BENCH_CASES")
	if dir == "" || casesFile == "" {
		b.Skip("KGUARD_BENCH_POLICIES and KGUARD_BENCH_CASES are not set (see hack/loadgen)")
	}
	f, err := os.Open(casesFile)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var cases []benchCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c benchCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			b.Fatal(err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return dir, cases
}

type benchCase struct {
	Endpoint string          `json:"endpoint"`
	Name     string          `json:"name"`
	Allowed  bool            `json:"allowed"`
	Body     json.RawMessage `json:"body"`
}

// loadTestServer serves the load test's policy set, with a serving
// certificate for 127.0.0.1 from a test CA, and returns its requests.
func loadTestServer(b *testing.B) (*server.Server, *pki, []benchCase) {
	dir, cases := loadTestInputs(b)
	p := newPKI(b)
	srv, err := server.New(server.Config{CertFile: p.certFile, KeyFile: p.keyFile})
	if err != nil {
		b.Fatal(err)
	}
	snap, err := (&source.Files{Paths: []string{dir}}).Load()
	if err != nil {
		b.Fatal(err)
	}
	srv.Store(snap)
	return srv, p, cases
}

// BenchmarkLoadTestLoad builds the snapshot of the load test's policy set and
// reports the heap it keeps (live bytes after a GC, the snapshot held).
func BenchmarkLoadTestLoad(b *testing.B) {
	dir, _ := loadTestInputs(b)
	var snap *snapshot.Snapshot
	for b.Loop() {
		var err error
		if snap, err = (&source.Files{Paths: []string{dir}}).Load(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var before, after runtime.MemStats
	snap = nil
	runtime.GC()
	runtime.ReadMemStats(&before)
	snap, err := (&source.Files{Paths: []string{dir}}).Load()
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB-live")
	runtime.KeepAlive(snap)
}

// BenchmarkLoadTestReview answers each kind of request of the load test
// through the server's handler (JSON in, decision, JSON out).
func BenchmarkLoadTestReview(b *testing.B) {
	srv, _, cases := loadTestServer(b)
	h := srv.Handler()
	byName := map[string][]benchCase{}
	var names []string
	for _, c := range cases {
		k := c.Endpoint[1:] + "/" + c.Name
		if byName[k] == nil {
			names = append(names, k)
		}
		byName[k] = append(byName[k], c)
	}
	for _, name := range names {
		cs := byName[name]
		b.Run(name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				c := cs[i%len(cs)]
				i++
				req := httptest.NewRequest(http.MethodPost, c.Endpoint, bytes.NewReader(c.Body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("%s: %d %s", name, rec.Code, rec.Body)
				}
				if allowed := bytes.Contains(rec.Body.Bytes(), []byte(`"allowed":true`)); allowed != c.Allowed {
					b.Fatalf("%s: allowed %v, want %v: %.300s", name, allowed, c.Allowed, rec.Body)
				}
			}
		})
	}
}

// BenchmarkLoadTestHTTPS is the authorization case over the real listener:
// TLS 1.3 and HTTP/2 on loopback, client and server in this process,
// requests in parallel (closed loop). Its CPU profile shows what a request
// costs beyond the decision.
func BenchmarkLoadTestHTTPS(b *testing.B) {
	srv, p, cases := loadTestServer(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, ln)
	client := p.client(false) // HTTP/2, the serving certificate verified
	var sars []benchCase
	for _, c := range cases {
		if c.Endpoint == server.PathAuthorize {
			sars = append(sars, c)
		}
	}
	url := "https://" + ln.Addr().String() + server.PathAuthorize
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c := sars[i%len(sars)]
			i++
			resp, err := client.Post(url, "application/json", bytes.NewReader(c.Body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("%d", resp.StatusCode)
				return
			}
		}
	})
}

// benchPSPPod is the restricted pod of hack/benche2e as kube-apiserver sends it
// to the webhooks on create: defaulted, with the ServiceAccount admission's
// token volume and DefaultTolerationSeconds' tolerations.
func benchPSPPod(b *testing.B) []byte {
	pod, err := os.ReadFile("../admission/testdata/pod-as-sent.json")
	if err != nil {
		b.Fatal(err)
	}
	return bytes.TrimSpace(pod)
}

// benchPSPServer serves examples/psp/policies/restricted-psp.yaml (usable by
// system:masters) before PodSecurity, in a namespace enforcing restricted:
// the kguard-psp setup of `make bench-e2e`.
func benchPSPServer(b *testing.B) http.Handler {
	psp, err := os.ReadFile("../../examples/psp/policies/restricted-psp.yaml")
	if err != nil {
		b.Fatal(err)
	}
	docs, err := manifest.Read(strings.NewReader(string(psp)+`
---
apiVersion: v1
kind: Namespace
metadata: {name: bench, labels: {pod-security.kubernetes.io/enforce: restricted, pod-security.kubernetes.io/enforce-version: latest}}
---
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use-psp}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use]}]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use-psp}
subjects: [{kind: Group, name: "system:masters", apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: use-psp, apiGroup: rbac.authorization.k8s.io}
`), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	set, err := policy.FromDocuments(docs)
	if err != nil {
		b.Fatal(err)
	}
	snap, err := snapshot.Build(snapshot.Config{AdmissionPlugins: []string{"PodSecurityPolicy", "PodSecurity"}}, set)
	if err != nil {
		b.Fatal(err)
	}
	p := newPKI(b)
	srv, err := server.New(server.Config{CertFile: p.certFile, KeyFile: p.keyFile})
	if err != nil {
		b.Fatal(err)
	}
	srv.Store(snap)
	return srv.Handler()
}

// BenchmarkPSPRound is one pod of the kguard-psp setup of `make bench-e2e`
// through the handler: /mutate, kube-apiserver applying the patch, then
// /validate of the mutated pod, as kube-apiserver calls them.
//
//	go test -run '^$' -bench PSPRound -benchmem -cpuprofile /tmp/psp.prof ./internal/server
func BenchmarkPSPRound(b *testing.B) {
	h := benchPSPServer(b)
	review := func(pod []byte) []byte {
		r, err := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": map[string]any{
			"uid": "0b3c6f53-5a4f-4e7e-9d2a-8f0c0f8b7a11", "kind": map[string]string{"version": "v1", "kind": "Pod"},
			"resource": map[string]string{"version": "v1", "resource": "pods"}, "requestKind": map[string]string{"version": "v1", "kind": "Pod"},
			"requestResource": map[string]string{"version": "v1", "resource": "pods"}, "name": "r1-kguard-psp-s0", "namespace": "bench", "operation": "CREATE",
			"userInfo": map[string]any{"username": "kubernetes-admin", "groups": []string{"system:masters", "system:authenticated"}},
			"object":   json.RawMessage(pod), "oldObject": nil, "dryRun": false,
			"options": map[string]any{"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "benche2e"}}})
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	call := func(path string, body []byte) *admissionv1.AdmissionResponse {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out admissionv1.AdmissionReview
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &out) != nil || out.Response == nil || !out.Response.Allowed {
			b.Fatalf("%s: %d %.500s", path, rec.Code, rec.Body)
		}
		return out.Response
	}
	pod := benchPSPPod(b)
	mutate := review(pod)
	resp := call(server.PathMutate, mutate)
	if resp.Patch == nil {
		b.Fatal("the policy did not mutate the pod")
	}
	p, err := jsonpatch.DecodePatch(resp.Patch)
	if err != nil {
		b.Fatal(err)
	}
	mutated, err := p.Apply(pod)
	if err != nil {
		b.Fatal(err)
	}
	validate := review(mutated)
	if r := call(server.PathValidate, validate); r.AuditAnnotations["validate-policy"] != "restricted" {
		b.Fatalf("validate: %+v", r)
	}
	// The -cold cases evict the caches (64 MiB written) before each review
	// and time the review alone: under `make bench-e2e` kguard shares two
	// cores with kube-apiserver and etcd, and a review there costs several
	// times the warm loop's.
	var evict []byte
	for _, tc := range []struct {
		name, path string
		body       []byte
		cold       bool
	}{{"mutate", server.PathMutate, mutate, false}, {"validate", server.PathValidate, validate, false},
		{"mutate-cold", server.PathMutate, mutate, true}, {"validate-cold", server.PathValidate, validate, true}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			if tc.cold && evict == nil {
				evict = make([]byte, 64<<20)
			}
			cpu, reviewing := processCPU(), time.Duration(0)
			for b.Loop() {
				if tc.cold {
					for i := 0; i < len(evict); i += 64 {
						evict[i]++
					}
				}
				start := time.Now()
				req := httptest.NewRequest(http.MethodPost, tc.path, bytes.NewReader(tc.body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				reviewing += time.Since(start)
				if rec.Code != 200 {
					b.Fatal(rec.Code)
				}
			}
			if tc.cold {
				// The eviction dominates the CPU; the review's own time is
				// what counts (one goroutine: wall clock is its CPU).
				b.ReportMetric(float64(reviewing.Nanoseconds())/1e3/float64(b.N), "review-µs/op")
				return
			}
			// Wall-clock ns/op is noisy on a shared machine; the process's
			// CPU time (GC included) per op is what a pod costs the webhook.
			b.ReportMetric(float64(processCPU()-cpu)/1e3/float64(b.N), "cpu-µs/op")
		})
	}
}

// processCPU is the user and system CPU time of the process so far, in ns.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
