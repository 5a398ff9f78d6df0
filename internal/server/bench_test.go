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
	"testing"

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
