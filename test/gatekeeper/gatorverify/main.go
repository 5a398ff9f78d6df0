// Command gatorverify runs Gatekeeper's gator verify (v3.23.1) on suite
// files and writes the results as JSON, for the differential test of
// `kguard policy verify` in the parent directory (verify_test.go).
//
// A module of its own: Gatekeeper's k8scel driver, which gator verify
// links, builds only against the k8s.io v0.36 Gatekeeper pins, and kguard
// requires v0.37 (see ../differential_test.go). This module never imports
// kguard.
//
// Usage: gatorverify [-cel=true] [-run FILTER] [-text [-verbose]] ROOT SUITE...
// or gatorverify -list ROOT TARGET...
// ROOT is a directory; each SUITE is a suite file's path relative to it.
// The runner is built as gator's CLI builds it (cmd/gator/verify):
// NewOPAClient with the K8s native validation (CEL) driver unless -cel=false
// (--enable-k8s-native-validation, true by default), no trace.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/open-policy-agent/gatekeeper/v3/pkg/gator"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/gator/verify"
)

type suiteResult struct {
	Path     string       `json:"path"`
	ReadErr  string       `json:"readError,omitempty"` // verify.ReadSuites failed
	Skipped  bool         `json:"skipped,omitempty"`
	Error    string       `json:"error,omitempty"`
	Tests    []testResult `json:"tests,omitempty"`
	Failed   bool         `json:"failed"`
	NumSuite int          `json:"suites"` // suites ReadSuites found in the file
}

type testResult struct {
	Name    string       `json:"name"`
	Skipped bool         `json:"skipped,omitempty"`
	Error   string       `json:"error,omitempty"`
	Cases   []caseResult `json:"cases,omitempty"`
}

type caseResult struct {
	Name    string `json:"name"`
	Skipped bool   `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
}

func main() {
	cel := flag.Bool("cel", true, "gator verify --enable-k8s-native-validation")
	run := flag.String("run", "", "gator verify --run")
	text := flag.Bool("text", false, "print each file's results as gator verify prints them, after a line \"### FILE\", instead of JSON")
	verbose := flag.Bool("verbose", false, "with -text: gator verify -v")
	list := flag.Bool("list", false, "print, as JSON, the suites each target (a file, a directory, DIR/...) selects, or the error")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: gatorverify [-cel=bool] [-run FILTER] ROOT SUITE...")
		os.Exit(2)
	}
	fsys := os.DirFS(flag.Arg(0))
	runner, err := verify.NewRunner(fsys, func(opts ...gator.Opt) (gator.Client, error) {
		if *cel {
			opts = append(opts, gator.WithK8sCEL())
		}
		return gator.NewOPAClient(false, opts...)
	}, verify.IncludeTrace(false))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	filter, err := verify.NewFilter(*run)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if *list {
		type listed struct {
			Target string   `json:"target"`
			Suites []string `json:"suites"`
			Error  string   `json:"error,omitempty"`
		}
		var ls []listed
		for _, p := range flag.Args()[1:] {
			target, recursive := p, false
			if strings.HasSuffix(p, "/...") {
				target, recursive = strings.TrimSuffix(p, "/..."), true
			}
			l := listed{Target: p, Suites: []string{}}
			suites, err := verify.ReadSuites(fsys, target, target, recursive)
			if err != nil {
				l.Error = err.Error()
			}
			for _, s := range suites {
				l.Suites = append(l.Suites, s.AbsolutePath)
			}
			ls = append(ls, l)
		}
		if err := json.NewEncoder(os.Stdout).Encode(ls); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		return
	}
	out := []suiteResult{}
	if *text {
		defer os.Exit(0)
	}
	for _, p := range flag.Args()[1:] {
		suites, err := verify.ReadSuites(fsys, p, p, false)
		if err != nil {
			out = append(out, suiteResult{Path: p, ReadErr: err.Error(), Failed: true})
			continue
		}
		if *text {
			var rs []verify.SuiteResult
			for _, s := range suites {
				rs = append(rs, runner.Run(context.Background(), filter, s))
			}
			var b strings.Builder
			if err := (verify.PrinterGo{}).Print(&b, rs, *verbose); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			fmt.Printf("### %s\n%s", p, b.String())
			continue
		}
		for _, s := range suites {
			r := runner.Run(context.Background(), filter, s)
			sr := suiteResult{Path: p, Skipped: r.Skipped, Failed: r.IsFailure(), NumSuite: len(suites)}
			if r.Error != nil {
				sr.Error = r.Error.Error()
			}
			for _, t := range r.TestResults {
				tr := testResult{Name: t.Name, Skipped: t.Skipped}
				if t.Error != nil {
					tr.Error = t.Error.Error()
				}
				for _, c := range t.CaseResults {
					cr := caseResult{Name: c.Name, Skipped: c.Skipped}
					if c.Error != nil {
						cr.Error = c.Error.Error()
					}
					tr.Cases = append(tr.Cases, cr)
				}
				sr.Tests = append(sr.Tests, tr)
			}
			out = append(out, sr)
		}
		if len(suites) == 0 {
			out = append(out, suiteResult{Path: p})
		}
	}
	if *text {
		return
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
