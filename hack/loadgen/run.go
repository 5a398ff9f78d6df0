package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

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
	pinned  int // measured /mutate answers whose patch pinned every image
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
	var pool []reqCase
	if o.images == "" {
		pool = w.pool(r, m, o.poolSize)
	} else {
		imgs, err := readImages(o.images)
		if err != nil {
			return nil, nil, err
		}
		if m.authorize > 0 {
			return nil, nil, errImageMix
		}
		if o.imagesPerPod < 1 || o.imagesPerPod > len(imgs) {
			return nil, nil, fmt.Errorf("-images-per-pod %d: want 1 to %d (the images in %s)", o.imagesPerPod, len(imgs), o.images)
		}
		if err := warmImages(tr.sender(epMutate), imgs); err != nil {
			return nil, nil, err
		}
		pool = imagePool(r, m, o.poolSize, imgs, o.imagesPerPod)
	}

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
	if j.c.pins != nil {
		if kind, detail := checkPins(body, j.c.pins); kind != "" {
			st.fail(kind, detail)
			return
		}
		if j.measure {
			st.pinned++
		}
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
