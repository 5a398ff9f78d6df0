package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

func TestTenants(t *testing.T) {
	s, err := Load([]string{"testdata/tenants"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tenants) != 2 || len(s.Namespaces) != 1 || len(s.Others) != 0 || s.Len() != 3 {
		t.Fatalf("set = %s, %d others", s, len(s.Others))
	}
	a, b := s.Tenants[0], s.Tenants[1]
	if a.Name != "team-a" || a.Namespace != "" || a.Spec.Nodes.Taint == nil || a.Spec.Nodes.Taint.Value != "team-a" ||
		a.Spec.PodSecurity.Level != v1alpha1.PodSecurityLevelRestricted {
		t.Errorf("team-a not cluster-scoped or not defaulted: %+v", a)
	}
	if b.Spec.Nodes.Mode != v1alpha1.TenantNodeModeRequire || b.Spec.Nodes.Labels[v1alpha1.TenantLabel] != "team-b" {
		t.Errorf("team-b = %+v", b.Spec.Nodes)
	}
	if got := s.Source(b); got != "testdata/tenants/tenants.yaml:15" {
		t.Errorf("source = %q", got)
	}
	want := `testdata/tenants/tenants.yaml:7: Tenant "team-a" is cluster-scoped: its metadata.namespace "default" is ignored`
	if len(s.Warnings) != 1 || !strings.HasPrefix(s.Warnings[0], want) {
		t.Errorf("warnings = %q, want %q", s.Warnings, want)
	}
	if m := Merge(s, &Set{}); len(m.Tenants) != 2 || m.Source(b) != s.Source(b) || m.Len() != s.Len() {
		t.Error("Merge lost the tenants or their sources")
	}
}

func TestTenantErrors(t *testing.T) {
	const tenant = "apiVersion: kguard.io/v1alpha1\nkind: Tenant\n"
	cases := []struct{ name, yaml, want string }{
		{"unknown field", tenant + "metadata: {name: a}\nspec: {namespaces: {names: [a]}, nodez: {}}\n",
			`in.yaml:1: decoding Tenant: unknown field "spec.nodez"`},
		{"invalid field", tenant + "metadata: {name: a}\nspec:\n  namespaces: {names: [a]}\n  nodes: {mode: x}\n",
			`in.yaml:1: invalid Tenant "a": spec.nodes.mode: Unsupported value: "x": supported values: "inject", "require"`},
		{"every field error", tenant + "metadata: {name: a}\nspec:\n  namespaces: {selector: {}}\n  services: {allowedTypes: [LoadBalancer]}\n",
			`in.yaml:1: invalid Tenant "a": [spec.namespaces.selector: Invalid value: "{}": an empty selector selects every namespace: give matchLabels or matchExpressions, spec.services.loadBalancerSourceRanges: Required value`},
		{"namespace of two tenants", tenant + "metadata: {name: a}\nspec: {namespaces: {names: [x, shared]}}\n---\n" +
			tenant + "metadata: {name: b}\nspec: {namespaces: {names: [b-y]}}\n---\n" +
			tenant + "metadata: {name: c}\nspec: {namespaces: {names: [shared]}}\n",
			`in.yaml:11: invalid Tenant "c": spec.namespaces.names[0]: Invalid value: "shared": namespace "shared" belongs to tenant "a" (by spec.namespaces.names[1]) and to tenant "c" (by spec.namespaces.names[0])`},
		{"selected namespace of another tenant", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shared, labels: {team: b}}\n---\n" +
			tenant + "metadata: {name: a}\nspec: {namespaces: {names: [shared]}}\n---\n" +
			tenant + "metadata: {name: b}\nspec: {namespaces: {selector: {matchLabels: {team: b}}}}\n",
			`in.yaml:10: invalid Tenant "b": spec.namespaces.selector: Invalid value: "shared": namespace "shared" belongs to tenant "a"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := read(t, tc.yaml)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !errors.Is(err, manifest.ErrInput) {
				t.Fatalf("err = %v, want an input error starting with %q", err, tc.want)
			}
		})
	}
}
