package tenant

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

func tenantOf(name string, spec v1alpha1.TenantSpec) *v1alpha1.Tenant {
	return &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

func TestOwnership(t *testing.T) {
	a := tenantOf("team-a", v1alpha1.TenantSpec{
		Owners:     v1alpha1.TenantOwners{Users: []string{"alice"}, Groups: []string{"a-admins"}, ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "ci", Name: "deployer"}}},
		Namespaces: v1alpha1.TenantNamespaces{Names: []string{"a-dev"}},
	})
	b := tenantOf("team-b", v1alpha1.TenantSpec{
		Owners:     v1alpha1.TenantOwners{Groups: []string{"a-admins", "b-admins"}},
		Namespaces: v1alpha1.TenantNamespaces{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "b"}}},
	})
	namespaces := []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "b-1", Labels: map[string]string{"tenant": "b"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other"}},
	}
	o, err := New([]*v1alpha1.Tenant{b, a}, namespaces)
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Tenants(); len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("tenants not sorted by name: %v", got)
	}
	for ns, want := range map[string]*v1alpha1.Tenant{"a-dev": a, "b-1": b, "other": nil, "unknown": nil} {
		if got := o.TenantOf(ns); got != want {
			t.Errorf("TenantOf(%q) = %v, want %v", ns, got, want)
		}
	}
	for _, tc := range []struct {
		name string
		u    user.Info
		want string
	}{
		{"owner", &user.DefaultInfo{Name: "alice"}, "team-a"},
		{"group of both", &user.DefaultInfo{Name: "carol", Groups: []string{"a-admins"}}, "team-a,team-b"},
		{"owner and group", &user.DefaultInfo{Name: "alice", Groups: []string{"b-admins", "a-admins"}}, "team-a,team-b"},
		{"owner ServiceAccount", &user.DefaultInfo{Name: "system:serviceaccount:ci:deployer"}, "team-a"},
		{"ServiceAccount of a tenant namespace", &user.DefaultInfo{Name: "system:serviceaccount:b-1:default"}, "team-b"},
		{"ServiceAccount elsewhere", &user.DefaultInfo{Name: "system:serviceaccount:other:default"}, ""},
		{"a user named like a namespace", &user.DefaultInfo{Name: "a-dev"}, ""},
		{"nobody", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			for _, x := range o.MemberOf(tc.u) {
				names = append(names, x.Name)
			}
			if got := strings.Join(names, ","); got != tc.want {
				t.Fatalf("MemberOf = %q, want %q", got, tc.want)
			}
		})
	}
	// A namespace claimed twice is an error naming both tenants.
	c := tenantOf("team-c", v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Names: []string{"b-1"}}})
	if _, err := New([]*v1alpha1.Tenant{b, c}, namespaces); err == nil || !strings.Contains(err.Error(), `namespace "b-1" belongs to tenants "team-b" and "team-c"`) {
		t.Fatalf("conflict: %v", err)
	}
}
