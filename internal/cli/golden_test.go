package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kguard/kguard/internal/report"
)

// updateGolden rewrites the golden files of this package's tests instead of
// comparing with them: go test ./internal/cli/ -update.
var updateGolden = flag.Bool("update", false, "rewrite the golden files instead of comparing with them")

const (
	formatsDir = "internal/cli/testdata/formats" // inputs of formatRuns
	goldenDir  = "internal/cli/testdata/golden"  // their outputs
)

// auditObjects is a copy of examples/audit-objects.
const auditObjects = "internal/cli/testdata/examples/audit-objects"

// tenancyExample is a copy of examples/tenancy, with the Namespaces team-b's selector selects.
const tenancyExample = "internal/cli/testdata/examples/tenancy"

// formatRuns are the machine-readable outputs (-o json and -o sarif) of every
// command that has them, and the text of authz paths and audit, frozen in goldenDir as NAME.golden: what tools
// reading kguard's output depend on. "@" in an argument stands for formatsDir.
var formatRuns = []struct {
	name string
	args []string
}{
	{"check-json", []string{"check", "--pss", "baseline", "-o", "json", "@/manifests.yaml"}},
	{"check-sarif", []string{"check", "--pss", "baseline", "-o", "sarif", "@/manifests.yaml"}},
	{"check-psp-json", []string{"check", "--policy", "@/psp.yaml", "-n", "shop", "-o", "json", "@/manifests.yaml"}},
	{"check-psp-sarif", []string{"check", "--policy", "@/psp.yaml", "-n", "shop", "-o", "sarif", "@/manifests.yaml"}},
	{"check-admitted-sarif", []string{"check", "--pss", "restricted", "-o", "sarif", "@/restricted-pod.yaml"}},
	{"authz-audit-json", []string{"authz", "audit", "-o", "json", "-f", "@/rbac.yaml"}},
	{"authz-audit-sarif", []string{"authz", "audit", "-o", "sarif", "-f", "@/rbac.yaml"}},
	{"authz-audit-none-sarif", []string{"authz", "audit", "-o", "sarif", "-f", "@/escalation.yaml"}},
	{"authz-who-can-json", []string{"authz", "who-can", "get", "pods", "-n", "shop", "-o", "json", "-f", "@/rbac.yaml"}},
	{"authz-check-escalation-json", []string{"authz", "check-escalation", "-o", "json", "-f", "@/rbac.yaml", "--as", "bob", "--as-group", "devs", "@/escalation.yaml"}},
	{"authz-paths-text", []string{"authz", "paths", "-f", "@/paths.yaml"}},
	{"authz-paths-json", []string{"authz", "paths", "-o", "json", "--from", "alice", "--from-group", "oncall", "-f", "@/paths.yaml"}},
	{"authz-paths-refused-json", []string{"authz", "paths", "-o", "json", "--to", "nodes", "--pss", "restricted", "-f", "@/paths.yaml"}},
	{"authz-paths-sarif", []string{"authz", "paths", "-o", "sarif", "-f", "@/paths.yaml"}},
	{"authz-paths-dot", []string{"authz", "paths", "-o", "dot", "-f", "@/paths.yaml"}},
	{"authz-paths-html", []string{"authz", "paths", "-o", "html", "-f", "@/paths.yaml"}},
	{"psp-migrate-json", []string{"psp", "migrate", "-o", "json", "@/psp.yaml", "--workloads", "@/manifests.yaml"}},
	{"audit-text", []string{"audit", "--policy", auditObjects + "/policies.yaml", "-v", auditObjects + "/cluster-dump.yaml"}},
	{"audit-json", []string{"audit", "--policy", auditObjects + "/policies.yaml", "-o", "json", auditObjects + "/cluster-dump.yaml"}},
	{"audit-sarif", []string{"audit", "--policy", auditObjects + "/policies.yaml", "-o", "sarif", auditObjects + "/cluster-dump.yaml"}},
	{"tenant-render-yaml", []string{"tenant", "render", tenancyExample + "/tenants.yaml", tenancyExample + "/namespaces.yaml"}},
	{"tenant-render-selector-unmatched-yaml", []string{"tenant", "render", tenancyExample + "/tenants.yaml"}},
	{"tenant-render-json", []string{"tenant", "render", "-o", "json", tenancyExample + "/tenants.yaml", tenancyExample + "/namespaces.yaml"}},
}

// formatRunArgs is run's arguments with "@" replaced.
func formatRunArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.Replace(a, "@", formatsDir, 1)
	}
	return out
}

// TestOutputFormatsGolden compares the -o json and -o sarif outputs with the
// frozen ones; -update rewrites them (then read the diff as a reviewer).
func TestOutputFormatsGolden(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, tc := range formatRuns {
		want[tc.name+".golden"] = true
		t.Run(tc.name, func(t *testing.T) {
			args := formatRunArgs(tc.args)
			code, out, errText := run(t, "", args...)
			got := fmt.Sprintf("$ kguard %s\n%s", strings.Join(args, " "), out)
			if errText != "" {
				got += "--- stderr\n" + errText
			}
			got += fmt.Sprintf("--- exit status %d\n", code)
			checkGolden(t, filepath.Join(root, goldenDir, tc.name+".golden"), got)
		})
	}
	t.Run("no stray golden files", func(t *testing.T) {
		entries, err := os.ReadDir(filepath.Join(root, goldenDir))
		if err != nil {
			t.Fatal(err)
		}
		var stray []string
		for _, e := range entries {
			if !want[e.Name()] {
				stray = append(stray, e.Name())
			}
		}
		sort.Strings(stray)
		if len(stray) > 0 {
			t.Errorf("files in %s no run writes (delete them or add their run): %v", goldenDir, stray)
		}
	})
}

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	frozen, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./internal/cli/ -update writes it)", err)
	}
	if string(frozen) != got {
		t.Errorf("output differs from %s (go test ./internal/cli/ -update rewrites it):\n%s", golden, lineDiff(string(frozen), got))
	}
}

// TestSARIFValid checks every SARIF document the commands write: it decodes
// into report's types with no field left over, is version 2.1.0, and each
// result names a rule its driver declares.
func TestSARIFValid(t *testing.T) {
	runs := 0
	for _, tc := range formatRuns {
		if !strings.HasSuffix(tc.name, "-sarif") {
			continue
		}
		runs++
		t.Run(tc.name, func(t *testing.T) {
			_, out, errText := run(t, "", formatRunArgs(tc.args)...)
			dec := json.NewDecoder(bytes.NewReader([]byte(out)))
			dec.DisallowUnknownFields()
			var log report.Log
			if err := dec.Decode(&log); err != nil {
				t.Fatalf("not SARIF as report.Log reads it: %v\n%s%s", err, out, errText)
			}
			if dec.More() {
				t.Errorf("more than one JSON document:\n%s", out)
			}
			if log.Version != report.SARIFVersion || log.Schema != report.SARIFSchema {
				t.Errorf("version %q, $schema %q: want %q, %q", log.Version, log.Schema, report.SARIFVersion, report.SARIFSchema)
			}
			if len(log.Runs) != 1 {
				t.Fatalf("%d runs, want 1", len(log.Runs))
			}
			for _, r := range log.Runs {
				if r.Tool.Driver.Name != "kguard" {
					t.Errorf("driver %q, want kguard", r.Tool.Driver.Name)
				}
				if r.Results == nil {
					t.Errorf("no results array: SARIF tells \"found nothing\" (results: []) from \"did not run\" (none)")
				}
				rules := map[string]bool{}
				for _, rule := range r.Tool.Driver.Rules {
					if rules[rule.ID] {
						t.Errorf("rule %s declared twice", rule.ID)
					}
					rules[rule.ID] = true
				}
				for i, res := range r.Results {
					if !rules[res.RuleID] {
						t.Errorf("results[%d]: ruleId %q is not among the driver's rules", i, res.RuleID)
					}
					if res.Message.Text == "" {
						t.Errorf("results[%d]: no message text", i)
					}
				}
			}
		})
	}
	if runs == 0 {
		t.Fatal("no SARIF runs among formatRuns")
	}
}

// TestOutputFlag checks that each command with -o rejects a format it does
// not support, naming those it does, as bad usage.
func TestOutputFlag(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"check", []string{"check", "--pss", "baseline", "-o", "yaml", "@/manifests.yaml"}, `unknown output format "yaml" (text, json, sarif)`},
		{"authz audit", []string{"authz", "audit", "-o", "yaml", "-f", "@/rbac.yaml"}, `unknown output format "yaml" (text, json, sarif)`},
		{"authz who-can", []string{"authz", "who-can", "get", "pods", "-o", "sarif", "-f", "@/rbac.yaml"}, `unknown output format "sarif" (text, json)`},
		{"authz check-escalation", []string{"authz", "check-escalation", "-o", "sarif", "--as", "bob", "@/escalation.yaml"}, `unknown output format "sarif" (text, json)`},
		{"psp migrate", []string{"psp", "migrate", "-o", "sarif", "@/psp.yaml"}, `unknown output format "sarif" (text, json)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errText := run(t, "", formatRunArgs(tc.args)...)
			if code != ExitUsage || out != "" || !strings.Contains(errText, tc.want) {
				t.Errorf("exit %d (want %d), stdout %q, stderr %q (want it to contain %q)", code, ExitUsage, out, errText, tc.want)
			}
		})
	}
}
