package policy

import (
	"strings"
	"testing"
)

func TestClusterScopedNamespaceCleared(t *testing.T) {
	s, err := Load([]string{"testdata/psp-with-namespace.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.PodSecurityPolicies) != 1 || len(s.ClusterRoles) != 1 || len(s.ClusterRoleBindings) != 1 || len(s.Namespaces) != 1 {
		t.Fatalf("set = %s", s)
	}
	for _, ns := range []string{s.PodSecurityPolicies[0].Namespace, s.ClusterRoles[0].Namespace, s.ClusterRoleBindings[0].Namespace, s.Namespaces[0].Namespace} {
		if ns != "" {
			t.Errorf("a cluster-scoped object kept namespace %q", ns)
		}
	}
	want := []string{
		`testdata/psp-with-namespace.yaml:1: PodSecurityPolicy "ingress-nginx" is cluster-scoped: its metadata.namespace "ingress-nginx" is ignored`,
		`testdata/psp-with-namespace.yaml:17: ClusterRole "ingress-nginx-psp" is cluster-scoped`,
		`testdata/psp-with-namespace.yaml:28: ClusterRoleBinding "ingress-nginx-psp" is cluster-scoped`,
		`testdata/psp-with-namespace.yaml:37: Namespace "ingress-nginx" is cluster-scoped: its metadata.namespace "default" is ignored`,
	}
	if len(s.Warnings) != len(want) {
		t.Fatalf("warnings = %q, want %d", s.Warnings, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(s.Warnings[i], w) {
			t.Errorf("warning %d = %q, want it to start with %q", i, s.Warnings[i], w)
		}
	}
	if m := Merge(&Set{}, s); len(m.Warnings) != len(want) {
		t.Errorf("Merge kept %d warnings, want %d", len(m.Warnings), len(want))
	}
}

func TestExtensionsV1beta1PodSecurityPolicy(t *testing.T) {
	s, err := Load([]string{"testdata/psp-extensions-v1beta1.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.PodSecurityPolicies) != 1 || len(s.Others) != 0 {
		t.Fatalf("set = %s, %d others: the PodSecurityPolicy was not read", s, len(s.Others))
	}
	p := s.PodSecurityPolicies[0]
	if p.Name != "restricted" || p.Spec.AllowPrivilegeEscalation == nil || *p.Spec.AllowPrivilegeEscalation {
		t.Errorf("policy = %+v", p)
	}
}

func TestWithNamespace(t *testing.T) {
	t.Run("without -n a namespaced object needs a namespace", func(t *testing.T) {
		_, err := Load([]string{"testdata/no-namespace.yaml"}, nil)
		if err == nil || !strings.Contains(err.Error(), `testdata/no-namespace.yaml:1: ServiceAccount "argocd-server" has no metadata.namespace`) ||
			!strings.Contains(err.Error(), "-n NAMESPACE") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("-n names the namespace of those that name none", func(t *testing.T) {
		s, err := Load([]string{"testdata/no-namespace.yaml"}, nil, WithNamespace("argocd"))
		if err != nil {
			t.Fatal(err)
		}
		if len(s.ServiceAccounts) != 1 || len(s.Roles) != 2 || len(s.RoleBindings) != 1 || len(s.Others) != 1 || s.Len() != 5 {
			t.Fatalf("set = %s, %d others", s, len(s.Others))
		}
		got := []string{s.ServiceAccounts[0].Namespace, s.Roles[0].Namespace, s.RoleBindings[0].Namespace, s.Roles[1].Namespace}
		if strings.Join(got, ",") != "argocd,argocd,argocd,other" {
			t.Errorf("namespaces = %v, want argocd,argocd,argocd,other", got)
		}
		if len(s.Warnings) != 0 {
			t.Errorf("warnings = %q", s.Warnings)
		}
	})
	t.Run("-n does not give a cluster-scoped object a namespace", func(t *testing.T) {
		s, err := Load([]string{"testdata/psp-extensions-v1beta1.yaml"}, nil, WithNamespace("argocd"))
		if err != nil {
			t.Fatal(err)
		}
		if ns := s.PodSecurityPolicies[0].Namespace; ns != "" {
			t.Errorf("namespace = %q", ns)
		}
	})
}
