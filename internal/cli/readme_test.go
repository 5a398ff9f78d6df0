package cli

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docCommand is one kguard command line shown in a fenced ```sh block.
type docCommand struct {
	file    string // relative to the repository root
	line    int    // of the command's first line
	text    string // the command as shown, continuation lines joined
	comment string // the trailing "# ..." comment, if any
}

// readmeExitCodes is what each documented command must exit with, keyed by the command
// as shown (optional "[-o json]" parts expanded). The README's rule: 0 yes/allowed/clean,
// 1 no/denied/findings, 2 bad usage or unreadable input — a documented command never exits 2.
var readmeExitCodes = map[string]int{
	"kguard authz can-i get pods -n default --as jane -f examples/rbac":                                                                             0, // "# yes"
	"kguard authz can-i get pods/log web-0 -n default --as jane -f examples/rbac --reason":                                                          1, // jane's log binding points at a missing role
	"kguard authz can-i get /healthz --as system:anonymous -f examples/rbac":                                                                        0,
	"kguard authz can-i list pods -n projectCaribou --as bob --authorization-mode RBAC,ABAC --authorization-policy-file examples/abac/policy.jsonl": 0,
	"kguard authz can-i --list -n default --as jane -f examples/rbac":                                                                               0,
	"kguard authz who-can get secrets -n development -f examples/rbac":                                                                              0,
	"kguard authz who-can get secrets -n development -f examples/rbac -o json":                                                                      0,
	"kguard authz review -f examples/rbac examples/sar/jane-get-pods.json":                                                                          0,
	"kguard authz paths -f examples/paths/chain.yaml -o html":                                                                                       1, // paths found, at or above --fail-on high
	"kguard authz audit -f examples/audit/risky.yaml":                                                                                               1, // findings at or above --fail-on high
	"kguard authz check-escalation -f examples/rbac --default-roles --as user-1 examples/escalation/bindings.yaml":                                  1, // team-admin is refused
	"kguard check --policy examples/psp/policies --policy examples/psp/grant --as system:serviceaccount:psp-example:fake-user examples/psp/pods":    1, // "privileged" is denied
	"kguard check --pss restricted deploy/ -o json":                                                                                                 0, // kguard's own deployment meets restricted
	"kguard psp migrate examples/psp/policies --workloads examples/psp/pods":                                                                        0,
	"kguard tenant render examples/tenancy/tenants.yaml":                                                                                            0, // warns that team-b's selector matches no given Namespace
	"kguard audit --policy examples/audit-objects/policies.yaml examples/audit-objects/cluster-dump.yaml":                                           1, // debug, log-shipper, runner
	"kguard audit --policy examples/audit-objects/policies.yaml -o json examples/audit-objects/cluster-dump.yaml":                                   1,
	"kguard authz abac-to-rbac examples/abac/policy.jsonl > rbac.yaml":                                                                              0,
	"kguard check --offline --policy examples/imagepolicy examples/imagepolicy/deploy.yaml":                                                         1, // offline, nothing can be verified
	"kguard policy verify internal/constraints/testdata/gatekeeper-library/library/...":                                                             0, // every library suite passes
	"kguard policy verify -v --no-cel examples/constraints/suite.yaml":                                                                              0,
	"kguard policy verify -v examples/constraints/suite.yaml":                                                                                       0,
	"kguard policy verify --run 'external' -o json examples/constraints/":                                                                           0,
	"kguard check --policy examples/constraints examples/constraints/objects.yaml":                                                                  1, // the Service with an external IP and the privileged pod
}

// readmeSkips are the documented commands this test does not run, by design, each with why.
// A command matches the first rule whose predicate holds.
var readmeSkips = []struct {
	reason string
	match  func(args []string) bool
}{
	{"starts a long-running webhook server: covered by internal/server and test/e2e", func(args []string) bool {
		return len(args) > 0 && args[0] == "serve"
	}},
	{"reads a live cluster (--kubeconfig/--in-cluster): covered by test/e2e", func(args []string) bool {
		for _, a := range args {
			if a == "--kubeconfig" || strings.HasPrefix(a, "--kubeconfig=") || a == "--in-cluster" {
				return true
			}
		}
		return false
	}},
	{"reads images from a registry: covered by test/supplychain (a real registry and cosign)", func(args []string) bool {
		return len(args) > 1 && args[0] == "image" && args[1] == "verify"
	}},
	{"operates on the reader's own exported or rendered files (psps/, workloads.yaml, team-objects.yaml), not on files in the repository", func(args []string) bool {
		for _, a := range args {
			if a == "psps/" || a == "workloads.yaml" || a == "team-objects.yaml" {
				return true
			}
		}
		return false
	}},
}

// TestDocumentedCommands runs every kguard command shown in README.md and docs/*.md from the
// repository root and requires the documented exit status; commands needing a cluster or the
// reader's files are listed as skipped with the reason.
func TestDocumentedCommands(t *testing.T) {
	root := filepath.Join("..", "..")
	files := []string{"README.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		rel, _ := filepath.Rel(root, d)
		files = append(files, rel)
	}

	var cmds []docCommand
	for _, f := range files {
		cmds = append(cmds, readDocCommands(t, filepath.Join(root, f), f)...)
	}
	if len(cmds) < len(readmeExitCodes) {
		t.Fatalf("found %d documented commands, fewer than the %d expected: is the parser broken?", len(cmds), len(readmeExitCodes))
	}

	seen := map[string]bool{}
	var skipped []string
	for _, c := range cmds {
		for _, variant := range expandOptional(c.text) {
			if reason := readmeSkipReason(strings.Fields(variant)[1:]); reason != "" {
				skipped = append(skipped, fmt.Sprintf("| %s:%d | `%s` | %s |", c.file, c.line, variant, reason))
				continue
			}
			args, err := splitDocCommand(variant)
			if err != nil {
				t.Errorf("%s:%d: %q: %v", c.file, c.line, variant, err)
				continue
			}
			seen[variant] = true
			t.Run(fmt.Sprintf("%s:%d %s", c.file, c.line, variant), func(t *testing.T) {
				want, ok := readmeExitCodes[variant]
				if !ok {
					want = -1
				}
				code, stdout, stderr := runDocCommand(t, args)
				switch {
				case want >= 0 && code != want:
					t.Errorf("exit %d, documented %d\nstdout:\n%s\nstderr:\n%s", code, want, stdout, stderr)
				case want < 0 && code != 0 && code != 1:
					t.Errorf("exit %d, a documented command must exit 0 or 1 (add its exit status to readmeExitCodes)\nstderr:\n%s", code, stderr)
				case want < 0:
					t.Errorf("no documented exit status for this command (exited %d): add it to readmeExitCodes", code)
				}
				if c.comment == "yes" && strings.TrimSpace(stdout) != "yes" {
					t.Errorf("documented answer %q, got stdout %q", c.comment, stdout)
				}
			})
		}
	}
	for k := range readmeExitCodes {
		if !seen[k] {
			t.Errorf("readmeExitCodes has %q, which no document shows any more", k)
		}
	}
	t.Logf("documented commands skipped by design:\n| where | command | reason |\n|---|---|---|\n%s", strings.Join(skipped, "\n"))
}

// runDocCommand runs one command in-process through run, turning a panic into a failure
// that names the command. A "> FILE" redirection is dropped: stdout is captured instead.
func runDocCommand(t *testing.T, args []string) (code int, stdout, stderr string) {
	t.Helper()
	for i, a := range args {
		if a == ">" {
			args = args[:i]
			break
		}
	}
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("kguard %s panicked: %v", strings.Join(args, " "), r)
		}
	}()
	return run(t, "", args...)
}

func readmeSkipReason(args []string) string {
	for _, s := range readmeSkips {
		if s.match(args) {
			return s.reason
		}
	}
	return ""
}

// readDocCommands returns the lines starting with "kguard " or "bin/kguard " inside fenced
// ```sh blocks, with backslash continuations joined and a trailing comment split off.
func readDocCommands(t *testing.T, path, name string) []docCommand {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out     []docCommand
		inSh    bool
		pending *docCommand
		n       int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			inSh = !inSh && strings.TrimPrefix(trimmed, "```") == "sh"
			pending = nil
			continue
		}
		if !inSh {
			continue
		}
		if pending == nil {
			if !strings.HasPrefix(trimmed, "kguard ") && !strings.HasPrefix(trimmed, "bin/kguard ") {
				continue
			}
			pending = &docCommand{file: name, line: n}
		}
		body, comment := splitShellComment(trimmed)
		cont := strings.HasSuffix(body, `\`)
		body = strings.TrimSpace(strings.TrimSuffix(body, `\`))
		if pending.text != "" {
			pending.text += " "
		}
		pending.text += body
		if comment != "" {
			pending.comment = comment
		}
		if !cont {
			pending.text = strings.TrimPrefix(pending.text, "bin/")
			out = append(out, *pending)
			pending = nil
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// splitShellComment splits "cmd args   # comment" at the first " #" outside quotes.
func splitShellComment(s string) (body, comment string) {
	var quote rune
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '#' && i > 0 && (s[i-1] == ' ' || s[i-1] == '\t'):
			return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
		}
	}
	return strings.TrimSpace(s), ""
}

var optionalPart = regexp.MustCompile(`\s*\[([^\]]+)\]`)

// expandOptional turns "cmd [-o json]" into "cmd" and "cmd -o json".
func expandOptional(s string) []string {
	m := optionalPart.FindStringSubmatchIndex(s)
	if m == nil {
		return []string{s}
	}
	without := s[:m[0]] + s[m[1]:]
	with := s[:m[0]] + " " + s[m[2]:m[3]] + s[m[1]:]
	return append(expandOptional(strings.TrimSpace(without)), expandOptional(strings.TrimSpace(with))...)
}

// splitDocCommand splits a documented command into kguard's arguments (without "kguard"),
// honouring simple quotes; it refuses what this test cannot run faithfully in-process.
func splitDocCommand(s string) ([]string, error) {
	var (
		args  []string
		cur   strings.Builder
		quote rune
		in    bool
	)
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				args = append(args, cur.String())
				cur.Reset()
				in = false
			}
		case r == '|' || r == ';' || r == '&' || r == '<':
			return nil, fmt.Errorf("shell operator %q: not runnable in-process", r)
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote")
	}
	if in {
		args = append(args, cur.String())
	}
	if len(args) == 0 || args[0] != "kguard" {
		return nil, fmt.Errorf("not a kguard command")
	}
	return args[1:], nil
}
