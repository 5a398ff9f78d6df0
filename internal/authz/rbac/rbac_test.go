package rbac

import (
	"context"
	"strconv"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/policy"
)

func load(t *testing.T, yaml string) *policy.Set {
	t.Helper()
	s, err := policy.Read(strings.NewReader(yaml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func res(u user.Info, verb, group, resource, sub, ns, name string) authorizer.AttributesRecord {
	return authorizer.AttributesRecord{User: u, Verb: verb, APIGroup: group, Resource: resource, Subresource: sub,
		Namespace: ns, Name: name, ResourceRequest: true}
}

func url(u user.Info, verb, path string) authorizer.AttributesRecord {
	return authorizer.AttributesRecord{User: u, Verb: verb, Path: path}
}

func who(name string, groups ...string) user.Info {
	return &user.DefaultInfo{Name: name, Groups: groups}
}

const fixture = `
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: rules}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get]}
- {apiGroups: [""], resources: ["pods/log"], verbs: [get]}
- {apiGroups: [apps], resources: ["*/scale"], verbs: [update]}
- {apiGroups: [""], resources: [configmaps], resourceNames: [cfg], verbs: ["*"]}
- {apiGroups: ["*"], resources: [widgets], verbs: [list]}
- {apiGroups: [batch], resources: ["jobs/*"], verbs: [get]}
- {nonResourceURLs: ["/healthz", "/logs/*"], verbs: [get]}
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: rules-to-alice}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: rules, apiGroup: rbac.authorization.k8s.io}
---
kind: Role
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: deleter, namespace: ns1}
rules: [{apiGroups: [""], resources: [pods], verbs: [delete]}]
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: deleters, namespace: ns1}
subjects:
- {kind: Group, name: team, apiGroup: rbac.authorization.k8s.io}
- {kind: ServiceAccount, name: robot}
- {kind: ServiceAccount, name: other, namespace: ns2}
roleRef: {kind: Role, name: deleter, apiGroup: rbac.authorization.k8s.io}
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: rules-in-ns1, namespace: ns1}
subjects: [{kind: User, name: bob, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: rules, apiGroup: rbac.authorization.k8s.io}
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: sa-without-namespace}
subjects: [{kind: ServiceAccount, name: robot}]
roleRef: {kind: ClusterRole, name: rules, apiGroup: rbac.authorization.k8s.io}
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: everyone-healthz}
subjects:
- {kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}
- {kind: Group, name: "system:unauthenticated", apiGroup: rbac.authorization.k8s.io}
roleRef: {kind: ClusterRole, name: healthz, apiGroup: rbac.authorization.k8s.io}
---
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: healthz}
rules: [{nonResourceURLs: ["/healthz"], verbs: [get]}]
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: dangling, namespace: ns1}
subjects: [{kind: User, name: carol, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: Role, name: missing, apiGroup: rbac.authorization.k8s.io}
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: role-in-crb}
subjects: [{kind: User, name: carol, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: Role, name: deleter, apiGroup: rbac.authorization.k8s.io}
`

func TestAuthorize(t *testing.T) {
	a := New(load(t, fixture))
	alice := who("alice", user.AllAuthenticated)
	bob := who("bob", user.AllAuthenticated)
	robot := who("system:serviceaccount:ns1:robot", user.AllAuthenticated, "system:serviceaccounts", "system:serviceaccounts:ns1")
	other := who("system:serviceaccount:ns2:other", user.AllAuthenticated)
	teamMember := who("dan", "team")
	cases := []struct {
		name   string
		attrs  authorizer.AttributesRecord
		allow  bool
		reason string
	}{
		{"cluster binding, any namespace", res(alice, "get", "", "pods", "", "anywhere", "p"), true,
			`RBAC: allowed by ClusterRoleBinding "rules-to-alice" of ClusterRole "rules" to User "alice"`},
		{"cluster binding, cluster-wide list is another verb", res(alice, "list", "", "pods", "", "", ""), false, ""},
		{"subresource named exactly", res(alice, "get", "", "pods", "log", "ns", "p"), true, ""},
		{"other subresource not granted", res(alice, "get", "", "pods", "exec", "ns", "p"), false, ""},
		{"resource rule does not grant a subresource", res(alice, "get", "", "pods", "status", "ns", "p"), false, ""},
		{"*/scale matches any resource's scale", res(alice, "update", "apps", "deployments", "scale", "ns", "d"), true, ""},
		{"*/scale does not match the resource", res(alice, "update", "apps", "deployments", "", "ns", "d"), false, ""},
		{"*/scale in another group", res(alice, "update", "", "replicationcontrollers", "scale", "ns", "d"), false, ""},
		{"jobs/* is not a wildcard (only */sub is)", res(alice, "get", "batch", "jobs", "status", "ns", "j"), false, ""},
		{"jobs/* does not match jobs", res(alice, "get", "batch", "jobs", "", "ns", "j"), false, ""},
		{"resourceNames match the name", res(alice, "delete", "", "configmaps", "", "ns", "cfg"), true, ""},
		{"resourceNames other name", res(alice, "delete", "", "configmaps", "", "ns", "other"), false, ""},
		{"resourceNames never match list", res(alice, "list", "", "configmaps", "", "ns", ""), false, ""},
		{"resourceNames never match create without name", res(alice, "create", "", "configmaps", "", "ns", ""), false, ""},
		{"apiGroups *", res(alice, "list", "example.com", "widgets", "", "ns", ""), true, ""},
		{"wrong group", res(alice, "get", "apps", "pods", "", "ns", "p"), false, ""},
		{"non-resource exact", url(alice, "get", "/healthz"), true, ""},
		{"non-resource prefix", url(alice, "get", "/logs/kube-apiserver.log"), true, ""},
		{"non-resource prefix needs the slash", url(alice, "get", "/logsx"), false, ""},
		{"non-resource wrong verb", url(alice, "post", "/healthz"), false, ""},
		{"group subject via RoleBinding", res(teamMember, "delete", "", "pods", "", "ns1", "p"), true,
			`RBAC: allowed by RoleBinding "deleters/ns1" of Role "deleter" to Group "team"`},
		{"RoleBinding only in its namespace", res(teamMember, "delete", "", "pods", "", "ns2", "p"), false, ""},
		{"RoleBinding never grants cluster-wide", res(teamMember, "delete", "", "pods", "", "", "p"), false, ""},
		{"ServiceAccount subject defaults to binding namespace", res(robot, "delete", "", "pods", "", "ns1", "p"), true,
			`RBAC: allowed by RoleBinding "deleters/ns1" of Role "deleter" to ServiceAccount "robot/ns1"`},
		{"ServiceAccount subject in another namespace", res(other, "delete", "", "pods", "", "ns1", "p"), true,
			`RBAC: allowed by RoleBinding "deleters/ns1" of Role "deleter" to ServiceAccount "other/ns2"`},
		{"ClusterRoleBinding SA without namespace matches nobody", res(robot, "get", "", "pods", "", "ns1", "p"), false, ""},
		{"RoleBinding to a ClusterRole is scoped", res(bob, "get", "", "pods", "", "ns1", "p"), true,
			`RBAC: allowed by RoleBinding "rules-in-ns1/ns1" of ClusterRole "rules" to User "bob"`},
		{"RoleBinding to a ClusterRole not elsewhere", res(bob, "get", "", "pods", "", "ns2", "p"), false, ""},
		{"RoleBinding never grants non-resource URLs", url(bob, "get", "/logs/x"), false, ""},
		{"system:authenticated group", url(bob, "get", "/healthz"), true,
			`RBAC: allowed by ClusterRoleBinding "everyone-healthz" of ClusterRole "healthz" to Group "system:authenticated"`},
		{"system:unauthenticated group", url(who(user.Anonymous, user.AllUnauthenticated), "get", "/healthz"), true,
			`RBAC: allowed by ClusterRoleBinding "everyone-healthz" of ClusterRole "healthz" to Group "system:unauthenticated"`},
		{"missing role: no opinion with the error", res(who("carol"), "delete", "", "pods", "", "ns1", "p"), false,
			`RBAC: [role.rbac.authorization.k8s.io "deleter" not found, role.rbac.authorization.k8s.io "missing" not found]`},
		{"no user", authorizer.AttributesRecord{Verb: "get", Path: "/healthz"}, false, "RBAC: no user"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, reason, err := a.Authorize(context.Background(), tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if d == authorizer.DecisionDeny {
				t.Fatal("RBAC must never deny")
			}
			if (d == authorizer.DecisionAllow) != tc.allow {
				t.Fatalf("allowed = %v (%s), want %v", d == authorizer.DecisionAllow, reason, tc.allow)
			}
			if tc.reason != "" && reason != tc.reason {
				t.Fatalf("reason = %q\nwant     %q", reason, tc.reason)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	w := strings.Join(New(load(t, fixture)).Warnings(), "\n")
	for _, want := range []string{
		`RoleBinding "ns1/dangling" grants nothing: role.rbac.authorization.k8s.io "missing" not found`,
		`ClusterRoleBinding "role-in-crb" grants nothing: role.rbac.authorization.k8s.io "deleter" not found`,
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
}

func TestFirstApplyingSubjectIsReported(t *testing.T) {
	a := New(load(t, `
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: r}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: b}
subjects:
- {kind: Group, name: g, apiGroup: rbac.authorization.k8s.io}
- {kind: User, name: u, apiGroup: rbac.authorization.k8s.io}
roleRef: {kind: ClusterRole, name: r, apiGroup: rbac.authorization.k8s.io}
`))
	_, reason, _ := a.Authorize(context.Background(), res(who("u", "g", "g"), "get", "", "pods", "", "ns", ""))
	if want := `RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "r" to Group "g"`; reason != want {
		t.Fatalf("reason = %q, want %q", reason, want)
	}
}

const aggregation = `
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: top}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {agg/top: "true"}
rules: [{apiGroups: [""], resources: [ignored], verbs: [get]}]
---
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: middle, labels: {agg/top: "true"}}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {agg/middle: "true"}
  - matchExpressions: [{key: agg/extra, operator: Exists}]
---
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: leaf-a, labels: {agg/middle: "true"}}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: leaf-b, labels: {agg/middle: "true", agg/extra: "x"}}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get]}
- {apiGroups: [""], resources: [services], verbs: [list]}
---
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: self, labels: {agg/self: "true"}}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {agg/self: "true"}}]
rules: [{apiGroups: [""], resources: [secrets], verbs: [get]}]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: top}
subjects: [{kind: User, name: u, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: top, apiGroup: rbac.authorization.k8s.io}
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: self}
subjects: [{kind: User, name: v, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: self, apiGroup: rbac.authorization.k8s.io}
`

func TestAggregation(t *testing.T) {
	s := load(t, aggregation)
	a := New(s)
	rules, ok := a.RoleRules("ClusterRole", "", "middle")
	if !ok || len(rules) != 2 {
		t.Fatalf("middle = %v: want the two distinct rules of leaf-a and leaf-b, de-duplicated", rules)
	}
	top, _ := a.RoleRules("ClusterRole", "", "top")
	if len(top) != 2 {
		t.Fatalf("top = %v: want middle's aggregated rules, its own replaced", top)
	}
	self, _ := a.RoleRules("ClusterRole", "", "self")
	if len(self) != 0 {
		t.Fatalf("self = %v: a role never aggregates itself, and aggregation replaces its rules", self)
	}
	for _, tc := range []struct {
		name  string
		attrs authorizer.AttributesRecord
		allow bool
	}{
		{"nested aggregation", res(who("u"), "list", "", "services", "", "ns", ""), true},
		{"own rules replaced", res(who("u"), "get", "", "ignored", "", "ns", ""), false},
		{"self-selecting role loses its rules", res(who("v"), "get", "", "secrets", "", "ns", ""), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _, _ := a.Authorize(context.Background(), tc.attrs)
			if (d == authorizer.DecisionAllow) != tc.allow {
				t.Fatalf("decision %v, want allow=%v", d, tc.allow)
			}
		})
	}
	if len(s.ClusterRoles[0].Rules) != 1 {
		t.Fatal("New modified the input set")
	}
}

func TestRulesFor(t *testing.T) {
	a := New(load(t, fixture))
	rr, nr, incomplete, err := a.RulesFor(context.Background(), who("bob", user.AllAuthenticated), "ns1")
	if incomplete || err != nil {
		t.Fatal(incomplete, err)
	}
	if len(rr) != 6 {
		t.Errorf("resource rules = %d, want the 6 of ClusterRole rules through the RoleBinding", len(rr))
	}
	if len(nr) != 2 {
		t.Errorf("non-resource rules = %d, want /healthz of everyone-healthz and the rules role's (listed, though a RoleBinding never grants them, as upstream)", len(nr))
	}
	_, _, _, err = a.RulesFor(context.Background(), who("carol"), "ns1")
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("err = %v, want the resolution errors", err)
	}
}

func TestGrants(t *testing.T) {
	grants, warnings := Grants(load(t, fixture))
	if len(warnings) != 2 {
		t.Errorf("warnings = %v", warnings)
	}
	var got []string
	for _, g := range grants {
		got = append(got, g.BindingKind+" "+g.BindingNamespace+"/"+g.BindingName+" "+g.Subject.Kind+":"+g.Subject.Name+" ns="+g.Namespace)
	}
	want := []string{
		"ClusterRoleBinding /everyone-healthz Group:system:authenticated ns=",
		"ClusterRoleBinding /everyone-healthz Group:system:unauthenticated ns=",
		"ClusterRoleBinding /rules-to-alice User:alice ns=",
		"ClusterRoleBinding /sa-without-namespace ServiceAccount:robot ns=",
		"RoleBinding ns1/deleters Group:team ns=ns1",
		"RoleBinding ns1/deleters ServiceAccount:robot ns=ns1",
		"RoleBinding ns1/deleters ServiceAccount:other ns=ns1",
		"RoleBinding ns1/rules-in-ns1 User:bob ns=ns1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("grants:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCovers(t *testing.T) {
	owner := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{"apps"}, Resources: []string{"*"}, Verbs: []string{"*"}},
	}
	cases := []struct {
		name      string
		requested []rbacv1.PolicyRule
		covered   bool
		missing   int
	}{
		{"subset", []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}, true, 0},
		{"wildcard owner", []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"delete"}}}, true, 0},
		{"extra verb", []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "delete"}}}, false, 1},
		{"non-resource", []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}, false, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, missing := Covers(owner, tc.requested)
			if ok != tc.covered || len(missing) != tc.missing {
				t.Fatalf("Covers = %v %v, want %v with %d missing", ok, missing, tc.covered, tc.missing)
			}
		})
	}
}

func TestEscalation(t *testing.T) {
	s := load(t, fixture+`
---
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: grantor}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [rules]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [roles], verbs: [escalate]}
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: grantor, namespace: ns3}
subjects: [{kind: User, name: erin, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: grantor, apiGroup: rbac.authorization.k8s.io}
`)
	a := New(s)
	ctx := context.Background()
	podsGet := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}
	podsDelete := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"delete"}}}
	rulesRules, _ := a.RoleRules("ClusterRole", "", "rules")
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "rules"}
	cases := []struct {
		name  string
		check func() Escalation
		allow bool
	}{
		{"role within own rules", func() Escalation { return a.CheckRole(ctx, a, who("alice"), "ns1", "r", podsGet, false) }, true},
		{"role beyond own rules", func() Escalation { return a.CheckRole(ctx, a, who("alice"), "ns1", "r", podsDelete, false) }, false},
		{"role with escalate in its namespace", func() Escalation { return a.CheckRole(ctx, a, who("erin"), "ns3", "r", podsDelete, false) }, true},
		{"escalate does not reach other namespaces", func() Escalation { return a.CheckRole(ctx, a, who("erin"), "ns1", "r", podsDelete, false) }, false},
		{"aggregationRule needs everything", func() Escalation { return a.CheckRole(ctx, a, who("alice"), "", "agg", podsGet, true) }, false},
		{"system:masters may", func() Escalation {
			return a.CheckRole(ctx, a, who("root", user.SystemPrivilegedGroup), "", "agg", podsDelete, true)
		}, true},
		{"binding with bind on the role", func() Escalation { return a.CheckBinding(ctx, a, who("erin"), "ns3", ref, rulesRules, true) }, true},
		{"binding holding the rules in scope", func() Escalation { return a.CheckBinding(ctx, a, who("alice"), "ns1", ref, rulesRules, true) }, true},
		{"binding without bind or the rules", func() Escalation { return a.CheckBinding(ctx, a, who("bob"), "ns2", ref, rulesRules, true) }, false},
		{"bob holds the rules in ns1 only", func() Escalation { return a.CheckBinding(ctx, a, who("bob"), "ns1", ref, rulesRules, true) }, true},
		{"missing role without bind", func() Escalation {
			return a.CheckBinding(ctx, a, who("bob"), "ns1", rbacv1.RoleRef{Kind: "ClusterRole", Name: "nope"}, nil, false)
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.check()
			if e.Allowed != tc.allow {
				t.Fatalf("allowed = %v (%s), want %v", e.Allowed, e.Reason, tc.allow)
			}
			if !e.Allowed && e.Reason == "" {
				t.Fatal("a refusal must say why")
			}
		})
	}
}

func TestNoUnrelatedWork(t *testing.T) {
	// The index: a user's request only visits its own bindings.
	s := &policy.Set{ClusterRoles: []*rbacv1.ClusterRole{{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}}}
	for i := 0; i < 1000; i++ {
		s.RoleBindings = append(s.RoleBindings, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns" + strconv.Itoa(i%100)},
			Subjects:   []rbacv1.Subject{{Kind: "User", Name: "user" + strconv.Itoa(i)}},
			RoleRef:    rbacv1.RoleRef{Kind: "ClusterRole", Name: "r"},
		})
	}
	a := New(s)
	var buf [16]entry
	ix := a.namespaces["ns5"]
	if got := len(ix.candidates(who("user105"), buf[:])); got != 1 {
		t.Fatalf("candidates = %d, want only the user's own binding", got)
	}
	if got := len(ix.candidates(who("nobody"), buf[:])); got != 0 {
		t.Fatalf("candidates for a stranger = %d", got)
	}
}

// repeatedGroups is the attack of a LocalSubjectAccessReview whose groups
// repeat one group many times: several bindings name the group.
func repeatedGroups(t testing.TB, bindings, repeats int) (*Authorizer, user.Info) {
	t.Helper()
	var b strings.Builder
	b.WriteString("kind: ClusterRole\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: viewer}\nrules: [{apiGroups: [\"\"], resources: [pods], verbs: [get]}]\n")
	for i := range bindings {
		b.WriteString("---\nkind: ClusterRoleBinding\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: b" + strconv.Itoa(i) + "}\n")
		b.WriteString("subjects: [{kind: Group, name: \"system:authenticated\", apiGroup: rbac.authorization.k8s.io}]\n")
		b.WriteString("roleRef: {kind: ClusterRole, name: viewer, apiGroup: rbac.authorization.k8s.io}\n")
	}
	s, err := policy.Read(strings.NewReader(b.String()), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	groups := make([]string, repeats)
	for i := range groups {
		groups[i] = user.AllAuthenticated
	}
	return New(s), &user.DefaultInfo{Name: "mallory", Groups: groups}
}

// A group named many times is looked up once: the candidate list holds each
// binding once and never grows past the distinct bindings (before the fix it
// held bindings × repeats entries and sorted them by insertion).
func TestRepeatedGroupsAreLookedUpOnce(t *testing.T) {
	a, u := repeatedGroups(t, 3, 10000)
	var buf [16]entry
	got := a.cluster.candidates(u, buf[:])
	if len(got) != 3 {
		t.Fatalf("candidates = %d entries, want the 3 bindings once each", len(got))
	}
	if &got[0] != &buf[0] {
		t.Errorf("candidates outgrew the caller's buffer: repeated groups were looked up again")
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].b.order >= got[i].b.order {
			t.Errorf("candidates not in binding order: %d then %d", got[i-1].b.order, got[i].b.order)
		}
	}
	d, reason, err := a.Authorize(context.Background(), res(u, "get", "", "pods", "", "ns", "p"))
	if d != authorizer.DecisionAllow || err != nil || !strings.Contains(reason, `ClusterRoleBinding "b0"`) {
		t.Errorf("Authorize = %v %q %v, want allowed by the first binding b0", d, reason, err)
	}
}

// Evaluation stops when the request's context ends: no opinion and the
// context's error, never an allow.
func TestAuthorizeHonoursContext(t *testing.T) {
	// 200 distinct groups each bound once: a walk long enough to be interrupted.
	var b strings.Builder
	b.WriteString("kind: ClusterRole\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: none}\nrules: []\n")
	groups := make([]string, 200)
	for i := range groups {
		groups[i] = "g" + strconv.Itoa(i)
		b.WriteString("---\nkind: ClusterRoleBinding\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: b" + strconv.Itoa(i) + "}\n")
		b.WriteString("subjects: [{kind: Group, name: " + groups[i] + ", apiGroup: rbac.authorization.k8s.io}]\n")
		b.WriteString("roleRef: {kind: ClusterRole, name: none, apiGroup: rbac.authorization.k8s.io}\n")
	}
	a := New(load(t, b.String()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, _, err := a.Authorize(ctx, res(&user.DefaultInfo{Name: "u", Groups: groups}, "get", "", "pods", "", "ns", "p"))
	if d == authorizer.DecisionAllow || err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("Authorize after cancel = %v, %v; want no opinion with the context's error", d, err)
	}
}

// BenchmarkRepeatedGroups shows the cost of a review linear in its number of
// groups (ns/op divided by the repeats stays flat).
func BenchmarkRepeatedGroups(b *testing.B) {
	for _, repeats := range []int{1000, 10000, 40000} {
		b.Run(strconv.Itoa(repeats), func(b *testing.B) {
			a, u := repeatedGroups(b, 5, repeats)
			attrs := res(u, "list", "", "secrets", "", "ns", "")
			b.ReportAllocs()
			for b.Loop() {
				a.Authorize(context.Background(), attrs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(repeats), "ns/group")
		})
	}
}
