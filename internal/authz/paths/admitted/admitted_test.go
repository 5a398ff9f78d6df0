package admitted_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/podsecuritypolicy"
	"github.com/kguard/kguard/internal/authz/paths"
	"github.com/kguard/kguard/internal/authz/paths/admitted"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/snapshot"
)

// find loads testdata files, builds the admission chain of plugins over
// them and finds dev's paths to nodes with it.
func find(t *testing.T, plugins []string, files ...string) *paths.Result {
	t.Helper()
	var in []string
	for _, f := range files {
		in = append(in, filepath.Join("testdata", f))
	}
	set, err := policy.Load(in, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	built, err := snapshot.BuildPolicies(snapshot.Config{AdmissionPlugins: plugins}, set)
	if err != nil {
		t.Fatal(err)
	}
	from, err := paths.ParseSource("dev", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := paths.Find(set, paths.Options{From: from, To: paths.Nodes,
		Admitter: admitted.New(context.Background(), built.Admission, built.Authorizer, set)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestNodeRootFollowsAdmission(t *testing.T) {
	pss := []string{podsecurity.PluginName}
	withPSP := []string{podsecuritypolicy.PluginName, podsecurity.PluginName}
	for _, tc := range []struct {
		name    string
		plugins []string
		files   []string
		// edge is whether dev reaches nodes; want is in the hop's evidence,
		// or in the refusal's when there is no edge.
		edge bool
		want []string
	}{
		{"restricted namespace", pss, []string{"rbac.yaml", "ns-restricted.yaml"}, false,
			[]string{`no pod that is node root is admitted in namespace "ci"`, "a privileged pod: ", `"restricted:latest"`}},
		{"privileged namespace", pss, []string{"rbac.yaml", "ns-privileged.yaml"}, true,
			[]string{`a privileged pod is admitted: namespace "ci" enforces Pod Security "privileged:latest" (its label)`}},
		{"unlabelled namespace takes the cluster default", pss, []string{"rbac.yaml"}, true,
			[]string{`namespace "ci" enforces Pod Security "privileged:latest" (the cluster default)`}},
		{"only a restricted PodSecurityPolicy", withPSP, []string{"rbac.yaml", "restricted-psp.yaml"}, false,
			[]string{`a privileged pod: pods "kguard-probe-privileged" is forbidden: unable to validate against any pod security policy: [spec.containers[0].securityContext.privileged: Invalid value: true`, "Host PID is not allowed", "hostPath volumes are not allowed"}},
		{"a privileged PodSecurityPolicy may be used", withPSP, []string{"rbac.yaml", "restricted-psp.yaml", "privileged-psp.yaml"}, true,
			[]string{`a privileged pod is admitted: PodSecurityPolicy "privileged" (use granted to dev: `, `RoleBinding "dev-psp-privileged/ci" of ClusterRole "psp-privileged"`}},
		{"a privileged PodSecurityPolicy in a restricted namespace", withPSP, []string{"rbac.yaml", "privileged-psp.yaml", "ns-restricted.yaml"}, false,
			[]string{`"restricted:latest"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := find(t, tc.plugins, tc.files...)
			var got string
			switch {
			case tc.edge && len(res.Paths) == 1 && len(res.Paths[0].Hops) == 1:
				got = res.Paths[0].Hops[0].Evidence.Note
			case !tc.edge && len(res.Paths) == 0 && len(res.Refused) == 1:
				got = res.Refused[0].Evidence.Note
				if r := res.Refused[0]; r.Subject.Name != "dev" || r.Namespace != "ci" || r.Evidence.Binding == nil || r.Evidence.Binding.Name != "dev-pods" {
					t.Errorf("refusal names %+v", r)
				}
			default:
				t.Fatalf("edge %v: got paths %+v, refused %+v", tc.edge, res.Paths, res.Refused)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("evidence %q\ndoes not contain %q", got, w)
				}
			}
		})
	}
}

// A cluster-wide grant reaches node root when some namespace admits a
// node-root pod: an unlabelled one takes the cluster default.
func TestClusterWideGrant(t *testing.T) {
	set, err := policy.Load([]string{"testdata/cluster-rbac.yaml", "testdata/ns-restricted.yaml"}, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, enforce string
		ok            bool
		want          string
	}{
		{"privileged cluster default", "", true, `namespace "default" enforces Pod Security "privileged:latest" (the cluster default)`},
		{"restricted cluster default", "restricted", false, `no pod that is node root is admitted in namespace "ci"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			built, err := snapshot.BuildPolicies(snapshot.Config{AdmissionPlugins: []string{podsecurity.PluginName},
				PSS: podsecurity.Config{Enforce: tc.enforce}}, set)
			if err != nil {
				t.Fatal(err)
			}
			a := admitted.New(context.Background(), built.Admission, built.Authorizer, set)
			dev := paths.Subject{Kind: "User", Name: "dev"}
			ok, why := a.MayRunPrivileged(dev, "")
			if ok != tc.ok || !strings.Contains(why, tc.want) {
				t.Fatalf("got %v %q, want %v and %q", ok, why, tc.ok, tc.want)
			}
			if ok2, why2 := a.MayRunPrivileged(dev, ""); ok2 != ok || why2 != why {
				t.Fatalf("the cached answer differs: %v %q", ok2, why2)
			}
		})
	}
}
