package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// reportCmd prints the markdown table of one or more `run` outputs.
func reportCmd(files []string) error {
	if len(files) == 0 {
		return fmt.Errorf("report: JSON files of benche2e run expected")
	}
	bySetup := map[string][]Result{}
	memory := map[string][2]int64{}
	var runs []*Run
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		r := &Run{}
		if err := json.Unmarshal(b, r); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		runs = append(runs, r)
		for _, res := range r.Results {
			bySetup[res.Setup] = append(bySetup[res.Setup], res)
		}
		for s, m := range r.Memory {
			memory[s] = m
		}
	}
	for _, r := range runs {
		fmt.Printf("- cluster `%s`, %s: N=%d pods sequentially and N with %d workers per setup and round, %d rounds\n",
			r.Cluster, r.Date, r.N, r.Workers, r.Rounds)
		for _, w := range r.Warnings {
			fmt.Printf("  - warning: %s\n", w)
		}
	}
	fmt.Println()
	fmt.Println("| setup | create p50 ms (rounds) | create p99 ms | p50 added | pods/s, 8 workers (rounds) | denied | denied p50 ms | admission call mean ms: mutating / validating | webhook CPU ms/pod | kube-apiserver CPU ms/pod | webhook peak RSS | errors |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	var base float64
	if rs := bySetup["none"]; len(rs) > 0 {
		base = percentile(pool(rs, func(r Result) []float64 { return r.Sequential }), 50)
	}
	for _, s := range allSetups {
		rs := bySetup[s]
		if len(rs) == 0 {
			continue
		}
		seq := pool(rs, func(r Result) []float64 { return r.Sequential })
		p50 := percentile(seq, 50)
		var roundP50, rate []float64
		var denied, attempts, admitted, errors int
		var wcpu, acpu float64
		var mut, val [2]float64
		for _, r := range rs {
			roundP50 = append(roundP50, percentile(r.Sequential, 50))
			rate = append(rate, float64(len(r.Concurrent))/r.ConcurrentSeconds)
			denied += r.Denied
			attempts += r.DenyAttempts
			admitted += r.Admitted
			errors += r.Errors
			wcpu += r.WebhookCPU
			acpu += r.APIServerCPU
			for k, v := range r.Admission {
				switch {
				case strings.HasPrefix(k, "webhook|") && strings.HasSuffix(k, "|admit"):
					mut[0], mut[1] = mut[0]+v[0], mut[1]+v[1]
				case strings.HasPrefix(k, "webhook|") && strings.HasSuffix(k, "|validating"):
					val[0], val[1] = val[0]+v[0], val[1]+v[1]
				case k == "controller|PodSecurity|validate":
					val[0], val[1] = val[0]+v[0], val[1]+v[1]
				}
			}
		}
		added := "—"
		if s != "none" && base > 0 {
			added = fmt.Sprintf("%+.2f", p50-base)
		}
		calls := fmt.Sprintf("%s / %s", mean(mut), mean(val))
		if s == "builtin" {
			calls = fmt.Sprintf("— / %s (the PodSecurity plugin)", mean(val))
		}
		wc, rss := "—", "—"
		if m, ok := memory[s]; ok {
			wc = fmt.Sprintf("%.2f", wcpu*1000/float64(admitted))
			rss = fmt.Sprintf("%.0f MiB", float64(m[0])/1024)
		}
		fmt.Printf("| %s | %.2f (%s) | %.2f | %s | %.0f (%s) | %d/%d | %.2f | %s | %s | %.2f | %s | %d |\n",
			s, p50, spread(roundP50, "%.2f"), percentile(seq, 99), added,
			median(rate), spread(rate, "%.0f"), denied, attempts,
			percentile(pool(rs, func(r Result) []float64 { return r.DenyLatency }), 50),
			calls, wc, acpu*1000/float64(admitted), rss, errors)
	}
	return nil
}

func pool(rs []Result, f func(Result) []float64) []float64 {
	var out []float64
	for _, r := range rs {
		out = append(out, f(r)...)
	}
	return out
}

func mean(v [2]float64) string {
	if v[0] == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", v[1]/v[0]*1000)
}

func median(xs []float64) float64 { return percentile(xs, 50) }

func spread(xs []float64, format string) string {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return fmt.Sprintf(format+"–"+format, s[0], s[len(s)-1])
}
