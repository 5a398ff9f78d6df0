package server

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/clusterimagepolicy"
	"github.com/kguard/kguard/internal/admission/constraints"
	"github.com/kguard/kguard/internal/registry"
)

// metrics are kguard's Prometheus series, in a registry of their own.
type metrics struct {
	registry      *prometheus.Registry
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	decisions     *prometheus.CounterVec
	generation    prometheus.Gauge
	reloadErrors  prometheus.Counter
	lastReload    prometheus.Gauge
	inflight      prometheus.Gauge
	certificateOK prometheus.Gauge
	// Limits: connections open and refused, reviews refused (429).
	connections         prometheus.Gauge
	rejectedConnections prometheus.Counter
	throttled           *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kguard_requests_total",
			Help: "Requests by endpoint and HTTP status code."}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kguard_request_duration_seconds",
			Help:    "Time to answer a review, by endpoint.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}}, []string{"endpoint"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kguard_decisions_total",
			Help: "Review answers by endpoint and decision (allowed, denied, error)."}, []string{"endpoint", "decision"}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kguard_policy_generation",
			Help: "Generation of the policy snapshot being served (0: none loaded yet)."}),
		reloadErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "kguard_policy_reload_errors_total",
			Help: "Policy reloads that failed; the last good snapshot kept serving."}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kguard_policy_last_reload_timestamp_seconds",
			Help: "Unix time of the last successful policy load."}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kguard_requests_in_flight",
			Help: "Reviews being answered."}),
		certificateOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kguard_serving_certificate_expiry_timestamp_seconds",
			Help: "Unix time at which the serving certificate expires."}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kguard_connections",
			Help: "Connections open on the review listener."}),
		rejectedConnections: prometheus.NewCounter(prometheus.CounterOpts{Name: "kguard_connections_rejected_total",
			Help: "Connections closed on accept because --max-connections were open."}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kguard_requests_throttled_total",
			Help: "Reviews refused with HTTP 429 because --max-inflight or --max-inflight-bytes was reached."}, []string{"endpoint"}),
	}
	unknownFields := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kguard_admission_unknown_fields_total",
		Help: "Reviewed objects carrying fields kguard's Kubernetes types do not know (ignored with a warning, or denied with --strict-decoding)."},
		func() float64 { return float64(admission.UnknownFieldObjects.Load()) })
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	images := []prometheus.Collector{
		counter("kguard_image_admitted_total", "Images admitted by the ClusterImagePolicies that match them (cached verdicts included).", &clusterimagepolicy.Counters.Admitted),
		counter("kguard_image_refused_total", "Images refused by an enforced ClusterImagePolicy.", &clusterimagepolicy.Counters.Refused),
		counter("kguard_image_unverifiable_total", "Images refused because they could not be verified (registry error or timeout, offline, bad reference).", &clusterimagepolicy.Counters.Unavailable),
		counter("kguard_image_no_match_total", "Images no ClusterImagePolicy matched (--image-policy-no-match decided).", &clusterimagepolicy.Counters.NoMatch),
		counter("kguard_image_cache_hits_total", "Image verdicts answered from the cache.", &clusterimagepolicy.Counters.CacheHits),
		counter("kguard_image_cache_misses_total", "Image verdicts that had to read the registry.", &clusterimagepolicy.Counters.CacheMisses),
		counter("kguard_constraint_denied_total", "Requests the Constraints plugin refused (deny violations of constraints or plain Rego policies).", &constraints.Counters.Denied),
		counter("kguard_constraint_warned_total", "Requests the Constraints plugin admitted with warnings (warn violations).", &constraints.Counters.Warned),
		counter("kguard_constraint_dryrun_violations_total", "Violations of dryrun constraints (admitted, audited).", &constraints.Counters.Dryrun),
		counter("kguard_constraint_errors_total", "Plain Rego policy evaluations that failed (the request was refused).", &constraints.Counters.Errors),
		counter("kguard_registry_calls_total", "Registry calls (resolving a tag, reading a digest's signatures).", &registry.Counters.Calls),
		counter("kguard_registry_failures_total", "Registry calls that failed or timed out.", &registry.Counters.Failures),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kguard_registry_call_seconds_total", Help: "Time spent in registry calls (divide by kguard_registry_calls_total for the mean latency)."},
			func() float64 { return time.Duration(registry.Counters.Nanoseconds.Load()).Seconds() }),
	}
	m.registry.MustRegister(images...)
	m.registry.MustRegister(m.requests, m.duration, m.decisions, m.generation, m.reloadErrors, m.lastReload, m.inflight, m.certificateOK, unknownFields,
		m.connections, m.rejectedConnections, m.throttled,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
