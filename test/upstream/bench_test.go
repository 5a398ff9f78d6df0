package upstream

import (
	"context"
	"fmt"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/authz/rbac"
	"github.com/kguard/kguard/internal/policy"
)

// benchSet is a large cluster: one namespace per 10 bindings, each namespace
// with 9 RoleBindings (to its users, to a Role and to the edit-like
// ClusterRole), and one ClusterRoleBinding per 10 bindings (teams with
// cluster-wide read), plus a handful of roles.
func benchSet(bindings int) *policy.Set {
	s := &policy.Set{
		ClusterRoles: []*rbacv1.ClusterRole{
			{ObjectMeta: metav1.ObjectMeta{Name: "edit"}, Rules: []rbacv1.PolicyRule{
				{Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}, APIGroups: []string{"", "apps", "batch"}, Resources: []string{"pods", "services", "configmaps", "deployments", "jobs"}},
				{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods/log"}},
			}},
			{ObjectMeta: metav1.ObjectMeta{Name: "read"}, Rules: []rbacv1.PolicyRule{
				{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{"*"}, Resources: []string{"nodes", "namespaces"}},
			}},
		},
	}
	namespaces := bindings / 10
	if namespaces == 0 {
		namespaces = 1
	}
	for n := range namespaces {
		ns := fmt.Sprintf("team-%d", n)
		s.Roles = append(s.Roles, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "secrets", Namespace: ns},
			Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"app"}}}})
		for i := range 9 {
			rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("b%d", i), Namespace: ns},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: fmt.Sprintf("user-%d-%d", n, i)}},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"}}
			if i%3 == 0 {
				rb.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "secrets"}
			}
			s.RoleBindings = append(s.RoleBindings, rb)
		}
		s.ClusterRoleBindings = append(s.ClusterRoleBindings, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("readers-%d", n)},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: fmt.Sprintf("readers-%d", n)}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "read"}})
	}
	return s
}

// benchRequests are what the users of such a cluster do: mostly allowed work
// in their namespace, some denied requests elsewhere, some cluster-wide reads.
func benchRequests(bindings int) []authorizer.AttributesRecord {
	namespaces := max(bindings/10, 1)
	var out []authorizer.AttributesRecord
	for k := range 64 {
		n := (k * 7919) % namespaces
		u := &user.DefaultInfo{Name: fmt.Sprintf("user-%d-%d", n, 1+k%8), Groups: []string{"system:authenticated", fmt.Sprintf("readers-%d", (n+1)%namespaces)}}
		ns := fmt.Sprintf("team-%d", n)
		switch k % 4 {
		case 0:
			out = append(out, authorizer.AttributesRecord{User: u, Verb: "list", Resource: "pods", Namespace: ns, ResourceRequest: true})
		case 1:
			out = append(out, authorizer.AttributesRecord{User: u, Verb: "update", APIGroup: "apps", Resource: "deployments", Name: "web", Namespace: ns, ResourceRequest: true})
		case 2:
			out = append(out, authorizer.AttributesRecord{User: u, Verb: "delete", Resource: "pods", Namespace: fmt.Sprintf("team-%d", (n+3)%namespaces), ResourceRequest: true})
		default:
			out = append(out, authorizer.AttributesRecord{User: u, Verb: "list", Resource: "nodes", ResourceRequest: true})
		}
	}
	return out
}

var sizes = []int{100, 1000, 10000}

func BenchmarkRBACAuthorize(b *testing.B) {
	ctx := context.Background()
	for _, size := range sizes {
		set := benchSet(size)
		reqs := benchRequests(size)
		up, ours := upstreamAuthorizer(set), rbac.New(set)
		// Both must agree on the benchmark's own requests.
		for _, r := range reqs {
			ud, _, _ := up.Authorize(ctx, r)
			kd, _, _ := ours.Authorize(ctx, r)
			if ud != kd {
				b.Fatalf("disagreement on %s", describe(r))
			}
		}
		for _, impl := range []struct {
			name string
			a    authorizer.Authorizer
		}{{"upstream", up}, {"kguard", ours}} {
			b.Run(fmt.Sprintf("bindings=%d/%s", size, impl.name), func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					impl.a.Authorize(ctx, reqs[i%len(reqs)])
					i++
				}
			})
		}
	}
}

func BenchmarkRBACRulesFor(b *testing.B) {
	ctx := context.Background()
	for _, size := range sizes {
		set := benchSet(size)
		reqs := benchRequests(size)
		up, ours := upstreamAuthorizer(set), rbac.New(set)
		for _, impl := range []struct {
			name string
			a    authorizer.RuleResolver
		}{{"upstream", up}, {"kguard", ours}} {
			b.Run(fmt.Sprintf("bindings=%d/%s", size, impl.name), func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					r := reqs[i%len(reqs)]
					impl.a.RulesFor(ctx, r.User, r.Namespace)
					i++
				}
			})
		}
	}
}

func BenchmarkRBACBuild(b *testing.B) {
	for _, size := range sizes {
		set := benchSet(size)
		b.Run(fmt.Sprintf("bindings=%d/kguard", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rbac.New(set)
			}
		})
	}
}
