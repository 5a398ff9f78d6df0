package controller

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the controller's Prometheus series, in a registry of their own.
type Metrics struct {
	Registry   *prometheus.Registry
	violations *prometheus.GaugeVec
	lastRun    prometheus.Gauge
	runErrors  prometheus.Counter
	objects    prometheus.Gauge

	mu   sync.Mutex
	seen map[Violation]bool // the series of violations set last
	// ready is set once a first audit has been written.
	ready atomic.Bool
}

// Violation is a series of kguard_audit_violations: the plugin that denies
// and the namespace ("" for cluster-scoped objects).
type Violation struct{ Policy, Namespace string }

// NewMetrics registers the controller's series, and Go's and the process's.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		violations: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kguard_audit_violations",
			Help: "Existing objects admission would deny today, by the policy (admission plugin) that denies and namespace (empty: cluster-scoped), as of the last audit."},
			[]string{"policy", "namespace"}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kguard_audit_last_run_timestamp_seconds",
			Help: "Unix time of the last audit whose reports were all written."}),
		runErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "kguard_audit_errors_total",
			Help: "Audits whose reports could not all be written (retried at the next change or interval)."}),
		objects: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kguard_audit_objects",
			Help: "Objects the last audit read."}),
		seen: map[Violation]bool{},
	}
	m.Registry.MustRegister(m.violations, m.lastRun, m.runErrors, m.objects,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// setViolations replaces the violation series with counts: series that are
// no longer counted are removed, not left at their last value.
func (m *Metrics) setViolations(counts map[Violation]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for v := range m.seen {
		if _, ok := counts[v]; !ok {
			m.violations.DeleteLabelValues(v.Policy, v.Namespace)
			delete(m.seen, v)
		}
	}
	for v, n := range counts {
		m.violations.WithLabelValues(v.Policy, v.Namespace).Set(float64(n))
		m.seen[v] = true
	}
}

// Handler serves /metrics, /healthz (the process answers) and /readyz (a
// first audit has been written).
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !m.ready.Load() {
			http.Error(w, "no audit written yet\n", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	return mux
}
