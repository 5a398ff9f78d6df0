// Package verify runs Gatekeeper's gator test suites (test.gatekeeper.sh
// Suite) unmodified with kguard's constraint engine: each test's template
// and constraint, each case's object (a plain object or an
// AdmissionReview) and inventory, and the assertions on the violations, as
// `gator verify` runs them. Files are read from an fs.FS, paths relative
// to the suite.
package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	yamlv3 "go.yaml.in/yaml/v3"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kguard/kguard/internal/constraints"
	"github.com/kguard/kguard/internal/manifest"
	gk "github.com/kguard/kguard/pkg/apis/gatekeeper"
)

// ErrSuite is matched by every error about a suite file that cannot be
// read or run (as opposed to an assertion that does not hold).
var ErrSuite = errors.New("invalid suite")

// Suite is a suite file read.
type Suite struct {
	Path string // as found, relative to the FS
	gk.Suite
}

// ReadSuites finds the suites of target in fsys: a suite file, every
// suite file directly in a directory, or, for "dir/...", in the directory
// and below. Files that are not suites are skipped in directories, but one
// that is not a YAML object is an error, as in gator; a named file that is
// not a suite is an error.
func ReadSuites(fsys fs.FS, target string) ([]*Suite, error) {
	recursive := false
	if target == "..." || strings.HasSuffix(target, "/...") {
		recursive = true
		target = strings.TrimSuffix(strings.TrimSuffix(target, "..."), "/")
		if target == "" {
			target = "."
		}
	}
	info, err := fs.Stat(fsys, target)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		if recursive {
			return nil, fmt.Errorf("%w: %s/...: %s is not a directory", ErrSuite, target, target)
		}
		// As gator: a suite file is YAML, named .yaml or .yml.
		if ext := path.Ext(target); ext != ".yaml" && ext != ".yml" {
			return nil, fmt.Errorf("%w: %s: a suite file is named .yaml or .yml, not %q", ErrSuite, target, ext)
		}
		s, isSuite, err := readSuite(fsys, target)
		if err != nil {
			return nil, err
		}
		if !isSuite {
			return nil, fmt.Errorf("%w: %s is not a Suite (kind Suite, apiVersion %s/v1alpha1)", ErrSuite, target, gk.TestGroup)
		}
		return []*Suite{s}, nil
	}
	var files []string
	err = fs.WalkDir(fsys, target, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != target && !recursive {
				return fs.SkipDir
			}
			return nil
		}
		if ext := path.Ext(p); ext == ".yaml" || ext == ".yml" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []*Suite
	for _, f := range files {
		s, isSuite, err := readSuite(fsys, f)
		if err != nil {
			return nil, err
		}
		if isSuite {
			out = append(out, s)
		}
	}
	return out, nil
}

// readSuite reads a file that may hold a Suite. Suites are parsed as YAML
// 1.2, as gator parses them: `violations: yes` is the string "yes", not
// the boolean a YAML 1.1 parser makes of it.
func readSuite(fsys fs.FS, p string) (*Suite, bool, error) {
	b, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, false, err
	}
	var head map[string]any
	if err := yamlv3.Unmarshal(b, &head); err != nil {
		// As gator: a file that does not parse fails the run rather than
		// let a broken suite disappear from it.
		return nil, false, fmt.Errorf("%w: %s: not a YAML object: %v", ErrSuite, p, err)
	}
	kind, _ := head["kind"].(string)
	apiVersion, _ := head["apiVersion"].(string)
	if kind != "Suite" || !strings.HasPrefix(apiVersion, gk.TestGroup+"/") {
		return nil, false, nil
	}
	// As gator reads a suite: with encoding/json, so fields it does not know
	// are ignored, keys match in any case ("Tests"), and metadata is not
	// read, but ObjectMeta's fields at the top level are (its Suite embeds
	// an ObjectMeta without a key); a field of the wrong type is an error.
	// (Duplicated keys the YAML parser refuses.)
	j, err := json.Marshal(head)
	if err != nil {
		return nil, true, fmt.Errorf("%w: %s: %v", ErrSuite, p, err)
	}
	var g struct {
		metav1.ObjectMeta
		Tests []gk.Test `json:"tests"`
		Skip  bool      `json:"skip"`
	}
	if err := json.Unmarshal(j, &g); err != nil {
		return nil, true, fmt.Errorf("%w: %s: %v", ErrSuite, p, err)
	}
	s := &Suite{Path: p}
	s.Tests, s.Skip = g.Tests, g.Skip
	return s, true, nil
}

// Runner runs suites.
type Runner struct {
	FS      fs.FS
	Options constraints.Options
	// Run, when set, runs only the tests and cases it selects (gator
	// verify --run).
	Run *Filter

	templates map[string]templateResult // by path, compiled once per run
}

type templateResult struct {
	t   *constraints.Template
	err error
}

// SuiteResult is the outcome of a suite.
type SuiteResult struct {
	Path    string        `json:"path"`
	Skipped bool          `json:"skipped,omitempty"`
	Error   string        `json:"error,omitempty"`
	Runtime time.Duration `json:"runtime"`
	Tests   []TestResult  `json:"tests,omitempty"`
}

// TestResult is the outcome of a test.
type TestResult struct {
	Name    string        `json:"name"`
	Skipped bool          `json:"skipped,omitempty"`
	Error   string        `json:"error,omitempty"`
	Runtime time.Duration `json:"runtime"`
	Cases   []CaseResult  `json:"cases,omitempty"`
}

// CaseResult is the outcome of a case.
type CaseResult struct {
	Name    string        `json:"name"`
	Skipped bool          `json:"skipped,omitempty"`
	Error   string        `json:"error,omitempty"`
	Runtime time.Duration `json:"runtime"`
}

// Failed reports whether the suite, a test or a case failed.
func (r *SuiteResult) Failed() bool {
	if r.Error != "" {
		return true
	}
	for i := range r.Tests {
		if r.Tests[i].Failed() {
			return true
		}
	}
	return false
}

func (r *TestResult) Failed() bool {
	if r.Error != "" {
		return true
	}
	for _, c := range r.Cases {
		if c.Error != "" {
			return true
		}
	}
	return false
}

// Run runs every test of the suite that is not skipped.
func (r *Runner) RunSuite(ctx context.Context, s *Suite) SuiteResult {
	start := time.Now()
	out := SuiteResult{Path: s.Path, Skipped: s.Skip}
	if s.Skip {
		return out
	}
	dir := path.Dir(s.Path)
	for i := range s.Tests {
		out.Tests = append(out.Tests, r.runTest(ctx, dir, &s.Tests[i]))
	}
	out.Runtime = time.Since(start)
	return out
}

// Filter selects the tests and cases to run, as gator verify --run does.
// "RE" selects the cases whose name or whose test's name RE matches, and
// the tests that have such a case (every case of a test whose name
// matches); "TEST_RE//CASE_RE" selects the tests whose name TEST_RE
// matches and, in them, the cases whose name CASE_RE matches (an empty
// expression matches everything). The regular expressions are unanchored.
// The nil Filter selects everything.
type Filter struct {
	either     *regexp.Regexp // "RE"
	test, kase *regexp.Regexp // "TEST_RE//CASE_RE"
}

// NewFilter parses a --run filter; "" is the nil Filter.
func NewFilter(s string) (*Filter, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, "//")
	res := make([]*regexp.Regexp, len(parts))
	if len(parts) > 2 {
		return nil, fmt.Errorf(`%q: a filter has at most one "//"`, s)
	}
	for i, p := range parts {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", s, err)
		}
		res[i] = re
	}
	if len(res) == 1 {
		return &Filter{either: res[0]}, nil
	}
	return &Filter{test: res[0], kase: res[1]}, nil
}

// selectsTest reports whether the test runs: when it does not, it is
// reported skipped, its cases not listed.
func (f *Filter) selectsTest(t *gk.Test) bool {
	switch {
	case f == nil:
		return true
	case f.either == nil:
		return f.test.MatchString(t.Name)
	case f.either.MatchString(t.Name):
		return true
	}
	for _, k := range t.Cases {
		if f.either.MatchString(k.Name) {
			return true
		}
	}
	return false
}

// selectsCase reports whether a case of a test that runs runs.
func (f *Filter) selectsCase(test, kase string) bool {
	switch {
	case f == nil:
		return true
	case f.either == nil:
		return f.test.MatchString(test) && f.kase.MatchString(kase)
	}
	return f.either.MatchString(test) || f.either.MatchString(kase)
}

func (r *Runner) runTest(ctx context.Context, dir string, t *gk.Test) TestResult {
	start := time.Now()
	out := TestResult{Name: t.Name, Skipped: t.Skip || !r.Run.selectsTest(t)}
	if out.Skipped {
		return out
	}
	tmpl, c, err := r.load(dir, t)
	switch {
	case t.Invalid:
		if !errors.Is(err, constraints.ErrSchema) {
			out.Error = fmt.Sprintf("the constraint should have been refused by the template's schema, got error: %v", err)
		}
		out.Runtime = time.Since(start)
		return out
	case err != nil:
		out.Error = err.Error()
		out.Runtime = time.Since(start)
		return out
	}
	for _, k := range t.Cases {
		if k.Skip || !r.Run.selectsCase(t.Name, k.Name) {
			out.Cases = append(out.Cases, CaseResult{Name: k.Name, Skipped: true})
			continue
		}
		cs := time.Now()
		err := r.runCase(ctx, dir, tmpl, c, k)
		res := CaseResult{Name: k.Name, Runtime: time.Since(cs)}
		if err != nil {
			res.Error = err.Error()
		}
		out.Cases = append(out.Cases, res)
	}
	out.Runtime = time.Since(start)
	return out
}

// load compiles the test's template and loads its constraint.
func (r *Runner) load(dir string, t *gk.Test) (*constraints.Template, *constraints.Constraint, error) {
	if t.Template == "" {
		return nil, nil, fmt.Errorf("%w: missing template", ErrSuite)
	}
	if t.Constraint == "" {
		return nil, nil, fmt.Errorf("%w: missing constraint", ErrSuite)
	}
	if t.Expansion != "" {
		return nil, nil, fmt.Errorf("%w: expansion templates (%s) are not supported by kguard", ErrSuite, t.Expansion)
	}
	tmpl, err := r.template(path.Join(dir, t.Template))
	if err != nil {
		return nil, nil, err
	}
	doc, err := r.object(path.Join(dir, t.Constraint))
	if err != nil {
		return nil, nil, err
	}
	// Gatekeeper serves constraints at v1alpha1 and v1beta1 only: gator
	// refuses other versions.
	if v := strings.TrimPrefix(doc.APIVersion, gk.ConstraintsGroup+"/"); doc.Group() == gk.ConstraintsGroup && v != "v1alpha1" && v != "v1beta1" {
		return nil, nil, fmt.Errorf("%w: %s: unsupported version %q for constraint %q; supported versions: v1alpha1, v1beta1", ErrSuite, doc.Position(), v, doc.Name)
	}
	c, err := constraints.LoadConstraint(tmpl, doc.JSON)
	if err != nil {
		return nil, nil, err
	}
	return tmpl, c, nil
}

func (r *Runner) template(p string) (*constraints.Template, error) {
	if tr, ok := r.templates[p]; ok {
		return tr.t, tr.err
	}
	t, err := r.compile(p)
	if r.templates == nil {
		r.templates = map[string]templateResult{}
	}
	r.templates[p] = templateResult{t, err}
	return t, err
}

func (r *Runner) compile(p string) (*constraints.Template, error) {
	doc, err := r.object(p)
	if err != nil {
		return nil, err
	}
	if doc.Kind != "ConstraintTemplate" || doc.Group() != gk.TemplatesGroup {
		return nil, fmt.Errorf("%w: %s is a %s %s, not a ConstraintTemplate", ErrSuite, p, doc.APIVersion, doc.Kind)
	}
	// As gator (and the API server, which prunes them): fields a
	// ConstraintTemplate does not have are ignored.
	var ct gk.ConstraintTemplate
	if _, err := doc.DecodeLenient(&ct); err != nil {
		return nil, err
	}
	return constraints.CompileTemplate(&ct, r.Options)
}

// object reads the one object of a file.
func (r *Runner) object(p string) (*manifest.Document, error) {
	docs, err := r.objects(p)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("%w: %s defines %d objects, want 1", ErrSuite, p, len(docs))
	}
	return &docs[0], nil
}

// objects reads the objects of a file the suite names. They are read as
// gator reads them, not as kubectl does: YAML 1.2 (a label "yes" is the
// string "yes", not true), a List as one object, an object without
// apiVersion as it is.
func (r *Runner) objects(p string) ([]manifest.Document, error) {
	b, err := fs.ReadFile(r.FS, p)
	if err != nil {
		return nil, err
	}
	var docs []manifest.Document
	dec := yamlv3.NewDecoder(bytes.NewReader(b))
	for {
		var n yamlv3.Node
		if err := dec.Decode(&n); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrSuite, p, err)
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %v", ErrSuite, p, n.Line, err)
		}
		if v == nil {
			continue // an empty document
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: %s:%d: not a YAML object", ErrSuite, p, n.Line)
		}
		js, err := json.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %v", ErrSuite, p, n.Line, err)
		}
		d := manifest.Document{Source: p, Line: n.Line, Item: -1, JSON: js}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		// Fields of the wrong type are left for the reviews to refuse.
		_ = json.Unmarshal(js, &head)
		d.APIVersion, d.Kind, d.Name, d.Namespace = head.APIVersion, head.Kind, head.Metadata.Name, head.Metadata.Namespace
		docs = append(docs, d)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%w: %s defines no objects", ErrSuite, p)
	}
	return docs, nil
}

func (r *Runner) runCase(ctx context.Context, dir string, t *constraints.Template, c *constraints.Constraint, k *gk.Case) error {
	if k.Object == "" {
		return fmt.Errorf("%w: must define object", ErrSuite)
	}
	if len(k.Assertions) == 0 {
		return fmt.Errorf("%w: assertions must be non-empty", ErrSuite)
	}
	doc, err := r.object(path.Join(dir, k.Object))
	if err != nil {
		return err
	}
	review, err := reviewOf(doc)
	if err != nil {
		return err
	}
	inv := constraints.Inventory{}
	for _, p := range k.Inventory {
		docs, err := r.objects(path.Join(dir, p))
		if err != nil {
			return err
		}
		for i := range docs {
			var obj map[string]any
			if err := json.Unmarshal(docs[i].JSON, &obj); err != nil {
				return fmt.Errorf("%s: %v", docs[i].Position(), err)
			}
			if err := inv.Add(obj); err != nil {
				return fmt.Errorf("%s: %v", docs[i].Position(), err)
			}
		}
	}
	set, err := constraints.NewSet(ctx, []*constraints.Template{t}, []*constraints.Constraint{c}, inv)
	if err != nil {
		return err
	}
	results := set.Review(ctx, review, constraints.PointGator)
	for i := range k.Assertions {
		if err := check(&k.Assertions[i], results); err != nil {
			return err
		}
	}
	return nil
}

// reviewOf makes the review of a case's object: an AdmissionReview's
// request as it is, any other object as gator wraps it.
func reviewOf(doc *manifest.Document) (*constraints.Review, error) {
	if doc.Kind != "AdmissionReview" || doc.Group() != admissionv1.GroupName {
		return constraints.ReviewObject(doc.JSON)
	}
	var ar admissionv1.AdmissionReview
	if err := doc.Decode(&ar); err != nil {
		return nil, fmt.Errorf("%w: unable to convert to an AdmissionReview object: %v", ErrSuite, err)
	}
	if ar.Request == nil {
		return nil, fmt.Errorf("%w: %s: the AdmissionReview has no request", ErrSuite, doc.Position())
	}
	if ar.Request.Object.Raw == nil && ar.Request.OldObject.Raw == nil {
		return nil, fmt.Errorf("%w: %s: the AdmissionRequest has no object or oldObject to review", ErrSuite, doc.Position())
	}
	// As gator: the object and the old object must be Kubernetes objects,
	// with a kind.
	for _, o := range []struct {
		what string
		raw  []byte
	}{{"object", ar.Request.Object.Raw}, {"oldObject", ar.Request.OldObject.Raw}} {
		if o.raw == nil {
			continue
		}
		if err := new(unstructured.Unstructured).UnmarshalJSON(o.raw); err != nil {
			return nil, fmt.Errorf("%w: %s: the request's %s cannot be unmarshalled: %v", ErrSuite, doc.Position(), o.what, err)
		}
	}
	// Gatekeeper's target reviews a DELETE's old object as its object (the
	// API server sends none), and refuses a DELETE without an old object.
	if ar.Request.Operation == admissionv1.Delete {
		if ar.Request.OldObject.Raw == nil {
			return nil, fmt.Errorf("%w: %s: oldObject cannot be nil for DELETE operations", ErrSuite, doc.Position())
		}
		ar.Request.Object = ar.Request.OldObject
	}
	return &constraints.Review{Request: ar.Request}, nil
}

// check runs an assertion as gator does: count the results whose message
// the assertion's regexp matches (all without one), and compare.
func check(a *gk.Assertion, results []constraints.Result) error {
	var re *regexp.Regexp
	if a.Message != nil {
		var err error
		if re, err = regexp.Compile(*a.Message); err != nil {
			return fmt.Errorf("%w: message %q: %v", ErrSuite, *a.Message, err)
		}
	}
	matching := 0
	var msgs []string
	for _, res := range results {
		msgs = append(msgs, res.Msg)
		if re == nil || re.MatchString(res.Msg) {
			matching++
		}
	}
	want := intstr.FromString("yes")
	if a.Violations != nil {
		want = *a.Violations
	}
	containing := ""
	if a.Message != nil {
		containing = fmt.Sprintf(" containing %q", *a.Message)
	}
	var err error
	switch {
	case want.Type == intstr.Int && want.IntVal < 0, want.Type == intstr.String && want.StrVal != "yes" && want.StrVal != "no":
		return fmt.Errorf(`%w: assertion.violations must be a nonnegative integer, "yes" or "no"`, ErrSuite)
	case want.Type == intstr.Int && int(want.IntVal) != matching:
		err = fmt.Errorf("got %d violations%s but want exactly %d", matching, containing, want.IntVal)
	case want.Type == intstr.String && want.StrVal == "yes" && matching == 0:
		err = fmt.Errorf("got %d violations%s but want at least 1", matching, containing)
	case want.Type == intstr.String && want.StrVal == "no" && matching > 0:
		err = fmt.Errorf("got %d violations%s but want none", matching, containing)
	}
	if err != nil {
		return fmt.Errorf("unexpected number of violations: %w: got messages %q", err, msgs)
	}
	return nil
}
