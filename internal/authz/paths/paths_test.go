package paths

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/kguard/kguard/internal/authz/defaultroles"
	"github.com/kguard/kguard/internal/policy"
)

func load(t *testing.T, files ...string) *policy.Set {
	t.Helper()
	s, err := policy.Load(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func find(t *testing.T, s *policy.Set, o Options) []Path {
	t.Helper()
	r, err := Find(s, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) > 0 {
		t.Errorf("warnings: %q", r.Warnings)
	}
	return r.Paths
}

// steps renders a path's hops compactly: "edge=>to" each.
func steps(p Path) string {
	var out []string
	for _, h := range p.Hops {
		s := h.Edge + "=>" + h.To.String()
		if h.Via != "" {
			s = "[" + h.Via + "]" + s
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func TestPaths(t *testing.T) {
	s := load(t, "testdata/chain.yaml")
	cases := []struct {
		name string
		o    Options
		want []string // "severity from -> target: steps"
	}{
		{"pods then bind", Options{From: &Source{Name: "dev"}}, []string{
			`critical User "dev" -> cluster-admin: workloads=>ServiceAccount ci/deployer bind=>cluster-admin`}},
		{"to nodes, not dominated", Options{From: &Source{Name: "dev"}, To: Nodes}, []string{
			`high User "dev" -> nodes: workloads=>nodes`}},
		{"group member", Options{From: &Source{Name: "alice", Groups: []string{"oncall"}}}, []string{
			`critical User "alice" -> cluster-admin: [oncall]exec=>ServiceAccount ops/runner secrets=>secrets implied=>tokens token=>ServiceAccount ci/deployer bind=>cluster-admin`}},
		{"ServiceAccount user name", Options{From: &Source{Name: "system:serviceaccount:shared:monitor"}, To: Nodes}, []string{
			`high ServiceAccount shared/monitor -> nodes: node-proxy=>nodes`}},
		{"a group", Options{From: &Source{Group: true, Name: "system:authenticated"}, To: Tokens}, []string{
			`high Group "system:authenticated" -> tokens: secrets=>ServiceAccount shared/monitor node-proxy=>nodes implied=>tokens`}},
		{"unknown user reaches through system:authenticated", Options{From: &Source{Name: "nobody"}, To: Nodes}, []string{
			`high User "nobody" -> nodes: [system:authenticated]secrets=>ServiceAccount shared/monitor node-proxy=>nodes`}},
		{"anonymous is not authenticated", Options{From: &Source{Name: "system:anonymous"}}, nil},
		{"admission refuses privileged pods", Options{From: &Source{Name: "dev"}, To: Nodes, Admitter: refuse{}}, []string{
			`high User "dev" -> nodes: [system:authenticated]secrets=>ServiceAccount shared/monitor node-proxy=>nodes`}},
		{"every subject; ops/runner's shortest path is system:authenticated's", Options{To: Nodes}, []string{
			`high User "dev" -> nodes: workloads=>nodes`,
			`high Group "oncall" -> nodes: exec=>ServiceAccount ops/runner [system:authenticated]secrets=>ServiceAccount shared/monitor node-proxy=>nodes`,
			`high Group "system:authenticated" -> nodes: secrets=>ServiceAccount shared/monitor node-proxy=>nodes`,
			`high ServiceAccount ci/deployer -> nodes: bind=>cluster-admin implied=>nodes`,
			`high ServiceAccount shared/monitor -> nodes: node-proxy=>nodes`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range find(t, s, tc.o) {
				got = append(got, fmt.Sprintf("%s %s -> %s: %s", p.Severity, p.From, p.Target, steps(p)))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

type refuse struct{}

func (refuse) MayRunPrivileged(Subject, string) (bool, string) { return false, "" }

type allow struct{}

func (allow) MayRunPrivileged(s Subject, ns string) (bool, string) {
	return true, fmt.Sprintf("namespace %q enforces the privileged level", ns)
}

func TestAdmitterEvidence(t *testing.T) {
	s := load(t, "testdata/chain.yaml")
	for _, tc := range []struct {
		name     string
		admitter PodAdmitter
		want     string
	}{
		{"none", nil, "no admission policy given: a privileged pod is admitted"},
		{"given", allow{}, `namespace "ci" enforces the privileged level`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := find(t, s, Options{From: &Source{Name: "dev"}, To: Nodes, Admitter: tc.admitter})
			if len(ps) != 1 || len(ps[0].Hops) != 1 || ps[0].Hops[0].Evidence.Note != tc.want {
				t.Fatalf("paths %+v, want one hop noting %q", ps, tc.want)
			}
		})
	}
}

func TestSeverity(t *testing.T) {
	for _, tc := range []struct {
		target Target
		want   Severity
	}{
		{ClusterAdmin, Critical}, {Secrets, High}, {Nodes, High}, {Tokens, High}, {"elsewhere", Info},
	} {
		t.Run(string(tc.target), func(t *testing.T) {
			if got := SeverityOf(tc.target); got != tc.want {
				t.Errorf("SeverityOf(%s) = %s, want %s", tc.target, got, tc.want)
			}
		})
	}
	// A path's severity is its target's, whatever grants it.
	s := load(t, "testdata/chain.yaml")
	for _, p := range find(t, s, Options{}) {
		if p.Severity != SeverityOf(p.Target) {
			t.Errorf("%s -> %s: severity %s", p.From, p.Target, p.Severity)
		}
	}
}

// The Kubernetes default roles alone give no path from anyone but
// Kubernetes' own subjects, which are left out unless asked for.
func TestDefaultRolesQuiet(t *testing.T) {
	s, err := defaultroles.Set()
	if err != nil {
		t.Fatal(err)
	}
	if ps := find(t, s, Options{}); len(ps) != 0 {
		for _, p := range ps {
			t.Errorf("unexpected %s -> %s: %s", p.From, p.Target, steps(p))
		}
	}
	ps := find(t, s, Options{IncludeSystem: true})
	masters := false
	for _, p := range ps {
		masters = masters || (p.From == Subject{Kind: "Group", Name: "system:masters"} && p.Target == ClusterAdmin)
	}
	if !masters {
		t.Errorf("with IncludeSystem, no path from system:masters to cluster-admin in %d paths", len(ps))
	}
}

func TestDeterministic(t *testing.T) {
	s := load(t, "testdata/chain.yaml")
	first := find(t, s, Options{})
	for i := 0; i < 5; i++ {
		if again := find(t, s, Options{}); !reflect.DeepEqual(first, again) {
			t.Fatalf("run %d differs", i)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		groups   []string
		want     *Source
		err      string
	}{
		{"user", "jane", []string{"devs"}, &Source{Name: "jane", Groups: []string{"devs"}}, ""},
		{"group", "group:devs", nil, &Source{Group: true, Name: "devs"}, ""},
		{"group with groups", "group:devs", []string{"x"}, nil, "has no groups"},
		{"empty", "", nil, nil, "e.g. jane"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSource(tc.in, tc.groups)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
	if _, err := ParseTarget("root"); err == nil || !strings.Contains(err.Error(), "cluster-admin, secrets") {
		t.Errorf("ParseTarget(root) = %v", err)
	}
}

func TestRegistry(t *testing.T) {
	kinds, err := EdgeKinds()
	if err != nil || len(kinds) != 15 {
		t.Fatalf("%d kinds, %v", len(kinds), err)
	}
	saved := registry
	defer func() { registry = saved }()
	registry = append(append([]*EdgeKind(nil), saved...), saved[0])
	if _, err := EdgeKinds(); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate: %v", err)
	}
}

// Impersonation reaches the users and groups of the set; a workload's
// template tells which ServiceAccount its pods run as.
func TestImpersonationAndWorkloads(t *testing.T) {
	s := load(t, "testdata/impersonate.yaml")
	var got []string
	for _, p := range find(t, s, Options{}) {
		got = append(got, fmt.Sprintf("%s %s -> %s: %s", p.Severity, p.From, p.Target, steps(p)))
	}
	want := []string{
		`critical User "helpdesk" -> cluster-admin: impersonate=>User "root" wildcard=>cluster-admin`,
		`critical User "root" -> cluster-admin: wildcard=>cluster-admin`,
		`critical Group "sre" -> cluster-admin: impersonate=>cluster-admin`,
		`high User "debugger" -> secrets: exec=>ServiceAccount web/app secrets=>secrets`,
		`high ServiceAccount web/app -> secrets: secrets=>secrets`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
