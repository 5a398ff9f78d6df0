package constraints

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	gk "github.com/kguard/kguard/pkg/apis/gatekeeper"
)

// TestReviewParallel: a review whose evaluations run on several goroutines
// finds what it finds on one, in the same order — the library's
// pod-security-policy templates (CEL first where they carry it, and Rego
// only), every sample constraint, every sample object.
func TestReviewParallel(t *testing.T) {
	ctx := context.Background()
	dirs, err := filepath.Glob(filepath.Join(libraryDir, "pod-security-policy", "*", "template.yaml"))
	if err != nil || len(dirs) < 10 {
		t.Fatalf("library: %d policies, %v", len(dirs), err)
	}
	for i, d := range dirs {
		dirs[i], _ = filepath.Rel(libraryDir, filepath.Dir(d))
	}
	for _, opts := range []Options{{}, {NoCEL: true}} {
		var templates []*Template
		var cs []*Constraint
		var reviews []*Review
		for _, dir := range dirs {
			var ct gk.ConstraintTemplate
			if err := json.Unmarshal(libraryJSON(t, filepath.Join(dir, "template.yaml")), &ct); err != nil {
				t.Fatal(err)
			}
			tmpl, err := CompileTemplate(&ct, opts)
			if err != nil {
				t.Fatalf("%s: %v", dir, err)
			}
			templates = append(templates, tmpl)
			samples, _ := filepath.Glob(filepath.Join(libraryDir, dir, "samples", "*"))
			for i, sample := range samples {
				sample, _ = filepath.Rel(libraryDir, sample)
				raw := libraryJSON(t, filepath.Join(sample, "constraint.yaml"))
				// Samples of one template may share a name.
				raw = []byte(strings.Replace(string(raw), `"name":"`, fmt.Sprintf(`"name":"s%d-`, i), 1))
				c, err := LoadConstraint(tmpl, raw)
				if err != nil {
					t.Fatalf("%s: %v", sample, err)
				}
				cs = append(cs, c)
				objs, _ := filepath.Glob(filepath.Join(libraryDir, sample, "*.yaml"))
				for _, o := range objs {
					if filepath.Base(o) != "constraint.yaml" {
						doc, err := os.ReadFile(o)
						if err != nil {
							t.Fatal(err)
						}
						reviews = append(reviews, celLibraryReview(t, doc))
					}
				}
			}
		}
		s, err := NewSet(ctx, templates, cs, nil)
		if err != nil {
			t.Fatal(err)
		}
		review := func(r *Review, procs int) []Result {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			// A fresh Review each time: it keeps what it decoded.
			return s.Review(ctx, &Review{Request: r.Request, Namespace: r.Namespace}, PointGator)
		}
		violations := 0
		for i, r := range reviews {
			one := review(r, 1)
			for _, procs := range []int{4} {
				if several := review(r, procs); !reflect.DeepEqual(one, several) {
					t.Errorf("NoCEL %v, review %d (%s): on %d goroutines\n%v\nwant (one)\n%v", opts.NoCEL, i, r.Request.Name, procs, several, one)
				}
			}
			violations += len(one)
		}
		if violations < len(dirs) {
			t.Errorf("NoCEL %v: only %d violations over %d reviews: the test checks little", opts.NoCEL, violations, len(reviews))
		}
	}
}

// panicEngine panics evaluating a constraint named boom; any other
// constraint gets its name as its violation.
type panicEngine struct{}

func (panicEngine) name() string                          { return "Test" }
func (panicEngine) bind(*Constraint, []byte) (any, error) { return nil, nil }
func (panicEngine) shareKey(any) any                      { return nil }
func (panicEngine) violations(_ context.Context, _ *pass, _ *Review, c *Constraint, _ any) ([]Violation, error) {
	if c.Name == "boom" {
		panic("boom")
	}
	return []Violation{{Msg: c.Name}}, nil
}

// TestReviewPanic: a panic in an evaluation reaches the review's caller
// (the server turns it into a failed review) whether the evaluations ran
// on its goroutine or on several, never a goroutine of their own, which
// would end the process.
func TestReviewPanic(t *testing.T) {
	ctx := context.Background()
	tmpl := &Template{Name: "ktest", Kind: "KTest", code: panicEngine{}}
	var cs []*Constraint
	for _, name := range []string{"a", "b", "boom", "c", "d", "e", "f", "g"} {
		cs = append(cs, &Constraint{Kind: "KTest", Name: name, Template: tmpl, Action: ActionDeny})
	}
	s, err := NewSet(ctx, []*Template{tmpl}, cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := &admissionv1.AdmissionRequest{Operation: admissionv1.Create}
	req.Object.Raw = []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`)
	// Several times on 4 goroutines: the panicking evaluation lands on a
	// helper goroutine in most of them.
	for _, procs := range []int{1, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			defer func() {
				p := recover()
				if p == nil || !strings.Contains(fmt.Sprint(p), "boom") {
					t.Errorf("%d goroutines: recovered %v, want the evaluation's panic", procs, p)
				}
			}()
			s.Review(ctx, &Review{Request: req}, PointWebhook)
		}()
	}
	// Without the panicking constraint the same set reviews normally.
	s, err = NewSet(ctx, []*Template{tmpl}, append(cs[:2:2], cs[3:]...), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.Review(ctx, &Review{Request: req}, PointWebhook)); got != 7 {
		t.Errorf("%d results, want 7", got)
	}
}
