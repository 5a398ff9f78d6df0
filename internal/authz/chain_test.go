package authz

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/policy"
)

var (
	abacFile = filepath.Join("testdata", "abac", "policy.jsonl")
	rbacDir  = filepath.Join("testdata", "rbac")
)

func objects(t *testing.T) *policy.Set {
	t.Helper()
	s, err := policy.Load([]string{rbacDir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewValidatesModes(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown", Config{Modes: []string{"RBAC", "Magic"}}, `unknown authorization mode "Magic"`},
		{"duplicate", Config{Modes: []string{"RBAC", "RBAC"}}, `specified more than once`},
		{"webhook is not offline", Config{Modes: []string{"Webhook"}}, `not evaluated offline`},
		{"ABAC without file", Config{Modes: []string{"ABAC"}}, `requires an ABAC policy file`},
		{"file without ABAC", Config{Modes: []string{"RBAC"}, ABACFile: abacFile}, `ABAC is not an authorization mode`},
		{"bad ABAC file", Config{Modes: []string{"ABAC"}, ABACFile: "nope.jsonl"}, `error reading policy file nope.jsonl`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := New(Config{Modes: []string{"Magic"}}); !errors.Is(err, ErrConfig) {
		t.Fatalf("configuration errors must match ErrConfig: %v", err)
	}
}

// The Tenant mode only denies: after a mode that allows, it never denies
// what that mode allows, which is said at start (a warning: an ABAC
// break-glass before it can be meant).
func TestTenantAfterAnAllowingModeWarns(t *testing.T) {
	for _, tc := range []struct {
		modes []string
		warn  string
	}{
		{[]string{"RBAC", "Tenant"}, "Tenant comes after RBAC"},
		{[]string{"AlwaysAllow", "Tenant", "RBAC"}, "Tenant comes after AlwaysAllow"},
		{[]string{"Tenant", "RBAC"}, ""},
		{[]string{"AlwaysDeny", "Tenant", "RBAC"}, ""},
		{[]string{"RBAC"}, ""},
	} {
		c, err := New(Config{Modes: tc.modes})
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(c.Warnings, "\n")
		if tc.warn == "" && strings.Contains(got, "Tenant") || !strings.Contains(got, tc.warn) {
			t.Errorf("%v: warnings %q, want %q", tc.modes, got, tc.warn)
		}
	}
}

func TestChainSemantics(t *testing.T) {
	ctx := context.Background()
	jane := &user.DefaultInfo{Name: "jane", Groups: []string{user.AllAuthenticated}}
	bob := &user.DefaultInfo{Name: "bob", Groups: []string{user.AllAuthenticated}}
	getPods := func(u user.Info, ns string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{User: u, Verb: "get", Resource: "pods", Namespace: ns, ResourceRequest: true}
	}
	cases := []struct {
		name     string
		modes    []string
		attrs    authorizer.AttributesRecord
		decision authorizer.Decision
	}{
		{"RBAC allows jane", []string{"RBAC"}, getPods(jane, "default"), authorizer.DecisionAllow},
		{"RBAC has no opinion on bob", []string{"RBAC"}, getPods(bob, "projectCaribou"), authorizer.DecisionNoOpinion},
		{"NoOpinion falls through to ABAC", []string{"RBAC", "ABAC"}, getPods(bob, "projectCaribou"), authorizer.DecisionAllow},
		// Upstream's AlwaysDeny answers NoOpinion ("Everything is forbidden."), so a
		// later mode may still allow; alone it forbids everything.
		{"AlwaysDeny is a no-opinion as upstream", []string{"AlwaysDeny", "RBAC"}, getPods(jane, "default"), authorizer.DecisionAllow},
		{"AlwaysDeny alone forbids", []string{"AlwaysDeny"}, getPods(jane, "default"), authorizer.DecisionNoOpinion},
		{"Allow before AlwaysDeny", []string{"RBAC", "AlwaysDeny"}, getPods(jane, "default"), authorizer.DecisionAllow},
		{"AlwaysAllow", []string{"AlwaysAllow"}, getPods(bob, "x"), authorizer.DecisionAllow},
		{"nothing has an opinion", []string{"RBAC", "ABAC"}, getPods(bob, "default"), authorizer.DecisionNoOpinion},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Modes: tc.modes, Objects: objects(t)}
			for _, m := range tc.modes {
				if m == ModeABAC {
					cfg.ABACFile = abacFile
				}
			}
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			d, reason, _ := c.Authorizer.Authorize(ctx, tc.attrs)
			if d != tc.decision {
				t.Fatalf("decision = %v (%s), want %v", d, reason, tc.decision)
			}
		})
	}
}

func TestDefaultRoles(t *testing.T) {
	c, err := New(Config{Objects: objects(t), DefaultRoles: true})
	if err != nil {
		t.Fatal(err)
	}
	// The qa ServiceAccounts are bound to the default "view" role: it resolves only with the defaults.
	sa := &user.DefaultInfo{Name: "system:serviceaccount:qa:builder", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:qa", user.AllAuthenticated}}
	d, reason, _ := c.Authorizer.Authorize(context.Background(), authorizer.AttributesRecord{User: sa, Verb: "list", Resource: "pods", Namespace: "qa", ResourceRequest: true})
	if d != authorizer.DecisionAllow || !strings.Contains(reason, `ClusterRole "view"`) {
		t.Fatalf("decision = %v (%s)", d, reason)
	}
	for _, w := range c.Warnings {
		if strings.Contains(w, `"view" not found`) {
			t.Fatalf("view should resolve with the default roles: %s", w)
		}
	}
	without, _ := New(Config{Objects: objects(t)})
	if d, _, _ := without.Authorizer.Authorize(context.Background(), authorizer.AttributesRecord{User: sa, Verb: "list", Resource: "pods", Namespace: "qa", ResourceRequest: true}); d == authorizer.DecisionAllow {
		t.Fatal("view resolved without the default roles")
	}
	// A cluster dump that holds its own cluster-admin wins over the shipped one.
	set := objects(t)
	n := len(c.Objects.ClusterRoles)
	set2 := policy.Merge(set, &policy.Set{ClusterRoles: c.Objects.ClusterRoles[:1]})
	c2, _ := New(Config{Objects: set2, DefaultRoles: true})
	if len(c2.Objects.ClusterRoles) != n {
		t.Fatalf("duplicate default role kept: %d roles, want %d", len(c2.Objects.ClusterRoles), n)
	}
}

func TestRuleResolverUnion(t *testing.T) {
	c, err := New(Config{Modes: []string{"RBAC", "ABAC"}, ABACFile: abacFile, Objects: objects(t)})
	if err != nil {
		t.Fatal(err)
	}
	bob := &user.DefaultInfo{Name: "bob", Groups: []string{user.AllAuthenticated}}
	rr, _, _, _ := c.RuleResolver.RulesFor(context.Background(), bob, "projectCaribou")
	if len(rr) != 1 || rr[0].GetResources()[0] != "pods" {
		t.Fatalf("rules = %v, want bob's ABAC rule", rr)
	}
}

// The union names each mode once in a no-opinion reason; RBAC's own reason
// already starts with "RBAC: " and used to read "RBAC: RBAC: ...".
func TestReasonNamesModeOnce(t *testing.T) {
	s, err := policy.Read(strings.NewReader(`
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: dangling, namespace: ns}
subjects: [{kind: User, name: jane, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: Role, name: gone, apiGroup: rbac.authorization.k8s.io}
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Objects: s})
	if err != nil {
		t.Fatal(err)
	}
	d, reason, _ := c.Authorizer.Authorize(context.Background(), authorizer.AttributesRecord{
		User: &user.DefaultInfo{Name: "jane"}, Verb: "get", Resource: "pods", Namespace: "ns", ResourceRequest: true})
	if d == authorizer.DecisionAllow || !strings.HasPrefix(reason, "RBAC: ") || strings.Contains(reason, "RBAC: RBAC:") || !strings.Contains(reason, `"gone" not found`) {
		t.Errorf("reason = %q, want one RBAC prefix and the missing role", reason)
	}
}

// WhoCan lists what RBAC and ABAC allow, with the ServiceAccount namespace
// rule of the authorizer: a RoleBinding's ServiceAccount defaults to the
// binding's namespace, a ClusterRoleBinding's without one matches nobody.
func TestWhoCan(t *testing.T) {
	s, err := policy.Read(strings.NewReader(`
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: reader}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get]}]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: everywhere}
subjects: [{kind: Group, name: auditors, apiGroup: rbac.authorization.k8s.io}, {kind: ServiceAccount, name: nobody}]
roleRef: {kind: ClusterRole, name: reader, apiGroup: rbac.authorization.k8s.io}
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: here, namespace: dev}
subjects: [{kind: ServiceAccount, name: app}]
roleRef: {kind: ClusterRole, name: reader, apiGroup: rbac.authorization.k8s.io}
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: there, namespace: prod}
subjects: [{kind: User, name: jane, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: reader, apiGroup: rbac.authorization.k8s.io}
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	abacFile := filepath.Join(t.TempDir(), "abac.jsonl")
	lines := `{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"user": "bob", "group": "ops", "namespace": "*", "resource": "secrets", "apiGroup": "*", "readonly": true}}
{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"user": "carol", "namespace": "prod", "resource": "*", "apiGroup": "*"}}
`
	if err := os.WriteFile(abacFile, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Modes: []string{"RBAC", "ABAC"}, ABACFile: abacFile, Objects: s})
	if err != nil {
		t.Fatal(err)
	}
	got := c.WhoCan(authorizer.AttributesRecord{Verb: "get", Resource: "secrets", Namespace: "dev", ResourceRequest: true})
	want := []Subject{
		{Kind: "Group", Name: "auditors", Via: "ClusterRoleBinding everywhere", Role: "ClusterRole reader"},
		{Kind: "ServiceAccount", Name: "app", Namespace: "dev", Via: "RoleBinding dev/here", Role: "ClusterRole reader"},
		{Kind: "User", Name: "bob (in group ops)", Via: "ABAC line 1"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("who can get secrets in dev:\n got %v\nwant %v", got, want)
	}
}
