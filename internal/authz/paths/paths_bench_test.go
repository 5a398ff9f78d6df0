package paths

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kguard/kguard/internal/policy"
)

// generated is a cluster of 1,000 namespaces and 10,000 bindings: in each
// namespace five ServiceAccounts and nine RoleBindings (developers who run
// pods, readers of secrets, a CI account that execs, viewers), and 1,000
// ClusterRoleBindings of read-only and a few powerful roles.
func generated() *policy.Set {
	s := &policy.Set{}
	rule := func(res string, verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{res}, Verbs: verbs}
	}
	s.ClusterRoles = []*rbacv1.ClusterRole{
		{ObjectMeta: metav1.ObjectMeta{Name: "view"}, Rules: []rbacv1.PolicyRule{rule("pods", "get", "list"), rule("configmaps", "get", "list"), rule("services", "get", "list")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "edit"}, Rules: []rbacv1.PolicyRule{rule("pods", "get", "list", "create", "delete"), rule("secrets", "get", "list")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "exec"}, Rules: []rbacv1.PolicyRule{rule("pods/exec", "create")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "cluster-admin"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "node-reader"}, Rules: []rbacv1.PolicyRule{rule("nodes", "get", "list"), rule("nodes/proxy", "get")}},
	}
	ref := func(kind, name string) rbacv1.RoleRef {
		return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: name}
	}
	for n := 0; n < 1000; n++ {
		ns := fmt.Sprintf("team-%04d", n)
		s.Namespaces = append(s.Namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		for a := 0; a < 5; a++ {
			s.ServiceAccounts = append(s.ServiceAccounts, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("sa-%d", a), Namespace: ns}})
		}
		s.Roles = append(s.Roles, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "cm-writer", Namespace: ns}, Rules: []rbacv1.PolicyRule{rule("configmaps", "create", "update")}})
		for b := 0; b < 9; b++ {
			rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("rb-%d", b), Namespace: ns}}
			switch b {
			case 0, 1:
				rb.RoleRef = ref("ClusterRole", "edit")
				rb.Subjects = []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: fmt.Sprintf("dev-%d-%d", n, b)}}
			case 2:
				rb.RoleRef = ref("ClusterRole", "exec")
				rb.Subjects = []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "sa-0", Namespace: ns}}
			case 3:
				rb.RoleRef = ref("Role", "cm-writer")
				rb.Subjects = []rbacv1.Subject{{Kind: rbacv1.GroupKind, Name: fmt.Sprintf("team-%d", n)}}
			default:
				rb.RoleRef = ref("ClusterRole", "view")
				rb.Subjects = []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: fmt.Sprintf("viewer-%d", (n*9+b)%3000)},
					{Kind: rbacv1.ServiceAccountKind, Name: fmt.Sprintf("sa-%d", b%5)}}
			}
			s.RoleBindings = append(s.RoleBindings, rb)
		}
		crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("crb-%04d", n)}, RoleRef: ref("ClusterRole", "view"),
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "sa-1", Namespace: ns}}}
		switch n % 100 {
		case 0:
			crb.RoleRef = ref("ClusterRole", "cluster-admin")
		case 1:
			crb.RoleRef = ref("ClusterRole", "node-reader")
		}
		s.ClusterRoleBindings = append(s.ClusterRoleBindings, crb)
	}
	return s
}

func BenchmarkFind(b *testing.B) {
	s := generated()
	if n := len(s.RoleBindings) + len(s.ClusterRoleBindings); n != 10000 {
		b.Fatalf("%d bindings", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Find(s, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Paths) == 0 {
			b.Fatal("no paths")
		}
	}
}

func BenchmarkFindFrom(b *testing.B) {
	s := generated()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Find(s, Options{From: &Source{Name: "dev-5-0"}}); err != nil {
			b.Fatal(err)
		}
	}
}
