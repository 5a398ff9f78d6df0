package cli

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kguard/kguard/internal/constraints"
	"github.com/kguard/kguard/internal/constraints/verify"
	"github.com/kguard/kguard/internal/report"
)

func init() { register(newPolicyCommand) }

func newPolicyCommand(s Streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "policy",
		Short: "Policies as code: Gatekeeper ConstraintTemplates, constraints and their test suites",
	}
	c.AddCommand(newPolicyVerifyCommand(s))
	return c
}

func newPolicyVerifyCommand(s Streams) *cobra.Command {
	var noCEL, verbose bool
	var run string
	var output *report.FormatFlag
	c := &cobra.Command{
		Use:   "verify PATH...",
		Short: "Run Gatekeeper test suites (gator verify) with kguard's constraint engine",
		Long: `Runs gator's test suites unmodified: each Suite (test.gatekeeper.sh/v1alpha1) names, per
test, a ConstraintTemplate and a constraint, and per case an object to review (a plain object,
or an AdmissionReview for an UPDATE or DELETE), optional inventory objects (data.inventory)
and assertions on the violations: "violations: yes|no|N", counting only the violations whose
message the assertion's "message" (an unanchored regular expression) matches.

PATH is a suite file, a directory (its suites), or DIR/... (the suites below it). Paths in a
suite are relative to the suite file. Templates run as Gatekeeper runs them: K8sNativeValidation
(CEL) first when a template carries it, Rego otherwise (--no-cel: Rego only).

Output follows gator verify: "ok" or "FAIL" per suite, failed tests and cases with the reason;
-v also lists passing ones. Exit status 0 when every assertion holds, 1 when one does not, 2
when a suite cannot be read.`,
		Example: `  kguard policy verify library/...
  kguard policy verify -v library/general/requiredlabels/suite.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			re, err := verify.NewFilter(run)
			if err != nil {
				return usageError(fmt.Errorf("--run: %v", err))
			}
			var results []verify.SuiteResult
			for _, arg := range args {
				fsys, target := suiteFS(arg)
				suites, err := verify.ReadSuites(fsys, target)
				if err != nil {
					return usageError(fmt.Errorf("%s: %v", arg, err))
				}
				if len(suites) == 0 {
					return usageError(fmt.Errorf("%s: no Suite found", arg))
				}
				r := &verify.Runner{FS: fsys, Options: constraints.Options{NoCEL: noCEL}, Run: re}
				for _, su := range suites {
					res := r.RunSuite(c.Context(), su)
					res.Path = displayPath(arg, target, res.Path)
					results = append(results, res)
				}
			}
			failed := false
			for i := range results {
				failed = failed || results[i].Failed()
			}
			if output.Format() == report.JSON {
				if err := report.WriteJSON(s.Out, results); err != nil {
					return err
				}
			} else {
				printSuites(s.Out, results, verbose)
			}
			if failed {
				return denied()
			}
			return nil
		},
	}
	c.Flags().BoolVar(&noCEL, "no-cel", false, "run templates' Rego only, never their K8sNativeValidation (CEL) code")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "list passing and skipped tests and cases too")
	c.Flags().StringVar(&run, "run", "", `run only the tests and cases selected, as gator verify --run: "RE" the cases whose name or whose test's name the regular expression matches, "TEST_RE//CASE_RE" the cases matching CASE_RE in the tests matching TEST_RE`)
	output = addOutputFlag(c, report.Text, report.JSON)
	return c
}

// suiteFS is the file system a PATH argument is read from and the path in
// it: the whole tree from /, so that a suite may name files above its
// argument, with the argument made absolute (fs.FS paths have no "..").
func suiteFS(arg string) (fs.FS, string) {
	recursive := strings.HasSuffix(arg, "...")
	abs, err := filepath.Abs(strings.TrimSuffix(arg, "..."))
	if err != nil {
		abs = arg
	}
	target := strings.TrimPrefix(filepath.ToSlash(abs), "/")
	if target == "" {
		target = "."
	}
	if recursive {
		target += "/..."
	}
	return os.DirFS("/"), target
}

// displayPath shows a suite's path as the user wrote its argument.
func displayPath(arg, target, found string) string {
	root := strings.TrimSuffix(strings.TrimSuffix(target, "..."), "/")
	rel := strings.TrimPrefix(strings.TrimPrefix(found, root), "/")
	base := strings.TrimSuffix(strings.TrimSuffix(arg, "..."), "/")
	if rel == "" {
		return arg
	}
	if base == "" || base == "." {
		return rel
	}
	return base + "/" + rel
}

// printSuites writes results as gator verify does.
func printSuites(w io.Writer, results []verify.SuiteResult, verbose bool) {
	failed := false
	for _, r := range results {
		for _, t := range r.Tests {
			if verbose {
				if t.Skipped {
					fmt.Fprintf(w, "=== SKIP  %s\n", t.Name)
					continue
				}
				fmt.Fprintf(w, "=== RUN   %s\n", t.Name)
			}
			for _, k := range t.Cases {
				switch {
				case verbose && k.Skipped:
					fmt.Fprintf(w, "    === SKIP  %s\n", k.Name)
				case k.Error != "":
					if verbose {
						fmt.Fprintf(w, "    === RUN   %s\n", k.Name)
					}
					fmt.Fprintf(w, "    --- FAIL: %s\t(%s)\n        %s\n", k.Name, seconds(k.Runtime), k.Error)
				case verbose:
					fmt.Fprintf(w, "    === RUN   %s\n    --- PASS: %s\t(%s)\n", k.Name, k.Name, seconds(k.Runtime))
				}
			}
			switch {
			case t.Failed():
				fmt.Fprintf(w, "--- FAIL: %s\t(%s)\n", t.Name, seconds(t.Runtime))
				if t.Error != "" {
					fmt.Fprintf(w, "  %s\n", t.Error)
				}
			case verbose:
				fmt.Fprintf(w, "--- PASS: %s\t(%s)\n", t.Name, seconds(t.Runtime))
			}
		}
		// A skipped suite is "ok", as gator prints it.
		switch {
		case r.Failed():
			failed = true
			fmt.Fprintf(w, "FAIL\t%s\t%s\n", r.Path, seconds(r.Runtime))
			if r.Error != "" {
				fmt.Fprintf(w, "  %s\n", r.Error)
			}
		default:
			fmt.Fprintf(w, "ok\t%s\t%s\n", r.Path, seconds(r.Runtime))
		}
	}
	if failed {
		fmt.Fprintln(w, "FAIL")
	} else {
		fmt.Fprintln(w, "PASS")
	}
}

// seconds formats a duration as gator verify does: "0.012s".
func seconds(d time.Duration) string {
	return fmt.Sprintf("%.3fs", d.Seconds())
}
