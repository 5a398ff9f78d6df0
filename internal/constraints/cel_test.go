package constraints

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
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
	ctx := context.Background()
	tmpl := celCompile(t, celInlineTemplate(`{"validations": [{"expression": "object.metadata.name != variables.params.name", "messageExpression": "'name ' + variables.params.name"}]}`), Options{})
	var cs []*Constraint
	for _, n := range []string{"a", "p", "q", "p2"} {
		name := strings.TrimSuffix(n, "2")
		cs = append(cs, celConstraint(t, tmpl, []byte(`{"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sCELTest", "metadata": {"name": "`+n+`"}, "spec": {"parameters": {"name": "`+name+`"}}}`)))
	}
	set, err := NewSet(ctx, []*Template{tmpl}, cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, res := range set.Review(ctx, celReviewObject(t, `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}`), PointGator) {
		got = append(got, res.Constraint.Name+": "+res.Msg)
	}
	if want := []string{"p: name p", "p2: name p"}; !celEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func celInlineTemplate(source string) *gk.ConstraintTemplate {
	t := &gk.ConstraintTemplate{}
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

func celLibraryFile(t *testing.T, template, name string) []byte {
	t.Helper()
	doc, ok := celLibrary[template+"/"+name]
	if !ok {
		t.Fatalf("no library file %s/%s", template, name)
	}
	return []byte(doc)
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

// celLibrary are files of the gatekeeper-library
// (github.com/open-policy-agent/gatekeeper-library, commit
// 5c441fb645f257b2c428fe9aea22da24a94b5bab), copied verbatim: four
// templates carrying both K8sNativeValidation and Rego, and their samples.
var celLibrary = map[string]string{
	"requiredlabels/template.yaml": `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8srequiredlabels
  annotations:
    metadata.gatekeeper.sh/title: "Required Labels"
    metadata.gatekeeper.sh/version: 1.1.2
    description: >-
      Requires resources to contain specified labels, with values matching
      provided regular expressions.
spec:
  crd:
    spec:
      names:
        kind: K8sRequiredLabels
      validation:
        openAPIV3Schema:
          type: object
          properties:
            message:
              type: string
            labels:
              type: array
              description: >-
                A list of labels and values the object must specify.
              items:
                type: object
                properties:
                  key:
                    type: string
                    description: >-
                      The required label.
                  allowedRegex:
                    type: string
                    description: >-
                      If specified, a regular expression the annotation's value
                      must match. The value must contain at least one match for
                      the regular expression.
  targets:
    - target: admission.k8s.gatekeeper.sh
      code:
      - engine: K8sNativeValidation
        source:
          validations:
          - expression: '(has(variables.anyObject.metadata) && variables.params.labels.all(entry, has(variables.anyObject.metadata.labels) && entry.key in variables.anyObject.metadata.labels))'
            messageExpression: '"missing required label, requires all of: " + variables.params.labels.map(entry, entry.key).join(", ")'
          - expression: '(has(variables.anyObject.metadata) && variables.params.labels.all(entry, has(variables.anyObject.metadata.labels) && entry.key in variables.anyObject.metadata.labels && (!has(entry.allowedRegex) || string(variables.anyObject.metadata.labels[entry.key]).matches(string(entry.allowedRegex)))))'
            message: "regex mismatch"
      - engine: Rego
        source:
          rego: |
            package k8srequiredlabels

            get_message(parameters, _default) := _default {
              not parameters.message
            }

            get_message(parameters, _) := parameters.message

            violation[{"msg": msg, "details": {"missing_labels": missing}}] {
              provided := {label | input.review.object.metadata.labels[label]}
              required := {label | label := input.parameters.labels[_].key}
              missing := required - provided
              count(missing) > 0
              def_msg := sprintf("you must provide labels: %v", [missing])
              msg := get_message(input.parameters, def_msg)
            }

            violation[{"msg": msg}] {
              value := input.review.object.metadata.labels[key]
              expected := input.parameters.labels[_]
              expected.key == key
              # do not match if allowedRegex is not defined, or is an empty string
              expected.allowedRegex != ""
              not regex.match(expected.allowedRegex, value)
              def_msg := sprintf("Label <%v: %v> does not satisfy allowed regex: %v", [key, value, expected.allowedRegex])
              msg := get_message(input.parameters, def_msg)
            }

`,
	"requiredlabels/all-must-have-owner/constraint.yaml": `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: all-must-have-owner
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: ["Namespace"]
  parameters:
    message: "All namespaces must have an ` + "`" + `owner` + "`" + ` label that points to your company username"
    labels:
      - key: owner
        allowedRegex: "^[a-zA-Z]+.agilebank.demo$"
`,
	"requiredlabels/all-must-have-owner/example_allowed.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: allowed-namespace
  labels:
    owner: user.agilebank.demo
`,
	"requiredlabels/all-must-have-owner/example_disallowed.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: disallowed-namespace
`,
	"requiredlabels/all-must-have-owner/example_disallowed_label_value.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: disallowed-namespace
  labels:
    owner: user
`,
	"requiredlabels/verify-label-key-only/constraint.yaml": `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: must-have-pizza
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: ["Pod"]
  parameters:
    message: "All pods must have label of key ` + "`" + `pizza` + "`" + ` regardless of the label's value"
    labels:
      - key: pizza
`,
	"requiredlabels/verify-label-key-only/example_allowed.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: has-pizza
  labels:
    pizza: is-great
spec:
  containers:
    - name: nginx
      image: nginx
`,
	"requiredlabels/verify-label-key-only/example_disallowed.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: does-not-have-pizza
  labels:
    taco: is-great
spec:
  containers:
    - name: nginx
      image: nginx
`,
	"hostnamespaces/template.yaml": `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8spsphostnamespace
  annotations:
    metadata.gatekeeper.sh/title: "Host Namespace"
    metadata.gatekeeper.sh/version: 1.1.1
    metadata.gatekeeper.sh/bundle: "pod-security-baseline, pod-security-restricted"
    description: >-
      Disallows sharing of host PID and IPC namespaces by pod containers.
      Corresponds to the ` + "`" + `hostPID` + "`" + ` and ` + "`" + `hostIPC` + "`" + ` fields in a PodSecurityPolicy.
      For more information, see
      https://kubernetes.io/docs/concepts/policy/pod-security-policy/#host-namespaces
spec:
  crd:
    spec:
      names:
        kind: K8sPSPHostNamespace
      validation:
        # Schema for the ` + "`" + `parameters` + "`" + ` field
        openAPIV3Schema:
          type: object
          description: >-
            Disallows sharing of host PID and IPC namespaces by pod containers.
            Corresponds to the ` + "`" + `hostPID` + "`" + ` and ` + "`" + `hostIPC` + "`" + ` fields in a PodSecurityPolicy.
            For more information, see
            https://kubernetes.io/docs/concepts/policy/pod-security-policy/#host-namespaces
  targets:
    - target: admission.k8s.gatekeeper.sh
      code:
      - engine: K8sNativeValidation
        source:
          variables:
          - name: sharingHostIPC
            expression: |
              has(variables.anyObject.spec.hostIPC) ? variables.anyObject.spec.hostIPC : false
          - name: sharingHostPID
            expression: |
              has(variables.anyObject.spec.hostPID) ? variables.anyObject.spec.hostPID : false
          - name: sharingNamespace
            expression: |
              variables.sharingHostIPC || variables.sharingHostPID
          validations:
          - expression: '(has(request.operation) && request.operation == "UPDATE") || !variables.sharingNamespace'
            messageExpression: '"Sharing the host namespace is not allowed: " + variables.anyObject.metadata.name'
      - engine: Rego
        source:
          rego: |
            package k8spsphostnamespace

            import data.lib.exclude_update.is_update

            violation[{"msg": msg, "details": {}}] {
                # spec.hostPID and spec.hostIPC fields are immutable.
                not is_update(input.review)

                input_share_hostnamespace(input.review.object)
                msg := sprintf("Sharing the host namespace is not allowed: %v", [input.review.object.metadata.name])
            }

            input_share_hostnamespace(o) {
                o.spec.hostPID
            }
            input_share_hostnamespace(o) {
                o.spec.hostIPC
            }
          libs:
            - |
              package lib.exclude_update

              is_update(review) {
                  review.operation == "UPDATE"
              }
`,
	"hostnamespaces/psp-host-namespace/constraint.yaml": `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sPSPHostNamespace
metadata:
  name: psp-host-namespace
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: ["Pod"]
`,
	"hostnamespaces/psp-host-namespace/example_allowed.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: nginx-host-namespace-allowed
  labels:
    app: nginx-host-namespace
spec:
  hostPID: false
  hostIPC: false
  containers:
  - name: nginx
    image: nginx
`,
	"hostnamespaces/psp-host-namespace/example_disallowed.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: nginx-host-namespace-disallowed
  labels:
    app: nginx-host-namespace
spec:
  hostPID: true
  hostIPC: true
  containers:
  - name: nginx
    image: nginx
`,
	"hostnamespaces/psp-host-namespace/update.yaml": `kind: AdmissionReview
apiVersion: admission.k8s.io/v1beta1
request:
  operation: "UPDATE"
  object:
    apiVersion: v1
    kind: Pod
    metadata:
      name: nginx-host-namespace-disallowed
      labels:
        app: nginx-host-namespace
    spec:
      hostPID: true
      hostIPC: true
      containers:
      - name: nginx
        image: nginx
`,
	"privileged/template.yaml": `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8spspprivilegedcontainer
  annotations:
    metadata.gatekeeper.sh/title: "Privileged Container"
    metadata.gatekeeper.sh/version: 1.1.3
    metadata.gatekeeper.sh/bundle: "pod-security-baseline, pod-security-restricted"
    description: >-
      Controls the ability of any container to enable privileged mode.
      Corresponds to the ` + "`" + `privileged` + "`" + ` field in a PodSecurityPolicy. For more
      information, see
      https://kubernetes.io/docs/concepts/policy/pod-security-policy/#privileged
spec:
  crd:
    spec:
      names:
        kind: K8sPSPPrivilegedContainer
      validation:
        openAPIV3Schema:
          type: object
          description: >-
            Controls the ability of any container to enable privileged mode.
            Corresponds to the ` + "`" + `privileged` + "`" + ` field in a PodSecurityPolicy. For more
            information, see
            https://kubernetes.io/docs/concepts/policy/pod-security-policy/#privileged
          properties:
            exemptImages:
              description: >-
                Any container that uses an image that matches an entry in this list will be excluded
                from enforcement. Prefix-matching can be signified with ` + "`" + `*` + "`" + `. For example: ` + "`" + `my-image-*` + "`" + `.

                It is recommended that users use the fully-qualified Docker image name (e.g. start with a domain name)
                in order to avoid unexpectedly exempting images from an untrusted repository.
              type: array
              items:
                type: string
  targets:
    - target: admission.k8s.gatekeeper.sh
      code:
      - engine: K8sNativeValidation
        source:
          variables:
          - name: containers
            expression: 'has(variables.anyObject.spec.containers) ? variables.anyObject.spec.containers : []'
          - name: initContainers
            expression: 'has(variables.anyObject.spec.initContainers) ? variables.anyObject.spec.initContainers : []'
          - name: ephemeralContainers
            expression: 'has(variables.anyObject.spec.ephemeralContainers) ? variables.anyObject.spec.ephemeralContainers : []'
          - name: exemptImagePrefixes
            expression: |
              !has(variables.params.exemptImages) ? [] :
                variables.params.exemptImages.filter(image, image.endsWith("*")).map(image, string(image).replace("*", ""))
          - name: exemptImageExplicit
            expression: |
              !has(variables.params.exemptImages) ? [] : 
                variables.params.exemptImages.filter(image, !image.endsWith("*"))
          - name: exemptImages
            expression: |
              (variables.containers + variables.initContainers + variables.ephemeralContainers).filter(container,
                container.image in variables.exemptImageExplicit ||
                variables.exemptImagePrefixes.exists(exemption, string(container.image).startsWith(exemption))
              ).map(container, container.image)
          - name: badContainers
            expression: |
              (variables.containers + variables.initContainers + variables.ephemeralContainers).filter(container,
                !(container.image in variables.exemptImages) &&
                (has(container.securityContext) && has(container.securityContext.privileged) && container.securityContext.privileged)
              ).map(container, "Privileged container is not allowed: " + container.name +", securityContext.privileged: true")
          - name: isUpdate
            expression: has(request.operation) && request.operation == "UPDATE"
          validations:
          - expression: variables.isUpdate || size(variables.badContainers) == 0
            messageExpression: 'variables.badContainers.join(", ")' 
      - engine: Rego
        source:
          rego: |
            package k8spspprivileged

            import data.lib.exclude_update.is_update
            import data.lib.exempt_container.is_exempt

            violation[{"msg": msg, "details": {}}] {
                # spec.containers.privileged field is immutable.
                not is_update(input.review)

                c := input_containers[_]
                not is_exempt(c)
                c.securityContext.privileged
                msg := sprintf("Privileged container is not allowed: %v, securityContext: %v", [c.name, c.securityContext])
            }

            input_containers[c] {
                c := input.review.object.spec.containers[_]
            }

            input_containers[c] {
                c := input.review.object.spec.initContainers[_]
            }

            input_containers[c] {
                c := input.review.object.spec.ephemeralContainers[_]
            }
          libs:
            - |
              package lib.exclude_update

              is_update(review) {
                  review.operation == "UPDATE"
              }
            - |
              package lib.exempt_container

              is_exempt(container) {
                  exempt_images := object.get(object.get(input, "parameters", {}), "exemptImages", [])
                  img := container.image
                  exemption := exempt_images[_]
                  _matches_exemption(img, exemption)
              }

              _matches_exemption(img, exemption) {
                  not endswith(exemption, "*")
                  exemption == img
              }

              _matches_exemption(img, exemption) {
                  endswith(exemption, "*")
                  prefix := trim_suffix(exemption, "*")
                  startswith(img, prefix)
              }
`,
	"privileged/psp-privileged-container/constraint.yaml": `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sPSPPrivilegedContainer
metadata:
  name: psp-privileged-container
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: ["Pod"]
    excludedNamespaces: ["kube-system"]
  parameters:
    exemptImages:
    - "safeimages.com/*"
`,
	"privileged/psp-privileged-container/disallowed_ephemeral.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: nginx-privileged-disallowed
  labels:
    app: nginx-privileged
spec:
  ephemeralContainers:
  - name: nginx
    image: nginx
    securityContext:
      privileged: true
`,
	"privileged/psp-privileged-container/example_allowed.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: nginx-privileged-allowed
  labels:
    app: nginx-privileged
spec:
  containers:
  - name: nginx
    image: nginx
    securityContext:
      privileged: false
`,
	"privileged/psp-privileged-container/example_allowed_exempt.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: nginx-privileged-allowed-exempt
  labels:
    app: nginx-privileged
spec:
  containers:
  - name: nginx
    image: safeimages.com/nginx
    securityContext:
      privileged: true
`,
	"privileged/psp-privileged-container/example_disallowed.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: nginx-privileged-disallowed
  labels:
    app: nginx-privileged
spec:
  containers:
  - name: nginx
    image: nginx
    securityContext:
      privileged: true
  initContainers:
  - name: nginx-init
    image: nginx
    securityContext:
      privileged: true
`,
	"privileged/psp-privileged-container/update.yaml": `kind: AdmissionReview
apiVersion: admission.k8s.io/v1beta1
request:
  operation: "UPDATE"
  object:
    apiVersion: v1
    kind: Pod
    metadata:
      name: nginx-privileged-disallowed
      labels:
        app: nginx-privileged
    spec:
      containers:
      - name: nginx
        image: nginx
        securityContext:
          privileged: true
`,
	"readonlyrootfs/template.yaml": `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8spspreadonlyrootfilesystem
  annotations:
    metadata.gatekeeper.sh/title: "Read Only Root Filesystem"
    metadata.gatekeeper.sh/version: 1.1.1
    description: >-
      Requires the use of a read-only root file system by pod containers.
      Corresponds to the ` + "`" + `readOnlyRootFilesystem` + "`" + ` field in a
      PodSecurityPolicy. For more information, see
      https://kubernetes.io/docs/concepts/policy/pod-security-policy/#volumes-and-file-systems
spec:
  crd:
    spec:
      names:
        kind: K8sPSPReadOnlyRootFilesystem
      validation:
        # Schema for the ` + "`" + `parameters` + "`" + ` field
        openAPIV3Schema:
          type: object
          description: >-
            Requires the use of a read-only root file system by pod containers.
            Corresponds to the ` + "`" + `readOnlyRootFilesystem` + "`" + ` field in a
            PodSecurityPolicy. For more information, see
            https://kubernetes.io/docs/concepts/policy/pod-security-policy/#volumes-and-file-systems
          properties:
            exemptImages:
              description: >-
                Any container that uses an image that matches an entry in this list will be excluded
                from enforcement. Prefix-matching can be signified with ` + "`" + `*` + "`" + `. For example: ` + "`" + `my-image-*` + "`" + `.

                It is recommended that users use the fully-qualified Docker image name (e.g. start with a domain name)
                in order to avoid unexpectedly exempting images from an untrusted repository.
              type: array
              items:
                type: string
  targets:
    - target: admission.k8s.gatekeeper.sh
      code:
      - engine: K8sNativeValidation
        source:
          variables:
          - name: containers
            expression: 'has(variables.anyObject.spec.containers) ? variables.anyObject.spec.containers : []'
          - name: initContainers
            expression: 'has(variables.anyObject.spec.initContainers) ? variables.anyObject.spec.initContainers : []'
          - name: ephemeralContainers
            expression: 'has(variables.anyObject.spec.ephemeralContainers) ? variables.anyObject.spec.ephemeralContainers : []'
          - name: exemptImagePrefixes
            expression: |
              !has(variables.params.exemptImages) ? [] :
                variables.params.exemptImages.filter(image, image.endsWith("*")).map(image, string(image).replace("*", ""))
          - name: exemptImageExplicit
            expression: |
              !has(variables.params.exemptImages) ? [] : 
                variables.params.exemptImages.filter(image, !image.endsWith("*"))
          - name: exemptImages
            expression: |
              (variables.containers + variables.initContainers + variables.ephemeralContainers).filter(container,
                container.image in variables.exemptImageExplicit ||
                variables.exemptImagePrefixes.exists(exemption, string(container.image).startsWith(exemption))).map(container, container.image)
          - name: badContainers
            expression: |
              (variables.containers + variables.initContainers + variables.ephemeralContainers).filter(container,
                !(container.image in variables.exemptImages) && 
                (!has(container.securityContext) ||
                !has(container.securityContext.readOnlyRootFilesystem) ||
                container.securityContext.readOnlyRootFilesystem != true)
              ).map(container, container.name)
          validations:
          - expression: '(has(request.operation) && request.operation == "UPDATE") || size(variables.badContainers) == 0'
            messageExpression: '"only read-only root filesystem container is allowed: " + variables.badContainers.join(", ")'
            
      - engine: Rego
        source:
          rego: |
            package k8spspreadonlyrootfilesystem

            import data.lib.exclude_update.is_update
            import data.lib.exempt_container.is_exempt

            violation[{"msg": msg, "details": {}}] {
                # spec.containers.readOnlyRootFilesystem field is immutable.
                not is_update(input.review)

                c := input_containers[_]
                not is_exempt(c)
                input_read_only_root_fs(c)
                msg := sprintf("only read-only root filesystem container is allowed: %v", [c.name])
            }

            input_read_only_root_fs(c) {
                not has_field(c, "securityContext")
            }
            input_read_only_root_fs(c) {
                not c.securityContext.readOnlyRootFilesystem == true
            }

            input_containers[c] {
                c := input.review.object.spec.containers[_]
            }
            input_containers[c] {
                c := input.review.object.spec.initContainers[_]
            }
            input_containers[c] {
                c := input.review.object.spec.ephemeralContainers[_]
            }

            # has_field returns whether an object has a field
            has_field(object, field) = true {
                object[field]
            }
          libs:
            - |
              package lib.exclude_update

              is_update(review) {
                  review.operation == "UPDATE"
              }
            - |
              package lib.exempt_container

              is_exempt(container) {
                  exempt_images := object.get(object.get(input, "parameters", {}), "exemptImages", [])
                  img := container.image
                  exemption := exempt_images[_]
                  _matches_exemption(img, exemption)
              }

              _matches_exemption(img, exemption) {
                  not endswith(exemption, "*")
                  exemption == img
              }

              _matches_exemption(img, exemption) {
                  endswith(exemption, "*")
                  prefix := trim_suffix(exemption, "*")
                  startswith(img, prefix)
              }
`,
	"readonlyrootfs/full_wildcard/constraint.yaml": `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sPSPReadOnlyRootFilesystem
metadata:
  name: psp-readonlyrootfilesystem
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: ["Pod"]
  parameters:
    exemptImages:
      - "*"
`,
	"readonlyrootfs/psp-readonlyrootfilesystem/constraint.yaml": `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sPSPReadOnlyRootFilesystem
metadata:
  name: psp-readonlyrootfilesystem
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: ["Pod"]
  parameters:
    exemptImages:
    - "specialprogram"
`,
	"readonlyrootfs/psp-readonlyrootfilesystem/disallowed_ephemeral.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: nginx-readonlyrootfilesystem-disallowed
  labels:
    app: nginx-readonlyrootfilesystem
spec:
  ephemeralContainers:
  - name: nginx
    image: nginx
    securityContext:
      readOnlyRootFilesystem: false
`,
	"readonlyrootfs/psp-readonlyrootfilesystem/example_allowed.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: nginx-readonlyrootfilesystem-allowed
  labels:
    app: nginx-readonlyrootfilesystem
spec:
  containers:
  - name: nginx
    image: nginx
    securityContext:
      readOnlyRootFilesystem: true
`,
	"readonlyrootfs/psp-readonlyrootfilesystem/example_allowed_exempted.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: nginx-readonlyrootfilesystem-disallowed
  labels:
    app: nginx-readonlyrootfilesystem
spec:
  containers:
  - name: specialprogram
    image: specialprogram
    securityContext:
      readOnlyRootFilesystem: false
`,
	"readonlyrootfs/psp-readonlyrootfilesystem/example_disallowed.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: nginx-readonlyrootfilesystem-disallowed
  labels:
    app: nginx-readonlyrootfilesystem
spec:
  containers:
  - name: nginx
    image: nginx
    securityContext:
      readOnlyRootFilesystem: false
`,
	"readonlyrootfs/psp-readonlyrootfilesystem/update.yaml": `kind: AdmissionReview
apiVersion: admission.k8s.io/v1beta1
request:
  operation: "UPDATE"
  object:
    apiVersion: v1
    kind: Pod
    metadata:
      name: nginx-readonlyrootfilesystem-disallowed
      labels:
        app: nginx-readonlyrootfilesystem
    spec:
      containers:
      - name: nginx
        image: nginx
        securityContext:
          readOnlyRootFilesystem: false
`,
	"readonlyrootfs/wildcard-prefix/constraint.yaml": `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sPSPReadOnlyRootFilesystem
metadata:
  name: psp-readonlyrootfilesystem
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: ["Pod"]
  parameters:
    exemptImages:
      - "safe-images.com/*"
`,
	"readonlyrootfs/wildcard-prefix/example_allowed_safe_prefix.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: nginx-readonlyrootfilesystem-allowed
  labels:
    app: nginx-readonlyrootfilesystem
spec:
  containers:
  - name: nginx
    image: "safe-images.com/nginx"
    securityContext:
      readOnlyRootFilesystem: false
`,
	"readonlyrootfs/wildcard-prefix/example_disallowed_unsafe_prefix.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: nginx-readonlyrootfilesystem-allowed
  labels:
    app: nginx-readonlyrootfilesystem
spec:
  containers:
  - name: nginx
    image: "unsafe-images.com/nginx"
    securityContext:
      readOnlyRootFilesystem: false
`,
}
