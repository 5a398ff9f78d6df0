package abac

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

func resource(u user.Info, verb, group, res, ns string) authorizer.AttributesRecord {
	return authorizer.AttributesRecord{User: u, Verb: verb, APIGroup: group, Resource: res, Namespace: ns, ResourceRequest: true}
}

func nonResource(u user.Info, verb, path string) authorizer.AttributesRecord {
	return authorizer.AttributesRecord{User: u, Verb: verb, Path: path}
}

func userInfo(name string, groups ...string) user.Info {
	return &user.DefaultInfo{Name: name, Groups: groups}
}

func mustParse(t *testing.T, text string) *Authorizer {
	t.Helper()
	a, err := Parse(strings.NewReader(text), "policy.jsonl")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return a
}

func TestSeedPolicy(t *testing.T) {
	a, err := NewFromFile(filepath.Join("testdata", "policy.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(a.Policies()); got != 7 {
		t.Fatalf("policies = %d, want 7", got)
	}
	alice := userInfo("alice", user.AllAuthenticated)
	bob := userInfo("bob", user.AllAuthenticated)
	kubelet := userInfo("kubelet", user.AllAuthenticated)
	anon := userInfo(user.Anonymous, user.AllUnauthenticated)
	sa := userInfo("system:serviceaccount:kube-system:default", user.AllAuthenticated, "system:serviceaccounts", "system:serviceaccounts:kube-system")
	cases := []struct {
		name  string
		attrs authorizer.AttributesRecord
		allow bool
	}{
		{"alice deletes secrets anywhere", resource(alice, "delete", "", "secrets", "kube-system"), true},
		{"alice creates deployments", resource(alice, "create", "apps", "deployments", "default"), true},
		{"alice cluster-scoped nodes", resource(alice, "delete", "", "nodes", ""), true},
		{"alice cannot post a non-resource path", nonResource(alice, "post", "/healthz"), false},
		{"kubelet reads pods", resource(kubelet, "list", "", "pods", "ns1"), true},
		{"kubelet cannot delete pods", resource(kubelet, "delete", "", "pods", "ns1"), false},
		{"kubelet writes events", resource(kubelet, "create", "", "events", "ns1"), true},
		{"kubelet events in another api group: apiGroup unset matches only core", resource(kubelet, "create", "events.k8s.io", "events", "ns1"), false},
		{"bob reads pods in projectCaribou", resource(bob, "get", "", "pods", "projectCaribou"), true},
		{"bob watches pods in projectCaribou", resource(bob, "watch", "", "pods", "projectCaribou"), true},
		{"bob cannot create pods there", resource(bob, "create", "", "pods", "projectCaribou"), false},
		{"bob cannot read pods elsewhere", resource(bob, "get", "", "pods", "default"), false},
		{"bob cannot read secrets there", resource(bob, "get", "", "secrets", "projectCaribou"), false},
		{"authenticated reads /version", nonResource(bob, "get", "/version"), true},
		{"authenticated cannot post /api", nonResource(bob, "post", "/api"), false},
		{"anonymous reads /healthz", nonResource(anon, "get", "/healthz"), true},
		{"anonymous cannot read pods", resource(anon, "get", "", "pods", "default"), false},
		{"kube-system default SA does anything", resource(sa, "escalate", "rbac.authorization.k8s.io", "clusterroles", ""), true},
		{"no user at all", authorizer.AttributesRecord{Verb: "get", Path: "/version"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, reason, err := a.Authorize(context.Background(), tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if got := d == authorizer.DecisionAllow; got != tc.allow {
				t.Fatalf("allowed = %v (%q), want %v", got, reason, tc.allow)
			}
			if !tc.allow && d != authorizer.DecisionNoOpinion {
				t.Fatalf("decision = %v, want NoOpinion (ABAC never denies)", d)
			}
		})
	}
}

func TestLegacyLines(t *testing.T) {
	cases := []struct {
		name string
		line string
		want Spec
	}{
		{"user only", `{"user":"alice"}`, Spec{User: "alice", Namespace: "*", Resource: "*", APIGroup: "*", NonResourcePath: "*"}},
		{"nothing means every authenticated user", `{"readonly":true}`, Spec{Group: "system:authenticated", Readonly: true, Namespace: "*", Resource: "*", APIGroup: "*", NonResourcePath: "*"}},
		{"star user", `{"user":"*","resource":"pods"}`, Spec{Group: "system:authenticated", Namespace: "*", Resource: "pods", APIGroup: "*"}},
		{"star group drops user", `{"user":"bob","group":"*","namespace":"ns"}`, Spec{Group: "system:authenticated", Namespace: "ns", Resource: "*", APIGroup: "*"}},
		{"namespace set: no non-resource paths", `{"group":"dev","namespace":"ns","resource":"pods"}`, Spec{Group: "dev", Namespace: "ns", Resource: "pods", APIGroup: "*"}},
		{"explicit v0 apiVersion", `{"apiVersion":"abac.authorization.kubernetes.io/v0","kind":"Policy","user":"x"}`, Spec{User: "x", Namespace: "*", Resource: "*", APIGroup: "*", NonResourcePath: "*"}},
		{"kind only", `{"kind":"Policy","user":"x","resource":"pods"}`, Spec{User: "x", Namespace: "*", Resource: "pods", APIGroup: "*"}},
		{"v0 apiVersion without kind", `{"apiVersion":"abac.authorization.kubernetes.io/v0","user":"x","resource":"pods"}`, Spec{User: "x", Namespace: "*", Resource: "pods", APIGroup: "*"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.line).Policies()[0]
			if p.APIVersion != V0 || p.Spec != tc.want {
				t.Fatalf("got %s %+v, want v0 %+v", p.APIVersion, p.Spec, tc.want)
			}
		})
	}
}

func TestVersionedStarSubject(t *testing.T) {
	p := mustParse(t, `{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":{"user":"*","nonResourcePath":"/foo/*"}}`).Policies()[0]
	want := Spec{Group: "system:authenticated", NonResourcePath: "/foo/*"}
	if p.Spec != want {
		t.Fatalf("spec = %+v, want %+v", p.Spec, want)
	}
	a := mustParse(t, p.Text)
	for _, tc := range []struct {
		path  string
		u     user.Info
		allow bool
	}{
		{"/foo/bar", userInfo("x", user.AllAuthenticated), true},
		{"/foo/", userInfo("x", user.AllAuthenticated), true},
		{"/foo", userInfo("x", user.AllAuthenticated), false},
		{"/foobar", userInfo("x", user.AllAuthenticated), false},
		{"/foo/bar", userInfo(user.Anonymous, user.AllUnauthenticated), false},
	} {
		t.Run(tc.path+" "+tc.u.GetName(), func(t *testing.T) {
			d, _, _ := a.Authorize(context.Background(), nonResource(tc.u, "delete", tc.path))
			if (d == authorizer.DecisionAllow) != tc.allow {
				t.Fatalf("decision %v, want allow=%v", d, tc.allow)
			}
		})
	}
}

func TestSubjectMatching(t *testing.T) {
	cases := []struct {
		name  string
		spec  string
		u     user.Info
		allow bool
	}{
		{"no subject matches nobody", `{}`, userInfo("a", "g"), false},
		{"user and group both required", `{"user":"a","group":"g"}`, userInfo("a"), false},
		{"user and group both present", `{"user":"a","group":"g"}`, userInfo("a", "g"), true},
		{"group only", `{"group":"g"}`, userInfo("b", "g"), true},
		{"other user", `{"user":"a"}`, userInfo("b", "g"), false},
		{"star group means authenticated", `{"group":"*"}`, userInfo(user.Anonymous, user.AllUnauthenticated), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line := `{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":` + strings.TrimSuffix(tc.spec, "}")
			if tc.spec != `{}` {
				line += `,`
			}
			line += `"namespace":"*","resource":"*","apiGroup":"*"}}`
			a := mustParse(t, line)
			d, _, _ := a.Authorize(context.Background(), resource(tc.u, "get", "", "pods", "ns"))
			if (d == authorizer.DecisionAllow) != tc.allow {
				t.Fatalf("decision %v, want allow=%v", d, tc.allow)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		text string
		line int
		want string
	}{
		{"invalid json", "{\"user\":\"a\"}\n{\"user\":", 2, "invalid JSON"},
		{"leading space in apiVersion (seed typo)", `{"apiVersion": " abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"user": "alice"}}`, 1, "unrecognized object"},
		{"readonly as string (seed typo)", `{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"user": "kubelet", "readonly": "true"}}`, 1, "readonly"},
		{"wrong kind", `{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Role","spec":{}}`, 1, "unrecognized object"},
		{"versioned without kind", `{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","spec":{"user":"a"}}`, 1, "without kind"},
		{"other group", `{"apiVersion":"v1","kind":"Policy"}`, 1, "unrecognized object"},
		{"not an object", "# comment\n\n[1,2]", 3, ""},
		{"yaml is not accepted", "user: alice", 1, "invalid JSON"},
		{"too long", `{"user":"` + strings.Repeat("a", maxLine) + `"}`, 1, "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.text), "p.jsonl")
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			var le *LoadError
			if !errors.As(err, &le) || le.Line != tc.line || !errors.Is(err, ErrPolicy) {
				t.Fatalf("err = %v, want a LoadError on line %d", err, tc.line)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "error reading policy file p.jsonl, line ") {
				t.Fatalf("err = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestCommentsBlankLinesAndWarnings(t *testing.T) {
	a := mustParse(t, "\n   \n# a comment\n  # indented comment\n{\"usr\":\"bob\",\"resource\":\"pods\"}\r\n")
	ps := a.Policies()
	if len(ps) != 1 || ps[0].Line != 5 {
		t.Fatalf("policies = %+v, want one on line 5", ps)
	}
	// "usr" is not a field: upstream ignores it, turning the line into a grant to
	// every authenticated user. kguard reads it the same way but warns.
	if ps[0].Spec.Group != "system:authenticated" {
		t.Fatalf("spec = %+v", ps[0].Spec)
	}
	w := a.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "policy.jsonl:5") || !strings.Contains(w[0], "usr") {
		t.Fatalf("warnings = %q", w)
	}
}

func TestNewFromFileMissing(t *testing.T) {
	_, err := NewFromFile(filepath.Join(t.TempDir(), "nope.jsonl"))
	if !errors.Is(err, os.ErrNotExist) || !errors.Is(err, ErrPolicy) {
		t.Fatalf("err = %v", err)
	}
}

func TestRulesFor(t *testing.T) {
	a, err := NewFromFile(filepath.Join("testdata", "policy.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	rr, nr, incomplete, err := a.RulesFor(context.Background(), userInfo("bob", user.AllAuthenticated), "projectCaribou")
	if err != nil || incomplete {
		t.Fatal(err, incomplete)
	}
	if len(rr) != 1 || strings.Join(rr[0].GetVerbs(), ",") != "get,list,watch" || rr[0].GetResources()[0] != "pods" {
		t.Fatalf("resource rules = %v", rr)
	}
	// Like upstream, a line without namespace ("") contributes rules only when
	// the namespace asked about is "" too: non-resource rules show at cluster scope.
	if len(nr) != 0 {
		t.Fatalf("non-resource rules in a namespace = %v", nr)
	}
	_, nr, _, _ = a.RulesFor(context.Background(), userInfo("bob", user.AllAuthenticated), "")
	if len(nr) != 1 || nr[0].GetNonResourceURLs()[0] != "*" || strings.Join(nr[0].GetVerbs(), ",") != "get,list,watch" {
		t.Fatalf("non-resource rules = %v", nr)
	}
	rr, _, _, _ = a.RulesFor(context.Background(), userInfo("bob", user.AllAuthenticated), "default")
	if len(rr) != 0 {
		t.Fatalf("bob in default: %v", rr)
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := os.ReadFile(filepath.Join("testdata", "policy.jsonl"))
	for _, l := range strings.Split(string(seeds), "\n") {
		f.Add(l)
	}
	f.Add(`{"user":"*"}`)
	f.Add(`{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":{"user":"a","nonResourcePath":"/x/*","readonly":true}}`)
	f.Add(`{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":null}`)
	f.Add("null")
	f.Fuzz(func(t *testing.T, text string) {
		a, err := Parse(strings.NewReader(text), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrPolicy) {
				t.Fatalf("error not matching ErrPolicy: %v", err)
			}
			return
		}
		for _, p := range a.Policies() {
			s := p.Spec
			if s.User == "*" || s.Group == "*" {
				t.Fatalf("star subject not converted: %+v", s)
			}
		}
		// A request by nobody is never allowed.
		d, _, _ := a.Authorize(context.Background(), authorizer.AttributesRecord{Verb: "get", Path: "/"})
		if d == authorizer.DecisionAllow {
			t.Fatal("allowed a request without a user")
		}
	})
}

// A walk interrupted by the end of the request's context never allows.
func TestAuthorizeHonoursContext(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 200; i++ {
		b.WriteString(`{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"group": "other", "namespace": "*", "resource": "*", "apiGroup": "*"}}` + "\n")
	}
	b.WriteString(`{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"user": "u", "namespace": "*", "resource": "*", "apiGroup": "*"}}` + "\n")
	a := mustParse(t, b.String())
	attrs := resource(userInfo("u", "g"), "get", "", "pods", "ns")
	if d, _, err := a.Authorize(context.Background(), attrs); d != authorizer.DecisionAllow || err != nil {
		t.Fatalf("Authorize = %v, %v; want the last line to allow", d, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, _, err := a.Authorize(ctx, attrs)
	if d == authorizer.DecisionAllow || !errors.Is(err, context.Canceled) {
		t.Errorf("Authorize after cancel = %v, %v; want no opinion with context.Canceled", d, err)
	}
}
