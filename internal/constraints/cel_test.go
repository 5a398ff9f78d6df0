package constraints

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/cel-go/common/types"
	"google.golang.org/protobuf/types/known/structpb"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/cel/common"
	"k8s.io/apiserver/pkg/cel/environment"
	"sigs.k8s.io/yaml"

	gk "github.com/kguard/kguard/pkg/apis/gatekeeper"
)

// celCase is an object reviewed by a library template's constraint, with
// the messages Gatekeeper's CEL driver gives (nil: admitted) and how many
// violations the template's Rego gives.
type celCase struct {
	name, template, constraint, object string
	want                               []string
	regoCount                          int
}

var celLibraryCases = []celCase{
	{name: "requiredlabels allowed", template: "requiredlabels", constraint: "all-must-have-owner/constraint.yaml", object: "all-must-have-owner/example_allowed.yaml"},
	{name: "requiredlabels missing label", template: "requiredlabels", constraint: "all-must-have-owner/constraint.yaml", object: "all-must-have-owner/example_disallowed.yaml",
		// Both validations fail: the first says it with its
		// messageExpression, the second with its message. The Rego has
		// one violation, the parameters' message.
		want: []string{"missing required label, requires all of: owner", "regex mismatch"}, regoCount: 1},
	{name: "requiredlabels label value", template: "requiredlabels", constraint: "all-must-have-owner/constraint.yaml", object: "all-must-have-owner/example_disallowed_label_value.yaml",
		want: []string{"regex mismatch"}, regoCount: 1},
	{name: "requiredlabels key present", template: "requiredlabels", constraint: "verify-label-key-only/constraint.yaml", object: "verify-label-key-only/example_allowed.yaml"},
	{name: "requiredlabels key missing", template: "requiredlabels", constraint: "verify-label-key-only/constraint.yaml", object: "verify-label-key-only/example_disallowed.yaml",
		want: []string{"missing required label, requires all of: pizza", "regex mismatch"}, regoCount: 1},

	// The constraint has no parameters: variables.params is null.
	{name: "hostnamespaces allowed", template: "hostnamespaces", constraint: "psp-host-namespace/constraint.yaml", object: "psp-host-namespace/example_allowed.yaml"},
	{name: "hostnamespaces disallowed", template: "hostnamespaces", constraint: "psp-host-namespace/constraint.yaml", object: "psp-host-namespace/example_disallowed.yaml",
		want: []string{"Sharing the host namespace is not allowed: nginx-host-namespace-disallowed"}, regoCount: 1},
	{name: "hostnamespaces update", template: "hostnamespaces", constraint: "psp-host-namespace/constraint.yaml", object: "psp-host-namespace/update.yaml"},

	{name: "privileged allowed", template: "privileged", constraint: "psp-privileged-container/constraint.yaml", object: "psp-privileged-container/example_allowed.yaml"},
	{name: "privileged disallowed", template: "privileged", constraint: "psp-privileged-container/constraint.yaml", object: "psp-privileged-container/example_disallowed.yaml",
		// One validation joins the containers; the Rego has one
		// violation per container.
		want:      []string{"Privileged container is not allowed: nginx, securityContext.privileged: true, Privileged container is not allowed: nginx-init, securityContext.privileged: true"},
		regoCount: 2},
	{name: "privileged ephemeral", template: "privileged", constraint: "psp-privileged-container/constraint.yaml", object: "psp-privileged-container/disallowed_ephemeral.yaml",
		want: []string{"Privileged container is not allowed: nginx, securityContext.privileged: true"}, regoCount: 1},
	{name: "privileged exempt image", template: "privileged", constraint: "psp-privileged-container/constraint.yaml", object: "psp-privileged-container/example_allowed_exempt.yaml"},
	{name: "privileged update", template: "privileged", constraint: "psp-privileged-container/constraint.yaml", object: "psp-privileged-container/update.yaml"},

	{name: "readonlyrootfs disallowed", template: "readonlyrootfs", constraint: "psp-readonlyrootfilesystem/constraint.yaml", object: "psp-readonlyrootfilesystem/example_disallowed.yaml",
		want: []string{"only read-only root filesystem container is allowed: nginx"}, regoCount: 1},
	{name: "readonlyrootfs allowed", template: "readonlyrootfs", constraint: "psp-readonlyrootfilesystem/constraint.yaml", object: "psp-readonlyrootfilesystem/example_allowed.yaml"},
	{name: "readonlyrootfs ephemeral", template: "readonlyrootfs", constraint: "psp-readonlyrootfilesystem/constraint.yaml", object: "psp-readonlyrootfilesystem/disallowed_ephemeral.yaml",
		want: []string{"only read-only root filesystem container is allowed: nginx"}, regoCount: 1},
	{name: "readonlyrootfs update", template: "readonlyrootfs", constraint: "psp-readonlyrootfilesystem/constraint.yaml", object: "psp-readonlyrootfilesystem/update.yaml"},
	{name: "readonlyrootfs exact exemption", template: "readonlyrootfs", constraint: "psp-readonlyrootfilesystem/constraint.yaml", object: "psp-readonlyrootfilesystem/example_allowed_exempted.yaml"},
	{name: "readonlyrootfs full wildcard", template: "readonlyrootfs", constraint: "full_wildcard/constraint.yaml", object: "psp-readonlyrootfilesystem/example_disallowed.yaml"},
	{name: "readonlyrootfs exempt prefix", template: "readonlyrootfs", constraint: "wildcard-prefix/constraint.yaml", object: "wildcard-prefix/example_allowed_safe_prefix.yaml"},
	{name: "readonlyrootfs other prefix", template: "readonlyrootfs", constraint: "wildcard-prefix/constraint.yaml", object: "wildcard-prefix/example_disallowed_unsafe_prefix.yaml",
		want: []string{"only read-only root filesystem container is allowed: nginx"}, regoCount: 1},
}

func TestCELLibrary(t *testing.T) {
	for _, tc := range celLibraryCases {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := celCompile(t, celLibraryFile(t, tc.template, "template.yaml"), Options{})
			if tmpl.Engine != gk.EngineCEL {
				t.Fatalf("engine %q, want %q", tmpl.Engine, gk.EngineCEL)
			}
			c := celConstraint(t, tmpl, celLibraryFile(t, tc.template, tc.constraint))
			got := celMessages(t, tmpl, c, celLibraryReview(t, celLibraryFile(t, tc.template, tc.object)))
			if !celEqual(got, tc.want) {
				t.Errorf("messages:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestCELNoCEL runs the same templates' Rego: it finds violations in the
// same objects, as many as the CEL finds except where the library's two
// codes count differently (regoCount).
func TestCELNoCEL(t *testing.T) {
	for _, tc := range celLibraryCases {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := celCompile(t, celLibraryFile(t, tc.template, "template.yaml"), Options{NoCEL: true})
			if tmpl.Engine != gk.EngineRego {
				t.Fatalf("engine %q, want %q", tmpl.Engine, gk.EngineRego)
			}
			c := celConstraint(t, tmpl, celLibraryFile(t, tc.template, tc.constraint))
			got := celMessages(t, tmpl, c, celLibraryReview(t, celLibraryFile(t, tc.template, tc.object)))
			if len(got) != tc.regoCount {
				t.Errorf("Rego gives %d violations %q, want %d", len(got), got, tc.regoCount)
			}
			if (len(got) > 0) != (len(tc.want) > 0) {
				t.Errorf("Rego violations %q, CEL %q: the engines disagree", got, tc.want)
			}
		})
	}
}

// An UPDATE is exempt in the PSP templates; the same object created is not.
func TestCELOperation(t *testing.T) {
	tmpl := celCompile(t, celLibraryFile(t, "hostnamespaces", "template.yaml"), Options{})
	c := celConstraint(t, tmpl, celLibraryFile(t, "hostnamespaces", "psp-host-namespace/constraint.yaml"))
	r := celLibraryReview(t, celLibraryFile(t, "hostnamespaces", "psp-host-namespace/update.yaml"))
	if got := celMessages(t, tmpl, c, r); len(got) != 0 {
		t.Errorf("UPDATE: %q, want none", got)
	}
	r = celLibraryReview(t, celLibraryFile(t, "hostnamespaces", "psp-host-namespace/update.yaml"))
	r.Request.Operation = admissionv1.Create
	want := []string{"Sharing the host namespace is not allowed: nginx-host-namespace-disallowed"}
	if got := celMessages(t, tmpl, c, r); !celEqual(got, want) {
		t.Errorf("CREATE: %q, want %q", got, want)
	}
}

func TestCELCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, source, want string
	}{
		{"syntax", `{"validations": [{"expression": "object.spec.containers.all(c, c.)"}]}`, "validations[0].expression: compilation failed: ERROR"},
		{"undeclared", `{"validations": [{"expression": "variables.missing == 1"}]}`, "validations[0].expression: compilation failed"},
		{"not a bool", `{"validations": [{"expression": "1 + 1"}]}`, "validations[0].expression: must evaluate to bool but got int"},
		{"params outside variables", `{"validations": [{"expression": "params.spec == null"}]}`, "undeclared reference to 'params'"},
		{"message not a string", `{"validations": [{"expression": "true", "messageExpression": "1"}]}`, "validations[0].messageExpression: must evaluate to string but got int"},
		{"variable", `{"variables": [{"name": "x", "expression": "object.("}], "validations": [{"expression": "true"}]}`, "variables[0] (x).expression: compilation failed"},
		{"match condition", `{"matchCondition": [{"name": "m", "expression": "'a'"}], "validations": [{"expression": "true"}]}`, "matchCondition[0] (m).expression: must evaluate to bool but got string"},
		{"reserved variable", `{"variables": [{"name": "params", "expression": "1"}]}`, `variables[0].name: "params" is reserved`},
		{"reserved prefix", `{"variables": [{"name": "gatekeeper_internal_x", "expression": "1"}]}`, `the prefix "gatekeeper_internal_" is reserved`},
		{"failure policy", `{"failurePolicy": "Maybe", "validations": [{"expression": "true"}]}`, `failurePolicy: unrecognized failure policy "Maybe"`},
		{"not an object", `["true"]`, "must be an object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileTemplate(celInlineTemplate(tc.source), Options{})
			if !errors.Is(err, ErrCompile) {
				t.Fatalf("error %v, want one matching ErrCompile", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "spec.targets[0].code[0].source") {
				t.Errorf("error %q, want it to name the source and say %q", err, tc.want)
			}
		})
	}
}

// TestCELSemantics covers the validator's rules with inline sources, on a
// Pod named "p" in namespace "ns" with one container "c".
func TestCELSemantics(t *testing.T) {
	pod := `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "a"}},
		"spec": {"containers": [{"name": "c", "image": "nginx"}]}}`
	for _, tc := range []struct {
		name, source, params string
		review               func(t *testing.T) *Review
		want                 []string
	}{
		{name: "message from the expression",
			source: `{"validations": [{"expression": "  object.metadata.name == 'q'  "}]}`,
			want:   []string{"failed expression: object.metadata.name == 'q'"}},
		{name: "message trimmed",
			source: `{"validations": [{"expression": "false", "message": "  no  "}]}`,
			want:   []string{"no"}},
		{name: "messageExpression wins",
			source: `{"validations": [{"expression": "false", "message": "static", "messageExpression": "'name ' + object.metadata.name"}]}`,
			want:   []string{"name p"}},
		{name: "empty messageExpression falls back",
			source: `{"validations": [{"expression": "false", "message": "static", "messageExpression": "'  '"}]}`,
			want:   []string{"static"}},
		{name: "multi-line messageExpression falls back",
			source: `{"validations": [{"expression": "false", "message": "static", "messageExpression": "'a\\nb'"}]}`,
			want:   []string{"static"}},
		{name: "erring messageExpression falls back",
			source: `{"validations": [{"expression": "false", "messageExpression": "string(object.spec.missing)"}]}`,
			want:   []string{"failed expression: false"}},
		{name: "one violation per failing validation, in order",
			source: `{"validations": [{"expression": "false", "message": "1"}, {"expression": "true", "message": "2"}, {"expression": "false", "message": "3"}]}`,
			want:   []string{"1", "3"}},
		{name: "runtime error fails closed",
			source: `{"validations": [{"expression": "object.spec.missing == 1", "message": "m"}]}`,
			want:   []string{"expression 'object.spec.missing == 1' resulted in error: no such key: missing"}},
		{name: "runtime error in a variable",
			source: `{"variables": [{"name": "v", "expression": "object.spec.missing"}], "validations": [{"expression": "variables.v == 1"}]}`,
			want:   []string{`expression 'variables.v == 1' resulted in error: composited variable "v" fails to evaluate: no such key: missing`}},
		{name: "runtime error ignored by failurePolicy Ignore",
			source: `{"failurePolicy": "Ignore", "validations": [{"expression": "object.spec.missing == 1"}, {"expression": "false", "message": "still denied"}]}`,
			want:   []string{"still denied"}},
		{name: "false matchCondition: no violation",
			source: `{"matchCondition": [{"name": "m", "expression": "object.metadata.name == 'q'"}], "validations": [{"expression": "false"}]}`},
		{name: "true matchConditions: validations run",
			source: `{"matchCondition": [{"name": "m", "expression": "object.metadata.name == 'p'"}, {"name": "v", "expression": "variables.anyObject.kind == 'Pod'"}], "validations": [{"expression": "false"}]}`,
			want:   []string{"failed expression: false"}},
		{name: "erring matchCondition fails closed",
			source: `{"matchCondition": [{"name": "m", "expression": "object.spec.missing == 1"}], "validations": [{"expression": "true"}]}`,
			want:   []string{"expression 'object.spec.missing == 1' resulted in error: no such key: missing"}},
		{name: "a false matchCondition wins over an erring one",
			source: `{"matchCondition": [{"name": "e", "expression": "object.spec.missing == 1"}, {"name": "f", "expression": "false"}], "validations": [{"expression": "false"}]}`},
		{name: "erring matchCondition ignored by failurePolicy Ignore",
			source: `{"failurePolicy": "Ignore", "matchCondition": [{"name": "m", "expression": "object.spec.missing == 1"}], "validations": [{"expression": "false"}]}`},
		{name: "matchConditions is not Gatekeeper's field",
			source: `{"matchConditions": [{"name": "m", "expression": "false"}], "validations": [{"expression": "false"}]}`,
			want:   []string{"failed expression: false"}},
		{name: "variables.params is spec.parameters",
			source: `{"validations": [{"expression": "variables.params.n != 1", "messageExpression": "'n is ' + string(variables.params.n)"}]}`,
			params: `{"n": 1}`, want: []string{"n is 1"}},
		{name: "variables.params is null without parameters",
			source: `{"validations": [{"expression": "variables.params != null", "message": "null"}]}`,
			want:   []string{"null"}},
		{name: "params is the constraint, in variables",
			source: `{"variables": [{"name": "c", "expression": "params.kind + '/' + params.metadata.name + ' ' + params.spec.enforcementAction + ' ' + params.spec.match.kinds[0].kinds[0]"}], "validations": [{"expression": "false", "messageExpression": "variables.c"}]}`,
			want:   []string{"K8sCELTest/test deny Pod"}},
		{name: "request",
			source: `{"validations": [{"expression": "false", "messageExpression": "request.kind.kind + ' ' + request.name + ' ' + request.namespace + ' ' + request.operation + ' ' + request.userInfo.username"}]}`,
			review: func(t *testing.T) *Review {
				return &Review{Request: &admissionv1.AdmissionRequest{
					Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Name: "p", Namespace: "ns",
					Operation: admissionv1.Create, UserInfo: celUser("alice"), Object: celRaw(pod)}}
			},
			want: []string{"Pod p ns CREATE alice"}},
		{name: "DELETE: object is null, anyObject the old object",
			source: `{"validations": [{"expression": "object != null", "messageExpression": "'deleting ' + variables.anyObject.metadata.name + ' ' + oldObject.metadata.name"}]}`,
			review: func(t *testing.T) *Review {
				// Gatekeeper's webhook sets object to oldObject on DELETE.
				return &Review{Request: &admissionv1.AdmissionRequest{
					Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Name: "p", Namespace: "ns",
					Operation: admissionv1.Delete, Object: celRaw(pod), OldObject: celRaw(pod)}}
			},
			want: []string{"deleting p p"}},
		{name: "UPDATE: oldObject",
			source: `{"validations": [{"expression": "object.metadata.labels.app == oldObject.metadata.labels.app", "message": "app changed"}]}`,
			review: func(t *testing.T) *Review {
				return &Review{Request: &admissionv1.AdmissionRequest{
					Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Name: "p", Namespace: "ns",
					Operation: admissionv1.Update, Object: celRaw(pod), OldObject: celRaw(strings.Replace(pod, `"app": "a"`, `"app": "b"`, 1))}}
			},
			want: []string{"app changed"}},
		{name: "namespaceObject",
			source: `{"validations": [{"expression": "namespaceObject == null || !('team' in namespaceObject.metadata.labels)", "messageExpression": "'team ' + namespaceObject.metadata.labels.team"}]}`,
			review: func(t *testing.T) *Review {
				r := celReviewObject(t, pod)
				r.Namespace = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", Labels: map[string]string{"team": "x"}}}
				return r
			},
			want: []string{"team x"}},
		{name: "namespaceObject is null when unknown",
			source: `{"validations": [{"expression": "namespaceObject != null", "message": "no namespace"}]}`,
			want:   []string{"no namespace"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := celCompile(t, celInlineTemplate(tc.source), Options{})
			constraint := `{"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sCELTest", "metadata": {"name": "test"},
				"spec": {"match": {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}`
			if tc.params != "" {
				constraint += `, "parameters": ` + tc.params
			}
			c := celConstraint(t, tmpl, []byte(constraint+"}}"))
			var r *Review
			if tc.review != nil {
				r = tc.review(t)
			} else {
				r = celReviewObject(t, pod)
			}
			if got := celMessages(t, tmpl, c, r); !celEqual(got, tc.want) {
				t.Errorf("messages:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// One review, several constraints of one CEL template: each sees its own
// parameters (the review's CEL form is shared).
func TestCELConstraintsShareReview(t *testing.T) {
	tmpl := celCompile(t, celInlineTemplate(`{"validations": [{"expression": "object.metadata.name != variables.params.name", "messageExpression": "'name ' + variables.params.name"}]}`), Options{})
	var cs []*Constraint
	for _, n := range []string{"a", "p", "q", "p2"} {
		name := strings.TrimSuffix(n, "2")
		cs = append(cs, celConstraint(t, tmpl, []byte(`{"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sCELTest", "metadata": {"name": "`+n+`"}, "spec": {"parameters": {"name": "`+name+`"}}}`)))
	}
	got := celResults(t, tmpl, cs, `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}`)
	if want := []string{"p: name p", "p2: name p"}; !celEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// celResults reviews obj against constraints of tmpl: "name: message" per violation.
func celResults(t *testing.T, tmpl *Template, cs []*Constraint, obj string) []string {
	t.Helper()
	ctx := context.Background()
	set, err := NewSet(ctx, []*Template{tmpl}, cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, res := range set.Review(ctx, celReviewObject(t, obj), PointGator) {
		got = append(got, res.Constraint.Name+": "+res.Msg)
	}
	return got
}

func celInlineTemplate(source string) *gk.ConstraintTemplate {
	t := &gk.ConstraintTemplate{}
	t.APIVersion = gk.TemplatesGroup + "/v1beta1" // a legacy schema: any parameters
	t.Name = "k8sceltest"
	t.Spec.CRD.Spec.Names.Kind = "K8sCELTest"
	t.Spec.Targets = []gk.Target{{Target: gk.TargetName, Code: []gk.Code{{Engine: gk.EngineCEL, Source: json.RawMessage(source)}}}}
	return t
}

func celCompile(t *testing.T, tmpl any, opts Options) *Template {
	t.Helper()
	var ct *gk.ConstraintTemplate
	switch v := tmpl.(type) {
	case *gk.ConstraintTemplate:
		ct = v
	case []byte:
		ct = &gk.ConstraintTemplate{}
		if err := yaml.Unmarshal(v, ct); err != nil {
			t.Fatal(err)
		}
	}
	out, err := CompileTemplate(ct, opts)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func celConstraint(t *testing.T, tmpl *Template, doc []byte) *Constraint {
	t.Helper()
	raw, err := yaml.YAMLToJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadConstraint(tmpl, raw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func celMessages(t *testing.T, tmpl *Template, c *Constraint, r *Review) []string {
	t.Helper()
	ctx := context.Background()
	set, err := NewSet(ctx, []*Template{tmpl}, []*Constraint{c}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, res := range set.Review(ctx, r, PointGator) {
		out = append(out, res.Msg)
	}
	return out
}

// celLibraryReview is the review of a library sample: an object, as
// gator reviews it, or an AdmissionReview's request (whose kind, when
// missing, is its object's).
func celLibraryReview(t *testing.T, doc []byte) *Review {
	t.Helper()
	raw, err := yaml.YAMLToJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	var ar struct {
		Kind    string                        `json:"kind"`
		Request *admissionv1.AdmissionRequest `json:"request"`
	}
	if err := json.Unmarshal(raw, &ar); err != nil {
		t.Fatal(err)
	}
	if ar.Kind != "AdmissionReview" {
		return celReviewObject(t, string(raw))
	}
	req := ar.Request
	if req.Kind.Kind == "" {
		var o unstructured.Unstructured
		if err := o.UnmarshalJSON(req.Object.Raw); err != nil {
			t.Fatal(err)
		}
		gvk := o.GroupVersionKind()
		req.Kind = metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
		req.Name, req.Namespace = o.GetName(), o.GetNamespace()
	}
	return &Review{Request: req}
}

func celReviewObject(t *testing.T, obj string) *Review {
	t.Helper()
	r, err := ReviewObject([]byte(obj))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// celLibraryDirs are the library policies of the CEL tests: four templates
// carrying both K8sNativeValidation and Rego.
var celLibraryDirs = map[string]string{
	"requiredlabels": "general/requiredlabels",
	"hostnamespaces": "pod-security-policy/host-namespaces",
	"privileged":     "pod-security-policy/privileged-containers",
	"readonlyrootfs": "pod-security-policy/read-only-root-filesystem",
}

// celLibraryFile reads a file of a library policy (testdata/gatekeeper-library):
// its template.yaml, or a file of its samples.
func celLibraryFile(t *testing.T, template, name string) []byte {
	t.Helper()
	dir, ok := celLibraryDirs[template]
	if !ok {
		t.Fatalf("no library policy %s", template)
	}
	p := filepath.Join("testdata", "gatekeeper-library", "library", dir, "samples", name)
	if name == "template.yaml" {
		p = filepath.Join("testdata", "gatekeeper-library", "library", dir, name)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func celUser(name string) authenticationv1.UserInfo { return authenticationv1.UserInfo{Username: name} }

func celRaw(s string) runtime.RawExtension { return runtime.RawExtension{Raw: []byte(s)} }

func celEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A template naming the constraint itself (params) is evaluated per
// constraint, even when their parameters are equal: however it spells the
// name (CEL's root-scoped .params, inside a macro).
func TestCELParamsPerConstraint(t *testing.T) {
	for _, me := range []string{
		"params.metadata.name",
		".params.metadata.name",
		" .params . metadata.name",
		"[1].map(x, params.metadata.name)[0]",
		"has(.params.metadata) ? .params.metadata.name : ''",
	} {
		t.Run(me, func(t *testing.T) {
			tmpl := celCompile(t, celInlineTemplate(`{"variables": [{"name": "me", "expression": "`+me+`"}],
				"validations": [{"expression": "object.metadata.name != variables.params.name", "messageExpression": "'constraint ' + variables.me"}]}`), Options{})
			var cs []*Constraint
			for _, n := range []string{"p", "p2"} {
				cs = append(cs, celConstraint(t, tmpl, []byte(`{"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sCELTest", "metadata": {"name": "`+n+`"}, "spec": {"parameters": {"name": "p"}}}`)))
			}
			got := celResults(t, tmpl, cs, `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}`)
			if want := []string{"p: constraint p", "p2: constraint p2"}; !celEqual(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// Two constraints with equal parameters, one of which the template makes
// stricter by its name (.params): the strict one's violation is not lost
// to the lax one's empty result, whichever is evaluated first.
func TestCELParamsNamedNotShared(t *testing.T) {
	tmpl := celCompile(t, celInlineTemplate(`{"variables": [{"name": "strict", "expression": ".params.metadata.name == 'strict'"}],
		"validations": [{"expression": "!variables.strict || has(object.metadata.labels)", "message": "labels required"}]}`), Options{})
	var cs []*Constraint
	for _, n := range []string{"lax", "strict"} {
		cs = append(cs, celConstraint(t, tmpl, []byte(`{"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sCELTest", "metadata": {"name": "`+n+`"}, "spec": {"parameters": {"x": 1}}}`)))
	}
	got := celResults(t, tmpl, cs, `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}`)
	if want := []string{"strict: labels required"}; !celEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// params is the constraint object as read, as Gatekeeper binds it:
// variables.params is null without spec.parameters or with a null one, the
// empty object for {} (and constraints differing only there do not share an
// evaluation); metadata is the constraint's own.
func TestCELParamsAsRead(t *testing.T) {
	tmpl := celCompile(t, celInlineTemplate(`{"variables": [{"name": "team", "expression": "has(params.metadata.labels) ? params.metadata.labels.team : '-'"}],
		"validations": [{"expression": "false", "messageExpression": "(variables.params == null ? 'null' : 'object') + ' ' + variables.team"}]}`), Options{})
	var cs []*Constraint
	for _, c := range []struct{ name, extra string }{
		{"absent", ""},
		{"empty", `, "spec": {"parameters": {}}`},
		{"null", `, "spec": {"parameters": null}`},
		{"nospec", `, "spec": {}`},
	} {
		cs = append(cs, celConstraint(t, tmpl, []byte(`{"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sCELTest",
			"metadata": {"name": "`+c.name+`", "labels": {"team": "`+c.name+`"}}`+c.extra+`}`)))
	}
	got := celResults(t, tmpl, cs, `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}`)
	if want := []string{"absent: null absent", "empty: object empty", "nospec: null nospec", "null: null null"}; !celEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Only variables.params leaves a template evaluated once per distinct
// parameters; a mention of params in a string or as a field name does not
// count, the identifier anywhere does.
func TestCELNamesParams(t *testing.T) {
	env := environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()).StoredExpressionsEnv()
	for expr, want := range map[string]bool{
		"variables.params.name == 'params'":          false,
		"object.params == 1 || object.?params == 1":  false,
		"{'params': 1}.params == 1":                  false,
		"params.metadata.name":                       true,
		".params.metadata.name":                      true,
		"has(params.spec)":                           true,
		"[1].exists(x, x == size(params.spec))":      true,
		"cel.bind(p, params, p.metadata.name) == ''": true,
		"object.(": true, // does not parse
	} {
		doc, _ := json.Marshal(map[string]any{"validations": []any{map[string]any{"expression": expr}}})
		src := &celSource{}
		if err := json.Unmarshal(doc, src); err != nil {
			t.Fatal(err)
		}
		if got := celNamesParams(env, src); got != want {
			t.Errorf("%s: names params %v, want %v", expr, got, want)
		}
	}
}

// The constraint object kguard hands the validator as params looks to CEL
// exactly as the Unstructured it stands for: the same value, the same
// types inside (int, double, string, list, map, null).
func TestCELParamsConverted(t *testing.T) {
	tmpl := celCompile(t, celInlineTemplate(`{"validations": [{"expression": "true"}]}`), Options{})
	for _, params := range []string{
		`{}`,
		`{"n": 1, "big": 9007199254740993, "f": 1.5, "e": 1e21, "neg": -0.0, "s": "x", "b": true, "z": null}`,
		`{"list": [1, "a", [2.5, {"k": [null]}]], "nested": {"a": {"b": {"c": -3}}}, "empty": [], "o": {}}`,
	} {
		c := celConstraint(t, tmpl, []byte(`{"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sCELTest", "metadata": {"name": "c"}, "spec": {"enforcementAction": "warn", "parameters": `+params+`}}`))
		b := c.bound.(*celBound)
		got, want := common.SchemalessTypedToVal(b.params), common.SchemalessTypedToVal(b.params.Unstructured)
		if eq := got.Equal(want); eq != types.True {
			t.Errorf("%s: params %v, want %v", params, got, want)
		}
		gj, err := got.ConvertToNative(reflect.TypeFor[*structpb.Value]())
		if err != nil {
			t.Fatal(err)
		}
		wj, err := want.ConvertToNative(reflect.TypeFor[*structpb.Value]())
		if err != nil {
			t.Fatal(err)
		}
		if g, w := fmt.Sprint(gj), fmt.Sprint(wj); g != w {
			t.Errorf("%s: params as JSON\n%s\nwant\n%s", params, g, w)
		}
		if !reflect.DeepEqual(b.params.ToUnstructured(), b.params.UnstructuredContent()) {
			t.Errorf("%s: unstructured form %v, want the object's %v", params, b.params.ToUnstructured(), b.params.UnstructuredContent())
		}
	}
}

// A review Gatekeeper's k8scel driver cannot even hand to the validator
// (here, options that do not decode) fails the whole review there, and its
// webhook refuses the request whatever the constraint's enforcement action:
// kguard denies it too, rather than admitting with a warning.
func TestCELUnreadableReviewDenies(t *testing.T) {
	tmpl := celCompile(t, celInlineTemplate(`{"validations": [{"expression": "true"}]}`), Options{})
	var cs []*Constraint
	for _, a := range []string{ActionWarn, ActionDryrun} {
		cs = append(cs, celConstraint(t, tmpl, []byte(`{"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sCELTest", "metadata": {"name": "`+a+`"}, "spec": {"enforcementAction": "`+a+`"}}`)))
	}
	ctx := context.Background()
	set, err := NewSet(ctx, []*Template{tmpl}, cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := &admissionv1.AdmissionRequest{Operation: admissionv1.Create, Name: "p",
		Object: celRaw(`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}`), Options: celRaw(`{"dryRun": ["All"]}`)}
	req.Kind.Version, req.Kind.Kind = "v1", "Pod"
	res := set.Review(ctx, &Review{Request: req}, PointWebhook)
	if len(res) != len(cs) {
		t.Fatalf("%d results, want %d: %v", len(res), len(cs), res)
	}
	for _, r := range res {
		if !slices.Equal(r.Actions, []string{ActionDeny}) || !strings.Contains(r.Msg, "options do not decode") {
			t.Errorf("%s: actions %v, message %q; want a denial with the error", r.Constraint.Name, r.Actions, r.Msg)
		}
	}
}
