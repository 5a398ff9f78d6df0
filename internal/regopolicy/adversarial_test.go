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
