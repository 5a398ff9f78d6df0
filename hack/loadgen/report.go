package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// latency is a set of percentiles, in milliseconds.
type latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

type endpointReport struct {
	Latency  latency `json:"latency"`
	Allowed  int     `json:"allowed"`
	Denied   int     `json:"denied"`
	Protocol string  `json:"protocol"` // as negotiated, e.g. HTTP/1.1
}

type report struct {
	URL              string                     `json:"url"`
	TargetRate       float64                    `json:"target_rate"`
	Duration         string                     `json:"duration"`
	Warmup           string                     `json:"warmup"`
	Workers          int                        `json:"workers"`
	Protocol         string                     `json:"protocol"`
	Client           string                     `json:"client"`
	Mix              string                     `json:"mix"`
	Scheduled        int                        `json:"scheduled"`
	Sent             int                        `json:"sent"`
	Late             int                        `json:"late"`
	LateWarmup       int                        `json:"late_warmup"`
	WarmupSent       int                        `json:"warmup_sent"`
	SendRate         float64                    `json:"send_rate"`
	AnswerRate       float64                    `json:"answered_rate"`
	Latency          latency                    `json:"latency"`
	ScheduleLag      latency                    `json:"schedule_lag"`
	Endpoints        map[string]*endpointReport `json:"endpoints"`
	Allowed          int                        `json:"allowed"`
	Denied           int                        `json:"denied"`
	Errors           int                        `json:"errors"`
	ErrorsByKind     map[string]int             `json:"errors_by_kind"`
	ErrorExamples    map[string]string          `json:"error_examples,omitempty"`
	DecisionsChecked bool                       `json:"decisions_checked"`
	ClientCPU        float64                    `json:"client_cpu_seconds"`
	ClientCores      float64                    `json:"client_cores"`
	Images           string                     `json:"images,omitempty"`        // image mode: the -images file
	Pinned           int                        `json:"mutate_pinned,omitempty"` // image mode: /mutate answers whose patch pinned every image, as checked
}

func percentiles(d []time.Duration) latency {
	if len(d) == 0 {
		return latency{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		if i < 0 {
			i = 0
		}
		return ms(d[i])
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return latency{Count: len(d), P50: at(0.50), P90: at(0.90), P99: at(0.99), P999: at(0.999), Max: ms(d[len(d)-1]),
		Mean: ms(sum / time.Duration(len(d)))}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

var protocolNames = map[string]string{
	protoAPIServer: "as kube-apiserver: HTTP/2 offered to /authorize, HTTP/1.1 to /mutate and /validate",
	protoH2:        "HTTP/2", protoHTTP1: "HTTP/1.1"}

func buildReport(o options, stats []*workerStats, late, lateWarmup, measureN int, measureStart, dispatchEnd, end time.Time) *report {
	rep := &report{URL: o.url, TargetRate: o.rate, Duration: o.duration.String(), Warmup: o.warmup.String(), Workers: o.workers,
		Protocol: protocolNames[o.protocol], Client: o.client, Mix: o.mix, Scheduled: measureN, Late: late, LateWarmup: lateWarmup, Sent: measureN - late,
		Endpoints: map[string]*endpointReport{}, ErrorsByKind: map[string]int{}, ErrorExamples: map[string]string{},
		DecisionsChecked: !o.noCheckDecisions, Images: o.images}
	var all, lags []time.Duration
	per := map[string][]time.Duration{}
	for _, st := range stats {
		rep.WarmupSent += st.warmup
		rep.Pinned += st.pinned
		for _, s := range st.samples {
			all = append(all, s.latency)
			lags = append(lags, s.lag)
			per[s.endpoint] = append(per[s.endpoint], s.latency)
		}
		for k, n := range st.errors {
			rep.ErrorsByKind[k] += n
			rep.Errors += n
			if _, ok := rep.ErrorExamples[k]; !ok {
				rep.ErrorExamples[k] = st.errEx[k]
			}
		}
		for ep, n := range st.allowed {
			rep.endpoint(ep).Allowed += n
			rep.Allowed += n
		}
		for ep, n := range st.denied {
			rep.endpoint(ep).Denied += n
			rep.Denied += n
		}
		for ep, proto := range st.protos {
			if e := rep.endpoint(ep); e.Protocol == "" {
				e.Protocol = proto
			} else if !strings.Contains(e.Protocol, proto) {
				e.Protocol += "," + proto
			}
		}
	}
	rep.Latency = percentiles(all)
	rep.ScheduleLag = percentiles(lags)
	for ep, d := range per {
		rep.endpoint(ep).Latency = percentiles(d)
	}
	if s := dispatchEnd.Sub(measureStart).Seconds(); s > 0 {
		rep.SendRate = math.Round(float64(rep.Sent)/s*10) / 10
	}
	if s := end.Sub(measureStart).Seconds(); s > 0 {
		rep.AnswerRate = math.Round(float64(len(all))/s*10) / 10
	}
	return rep
}

func (r *report) endpoint(ep string) *endpointReport {
	e := r.Endpoints[ep]
	if e == nil {
		e = &endpointReport{}
		r.Endpoints[ep] = e
	}
	return e
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "target      %s  %.0f req/s for %s (after %s warm-up), %d workers, %s (HTTP/1.1 client: %s), mix %s\n",
		r.URL, r.TargetRate, r.Duration, r.Warmup, r.Workers, r.Protocol, r.Client, r.Mix)
	fmt.Fprintf(w, "sent        %d of %d scheduled (late, not sent: %d; warm-up: %d sent, %d late)\n", r.Sent, r.Scheduled, r.Late, r.WarmupSent, r.LateWarmup)
	fmt.Fprintf(w, "throughput  %.1f req/s sent, %.1f req/s answered correctly\n", r.SendRate, r.AnswerRate)
	row := func(name string, l latency) {
		fmt.Fprintf(w, "  %-12s %7d  %7.3f  %7.3f  %7.3f  %7.3f  %8.3f  %7.3f\n", name, l.Count, l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean)
	}
	fmt.Fprintf(w, "latency (ms)   count      p50      p90      p99    p99.9       max     mean\n")
	row("all", r.Latency)
	eps := make([]string, 0, len(r.Endpoints))
	for ep := range r.Endpoints {
		eps = append(eps, ep)
	}
	sort.Strings(eps)
	for _, ep := range eps {
		row(ep, r.Endpoints[ep].Latency)
	}
	row("sched. lag", r.ScheduleLag)
	fmt.Fprintf(w, "decisions   %d allowed, %d denied", r.Allowed, r.Denied)
	var parts []string
	for _, ep := range eps {
		parts = append(parts, fmt.Sprintf("%s %d/%d", ep, r.Endpoints[ep].Allowed, r.Endpoints[ep].Denied))
	}
	fmt.Fprintf(w, " (%s; checked against the generated world: %v)\n", strings.Join(parts, ", "), r.DecisionsChecked)
	if r.Images != "" {
		fmt.Fprintf(w, "images      %d /mutate answers pinned every image to its digest, as checked (images of %s)\n", r.Pinned, r.Images)
	}
	parts = parts[:0]
	for _, ep := range eps {
		parts = append(parts, ep+" "+r.Endpoints[ep].Protocol)
	}
	fmt.Fprintf(w, "negotiated  %s\n", strings.Join(parts, ", "))
	fmt.Fprintf(w, "loadgen CPU %.1f s (%.2f cores, warm-up included)\n", r.ClientCPU, r.ClientCores)
	fmt.Fprintf(w, "errors      %d\n", r.Errors)
	kinds := make([]string, 0, len(r.ErrorsByKind))
	for k := range r.ErrorsByKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "  %-20s %d  e.g. %s\n", k, r.ErrorsByKind[k], r.ErrorExamples[k])
	}
}
