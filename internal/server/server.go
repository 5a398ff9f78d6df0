// Package server is `kguard serve`: one HTTPS listener answering the
// TokenReview, SubjectAccessReview and AdmissionReview webhooks of
// kube-apiserver from an immutable policy snapshot that sources swap
// atomically, with health, readiness and Prometheus metrics. Every error path
// answers "no": not authenticated, not admitted, and for authorization an HTTP
// error, so that kube-apiserver applies the webhook's failurePolicy.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/authn"
	"github.com/kguard/kguard/internal/authz"
	"github.com/kguard/kguard/internal/snapshot"
)

// Endpoints.
const (
	PathAuthenticate = "/authenticate"
	PathAuthorize    = "/authorize"
	PathMutate       = "/mutate"
	PathValidate     = "/validate"
	// PathImageReview is the backend of kube-apiserver's ImagePolicyWebhook.
	PathImageReview = "/imagereview"
)

// Config configures the listener.
type Config struct {
	CertFile, KeyFile string // serving certificate, reloaded by ReloadCertificate
	ClientCAFile      string // when set, review callers must present a certificate it signed
	MaxRequestBytes   int64  // review bodies above this are refused (413)
	RequestTimeout    time.Duration
	ShutdownTimeout   time.Duration
	// ShutdownDelay keeps answering that long after the shutdown starts,
	// reporting not ready and closing every connection after its answer,
	// before the port closes and the drain begins. kube-apiserver's pooled
	// keep-alive connections then end cleanly, after an answer, instead of
	// being closed under a request it is sending (which it reports as EOF
	// and does not retry: the pod is refused). Zero: no delay.
	ShutdownDelay time.Duration
	// EnableHTTP2 offers HTTP/2 besides HTTP/1.1. Off by default, as in
	// controller-runtime's webhook servers since the HTTP/2 rapid reset and
	// stream cancellation attacks (CVE-2023-44487, CVE-2023-39325): kguard's
	// callers do not need it. kube-apiserver calls admission webhooks over
	// HTTP/1.1 whatever the server offers, and its authentication and
	// authorization webhook clients fall back to HTTP/1.1 through ALPN.
	EnableHTTP2 bool
	// MaxConnections bounds the connections open at once; more are closed
	// when accepted.
	MaxConnections int
	// MaxInflight and MaxInflightBytes bound the reviews being answered at
	// once, by count and by the size of their bodies; a review over either is
	// refused with HTTP 429 at once.
	MaxInflight      int
	MaxInflightBytes int64
	// IdleTimeout closes keep-alive connections idle that long.
	IdleTimeout time.Duration
	// Profiling serves Go's profiles under /debug/pprof/ on the probe
	// address (--profiling).
	Profiling bool
	Logger    *slog.Logger
}

// Defaults for Config's zero values.
const (
	DefaultMaxRequestBytes = 3 << 20
	DefaultRequestTimeout  = 10 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
	// The limits are sized for deploy/'s 256Mi container: 512 idle
	// connections cost about 20 MiB, and 24 MiB of review bodies about 10
	// times that decoded (docs/performance.md has the measurements).
	DefaultMaxConnections   = 512
	DefaultMaxInflight      = 64
	DefaultMaxInflightBytes = 24 << 20
	DefaultIdleTimeout      = 30 * time.Second
)

// Server answers the webhooks. Create it with New.
type Server struct {
	cfg      Config
	log      *slog.Logger
	metrics  *metrics
	snap     atomic.Pointer[snapshot.Snapshot]
	gen      atomic.Uint64
	cert     atomic.Pointer[tls.Certificate]
	certSum  [sha256.Size]byte // of the certificate and key files last loaded
	clientCA *x509.CertPool
	stopping atomic.Bool
	inflight *inflight
	// staleSince is when a reload first failed since the sources were last
	// all loaded (Unix nanoseconds; 0: fresh).
	staleSince atomic.Int64
}

// New loads the serving certificate and the client CA.
func New(cfg Config) (*Server, error) {
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, errors.New("serving needs --tls-cert-file and --tls-private-key-file (kguard serves HTTPS only)")
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = DefaultMaxInflight
	}
	if cfg.MaxInflightBytes <= 0 {
		cfg.MaxInflightBytes = DefaultMaxInflightBytes
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: newMetrics(),
		inflight: newInflight(cfg.MaxInflight, cfg.MaxInflightBytes, cfg.MaxRequestBytes)}
	s.metrics.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kguard_snapshot_age_seconds",
		Help: "How long the policy snapshot served has lagged behind its sources: 0 while every source loads; growing from the first failed reload until the sources load again."},
		func() float64 { return s.staleness().Seconds() }))
	if _, err := s.ReloadCertificate(); err != nil {
		return nil, err
	}
	if cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("reading --client-ca-file: %w", err)
		}
		s.clientCA = x509.NewCertPool()
		if !s.clientCA.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--client-ca-file %s holds no PEM certificate", cfg.ClientCAFile)
		}
	}
	return s, nil
}

// Store makes snap the snapshot every following request reads.
func (s *Server) Store(snap *snapshot.Snapshot) {
	snap.Generation = s.gen.Add(1)
	s.snap.Store(snap)
	s.metrics.generation.Set(float64(snap.Generation))
	s.metrics.lastReload.SetToCurrentTime()
	s.log.Info("policy snapshot loaded", "generation", snap.Generation, "policies", snap.Describe, "warnings", len(snap.Warnings))
	for _, w := range snap.Warnings {
		s.log.Warn("policy load warning", "generation", snap.Generation, "warning", w)
	}
}

// Fresh reports that the snapshot served reflects every source as it is now.
func (s *Server) Fresh() { s.staleSince.Store(0) }

// staleness is how long the snapshot served has lagged behind its sources
// (0 while fresh).
func (s *Server) staleness() time.Duration {
	since := s.staleSince.Load()
	if since == 0 {
		return 0
	}
	return time.Since(time.Unix(0, since))
}

// ReloadFailed reports a source that could not build a new snapshot: the last
// good one keeps serving.
//
// The snapshot is stale from the first failure until the source calls Fresh
// (kguard_snapshot_age_seconds, /readyz): kguard keeps serving, because a
// broken file shared by every replica must not take them all out of the
// webhook's endpoints, but says so.
func (s *Server) ReloadFailed(err error) {
	s.metrics.reloadErrors.Inc()
	s.staleSince.CompareAndSwap(0, time.Now().UnixNano())
	gen := uint64(0)
	if cur := s.snap.Load(); cur != nil {
		gen = cur.Generation
	}
	// err is a rebuild that failed (the last good snapshot keeps serving) or
	// an object the new snapshot refused (its last good version, or none,
	// stands for it): the error says which.
	s.log.Error("policy reload failed, or a policy object is refused; the last good policies keep serving", "error", err, "serving_generation", gen)
}

// Ready reports whether a snapshot is loaded and the server is not stopping.
func (s *Server) Ready() bool { return s.snap.Load() != nil && !s.stopping.Load() }

// TLSConfig is the listener's TLS configuration: TLS 1.2+, the certificate
// as last reloaded, client certificates verified against the client CA when
// given, and the protocols offered through ALPN (h2 only with EnableHTTP2).
func (s *Server) TLSConfig() *tls.Config {
	c := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cert.Load(), nil },
	}
	if s.cfg.EnableHTTP2 {
		c.NextProtos = []string{"h2", "http/1.1"}
	}
	if s.clientCA != nil {
		// Required of every caller: a connection without a certificate of
		// the client CA ends in the handshake, so it can neither hold a
		// connection slot nor read /metrics. Probes without a certificate
		// (the kubelet's) use the probe address (ProbeHandler).
		c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, s.clientCA
	}
	return c
}

// Handler routes the endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(PathAuthenticate, s.review("authenticate", s.authenticate, tokenReviewFailure))
	mux.Handle(PathAuthorize, s.review("authorize", s.authorize, accessReviewFailure))
	mux.Handle(PathMutate, s.review("mutate", s.admit(admission.PhaseMutate), admissionFailure))
	mux.Handle(PathValidate, s.review("validate", s.admit(admission.PhaseValidate), admissionFailure))
	mux.Handle(PathImageReview, s.review("imagereview", s.reviewImages, imageReviewFailure))
	s.probes(mux)
	return mux
}

// ProbeHandler serves only the health endpoints and the metrics, for a
// plain-HTTP probe address (--probe-address): the kubelet's probes and
// Prometheus present no client certificate.
func (s *Server) ProbeHandler() http.Handler {
	mux := http.NewServeMux()
	s.probes(mux)
	if s.cfg.Profiling {
		// As kube-apiserver's --profiling: Go's profiles, on the probe
		// address only (plain HTTP, never behind the Service).
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func (s *Server) probes(mux *http.ServeMux) {
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case s.stopping.Load():
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
		case s.snap.Load() == nil:
			http.Error(w, "policies not loaded yet", http.StatusServiceUnavailable)
		default:
			// Ready even when stale: the last good policies keep answering.
			if stale := s.staleness(); stale > 0 {
				fmt.Fprintf(w, "ok: policy generation %d, stale for %s: a reload is failing (see the log)\n", s.snap.Load().Generation, stale.Round(time.Second))
				return
			}
			fmt.Fprintf(w, "ok: policy generation %d\n", s.snap.Load().Generation)
		}
	})
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
}

// closingWhenStopping asks the caller to close its connection after each
// answer once the shutdown started (ShutdownDelay).
func (s *Server) closingWhenStopping(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.stopping.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// Serve answers on ln until ctx is cancelled, then reports not ready, keeps
// answering for ShutdownDelay with each connection closed after its answer,
// stops accepting, and drains the requests in flight (up to ShutdownTimeout).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(s.cfg.EnableHTTP2)
	srv := &http.Server{
		Handler:           s.closingWhenStopping(s.Handler()),
		TLSConfig:         s.TLSConfig(),
		Protocols:         &protocols,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       s.cfg.RequestTimeout + 5*time.Second,
		WriteTimeout:      s.cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	limited := newLimitListener(ln, s.cfg.MaxConnections, func(d int) { s.metrics.connections.Add(float64(d)) }, s.metrics.rejectedConnections.Inc)
	go func() { errc <- srv.Serve(tls.NewListener(limited, srv.TLSConfig)) }()
	s.log.Info("serving", "address", ln.Addr().String(), "client_certificates_required", s.clientCA != nil, "http2", s.cfg.EnableHTTP2,
		"max_connections", s.cfg.MaxConnections, "max_inflight", s.cfg.MaxInflight, "max_inflight_bytes", s.cfg.MaxInflightBytes)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.stopping.Store(true)
	if s.cfg.ShutdownDelay > 0 {
		// Still answering, on the connections open and on new ones (the
		// Service may route here until the endpoints update; other
		// processes may share the port), but closing each after its answer.
		s.log.Info("shutting down: answering while connections close", "delay", s.cfg.ShutdownDelay.String())
		time.Sleep(s.cfg.ShutdownDelay)
	}
	s.log.Info("shutting down: draining requests in flight", "timeout", s.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	s.log.Info("stopped")
	return nil
}

// ServeProbes answers the health endpoints and the metrics over plain HTTP on
// ln until ctx is cancelled. Nothing there decides anything, and nothing
// there needs a client certificate: point the kubelet's probes and
// Prometheus at it and keep it off the Service.
func (s *Server) ServeProbes(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.ProbeHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(newLimitListener(ln, probeConnections, func(int) {}, func() {})) }()
	s.log.Info("serving probes and metrics", "address", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// probeConnections bounds the probe listener's connections: the kubelet and
// a scraper or two need a handful.
const probeConnections = 32

// answer computes a review's answer and reports its decision.
type answer func(ctx context.Context, snap *snapshot.Snapshot, body []byte) ([]byte, string, error)

// failure builds the fail-closed answer of an endpoint for a body that could
// be read (same apiVersion and kind, and uid for admission), or nil.
type failure func(body []byte, message string) []byte

func (s *Server) review(endpoint string, fn answer, fail failure) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.metrics.inflight.Inc()
		defer s.metrics.inflight.Dec()
		code, decision := s.serveReview(w, r, endpoint, fn, fail)
		s.metrics.requests.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
		s.metrics.decisions.WithLabelValues(endpoint, decision).Inc()
		s.metrics.duration.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
	})
}

const decisionError = "error"

func (s *Server) serveReview(w http.ResponseWriter, r *http.Request, endpoint string, fn answer, fail failure) (int, string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return s.httpError(w, endpoint, http.StatusMethodNotAllowed, "use POST"), decisionError
	}
	if s.clientCA != nil && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
		return s.httpError(w, endpoint, http.StatusForbidden, "a client certificate signed by --client-ca-file is required"), decisionError
	}
	release, err := s.inflight.acquire(r.ContentLength)
	if err != nil {
		s.metrics.throttled.WithLabelValues(endpoint).Inc()
		w.Header().Set("Retry-After", "1")
		return s.httpError(w, endpoint, http.StatusTooManyRequests, "kguard is answering too many reviews at once; refused, not admitted"), decisionError
	}
	defer release()
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		return s.httpError(w, endpoint, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q, want application/json", ct)), decisionError
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBytes), r.ContentLength, s.cfg.MaxRequestBytes)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return s.httpError(w, endpoint, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds the limit of %d bytes", s.cfg.MaxRequestBytes)), decisionError
		}
		return s.httpError(w, endpoint, http.StatusBadRequest, "reading the request body: "+err.Error()), decisionError
	}
	snap := s.snap.Load()
	if snap == nil {
		return s.failed(w, endpoint, http.StatusServiceUnavailable, fail, body, "kguard has not loaded its policies yet"), decisionError
	}

	// The review is decided on this goroutine: the engines are in memory and
	// bounded, and a second goroutine per request cost a thread wake-up each
	// (docs/performance.md). An answer that comes after the deadline is not
	// trusted and the review is denied; an evaluation that never returned would
	// hold its request until kube-apiserver's own webhook timeout, which fails
	// the call, closed too.
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	out, decision, err := s.evaluate(ctx, endpoint, fn, snap, body)
	if ctx.Err() != nil {
		s.log.Warn("review not answered in time", "endpoint", endpoint, "timeout", s.cfg.RequestTimeout.String())
		return s.failed(w, endpoint, http.StatusGatewayTimeout, fail, body, "kguard did not decide within "+s.cfg.RequestTimeout.String()), decisionError
	}
	switch {
	case errors.Is(err, errPanic):
		return s.failed(w, endpoint, http.StatusInternalServerError, fail, body, "internal error in kguard (recovered); denied"), decisionError
	case errors.Is(err, errNotConfigured):
		// 5xx: the server is not set up for this review (an error
		// kube-apiserver's failure policies apply to), not a wrong path.
		return s.failed(w, endpoint, http.StatusNotImplemented, fail, body, err.Error()), decisionError
	case isMalformed(err):
		return s.httpError(w, endpoint, http.StatusBadRequest, err.Error()), decisionError
	case err != nil:
		return s.failed(w, endpoint, http.StatusInternalServerError, fail, body, err.Error()), decisionError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out))) // not chunked
	w.Write(out)
	return http.StatusOK, decision
}

// readBody reads a request body in one buffer of its announced length (kube-
// apiserver always sends one), instead of growing one from 512 bytes; a body
// of unknown length is read as io.ReadAll does. The reader enforces the limit.
func readBody(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength < 0 || contentLength > limit {
		return io.ReadAll(r)
	}
	buf := make([]byte, contentLength, contentLength+1)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	// Nothing may follow the announced length (net/http stops there; this
	// only guards the invariant).
	if n, _ := r.Read(buf[len(buf):cap(buf)]); n > 0 {
		return nil, errors.New("request body longer than its Content-Length")
	}
	return buf, nil
}

// evaluate runs fn, turning a panic into errPanic (logged with its stack).
func (s *Server) evaluate(ctx context.Context, endpoint string, fn answer, snap *snapshot.Snapshot, body []byte) (out []byte, decision string, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic answering a review", "endpoint", endpoint, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			out, decision, err = nil, "", errPanic
		}
	}()
	return fn(ctx, snap, body)
}

var (
	errPanic         = errors.New("panic")
	errNotConfigured = errors.New("not configured")
)

func isMalformed(err error) bool {
	return errors.Is(err, authn.ErrReview) || errors.Is(err, authz.ErrReview) || errors.Is(err, admission.ErrReview) || errors.Is(err, admission.ErrImageReview)
}

func isJSON(ct string) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "application/json"
}

// failed answers no: with a review of the request's own apiVersion and kind
// that says so (HTTP 200, the message in its status) when the body is a
// readable review and fail builds one, else with an HTTP error carrying the
// message (always for SubjectAccessReviews: accessReviewFailure).
func (s *Server) failed(w http.ResponseWriter, endpoint string, code int, fail failure, body []byte, message string) int {
	review := fail(body, message)
	if review == nil {
		return s.httpError(w, endpoint, code, message)
	}
	s.log.Warn("review denied on an error", "endpoint", endpoint, "reason", message)
	w.Header().Set("Content-Type", "application/json")
	w.Write(review)
	return http.StatusOK
}

// httpError answers with a metav1.Status-shaped JSON error: kube-apiserver
// treats any non-200 webhook answer as a failed call, which denies.
func (s *Server) httpError(w http.ResponseWriter, endpoint string, code int, message string) int {
	s.log.Warn("review refused", "endpoint", endpoint, "code", code, "reason", message)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code})
	return code
}
