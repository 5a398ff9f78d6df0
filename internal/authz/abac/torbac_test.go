package abac

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/authz/rbac"
)

func TestToRBACSeedPolicy(t *testing.T) {
	a, err := NewFromFile("testdata/policy.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	c := a.ToRBAC()
	for _, l := range c.Lines {
		if !l.Exact {
			t.Errorf("line %d not exact: %v", l.Line, l.Notes)
		}
	}
	if got := len(c.Objects.Roles); got != 1 || c.Objects.Roles[0].Namespace != "projectCaribou" {
		t.Fatalf("roles = %v, want bob's Role in projectCaribou", c.Objects.Roles)
	}
	if got := len(c.Objects.ClusterRoles); got != 6 {
		t.Fatalf("cluster roles = %d, want 6", got)
	}
}

func TestToRBACInexactLines(t *testing.T) {
	a := mustParse(t, strings.Join([]string{
		`{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":{"user":"a","group":"g","namespace":"*","resource":"*"}}`,
		`{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":{"user":"a","resource":"pods"}}`,
		`{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":{"namespace":"*","resource":"pods"}}`,
	}, "\n"))
	c := a.ToRBAC()
	if c.Lines[0].Exact || c.Lines[1].Exact || !c.Lines[2].Exact {
		t.Fatalf("exactness = %v %v %v, want false false true", c.Lines[0].Exact, c.Lines[1].Exact, c.Lines[2].Exact)
	}
	if len(c.Objects.ClusterRoleBindings)+len(c.Objects.RoleBindings) != 0 {
		t.Fatalf("generated bindings for lines that must not grant: %+v", c.Objects)
	}
}

func randomSpecLine(r *rand.Rand) string {
	pick := func(vs ...string) string { return vs[r.IntN(len(vs))] }
	var fields []string
	add := func(k, v string) {
		if v != "-" {
			fields = append(fields, fmt.Sprintf("%q:%q", k, v))
		}
	}
	add("user", pick("u", "v", "*", "-", "-"))
	add("group", pick("g", "system:authenticated", "-", "-", "-"))
	add("namespace", pick("ns", "*", "", "-"))
	add("resource", pick("pods", "*", "secrets", "pods/log", "widgets", "deployments", "-"))
	add("apiGroup", pick("", "apps", "*", "-"))
	add("nonResourcePath", pick("*", "/api/*", "/healthz", "-", "-"))
	if r.IntN(2) == 0 {
		fields = append(fields, `"readonly":true`)
	}
	return `{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":{` + strings.Join(fields, ",") + `}}`
}

// For every line reported exact, the generated RBAC grants exactly what the line
// grants; for every other line it never grants more.
func TestToRBACEquivalence(t *testing.T) {
	ctx := context.Background()
	users := []user.Info{
		&user.DefaultInfo{Name: "u", Groups: []string{"system:authenticated"}},
		&user.DefaultInfo{Name: "v", Groups: []string{"g", "system:authenticated"}},
		&user.DefaultInfo{Name: "w", Groups: []string{"g"}},
		&user.DefaultInfo{Name: "system:anonymous", Groups: []string{"system:unauthenticated"}},
	}
	checked := 0
	for seed := range 400 {
		r := rand.New(rand.NewPCG(uint64(seed), 9))
		line := randomSpecLine(r)
		a := mustParse(t, line)
		c := a.ToRBAC()
		exact := c.Lines[0].Exact
		ra := rbac.New(c.Objects)
		for range 60 {
			attrs := authorizer.AttributesRecord{User: users[r.IntN(len(users))], Verb: []string{"get", "list", "delete", "create"}[r.IntN(4)]}
			if r.IntN(3) == 0 {
				attrs.Path = []string{"/api", "/api/v1", "/healthz", "/version"}[r.IntN(4)]
			} else {
				attrs.ResourceRequest = true
				attrs.Namespace = []string{"ns", "other", ""}[r.IntN(3)]
				attrs.APIGroup = []string{"", "apps"}[r.IntN(2)]
				attrs.Resource = []string{"pods", "secrets", "deployments", "widgets"}[r.IntN(4)]
				// Subresources the API server really serves for each resource.
				if subs := map[string][]string{"pods": {"log", "status", "exec"}, "deployments": {"scale", "status"}, "widgets": {"status"}}[attrs.Resource]; len(subs) > 0 && r.IntN(2) == 0 {
					attrs.Subresource = subs[r.IntN(len(subs))]
				}
			}
			ad, _, _ := a.Authorize(ctx, attrs)
			rd, _, _ := ra.Authorize(ctx, attrs)
			if exact && ad != rd {
				t.Fatalf("line %s (exact): ABAC %v, RBAC %v for %+v", line, ad, rd, attrs)
			}
			if !exact && rd == authorizer.DecisionAllow && ad != authorizer.DecisionAllow {
				t.Fatalf("line %s (inexact): RBAC grants more than ABAC for %+v", line, attrs)
			}
			checked++
		}
	}
	t.Logf("%d decisions compared", checked)
}
