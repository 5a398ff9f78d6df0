package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/kguard/kguard/internal/constraints/verify"
)

// printSuites prints as gator verify's PrinterGo: durations in seconds
// with three decimals, a skipped suite "ok".
func TestPrintSuitesAsGator(t *testing.T) {
	results := []verify.SuiteResult{
		{Path: "a/suite.yaml", Runtime: 12345 * time.Microsecond, Tests: []verify.TestResult{
			{Name: "t", Runtime: 12 * time.Millisecond, Cases: []verify.CaseResult{
				{Name: "good", Runtime: 1400 * time.Microsecond},
				{Name: "bad", Runtime: 2 * time.Millisecond, Error: "got 0 violations"},
				{Name: "skipped", Skipped: true},
			}},
			{Name: "skipped", Skipped: true},
		}},
		{Path: "b/suite.yaml", Skipped: true},
		{Path: "c/suite.yaml", Runtime: 2 * time.Second, Tests: []verify.TestResult{{Name: "u", Runtime: time.Second}}},
	}
	for _, tc := range []struct {
		verbose bool
		want    string
	}{
		{false, `    --- FAIL: bad	(0.002s)
        got 0 violations
--- FAIL: t	(0.012s)
FAIL	a/suite.yaml	0.012s
ok	b/suite.yaml	0.000s
ok	c/suite.yaml	2.000s
FAIL
`},
		{true, `=== RUN   t
    === RUN   good
    --- PASS: good	(0.001s)
    === RUN   bad
    --- FAIL: bad	(0.002s)
        got 0 violations
    === SKIP  skipped
--- FAIL: t	(0.012s)
=== SKIP  skipped
FAIL	a/suite.yaml	0.012s
ok	b/suite.yaml	0.000s
=== RUN   u
--- PASS: u	(1.000s)
ok	c/suite.yaml	2.000s
FAIL
`},
	} {
		var b strings.Builder
		printSuites(&b, results, tc.verbose)
		if b.String() != tc.want {
			t.Errorf("verbose %v: got\n%s\nwant\n%s", tc.verbose, b.String(), tc.want)
		}
	}
}
