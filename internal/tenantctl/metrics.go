package tenantctl

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a pass, the values of kguard_tenant_reconcile_total's result label.
const (
	ResultSuccess = "success"
	ResultError   = "error"
)

// Metrics are the Reconciler's Prometheus series. kguard controller
// registers them in the registry of its audit's series (controller.Metrics),
// which it serves on /metrics.
type Metrics struct {
	passes      *prometheus.CounterVec
	applied     prometheus.Counter
	deleted     prometheus.Counter
	ready       *prometheus.GaugeVec
	lastSuccess prometheus.Gauge
	duration    prometheus.Histogram

	mu   sync.Mutex
	seen map[string]bool // the tenants of kguard_tenant_ready set last
}

// NewMetrics makes the Reconciler's series and registers them in reg; it
// panics if reg holds series of the same names already.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kguard_tenant_reconcile_total",
			Help: "Passes of the tenant reconciler, by result: success (every Tenant rendered, every apply, delete and status write done) or error."},
			[]string{"result"}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{Name: "kguard_tenant_objects_applied_total",
			Help: "Objects implied by Tenants that the reconciler applied (created, or changed back from drift or to a new rendering)."}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "kguard_tenant_objects_deleted_total",
			Help: "Objects of kguard's that no Tenant implies any more, deleted by the reconciler (never a Namespace)."}),
		ready: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kguard_tenant_ready",
			Help: "1 when the Tenant's Ready condition was True after the last pass (all its objects applied), 0 when False; no series for a Tenant that no longer exists."},
			[]string{"tenant"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kguard_tenant_reconcile_last_success_timestamp_seconds",
			Help: "Unix time of the last pass of the tenant reconciler that ended without error."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kguard_tenant_reconcile_duration_seconds",
			Help:    "Duration of the passes of the tenant reconciler (render, plan, apply, delete, status writes).",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}), // 10ms to about 20s
		seen: map[string]bool{},
	}
	reg.MustRegister(m.passes, m.applied, m.deleted, m.ready, m.lastSuccess, m.duration)
	// Both results are exported from the start, at 0, so that a rate of
	// errors is defined before the first one.
	m.passes.WithLabelValues(ResultSuccess)
	m.passes.WithLabelValues(ResultError)
	return m
}

// pass records a pass that ended at end, took took and failed if err is not nil.
func (m *Metrics) pass(end time.Time, took time.Duration, err error) {
	m.duration.Observe(took.Seconds())
	if err != nil {
		m.passes.WithLabelValues(ResultError).Inc()
		return
	}
	m.passes.WithLabelValues(ResultSuccess).Inc()
	m.lastSuccess.Set(float64(end.UnixNano()) / 1e9)
}

// setReady replaces the kguard_tenant_ready series with ready, by tenant:
// the series of a tenant no longer there is removed, not left at its last value.
func (m *Metrics) setReady(ready map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name := range m.seen {
		if _, ok := ready[name]; !ok {
			m.ready.DeleteLabelValues(name)
			delete(m.seen, name)
		}
	}
	for name, ok := range ready {
		v := 0.0
		if ok {
			v = 1
		}
		m.ready.WithLabelValues(name).Set(v)
		m.seen[name] = true
	}
}
