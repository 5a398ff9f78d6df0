package gatekeeper

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/kguard/kguard/internal/cli"
	"github.com/kguard/kguard/internal/constraints"
	"github.com/kguard/kguard/internal/constraints/verify"
)

// The differential test of `kguard policy verify` against `gator verify`.
//
// Gator's verify runner links Gatekeeper's k8scel driver, which does not
// build against the k8s.io v0.37 this module uses (see
// differential_test.go): gator runs from a module of its own,
// ./gatorverify, built here and run on the same files, its results read as
// JSON. Both sides read the same suites from the same directory, each file
// named on its own as a PATH argument would be.
//
// Besides every case as written, each case with several assertions is
// compared assertion by assertion: an "exploded" copy of its suite (written
// next to it, so that relative paths hold) has one case per assertion.

// gatorResult is what ./gatorverify reports of a suite file.
type gatorResult struct {
	Path    string `json:"path"`
	ReadErr string `json:"readError"`
	Skipped bool   `json:"skipped"`
	Error   string `json:"error"`
	Tests   []struct {
		Name    string `json:"name"`
		Skipped bool   `json:"skipped"`
		Error   string `json:"error"`
		Cases   []struct {
			Name    string `json:"name"`
			Skipped bool   `json:"skipped"`
			Error   string `json:"error"`
		} `json:"cases"`
	} `json:"tests"`
	Failed bool `json:"failed"`
	Suites int  `json:"suites"`
}

var (
	gatorOnce sync.Once
	gatorBin  string
	gatorErr  error
)

// gatorVerify builds ./gatorverify once per test binary.
func gatorVerify(t *testing.T) string {
	t.Helper()
	gatorOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatorverify")
		if err != nil {
			gatorErr = err
			return
		}
		gatorBin = filepath.Join(dir, "gatorverify")
		cmd := exec.Command("go", "build", "-o", gatorBin, ".")
		cmd.Dir = "gatorverify"
		if out, err := cmd.CombinedOutput(); err != nil {
			gatorErr = fmt.Errorf("building ./gatorverify: %v\n%s", err, out)
		}
	})
	if gatorErr != nil {
		t.Fatal(gatorErr)
	}
	return gatorBin
}

// runGator runs gator verify (its CLI's default engines: CEL and Rego) on
// each file, relative to root.
func runGator(t *testing.T, root string, files []string, args ...string) map[string]gatorResult {
	t.Helper()
	cmd := exec.Command(gatorVerify(t), append(append(args, root), files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gatorverify: %v\n%s", err, stderr.Bytes())
	}
	var rs []gatorResult
	if err := json.Unmarshal(out, &rs); err != nil {
		t.Fatalf("gatorverify's output: %v\n%s", err, out)
	}
	m := map[string]gatorResult{}
	for _, r := range rs {
		if _, dup := m[r.Path]; dup || r.Suites > 1 {
			t.Fatalf("%s: more than one suite in a file", r.Path)
		}
		m[r.Path] = r
	}
	return m
}

// kguardResult is kguard's outcome of a suite file.
type kguardResult struct {
	readErr error
	suites  []verify.SuiteResult
}

func runKguard(root string, files []string, opts constraints.Options, run *verify.Filter) map[string]kguardResult {
	fsys := os.DirFS(root)
	m := map[string]kguardResult{}
	for _, f := range files {
		suites, err := verify.ReadSuites(fsys, f)
		if err != nil {
			m[f] = kguardResult{readErr: err}
			continue
		}
		r := &verify.Runner{FS: fsys, Options: opts, Run: run}
		var res []verify.SuiteResult
		for _, s := range suites {
			res = append(res, r.RunSuite(context.Background(), s))
		}
		m[f] = kguardResult{suites: res}
	}
	return m
}

// compareVerify lists the disagreements between gator and kguard on file:
// suite read or not, skipped, failed; per test skipped and failed, per case
// skipped and failed. Each is "file[ test[/case]]: what", followed by both
// sides' errors.
func compareVerify(file string, g gatorResult, k kguardResult) []string {
	var out []string
	diff := func(where, what string, gv, kv any, gerr, kerr string) {
		out = append(out, fmt.Sprintf("%s: %s: gator %v, kguard %v\n\tgator:  %s\n\tkguard: %s", where, what, gv, kv, oneLine(gerr), oneLine(kerr)))
	}
	kerr := ""
	if k.readErr != nil {
		kerr = k.readErr.Error()
	}
	if (g.ReadErr != "") != (k.readErr != nil) {
		diff(file, "suite file refused", g.ReadErr != "", k.readErr != nil, g.ReadErr, kerr)
		return out
	}
	if g.ReadErr != "" {
		return out
	}
	if (g.Suites == 0) != (len(k.suites) == 0) {
		diff(file, "suites found", g.Suites, len(k.suites), "", "")
		return out
	}
	if len(k.suites) == 0 {
		return out
	}
	ks := k.suites[0]
	if g.Skipped != ks.Skipped {
		diff(file, "suite skipped", g.Skipped, ks.Skipped, "", "")
	}
	if (g.Error != "") != (ks.Error != "") {
		diff(file, "suite error", g.Error != "", ks.Error != "", g.Error, ks.Error)
	}
	if g.Failed != ks.Failed() {
		diff(file, "suite failed", g.Failed, ks.Failed(), g.Error, ks.Error)
	}
	if len(g.Tests) != len(ks.Tests) {
		diff(file, "number of tests", len(g.Tests), len(ks.Tests), "", "")
		return out
	}
	for i, gt := range g.Tests {
		kt := ks.Tests[i]
		where := file + " " + gt.Name
		if gt.Name != kt.Name {
			diff(where, "test name", gt.Name, kt.Name, "", "")
			continue
		}
		if gt.Skipped != kt.Skipped {
			diff(where, "test skipped", gt.Skipped, kt.Skipped, gt.Error, kt.Error)
		}
		if (gt.Error != "") != (kt.Error != "") {
			diff(where, "test error", gt.Error != "", kt.Error != "", gt.Error, kt.Error)
			continue
		}
		if len(gt.Cases) != len(kt.Cases) {
			diff(where, "number of cases", len(gt.Cases), len(kt.Cases), "", "")
			continue
		}
		for j, gc := range gt.Cases {
			kc := kt.Cases[j]
			where := where + "/" + gc.Name
			if gc.Name != kc.Name {
				diff(where, "case name", gc.Name, kc.Name, "", "")
				continue
			}
			if gc.Skipped != kc.Skipped {
				diff(where, "case skipped", gc.Skipped, kc.Skipped, "", "")
			}
			if (gc.Error != "") != (kc.Error != "") {
				diff(where, "case failed", gc.Error != "", kc.Error != "", gc.Error, kc.Error)
			}
		}
	}
	return out
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// explode writes, next to each suite file with a case of several
// assertions, a copy with one case per assertion (named "case #i"), and
// returns the copies' paths. The YAML is edited as nodes, so that scalars
// keep their style: `violations: yes` stays a plain yes.
func explode(t *testing.T, root string, files []string) []string {
	t.Helper()
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		var doc yamlv3.Node
		if err := yamlv3.Unmarshal(b, &doc); err != nil || doc.Kind != yamlv3.DocumentNode {
			continue // not for exploding; the file itself is compared
		}
		changed := false
		for _, test := range seqOf(mapValue(doc.Content[0], "tests")) {
			cases := mapValue(test, "cases")
			var exploded []*yamlv3.Node
			for _, c := range seqOf(cases) {
				as := seqOf(mapValue(c, "assertions"))
				if len(as) < 2 {
					exploded = append(exploded, c)
					continue
				}
				changed = true
				name := ""
				if n := mapValue(c, "name"); n != nil {
					name = n.Value
				}
				for i, a := range as {
					one := &yamlv3.Node{Kind: yamlv3.MappingNode, Tag: "!!map"}
					for k := 0; k+1 < len(c.Content); k += 2 {
						key, val := c.Content[k], c.Content[k+1]
						switch key.Value {
						case "name":
							continue
						case "assertions":
							val = &yamlv3.Node{Kind: yamlv3.SequenceNode, Tag: "!!seq", Content: []*yamlv3.Node{a}}
						}
						one.Content = append(one.Content, key, val)
					}
					one.Content = append(one.Content,
						&yamlv3.Node{Kind: yamlv3.ScalarNode, Tag: "!!str", Value: "name"},
						&yamlv3.Node{Kind: yamlv3.ScalarNode, Tag: "!!str", Value: fmt.Sprintf("%s #%d", name, i)})
					exploded = append(exploded, one)
				}
			}
			if cases != nil {
				cases.Content = exploded
			}
		}
		if !changed {
			continue
		}
		nb, err := yamlv3.Marshal(&doc)
		if err != nil {
			t.Fatal(err)
		}
		p := strings.TrimSuffix(f, filepath.Ext(f)) + ".exploded" + filepath.Ext(f)
		if err := os.WriteFile(filepath.Join(root, p), nb, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func mapValue(n *yamlv3.Node, key string) *yamlv3.Node {
	if n == nil || n.Kind != yamlv3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func seqOf(n *yamlv3.Node) []*yamlv3.Node {
	if n == nil || n.Kind != yamlv3.SequenceNode {
		return nil
	}
	return n.Content
}

// copyTree copies the directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// differentialVerify runs both sides on files under root, kguard with CEL
// and without, and reports every disagreement not in known.
func differentialVerify(t *testing.T, root string, files []string, known map[string]string) {
	t.Helper()
	files = append(files, explode(t, root, files)...)
	sort.Strings(files)
	gatorDefault := runGator(t, root, files)
	gatorRego := runGator(t, root, files, "-cel=false")
	seen := map[string]bool{}
	// kguard with CEL and without against gator as its CLI runs by default
	// (CEL and Rego), and kguard --no-cel against gator
	// --enable-k8s-native-validation=false.
	for _, mode := range []struct {
		name string
		opts constraints.Options
		g    map[string]gatorResult
	}{
		{"cel", constraints.Options{}, gatorDefault},
		{"rego", constraints.Options{NoCEL: true}, gatorDefault},
		{"rego-vs-rego", constraints.Options{NoCEL: true}, gatorRego},
	} {
		g := mode.g
		t.Run(mode.name, func(t *testing.T) {
			k := runKguard(root, files, mode.opts, nil)
			n := 0
			for _, f := range files {
				gr, ok := g[f]
				if !ok {
					t.Fatalf("%s: no result from gator", f)
				}
				for _, d := range compareVerify(f, gr, k[f]) {
					key := mode.name + " " + strings.SplitN(d, ":", 2)[0]
					if _, ok := known[key]; ok {
						seen[key] = true
						continue
					}
					if _, ok := known["* "+strings.SplitN(d, ":", 2)[0]]; ok {
						seen["* "+strings.SplitN(d, ":", 2)[0]] = true
						continue
					}
					n++
					t.Errorf("%s", d)
				}
			}
			t.Logf("%d files, %d disagreements", len(files), n)
		})
	}
	// A known difference that no longer shows is stale: say so.
	for key := range known {
		if !seen[key] {
			t.Errorf("known difference %q did not show", key)
		}
	}
}

// TestVerifyLibraryAgainstGator runs every suite of the gatekeeper-library
// with gator verify and with kguard policy verify.
func TestVerifyLibraryAgainstGator(t *testing.T) {
	root := t.TempDir()
	copyTree(t, libraryDir, filepath.Join(root, "library"))
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "suite.yaml" {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 49 {
		t.Fatalf("found %d suites, want the library's 49", len(files))
	}
	differentialVerify(t, root, files, nil)
}

var durationRE = regexp.MustCompile(`\d[\dhmsµn.]*s\b`)

// outputLines are the lines of gator verify's output that do not depend
// on the wording of errors (which kguard words its own way): the suite,
// test and case lines, durations masked.
func outputLines(out string) []string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimLeft(l, " ")
		if strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") || strings.HasPrefix(l, "ok\t") ||
			strings.HasPrefix(l, "FAIL") || strings.HasPrefix(l, "PASS") || strings.HasPrefix(l, "skip\t") {
			keep = append(keep, durationRE.ReplaceAllString(l, "D"))
		}
	}
	return keep
}

// compareOutput compares the text output of gator verify and kguard policy
// verify (-v when verbose) on each of files, and the exit status (0 or
// not), and returns the files where they differ.
func compareOutput(t *testing.T, root string, files []string, verbose bool, noCEL bool) []string {
	t.Helper()
	args := []string{"-text"}
	if verbose {
		args = append(args, "-verbose")
	}
	cmd := exec.Command(gatorVerify(t), append(append(args, root), files...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gatorverify -text: %v", err)
	}
	gator := map[string]string{}
	for _, part := range strings.Split(string(out), "### ")[1:] {
		file, text, _ := strings.Cut(part, "\n")
		gator[file] = text
	}
	var diffs []string
	for _, f := range files {
		kargs := []string{"policy", "verify"}
		if verbose {
			kargs = append(kargs, "-v")
		}
		if noCEL {
			kargs = append(kargs, "--no-cel")
		}
		var stdout, stderr bytes.Buffer
		code := cli.Main(append(kargs, filepath.Join(root, f)), cli.Streams{In: strings.NewReader(""), Out: &stdout, Err: &stderr})
		kout := strings.ReplaceAll(stdout.String(), root+string(filepath.Separator), "")
		g, k := outputLines(gator[f]), outputLines(kout)
		gatorFailed := len(g) > 0 && g[len(g)-1] == "FAIL"
		if strings.Join(g, "\n") != strings.Join(k, "\n") || gatorFailed != (code != 0) {
			i := 0
			for i < len(g) && i < len(k) && g[i] == k[i] {
				i++
			}
			from := max(0, i-2)
			diffs = append(diffs, fmt.Sprintf("%s (kguard exit %d), from line %d:\ngator:\n%s\nkguard:\n%s\n%s", f, code, from,
				strings.Join(g[from:min(len(g), i+4)], "\n"), strings.Join(k[from:min(len(k), i+4)], "\n"), stderr.String()))
		}
	}
	return diffs
}

// TestVerifyOutputAgainstGator compares the text kguard policy verify
// prints, with and without -v, and its exit status, with gator verify's,
// on the library's suites and the crafted ones that both sides read.
func TestVerifyOutputAgainstGator(t *testing.T) {
	root := t.TempDir()
	copyTree(t, libraryDir, filepath.Join(root, "library"))
	var files []string
	for name, content := range craftedFiles() {
		p := filepath.Join(root, "crafted", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Only the suites both sides read: the rest is compared by
	// TestVerifyCraftedAgainstGator.
	g := runGator(t, root, files)
	k := runKguard(root, files, constraints.Options{}, nil)
	// Nor the files of known differences in results.
	known := map[string]bool{}
	for key := range knownVerifyDifferences {
		known[strings.Fields(key)[1]] = true
	}
	var both []string
	for _, f := range files {
		if !known[f] && g[f].ReadErr == "" && g[f].Suites == 1 && k[f].readErr == nil && len(k[f].suites) == 1 {
			both = append(both, f)
		}
	}
	if len(both) < 100 {
		t.Fatalf("only %d suites read by both sides", len(both))
	}
	for _, verbose := range []bool{false, true} {
		t.Run(fmt.Sprintf("verbose=%v", verbose), func(t *testing.T) {
			for _, d := range compareOutput(t, root, both, verbose, false) {
				t.Error(d)
			}
		})
	}
}
