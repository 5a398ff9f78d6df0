package constraints

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	gk "github.com/kguard/kguard/pkg/apis/gatekeeper"
)

func regoTestTemplate(t *testing.T, kind, rego string) *Template {
	t.Helper()
	raw := fmt.Sprintf(`{"apiVersion":"templates.gatekeeper.sh/v1beta1","metadata":{"name":%q},"spec":{"crd":{"spec":{"names":{"kind":%q}}},"targets":[{"target":"admission.k8s.gatekeeper.sh","rego":%q}]}}`,
		kindLower(kind), kind, rego)
	var ct gk.ConstraintTemplate
	if err := json.Unmarshal([]byte(raw), &ct); err != nil {
		t.Fatal(err)
	}
	tmpl, err := CompileTemplate(&ct, Options{NoCEL: true})
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func kindLower(kind string) string {
	b := []byte(kind)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func regoTestConstraint(t *testing.T, tmpl *Template, name, params string) *Constraint {
	t.Helper()
	raw := fmt.Sprintf(`{"apiVersion":"constraints.gatekeeper.sh/v1beta1","kind":%q,"metadata":{"name":%q},"spec":{"parameters":%s}}`, tmpl.Kind, name, params)
	c, err := LoadConstraint(tmpl, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRegoEqualParameters: constraints of a template with equal parameters
// get the same violations (evaluated once per review), constraints with
// other parameters their own, and an evaluation error is each affected
// constraint's violation.
func TestRegoEqualParameters(t *testing.T) {
	ctx := context.Background()
	labels := regoTestTemplate(t, "KLabel", `package klabel
violation[{"msg": msg}] {
  not input.review.object.metadata.labels[input.parameters.key]
  msg := sprintf("label %v is missing", [input.parameters.key])
}`)
	broken := regoTestTemplate(t, "KBroken", `package kbroken
conflict := 1 { input.parameters.fail }
conflict := 2 { input.parameters.fail }
violation[{"msg": "never"}] {
  conflict == 3
}`)
	cs := []*Constraint{
		regoTestConstraint(t, labels, "a", `{"key":"owner"}`),
		regoTestConstraint(t, labels, "b", `{"key":"team"}`),
		regoTestConstraint(t, labels, "c", `{"key":"owner"}`),
		regoTestConstraint(t, labels, "d", `{"key":"app"}`),
		regoTestConstraint(t, broken, "x", `{"fail":true}`),
		regoTestConstraint(t, broken, "y", `{"fail":false}`),
		regoTestConstraint(t, broken, "z", `{"fail":true}`),
	}
	s, err := NewSet(ctx, []*Template{labels, broken}, cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := &admissionv1.AdmissionRequest{Operation: admissionv1.Create}
	req.Kind.Version, req.Kind.Kind = "v1", "Pod"
	req.Object.Raw = []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"app":"web"}}}`)
	got := map[string]string{}
	for _, res := range s.Review(ctx, &Review{Request: req}, PointWebhook) {
		got[res.Constraint.Name] = res.Msg
	}
	want := map[string]string{"a": "label owner is missing", "b": "label team is missing", "c": "label owner is missing"}
	for name, msg := range want {
		if got[name] != msg {
			t.Errorf("constraint %s: got %q, want %q", name, got[name], msg)
		}
	}
	for _, name := range []string{"d", "y"} {
		if msg, ok := got[name]; ok {
			t.Errorf("constraint %s: unexpected violation %q", name, msg)
		}
	}
	for _, name := range []string{"x", "z"} {
		if got[name] == "" {
			t.Errorf("constraint %s: the evaluation error is not its violation", name)
		}
	}
	if len(got) != 5 {
		t.Errorf("got %d violating constraints, want 5: %v", len(got), got)
	}
}

// TestRegoReviewDecoded: input.review built from the decoded objects is
// Gatekeeper's encoding/json round trip of the AdmissionRequest, numbers
// included; what it cannot be sure of goes the round trip's way.
func TestRegoReviewDecoded(t *testing.T) {
	cases := []struct {
		name, obj, old string
		decoded        bool // built from the decoded objects
	}{
		{"pod", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"a":"b"}},"spec":{"securityContext":{"runAsUser":1000000,"fsGroup":1e21},"containers":[{"name":"c","x":[1.5,-2,9007199254740993,123456789012345678901234567890,1e-7,0.0]}]}}`, "", true},
		{"update", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"n":null,"t":true,"f":false,"s":"\u00e9\ud83d\ude00<&>"}}`, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{}}`, true},
		{"delete", "", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`, true},
		{"no object", "", "", true},
		{"negative zero", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"z":-0}}`, "", false},
		{"negative zero in the old object", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"z":[1,-0]}}`, false},
		{"negative zero float", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"z":-0.0,"y":-0e1}}`, "", false},
		{"-0 in strings", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-0","creationTimestamp":"2026-01-05T00:00:00Z","labels":{"a\"-0":"\\-0"}},"spec":{"z":-10,"y":-1.0}}`, "", true},
		{"no kind", `{"metadata":{"name":"p"}}`, "", false},
		{"not an object", `[1]`, "", false},
		{"duplicate keys", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","name":"q"}}`, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := &admissionv1.AdmissionRequest{UID: "", Operation: admissionv1.Update, Name: "p", Namespace: "ns"}
			req.Kind.Version, req.Kind.Kind = "v1", "Pod"
			req.UserInfo.Username = "u"
			if tc.obj != "" {
				req.Object.Raw = []byte(tc.obj)
			}
			if tc.old != "" {
				req.OldObject.Raw = []byte(tc.old)
			}
			want, err := regoReviewRoundTrip(&Review{Request: req})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := regoReviewDecoded(&Review{Request: req}); ok != tc.decoded {
				t.Errorf("built from the decoded objects: %v, want %v", ok, tc.decoded)
			}
			got, err := regoReview(&Review{Request: req})
			if err != nil {
				t.Fatal(err)
			}
			if got.Compare(want) != 0 || got.String() != want.String() {
				t.Errorf("got  %v\nwant %v", got, want)
			}
		})
	}
}

// TestRegoReviewTwoSets: one review evaluated by two Sets of one template
// sees each Set's inventory.
func TestRegoReviewTwoSets(t *testing.T) {
	ctx := context.Background()
	tmpl := regoTestTemplate(t, "KInventory", `package kinventory
violation[{"msg": "taken"}] {
  data.inventory.cluster["v1"].Namespace[input.review.object.metadata.name]
}`)
	c := regoTestConstraint(t, tmpl, "a", `{}`)
	empty, err := NewSet(ctx, []*Template{tmpl}, []*Constraint{c}, nil)
	if err != nil {
		t.Fatal(err)
	}
	inv := Inventory{}
	if err := inv.Add(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "p"}}); err != nil {
		t.Fatal(err)
	}
	full, err := NewSet(ctx, []*Template{tmpl}, []*Constraint{c}, inv)
	if err != nil {
		t.Fatal(err)
	}
	req := &admissionv1.AdmissionRequest{Operation: admissionv1.Create}
	req.Kind.Version, req.Kind.Kind = "v1", "Pod"
	req.Object.Raw = []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`)
	review := &Review{Request: req}
	if got := empty.Review(ctx, review, PointWebhook); len(got) != 0 {
		t.Errorf("empty inventory: got %v", got)
	}
	if got := full.Review(ctx, review, PointWebhook); len(got) != 1 {
		t.Errorf("inventory with namespace p: got %v, want one violation", got)
	}
}

// TestRegoCancelled: a review whose context has ended admits nothing: every
// Rego constraint that matches reports the cancellation as its violation.
func TestRegoCancelled(t *testing.T) {
	tmpl := regoTestTemplate(t, "KNever", `package knever
violation[{"msg": "never"}] {
  input.review.object.kind == "Nothing"
}`)
	cs := []*Constraint{regoTestConstraint(t, tmpl, "a", `{}`), regoTestConstraint(t, tmpl, "b", `{"other":true}`)}
	s, err := NewSet(context.Background(), []*Template{tmpl}, cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := &admissionv1.AdmissionRequest{Operation: admissionv1.Create}
	req.Kind.Version, req.Kind.Kind = "v1", "Pod"
	req.Object.Raw = []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`)
	if got := s.Review(context.Background(), &Review{Request: req}, PointWebhook); len(got) != 0 {
		t.Fatalf("not cancelled: got %v, want no violation", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := s.Review(ctx, &Review{Request: req}, PointWebhook)
	if len(got) != 2 {
		t.Fatalf("cancelled: got %v, want the cancellation as both constraints' violation", got)
	}
	for _, res := range got {
		if !strings.Contains(res.Msg, "cancel") {
			t.Errorf("constraint %s: got %q, want the cancellation", res.Constraint.Name, res.Msg)
		}
	}
}

// A Rego review that cannot be built (an object that is not JSON, which
// only a hand-written review can carry) fails the whole review, as
// Gatekeeper's driver fails it and its webhook refuses: denied, whatever
// the constraints' enforcement actions, as the CEL engine does
// (TestCELUnreadableReviewDenies).
func TestRegoUnreadableReviewDenies(t *testing.T) {
	tmpl := regoTestTemplate(t, "KNothing", "package knothing\nviolation[{\"msg\": \"never\"}] { false }")
	var cs []*Constraint
	for _, a := range []string{ActionWarn, ActionDryrun} {
		c, err := LoadConstraint(tmpl, []byte(`{"apiVersion":"constraints.gatekeeper.sh/v1beta1","kind":"KNothing","metadata":{"name":"`+a+`"},"spec":{"enforcementAction":"`+a+`"}}`))
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	ctx := context.Background()
	set, err := NewSet(ctx, []*Template{tmpl}, cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := &admissionv1.AdmissionRequest{Operation: admissionv1.Create, Name: "p"}
	req.Object.Raw = []byte(`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}`) // cut short
	req.Kind.Version, req.Kind.Kind = "v1", "Pod"
	res := set.Review(ctx, &Review{Request: req}, PointWebhook)
	if len(res) != len(cs) {
		t.Fatalf("%d results, want %d: %v", len(res), len(cs), res)
	}
	for _, r := range res {
		if !slices.Equal(r.Actions, []string{ActionDeny}) {
			t.Errorf("%s: actions %v, message %q; want a denial with the error", r.Constraint.Name, r.Actions, r.Msg)
		}
	}
}
