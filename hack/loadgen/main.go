// Command loadgen puts a running `kguard serve` under a bounded, open-loop
// load of AdmissionReviews (/mutate, /validate) and SubjectAccessReviews
// (/authorize) over HTTPS on the loopback interface, checks every answer and
// reports throughput, latency percentiles, errors and decisions.
//
//	loadgen -generate DIR                  write the policy set the load expects
//	loadgen --url https://127.0.0.1:8443 --ca-file ca.crt [--rate 1000 --duration 30s]
//
// The requests are built from the same seeded world as -generate, so each one
// has a known answer: a decision that differs from it is an error
// ("unexpected-decision"), as are transport failures, non-200 answers,
// unreadable reviews, a wrong uid and fail-closed answers (an evaluation error,
// a 500 in the admission status). hack/loadtest.sh runs the whole thing.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Hard limits: the load never exceeds them, whatever the flags say.
const (
	maxRate        = 20000
	maxDuration    = 5 * time.Minute
	hardMaxRequest = 2_000_000
	maxWorkers     = 1024
)

type options struct {
	generate         string
	url              string
	caFile           string
	clientCert       string
	clientKey        string
	rate             float64
	duration         time.Duration
	warmup           time.Duration
	maxRequests      int
	workers          int
	timeout          time.Duration
	mix              string
	seed             uint64
	psps             int
	poolSize         int
	output           string
	protocol         string
	procs            int
	noCheckDecisions bool
	waitReady        time.Duration
	printCases       int
	samplesFile      string
	client           string
}

func main() {
	o := options{}
	fs := flag.NewFlagSet("loadgen", flag.ExitOnError)
	fs.StringVar(&o.generate, "generate", "", "write the generated policy set into this directory and exit")
	fs.StringVar(&o.url, "url", "", "base URL of kguard serve: https on a loopback address (127.0.0.0/8, ::1 or localhost)")
	fs.StringVar(&o.caFile, "ca-file", "", "CA certificate (PEM) verifying kguard's serving certificate (required)")
	fs.StringVar(&o.clientCert, "client-cert", "", "client certificate (PEM), when kguard runs with --client-ca-file")
	fs.StringVar(&o.clientKey, "client-key", "", "client key (PEM)")
	fs.Float64Var(&o.rate, "rate", 1000, fmt.Sprintf("target requests per second (at most %d)", maxRate))
	fs.DurationVar(&o.duration, "duration", 30*time.Second, fmt.Sprintf("measured duration (at most %s)", maxDuration))
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load at the same rate before the measurement (answers still checked)")
	fs.IntVar(&o.maxRequests, "max-requests", 100_000, fmt.Sprintf("refuse to run if rate × (warmup + duration) exceeds this (at most %d)", hardMaxRequest))
	fs.IntVar(&o.workers, "workers", 64, "concurrent requests at most (the worker pool)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "deadline of one request")
	fs.StringVar(&o.mix, "mix", "authorize=50,mutate=25,validate=25", "share of each endpoint, in percent")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated world and of the request sequence (same as -generate's)")
	fs.IntVar(&o.psps, "psps", defaultPSPs, "PodSecurityPolicies in the generated world, 13 to 5000 (same as -generate's)")
	fs.IntVar(&o.poolSize, "pool", 8192, "distinct prepared requests (each admission gets its own uid)")
	fs.StringVar(&o.output, "output", "text", "report format: text or json")
	fs.StringVar(&o.protocol, "protocol", protoAPIServer, "apiserver: HTTP/2 offered to /authorize and HTTP/1.1 to /mutate and /validate, as kube-apiserver calls its\n"+
		"authorization webhook (a kubeconfig client: HTTP/2 when kguard runs with --enable-http2) and its admission webhooks\n"+
		"(forced to http/1.1 since kubernetes#75791);\n"+
		"h2: HTTP/2 everywhere; http1: HTTP/1.1 everywhere (HTTP/1.1 uses one connection per request in flight)")
	fs.StringVar(&o.client, "client", clientRaw, "HTTP/1.1 client: raw writes each request and reads its answer on the worker's goroutine, over\n"+
		"a pool of keep-alive TLS connections used most-recently-idle first (fewer of the load generator's wake-ups compete\n"+
		"with kguard for the cores); nethttp: Go's net/http client, as kube-apiserver uses")
	fs.BoolFunc("http1", "same as -protocol http1", func(string) error { o.protocol = protoHTTP1; return nil })
	fs.IntVar(&o.procs, "procs", 1, "GOMAXPROCS of the load generator: one P keeps its wake-ups from competing with kguard's on a small machine")
	fs.BoolVar(&o.noCheckDecisions, "no-check-decisions", false, "do not compare decisions with the generated world (for other policy sets)")
	fs.DurationVar(&o.waitReady, "wait-ready", 0, "first wait up to this long for GET /readyz to answer 200")
	fs.IntVar(&o.printCases, "print-cases", -1, "print the requests about this namespace (0-999) with their expected decisions, as JSON lines, and exit")
	fs.StringVar(&o.samplesFile, "samples", "", "also write every measured request to this CSV file (start_us after the measurement began, endpoint, latency_us), to look for patterns in the tail")
	fs.Parse(os.Args[1:])
	if o.psps < 3+tenantsPerGroup+1 || o.psps > 5000 {
		fatal(fmt.Errorf("-psps %d: want 13 to 5000", o.psps))
	}

	if o.printCases >= 0 {
		if err := printCases(os.Stdout, newWorld(o.seed, o.psps), o.printCases%numNamespaces); err != nil {
			fatal(err)
		}
		return
	}

	if o.generate != "" {
		counts, err := generate(o.generate, newWorld(o.seed, o.psps))
		if err != nil {
			fatal(err)
		}
		keys := make([]string, 0, len(counts))
		for k := range counts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Printf("%-22s %6d\n", k, counts[k])
		}
		return
	}
	rep, samples, err := run(o)
	if err != nil {
		fatal(err)
	}
	if o.samplesFile != "" {
		if err := writeSamples(o.samplesFile, samples); err != nil {
			fatal(err)
		}
	}
	switch o.output {
	case "json":
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	default:
		rep.print(os.Stdout)
	}
	if rep.Errors > 0 || rep.Late > 0 {
		fmt.Fprintf(os.Stderr, "loadgen: FAILED: %d errors, %d late (not sent)\n", rep.Errors, rep.Late)
		os.Exit(1)
	}
}

// printCases writes namespace n's requests (uid placeholder kept) for curl.
func printCases(w io.Writer, wd *world, n int) error {
	cases := append(wd.sarCases(n), wd.admissionCases(epMutate, n)...)
	cases = append(cases, wd.admissionCases(epValidate, n)...)
	enc := json.NewEncoder(w)
	var buf bytes.Buffer
	for _, c := range cases {
		c.body(&buf, 0)
		if err := enc.Encode(map[string]any{"endpoint": c.endpoint, "name": c.name, "allowed": c.allowed, "body": json.RawMessage(buf.Bytes())}); err != nil {
			return err
		}
	}
	return nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(2)
}

// checkLoopback refuses any target but https on a loopback address.
func checkLoopback(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("--url %q: kguard serves HTTPS only; want https://", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return u, nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--url %q: the load generator only targets loopback addresses (127.0.0.0/8, ::1, localhost)", raw)
	}
	return u, nil
}

func parseMix(s string) (mix, error) {
	var m mix
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return m, fmt.Errorf("--mix %q: want endpoint=percent,...", s)
		}
		switch k {
		case "authorize":
			m.authorize = n
		case "mutate":
			m.mutate = n
		case "validate":
			m.validate = n
		default:
			return m, fmt.Errorf("--mix: unknown endpoint %q (authorize, mutate, validate)", k)
		}
	}
	if m.authorize+m.mutate+m.validate == 0 {
		return m, fmt.Errorf("--mix %q: nothing to send", s)
	}
	return m, nil
}

func (o *options) validate() error {
	switch {
	case o.rate <= 0 || o.rate > maxRate:
		return fmt.Errorf("--rate %g: want 0 < rate ≤ %d", o.rate, maxRate)
	case o.duration <= 0 || o.duration > maxDuration:
		return fmt.Errorf("--duration %s: want 0 < duration ≤ %s", o.duration, maxDuration)
	case o.warmup < 0 || o.warmup > time.Minute:
		return fmt.Errorf("--warmup %s: want 0 ≤ warmup ≤ 1m", o.warmup)
	case o.maxRequests <= 0 || o.maxRequests > hardMaxRequest:
		return fmt.Errorf("--max-requests %d: want 0 < n ≤ %d", o.maxRequests, hardMaxRequest)
	case o.workers <= 0 || o.workers > maxWorkers:
		return fmt.Errorf("--workers %d: want 0 < n ≤ %d", o.workers, maxWorkers)
	case o.timeout <= 0 || o.timeout > time.Minute:
		return fmt.Errorf("--timeout %s: want 0 < timeout ≤ 1m", o.timeout)
	case o.poolSize <= 0 || o.poolSize > 100_000:
		return fmt.Errorf("--pool %d: want 0 < n ≤ 100000", o.poolSize)
	case o.protocol != protoAPIServer && o.protocol != protoH2 && o.protocol != protoHTTP1:
		return fmt.Errorf("--protocol %q: want %s, %s or %s", o.protocol, protoAPIServer, protoH2, protoHTTP1)
	case o.client != clientRaw && o.client != clientNetHTTP:
		return fmt.Errorf("--client %q: want %s or %s", o.client, clientRaw, clientNetHTTP)
	case o.procs <= 0 || o.procs > 256:
		return fmt.Errorf("--procs %d: want 1 to 256", o.procs)
	case o.output != "text" && o.output != "json":
		return fmt.Errorf("--output %q: want text or json", o.output)
	case o.caFile == "":
		return errors.New("--ca-file is required: the serving certificate is always verified")
	case (o.clientCert == "") != (o.clientKey == ""):
		return errors.New("--client-cert and --client-key go together")
	}
	if total := o.rate * (o.warmup + o.duration).Seconds(); total > float64(o.maxRequests) {
		return fmt.Errorf("rate × (warmup + duration) = %.0f requests exceeds --max-requests %d", total, o.maxRequests)
	}
	return nil
}

// Protocols (-protocol).
const (
	protoAPIServer = "apiserver"
	protoH2        = "h2"
	protoHTTP1     = "http1"

	clientRaw     = "raw"
	clientNetHTTP = "nethttp"
)

// transport says how each endpoint is sent: through a net/http client shared
// by the workers, or over the raw HTTP/1.1 connection pool.
type transport struct {
	base    string
	client  map[string]*http.Client // endpoint → net/http client; the others use rawPool
	rawPool *rawHTTP1               // shared by the workers, as net/http's Transport is
}

// newTransport builds what -protocol and -client ask for. kube-apiserver
// calls admission webhooks over HTTP/1.1 (k8s.io/apiserver
// pkg/util/webhook/client.go sets NextProtos to http/1.1 for every
// non-loopback webhook, so that concurrent calls spread over the replicas
// behind a Service) and its authentication and authorization webhooks
// through a client-go REST client, which negotiates HTTP/2 when the server
// offers it. With -protocol apiserver, /authorize therefore uses HTTP/2 when
// kguard offers it (asked once, on /readyz) and HTTP/1.1 otherwise.
func newTransport(o options, u *url.URL, tc *tls.Config) (*transport, error) {
	var err error
	dial := loopbackDialer(o.timeout)
	h2 := httpClient(o, tc, dial, false)
	h1 := httpClient(o, tc, dial, true)
	t := &transport{base: strings.TrimSuffix(u.String(), "/"), client: map[string]*http.Client{}}
	h1tls := tc.Clone()
	h1tls.NextProtos = []string{"http/1.1"}
	h1tls.ServerName = u.Hostname() // verified against the serving certificate, as net/http does
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	t.rawPool = &rawHTTP1{dial: dial, tls: h1tls, addr: addr, host: u.Host, timeout: o.timeout}
	authorizeH2 := o.protocol == protoH2
	if o.protocol == protoAPIServer {
		if authorizeH2, err = offersHTTP2(h2, t.base); err != nil {
			return nil, err
		}
	}
	for _, ep := range []string{epAuthorize, epMutate, epValidate} {
		switch {
		case o.protocol == protoH2 || ep == epAuthorize && authorizeH2:
			t.client[ep] = h2
		case o.client == clientNetHTTP:
			t.client[ep] = h1
		}
	}
	return t, nil
}

// offersHTTP2 asks the server once, on /readyz, whether it speaks HTTP/2.
func offersHTTP2(h2 *http.Client, base string) (bool, error) {
	resp, err := h2.Get(base + "/readyz")
	if err != nil {
		return false, fmt.Errorf("asking %s which protocols it speaks: %w", base, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.ProtoMajor == 2, nil
}

// sender returns what endpoint ep is sent with.
func (t *transport) sender(ep string) sender {
	if c, ok := t.client[ep]; ok {
		return netHTTP{c: c, base: t.base}
	}
	return t.rawPool
}

func tlsConfig(o options) (*tls.Config, error) {
	pem, err := os.ReadFile(o.caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", o.caFile)
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if o.clientCert != "" {
		c, err := tls.LoadX509KeyPair(o.clientCert, o.clientKey)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{c}
	}
	return tc, nil
}

// loopbackDialer connects only to loopback addresses, whatever a name resolves to.
func loopbackDialer(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	dialer := &net.Dialer{Timeout: timeout}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
			c.Close()
			return nil, fmt.Errorf("refusing a connection to %s: not a loopback address", c.RemoteAddr())
		}
		return c, nil
	}
}

func httpClient(o options, tc *tls.Config, dial func(context.Context, string, string) (net.Conn, error), http1 bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: tc.Clone(), DialContext: dial, MaxIdleConns: o.workers, MaxIdleConnsPerHost: o.workers,
		IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: !http1,
		// Never a proxy: the target is loopback.
		Proxy: nil}
	if http1 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: o.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func waitReady(ctx context.Context, c *http.Client, base string, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last string
	for {
		resp, err := c.Get(base + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/readyz not ready after %s: %s", base, d, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// job is one scheduled request.
type job struct {
	seq     uint64
	due     time.Time
	c       *reqCase
	measure bool
}

// sample is one answered request.
type sample struct {
	endpoint string
	begin    time.Time
	latency  time.Duration
	lag      time.Duration // start − due
	offset   time.Duration // start − the measurement's start (set for -samples)
}

// workerStats are kept per worker and merged at the end.
type workerStats struct {
	samples []sample
	errors  map[string]int
	errEx   map[string]string // one example per kind
	allowed map[string]int    // endpoint → count
	denied  map[string]int
	protos  map[string]string // endpoint → protocol of its last answer
	warmup  int
}

func newWorkerStats(capacity int) *workerStats {
	return &workerStats{samples: make([]sample, 0, capacity), errors: map[string]int{}, errEx: map[string]string{},
		allowed: map[string]int{}, denied: map[string]int{}, protos: map[string]string{}}
}

func (s *workerStats) fail(kind, example string) {
	s.errors[kind]++
	if _, ok := s.errEx[kind]; !ok {
		s.errEx[kind] = example
	}
}

func run(o options) (*report, []sample, error) {
	if err := o.validate(); err != nil {
		return nil, nil, err
	}
	u, err := checkLoopback(o.url)
	if err != nil {
		return nil, nil, err
	}
	m, err := parseMix(o.mix)
	if err != nil {
		return nil, nil, err
	}
	runtime.GOMAXPROCS(o.procs)
	tc, err := tlsConfig(o)
	if err != nil {
		return nil, nil, err
	}
	ctx := context.Background()
	if o.waitReady > 0 {
		probe := httpClient(o, tc, loopbackDialer(o.timeout), true)
		if err := waitReady(ctx, probe, strings.TrimSuffix(u.String(), "/"), o.waitReady); err != nil {
			return nil, nil, err
		}
	}
	tr, err := newTransport(o, u, tc)
	if err != nil {
		return nil, nil, err
	}

	w := newWorld(o.seed, o.psps)
	r := rand.New(rand.NewPCG(o.seed, 0x6c6f6164))
	pool := w.pool(r, m, o.poolSize)

	interval := time.Duration(float64(time.Second) / o.rate)
	warmupN := int(o.rate * o.warmup.Seconds())
	measureN := int(o.rate * o.duration.Seconds())
	total := warmupN + measureN
	if total > o.maxRequests {
		total, measureN = o.maxRequests, o.maxRequests-warmupN
	}

	jobs := make(chan job) // unbuffered: a send succeeds only when a worker is idle
	stats := make([]*workerStats, o.workers)
	var wg sync.WaitGroup
	for i := range o.workers {
		stats[i] = newWorkerStats(measureN/o.workers + 16)
		wg.Add(1)
		go func(st *workerStats) {
			defer wg.Done()
			var buf bytes.Buffer
			for j := range jobs {
				do(tr.sender(j.c.endpoint), j, st, &buf, !o.noCheckDecisions)
			}
		}(stats[i])
	}

	// The schedule: slot i is due at start + i×interval. A ticker wakes the
	// dispatcher every millisecond; each wake-up hands every slot that is due
	// to an idle worker, so a late wake-up never slows the load down (open
	// loop). A slot no worker can take when it is due is not sent: "late".
	// The whole run lasts at most warmup + duration + one request timeout.
	cpu0 := cpuTime()
	start := time.Now()
	ticker := time.NewTicker(time.Millisecond) // after start: no tick precedes the slot it sends
	measureStart := start.Add(time.Duration(warmupN) * interval)
	late, lateWarmup := 0, 0
	for i := 0; i < total; {
		now := <-ticker.C
		for ; i < total; i++ {
			due := start.Add(time.Duration(i) * interval)
			if due.After(now) {
				break
			}
			j := job{seq: uint64(i), due: due, c: &pool[r.IntN(len(pool))], measure: i >= warmupN}
			select {
			case jobs <- j:
			default:
				if j.measure {
					late++
				} else {
					lateWarmup++
				}
			}
		}
	}
	ticker.Stop()
	dispatchEnd := time.Now()
	close(jobs)
	wg.Wait()
	end := time.Now()

	rep := buildReport(o, stats, late, lateWarmup, measureN, measureStart, dispatchEnd, end)
	rep.ClientCPU = math.Round((cpuTime()-cpu0).Seconds()*100) / 100
	rep.ClientCores = math.Round(rep.ClientCPU/end.Sub(start).Seconds()*100) / 100
	var samples []sample
	if o.samplesFile != "" {
		for _, st := range stats {
			samples = append(samples, st.samples...)
		}
		slices.SortFunc(samples, func(a, b sample) int { return a.begin.Compare(b.begin) })
		for i := range samples {
			samples[i].offset = samples[i].begin.Sub(measureStart)
		}
	}
	return rep, samples, nil
}

// writeSamples writes the measured requests, in the order they began, as CSV.
func writeSamples(path string, samples []sample) error {
	var b bytes.Buffer
	b.WriteString("start_us,endpoint,latency_us\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "%d,%s,%d\n", s.offset.Microseconds(), s.endpoint, s.latency.Microseconds())
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// cpuTime is the CPU time (user + system) the load generator has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// do sends one request and checks its answer.
func do(snd sender, j job, st *workerStats, buf *bytes.Buffer, checkDecision bool) {
	begin := time.Now()
	uid := j.c.body(buf, j.seq)
	proto, status, body, err := snd.send(j.c.endpoint, buf.Bytes())
	latency := time.Since(begin)
	if !j.measure {
		st.warmup++
	}
	if err != nil {
		st.fail("transport", err.Error())
		return
	}
	if status != http.StatusOK {
		st.fail(fmt.Sprintf("http-%d", status), truncate(string(body)))
		return
	}
	allowed, kind, detail := check(j.c.endpoint, uid, body)
	if kind != "" {
		st.fail(kind, detail)
		return
	}
	if checkDecision && allowed != j.c.allowed {
		st.fail("unexpected-decision", fmt.Sprintf("%s %s: allowed=%v, expected %v: %s", j.c.endpoint, j.c.name, allowed, j.c.allowed, truncate(string(body))))
		return
	}
	if !j.measure {
		return
	}
	st.protos[j.c.endpoint] = proto
	if allowed {
		st.allowed[j.c.endpoint]++
	} else {
		st.denied[j.c.endpoint]++
	}
	st.samples = append(st.samples, sample{endpoint: j.c.endpoint, begin: begin, latency: latency, lag: begin.Sub(j.due)})
}

func truncate(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

// check reads an answer: the decision, or an error kind and detail.
func check(endpoint, uid string, body []byte) (bool, string, string) {
	if endpoint == epAuthorize {
		var sar struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Status     *struct {
				Allowed         bool   `json:"allowed"`
				EvaluationError string `json:"evaluationError"`
			} `json:"status"`
		}
		if err := json.Unmarshal(body, &sar); err != nil || sar.Status == nil {
			return false, "unreadable-review", truncate(string(body))
		}
		if sar.Kind != "SubjectAccessReview" || sar.APIVersion != "authorization.k8s.io/v1" {
			return false, "wrong-kind", sar.APIVersion + " " + sar.Kind
		}
		if sar.Status.EvaluationError != "" {
			return false, "evaluation-error", sar.Status.EvaluationError
		}
		return sar.Status.Allowed, "", ""
	}
	var ar struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Response   *struct {
			UID     string `json:"uid"`
			Allowed bool   `json:"allowed"`
			Status  *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"status"`
		} `json:"response"`
	}
	if err := json.Unmarshal(body, &ar); err != nil || ar.Response == nil {
		return false, "unreadable-review", truncate(string(body))
	}
	if ar.Kind != "AdmissionReview" || ar.APIVersion != "admission.k8s.io/v1" {
		return false, "wrong-kind", ar.APIVersion + " " + ar.Kind
	}
	if ar.Response.UID != uid {
		return false, "uid-mismatch", fmt.Sprintf("sent %s, answered %s", uid, ar.Response.UID)
	}
	if s := ar.Response.Status; !ar.Response.Allowed && s != nil && s.Code >= 500 {
		return false, "fail-closed", fmt.Sprintf("%d %s", s.Code, truncate(s.Message))
	}
	return ar.Response.Allowed, "", ""
}
