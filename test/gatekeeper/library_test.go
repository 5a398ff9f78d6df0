// Package gatekeeper compares kguard's constraints engine with Gatekeeper
// itself: the frameworks constraint client with Gatekeeper's
// K8sValidationTarget and Rego driver, built as gator and the webhook build
// it. A separate module so that kguard never depends on Gatekeeper.
package gatekeeper

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	constraintclient "github.com/open-policy-agent/frameworks/constraint/pkg/client"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/drivers/rego"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/reviews"
	"github.com/open-policy-agent/frameworks/constraint/pkg/core/templates"
	gkapis "github.com/open-policy-agent/gatekeeper/v3/apis"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/target"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/kguard/kguard/internal/constraints"
	gk "github.com/kguard/kguard/pkg/apis/gatekeeper"
)

// libraryDir is the gatekeeper-library kguard vendors as test data.
const libraryDir = "../../internal/constraints/testdata/gatekeeper-library/library"

// policy is a ConstraintTemplate and constraints of its kind, as JSON.
type policy struct {
	dir         string // relative to libraryDir
	template    []byte
	constraints [][]byte
}

// generalTemplates are the library's general templates the differential
// test adds to the pod-security-policy ones: those that judge pods.
var generalTemplates = []string{"requiredlabels", "containerlimits", "allowedrepos", "disallowedtags"}

// libraryPolicies reads the pod-security-policy templates and the general
// ones above, each with the constraints of its samples.
func libraryPolicies(tb testing.TB, general bool) []policy {
	tb.Helper()
	dirs, err := filepath.Glob(filepath.Join(libraryDir, "pod-security-policy", "*", "template.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	if general {
		for _, g := range generalTemplates {
			dirs = append(dirs, filepath.Join(libraryDir, "general", g))
		}
	}
	if len(dirs) < 10 {
		tb.Fatalf("only %d templates under %s", len(dirs), libraryDir)
	}
	var out []policy
	for _, d := range dirs {
		rel, _ := filepath.Rel(libraryDir, d)
		p := policy{dir: rel, template: readJSON(tb, filepath.Join(d, "template.yaml"))}
		samples, err := filepath.Glob(filepath.Join(d, "samples", "*", "constraint.yaml"))
		if err != nil {
			tb.Fatal(err)
		}
		names := map[string]bool{}
		for _, s := range samples {
			c := readJSON(tb, s)
			// Some samples of a template share a name: keep them all, as
			// distinct constraints named after their sample.
			if name := constraintName(tb, c); names[name] {
				c = withName(tb, c, name+"-"+filepath.Base(filepath.Dir(s)))
			}
			names[constraintName(tb, c)] = true
			p.constraints = append(p.constraints, c)
		}
		if len(p.constraints) == 0 {
			tb.Fatalf("%s: no sample constraints", rel)
		}
		out = append(out, p)
	}
	return out
}

func readJSON(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return j
}

func constraintName(tb testing.TB, raw []byte) string {
	tb.Helper()
	var c struct {
		Metadata struct{ Name string } `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.Metadata.Name == "" {
		tb.Fatalf("a constraint without a name: %v\n%s", err, raw)
	}
	return c.Metadata.Name
}

// withName returns the constraint renamed.
func withName(tb testing.TB, raw []byte, name string) []byte {
	tb.Helper()
	return editConstraint(tb, raw, func(c map[string]any) {
		c["metadata"].(map[string]any)["name"] = name
	})
}

func editConstraint(tb testing.TB, raw []byte, edit func(map[string]any)) []byte {
	tb.Helper()
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		tb.Fatal(err)
	}
	edit(c)
	b, err := json.Marshal(c)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// kguardSet compiles the policies with kguard.
func kguardSet(tb testing.TB, policies []policy, opts constraints.Options) *constraints.Set {
	tb.Helper()
	var ts []*constraints.Template
	var cs []*constraints.Constraint
	for _, p := range policies {
		var ct gk.ConstraintTemplate
		if err := json.Unmarshal(p.template, &ct); err != nil {
			tb.Fatalf("%s: %v", p.dir, err)
		}
		t, err := constraints.CompileTemplate(&ct, opts)
		if err != nil {
			tb.Fatalf("%s: kguard: %v", p.dir, err)
		}
		ts = append(ts, t)
		for _, raw := range p.constraints {
			c, err := constraints.LoadConstraint(t, raw)
			if err != nil {
				tb.Fatalf("%s: kguard: %v", p.dir, err)
			}
			cs = append(cs, c)
		}
	}
	s, err := constraints.NewSet(context.Background(), ts, cs, nil)
	if err != nil {
		tb.Fatalf("kguard: %v", err)
	}
	return s
}

// gatekeeperClient loads the policies into Gatekeeper's client built as
// gator's NewOPAClient builds it (K8sValidationTarget, the Rego driver) for
// one enforcement point.
func gatekeeperClient(tb testing.TB, policies []policy, point string) *constraintclient.Client {
	tb.Helper()
	scheme := gatekeeperScheme(tb)
	c := newGatekeeperClient(tb, point)
	ctx := context.Background()
	for _, p := range policies {
		tmpl, err := gatekeeperTemplate(scheme, p.template)
		if err != nil {
			tb.Fatalf("%s: %v", p.dir, err)
		}
		if _, err := c.AddTemplate(ctx, tmpl); err != nil {
			tb.Fatalf("%s: Gatekeeper: %v", p.dir, err)
		}
		for _, raw := range p.constraints {
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(raw); err != nil {
				tb.Fatalf("%s: %v", p.dir, err)
			}
			if _, err := c.AddConstraint(ctx, u); err != nil {
				tb.Fatalf("%s: Gatekeeper: %v", p.dir, err)
			}
		}
	}
	return c
}

// newGatekeeperClient is an empty client as gator's NewOPAClient builds it
// (K8sValidationTarget, the Rego driver) for the enforcement points.
func newGatekeeperClient(tb testing.TB, points ...string) *constraintclient.Client {
	tb.Helper()
	driver, err := rego.New(rego.Tracing(false))
	if err != nil {
		tb.Fatal(err)
	}
	c, err := constraintclient.NewClient(constraintclient.Targets(&target.K8sValidationTarget{}),
		constraintclient.Driver(driver), constraintclient.EnforcementPoints(points...))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// gatekeeperScheme knows Gatekeeper's API types (gatekeeperTemplate's).
func gatekeeperScheme(tb testing.TB) *runtime.Scheme {
	tb.Helper()
	scheme := runtime.NewScheme()
	if err := gkapis.AddToScheme(scheme); err != nil {
		tb.Fatal(err)
	}
	return scheme
}

// gatekeeperTemplate decodes a ConstraintTemplate as gator's
// reader.ToTemplate does: into the versioned type Gatekeeper's scheme knows,
// then to the versionless one. (gator's reader package itself imports the
// k8scel driver, which does not build here.)
func gatekeeperTemplate(scheme *runtime.Scheme, raw []byte) (*templates.ConstraintTemplate, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	obj, err := scheme.New(u.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, err
	}
	v, ok := obj.(interface {
		ToVersionless() (*templates.ConstraintTemplate, error)
	})
	if !ok {
		return nil, fmt.Errorf("%T is not a versioned ConstraintTemplate", obj)
	}
	return v.ToVersionless()
}

// violation is what the two engines must agree on.
type violation struct{ constraint, msg string }

func (v violation) String() string { return fmt.Sprintf("%s: %q", v.constraint, v.msg) }

func kguardViolations(ctx context.Context, s *constraints.Set, r *constraints.Review, point string) []violation {
	var out []violation
	for _, res := range s.Review(ctx, r, point) {
		out = append(out, violation{res.Constraint.Kind + "/" + res.Constraint.Name, res.Msg})
	}
	return sortViolations(out)
}

func gatekeeperViolations(ctx context.Context, c *constraintclient.Client, obj any, point string) ([]violation, error) {
	resp, err := c.Review(ctx, obj, reviews.EnforcementPoint(point))
	if err != nil {
		return nil, err
	}
	var out []violation
	for _, res := range resp.Results() {
		out = append(out, violation{res.Constraint.GetKind() + "/" + res.Constraint.GetName(), res.Msg})
	}
	return sortViolations(out), nil
}

func sortViolations(vs []violation) []violation {
	slices.SortFunc(vs, func(a, b violation) int {
		if c := strings.Compare(a.constraint, b.constraint); c != 0 {
			return c
		}
		return strings.Compare(a.msg, b.msg)
	})
	return vs
}

// diffViolations lists what only one side reports (multisets).
func diffViolations(kg, gk []violation) (onlyKguard, onlyGatekeeper []violation) {
	count := map[violation]int{}
	for _, v := range gk {
		count[v]++
	}
	for _, v := range kg {
		if count[v] > 0 {
			count[v]--
			continue
		}
		onlyKguard = append(onlyKguard, v)
	}
	for _, v := range gk {
		if count[v] > 0 {
			count[v]--
			onlyGatekeeper = append(onlyGatekeeper, v)
		}
	}
	return onlyKguard, onlyGatekeeper
}
