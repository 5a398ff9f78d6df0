package upstream

import (
	"fmt"
	"math/rand/v2"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/policy"
)

// Small vocabularies, so that random rules and requests meet often, with every
// special form the matchers know: "*", subresources, "*/scale", trailing-* URLs.
var (
	verbs       = []string{"get", "list", "watch", "create", "update", "delete", "deletecollection", "patch", "escalate", "bind", "use", "*"}
	apiGroups   = []string{"", "apps", "batch", "rbac.authorization.k8s.io", "*"}
	resources   = []string{"pods", "pods/log", "pods/status", "pods/*", "*/scale", "deployments", "deployments/scale", "secrets", "roles", "jobs", "*"}
	names       = []string{"a", "b", "c"}
	urls        = []string{"/healthz", "/healthz/*", "/api", "/api/*", "/logs/*", "/version", "*", "/"}
	requestURLs = []string{"/healthz", "/healthz/ready", "/api", "/api/v1", "/apis", "/logs/x", "/logs/", "/version", "/", ""}
	namespaces  = []string{"ns0", "ns1", "ns2"}
	users       = []string{"u0", "u1", "u2", "system:serviceaccount:ns0:sa0", "system:serviceaccount:ns1:default", user.Anonymous}
	groups      = []string{"g0", "g1", user.AllAuthenticated, user.AllUnauthenticated, "system:serviceaccounts", "system:serviceaccounts:ns0"}
	saNames     = []string{"sa0", "default"}
)

func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

func some(r *rand.Rand, list []string, max int) []string {
	n := 1 + r.IntN(max)
	out := make([]string, 0, n)
	for range n {
		out = append(out, pick(r, list))
	}
	return out
}

func randomRule(r *rand.Rand) rbacv1.PolicyRule {
	if r.IntN(5) == 0 {
		return rbacv1.PolicyRule{Verbs: some(r, verbs, 3), NonResourceURLs: some(r, urls, 2)}
	}
	rule := rbacv1.PolicyRule{Verbs: some(r, verbs, 3), APIGroups: some(r, apiGroups, 2), Resources: some(r, resources, 3)}
	if r.IntN(4) == 0 {
		rule.ResourceNames = some(r, names, 2)
	}
	return rule
}

func randomRules(r *rand.Rand) []rbacv1.PolicyRule {
	n := r.IntN(4)
	out := make([]rbacv1.PolicyRule, 0, n)
	for range n {
		out = append(out, randomRule(r))
	}
	return out
}

func randomSubjects(r *rand.Rand) []rbacv1.Subject {
	n := 1 + r.IntN(3)
	var out []rbacv1.Subject
	for range n {
		switch r.IntN(3) {
		case 0:
			out = append(out, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: pick(r, users)})
		case 1:
			out = append(out, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: pick(r, groups)})
		default:
			s := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: pick(r, saNames)}
			if r.IntN(2) == 0 {
				s.Namespace = pick(r, namespaces)
			}
			out = append(out, s)
		}
	}
	return out
}

// randomSet draws a world of RBAC objects without aggregation (the upstream
// authorizer reads aggregated roles as the controller has filled them).
func randomSet(r *rand.Rand, size int) *policy.Set {
	s := &policy.Set{}
	nClusterRoles := 1 + size/4
	for i := range nClusterRoles {
		s.ClusterRoles = append(s.ClusterRoles, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cr%d", i)}, Rules: randomRules(r)})
	}
	for i := range 1 + size/4 {
		s.Roles = append(s.Roles, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("r%d", i%3), Namespace: pick(r, namespaces)}, Rules: randomRules(r)})
	}
	// De-duplicate roles by namespace/name: a cluster holds each once.
	seen := map[string]bool{}
	roles := s.Roles[:0]
	for _, ro := range s.Roles {
		if !seen[ro.Namespace+"/"+ro.Name] {
			seen[ro.Namespace+"/"+ro.Name] = true
			roles = append(roles, ro)
		}
	}
	s.Roles = roles
	ref := func(kind string) rbacv1.RoleRef {
		switch kind {
		case "ClusterRole":
			return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: fmt.Sprintf("cr%d", r.IntN(nClusterRoles+1))} // sometimes missing
		default:
			return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: fmt.Sprintf("r%d", r.IntN(4))} // sometimes missing
		}
	}
	for i := range size {
		if r.IntN(3) == 0 {
			b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("crb%d", i)}, Subjects: randomSubjects(r), RoleRef: ref("ClusterRole")}
			if r.IntN(20) == 0 {
				b.RoleRef = ref("Role") // invalid: upstream fails to find a Role without namespace
			}
			s.ClusterRoleBindings = append(s.ClusterRoleBindings, b)
			continue
		}
		kind := "Role"
		if r.IntN(2) == 0 {
			kind = "ClusterRole"
		}
		s.RoleBindings = append(s.RoleBindings, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("rb%d", i), Namespace: pick(r, namespaces)},
			Subjects:   randomSubjects(r), RoleRef: ref(kind),
		})
	}
	return s
}

func randomUser(r *rand.Rand) user.Info {
	name := pick(r, users)
	var gs []string
	for _, g := range groups {
		if r.IntN(3) == 0 {
			gs = append(gs, g)
		}
	}
	return &user.DefaultInfo{Name: name, Groups: gs}
}

func randomRequest(r *rand.Rand) authorizer.AttributesRecord {
	a := authorizer.AttributesRecord{User: randomUser(r), Verb: pick(r, verbs[:len(verbs)-1])}
	if r.IntN(4) == 0 {
		a.Path = pick(r, requestURLs)
		return a
	}
	a.ResourceRequest = true
	a.APIGroup = pick(r, apiGroups[:len(apiGroups)-1])
	a.Resource = pick(r, []string{"pods", "deployments", "secrets", "roles", "jobs", "nodes"})
	if r.IntN(3) == 0 {
		a.Subresource = pick(r, []string{"log", "status", "scale", "exec"})
	}
	if r.IntN(4) != 0 {
		a.Namespace = pick(r, append(namespaces, "other"))
	}
	if r.IntN(2) == 0 {
		a.Name = pick(r, append(names, "z"))
	}
	return a
}

func userInfo(name string, groups []string) user.Info {
	return &user.DefaultInfo{Name: name, Groups: groups}
}
