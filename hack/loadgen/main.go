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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
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
	images           string
	imagesPerPod     int
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
	fs.StringVar(&o.images, "images", "", "image mode: pods whose containers name these signed images by tag, for kguard with the ClusterImagePolicy plugin;\n"+
		"FILE has one \"TAG REPOSITORY@sha256:DIGEST\" line per image. One /mutate review per image warms kguard's cache first;\n"+
		"every answer must allow the pod and every /mutate answer must pin each image to its digest (JSON Patch). The mix\n"+
		"defaults to mutate=50,validate=50")
	fs.IntVar(&o.imagesPerPod, "images-per-pod", 3, "image mode: distinct images (containers) per pod")
	fs.Parse(os.Args[1:])
	if o.images != "" {
		mixSet := false
		fs.Visit(func(f *flag.Flag) { mixSet = mixSet || f.Name == "mix" })
		if !mixSet {
			o.mix = "mutate=50,validate=50"
		}
	}
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
