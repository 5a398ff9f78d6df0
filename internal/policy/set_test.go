package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/kguard/kguard/internal/manifest"
)

func read(t *testing.T, yaml string) (*Set, error) {
	t.Helper()
	docs, err := manifest.Read(strings.NewReader(yaml), "in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return FromDocuments(docs)
}

func TestFromDocuments(t *testing.T) {
	s, err := read(t, `kind: Role
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: r, namespace: ns}
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1beta1
metadata: {name: b}
roleRef: {kind: ClusterRole, name: c, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa, namespace: ns}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Roles) != 1 || len(s.ClusterRoleBindings) != 1 || len(s.Namespaces) != 1 || len(s.ServiceAccounts) != 1 || len(s.Others) != 1 {
		t.Fatalf("set = %s, others %d", s, len(s.Others))
	}
	if got := s.Source(s.ClusterRoleBindings[0]); got != "in.yaml:5" {
		t.Fatalf("source = %q, want in.yaml:5", got)
	}
	m := Merge(s, &Set{})
	if m.Source(s.Roles[0]) != "in.yaml:1" || len(m.Roles) != 1 {
		t.Fatal("Merge lost objects or their sources")
	}
}

func TestFromDocumentsErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown field", "kind: Role\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: r, namespace: ns}\nrulez: []\n", `in.yaml:1`},
		{"unknown RBAC kind", "kind: Rolez\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: r}\n", "unknown RBAC kind"},
		{"no name", "kind: ClusterRole\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {}\n", "has no metadata.name"},
		{"namespaced without namespace", "kind: RoleBinding\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: b}\nroleRef: {kind: Role, name: r}\n", "has no metadata.namespace"},
		{"wrong type", "---\n\nkind: ClusterRole\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: c}\nrules: {}\n", "in.yaml:2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := read(t, tc.yaml)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, manifest.ErrInput) {
				t.Fatalf("err = %v, want an input error containing %q", err, tc.want)
			}
		})
	}
}

func TestPodSecurityPolicies(t *testing.T) {
	s, err := Load([]string{"testdata/psp-policies"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range s.PodSecurityPolicies {
		names[p.Name] = true
		if p.Spec.AllowPrivilegeEscalation == nil {
			t.Errorf("%s: allowPrivilegeEscalation not defaulted", p.Name)
		}
	}
	if !names["example"] || !names["privileged"] || !names["restricted"] {
		t.Fatalf("policies = %v", names)
	}
	v1alpha1PSP := "apiVersion: kguard.io/v1alpha1\nkind: PodSecurityPolicy\nmetadata: {name: k}\nspec:\n  seLinux: {rule: RunAsAny}\n  runAsUser: {rule: RunAsAny}\n  supplementalGroups: {rule: RunAsAny}\n  fsGroup: {rule: RunAsAny}\n"
	k, err := read(t, v1alpha1PSP)
	if err != nil || len(k.PodSecurityPolicies) != 1 || !*k.PodSecurityPolicies[0].Spec.AllowPrivilegeEscalation {
		t.Fatalf("kguard.io/v1alpha1: %v", err)
	}
	_, err = read(t, "# invalid\napiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: bad}\nspec:\n  seLinux: {rule: RunAsAny}\n  runAsUser: {rule: MustRunAs}\n  supplementalGroups: {rule: RunAsAny}\n  fsGroup: {rule: RunAsAny}\n")
	if err == nil || !strings.Contains(err.Error(), "in.yaml:") || !strings.Contains(err.Error(), "spec.runAsUser.ranges") || !errors.Is(err, manifest.ErrInput) {
		t.Fatalf("err = %v, want file:line and the field path", err)
	}
	_, err = read(t, "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: typo}\nspec:\n  privilegd: true\n")
	if err == nil || !strings.Contains(err.Error(), "privilegd") {
		t.Fatalf("unknown field accepted: %v", err)
	}
}
