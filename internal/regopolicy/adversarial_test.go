package regopolicy

import (
	"context"
	"reflect"
	"testing"
)

// reviewAll compiles modules together and reviews podReview.
func reviewAll(t *testing.T, srcs ...string) (Decision, error) {
	t.Helper()
	mods := make([]Module, len(srcs))
	for i, s := range srcs {
		mods[i] = Module{Name: string(rune('a'+i)) + ".rego", Source: s}
	}
	p, err := Compile(context.Background(), mods)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p.Review(context.Background(), podReview)
}

// A function named deny (or warn) is no document: OPA compiles such a
// library and serves nothing at its name. Refusing to compile it drops the
// whole policy set, and with it the deny rules that call it.
func TestFunctionNamedDeny(t *testing.T) {
	d, err := reviewAll(t,
		"package lib\ndeny(x) := x > 0\n",
		"package kubernetes.admission\ndeny contains \"no\" if data.lib.deny(1)\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"no"}; !reflect.DeepEqual(d.Deny, want) {
		t.Errorf("Deny = %q, want %q", d.Deny, want)
	}
}

// data.kubernetes.admission.deny, where kube-mgmt's OPA reads it, may be
// defined by a rule whose ref names no deny: an object rule of package
// kubernetes whose key is deny, or a ref head with a variable before deny
// (every value of it a document named deny). Each refuses as deny does.
func TestDenyUnderObjectOrVariable(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"object value", "package kubernetes\nadmission := {\"deny\": {\"whole\"}}\n", "whole"},
		{"partial object", "package kubernetes\nadmission[k] := {\"partial\"} if k := \"deny\"\n", "partial"},
		{"variable key", "package kubernetes\nadmission[k] contains \"vk\" if k := \"deny\"\n", "vk"},
		{"variable before deny", "package kubernetes\nadmission[x].deny contains \"mid\" if x := \"pods\"\n", "mid"},
		{"any value", "package kubernetes\nadmission := json.unmarshal(`{\"deny\": [\"any\"]}`)\n", "any"},
		{"nested package value", "package kubernetes.admission\npods := {\"deny\": {\"pods\"}}\n", "pods"},
		{"nested object value", "package kubernetes\nadmission := {\"pods\": {\"deny\": {\"nested\"}}}\n", "nested"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := reviewAll(t, tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{tc.want}; !reflect.DeepEqual(d.Deny, want) {
				t.Errorf("Deny = %q, want %q", d.Deny, want)
			}
		})
	}
}

// Outside data.kubernetes.admission the keys of a value are no documents
// asked: a library's table of words refuses nothing.
func TestLibraryObjectKeyDenyIsNoDecision(t *testing.T) {
	d, err := reviewAll(t, "package lib\nactions := {\"deny\": \"Deny\", \"warn\": {\"Warn\"}}\n")
	if err != nil || len(d.Deny)+len(d.Warn) > 0 {
		t.Errorf("Review = %+v, %v; want nothing", d, err)
	}
}
