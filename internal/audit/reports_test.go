package audit_test

import (
	"fmt"
	"testing"

	"github.com/kguard/kguard/internal/audit"
	"github.com/kguard/kguard/pkg/apis/wgpolicyk8s/v1alpha2"
)

// results builds audit results by hand: the reports depend on nothing else.
func results(rs ...audit.Result) *audit.Results {
	return &audit.Results{Results: rs}
}

func obj(kind, ns, name string) audit.Object {
	return audit.Object{APIVersion: "v1", Kind: kind, Namespace: ns, Name: name}
}

func TestReports(t *testing.T) {
	many := []audit.Result{}
	for i := range 5 {
		many = append(many, audit.Result{Object: obj("Pod", "a", fmt.Sprintf("ok%d", i)), Status: audit.Admitted})
	}
	many = append(many, audit.Result{Object: obj("Pod", "a", "bad"), Status: audit.Denied, Plugin: "PodSecurity", Message: "no"})
	type report struct {
		kind, namespace string
		summary         v1alpha2.Summary
		results         []string // "result policy/rule Kind/name: message"
		leftOut         string
	}
	tests := []struct {
		name string
		in   *audit.Results
		cap  int
		want []report
	}{
		{
			name: "one report per namespace, cluster-scoped objects in a ClusterPolicyReport",
			in: results(
				audit.Result{Object: obj("Pod", "b", "p"), Status: audit.Denied, Plugin: "PodSecurityPolicy", Message: "privileged", Warnings: []string{"w1"}},
				audit.Result{Object: obj("Pod", "a", "q"), Status: audit.Admitted},
				audit.Result{Object: obj("Namespace", "", "a"), Status: audit.Skipped},
			),
			want: []report{
				{kind: "ClusterPolicyReport", summary: v1alpha2.Summary{Skip: 1},
					results: []string{"skip admission/ Namespace/a: no enabled admission plugin judges objects of this kind"}},
				{kind: "PolicyReport", namespace: "a", summary: v1alpha2.Summary{Pass: 1}, results: []string{"pass admission/ Pod/q: "}},
				{kind: "PolicyReport", namespace: "b", summary: v1alpha2.Summary{Fail: 1, Warn: 1},
					results: []string{"fail PodSecurityPolicy/ Pod/p: privileged", "warn admission/warning Pod/p: w1"}},
			},
		},
		{
			name: "owned objects have no result of their own; warnings of one resource are joined",
			in: results(
				audit.Result{Object: obj("Pod", "a", "web-1"), Status: audit.Owned, Owner: &audit.Object{Kind: "Deployment", Name: "web"}},
				audit.Result{Object: obj("Deployment", "a", "web"), Status: audit.Admitted, Warnings: []string{"w1", "w2"}},
			),
			want: []report{{kind: "PolicyReport", namespace: "a", summary: v1alpha2.Summary{Pass: 1, Warn: 1},
				results: []string{"warn admission/warning Deployment/web: w1; w2", "pass admission/ Deployment/web: "}}},
		},
		{
			name: "a cap keeps the failures, counts all in the summary and says how many were left out",
			in:   results(many...),
			cap:  2,
			want: []report{{kind: "PolicyReport", namespace: "a", summary: v1alpha2.Summary{Pass: 5, Fail: 1}, leftOut: "4",
				results: []string{"fail PodSecurity/ Pod/bad: no", "pass admission/ Pod/ok0: "}}},
		},
		{
			name: "no cap",
			in:   results(many...),
			want: []report{{kind: "PolicyReport", namespace: "a", summary: v1alpha2.Summary{Pass: 5, Fail: 1},
				results: []string{"fail PodSecurity/ Pod/bad: no", "pass admission/ Pod/ok0: ", "pass admission/ Pod/ok1: ",
					"pass admission/ Pod/ok2: ", "pass admission/ Pod/ok3: ", "pass admission/ Pod/ok4: "}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := audit.Reports(tc.in, tc.cap)
			if len(got) != len(tc.want) {
				t.Fatalf("%d reports, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Kind != w.kind || g.Namespace != w.namespace || g.Name != audit.ReportName || g.APIVersion != v1alpha2.GroupVersion {
					t.Errorf("report %d is %s %s %s/%s, want %s %s %s/%s", i, g.APIVersion, g.Kind, g.Namespace, g.Name, v1alpha2.GroupVersion, w.kind, w.namespace, audit.ReportName)
				}
				if g.Summary != w.summary {
					t.Errorf("report %d summary %+v, want %+v", i, g.Summary, w.summary)
				}
				if left := g.Annotations[audit.AnnotationLeftOut]; left != w.leftOut {
					t.Errorf("report %d left out %q, want %q", i, left, w.leftOut)
				}
				var lines []string
				for _, r := range g.Results {
					if len(r.Resources) != 1 || r.Source != audit.ReportSource {
						t.Errorf("result %+v: want one resource and source %s", r, audit.ReportSource)
						continue
					}
					lines = append(lines, fmt.Sprintf("%s %s/%s %s/%s: %s", r.Result, r.Policy, r.Rule, r.Resources[0].Kind, r.Resources[0].Name, r.Message))
				}
				if fmt.Sprint(lines) != fmt.Sprint(w.results) {
					t.Errorf("report %d results:\n%q\nwant\n%q", i, lines, w.results)
				}
			}
		})
	}
}

func TestSummaries(t *testing.T) {
	chain := newChain(t)
	docs := read(t, podYAML("ok", "ci", "builder", "")+"---\n"+podYAML("bad", "ci", "", "")+"---\n"+podYAML("bad", "strict", "builder", "")+
		"---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ci}\n")
	rs := audit.Run(t.Context(), chain, docs, audit.Options{})
	want := []audit.Summary{
		{Namespace: "", Objects: 1, Skipped: 1},
		{Namespace: "ci", Objects: 2, Violations: 1, Admitted: 1},
		{Namespace: "strict", Objects: 1, Violations: 1},
	}
	if fmt.Sprint(rs.Namespaces) != fmt.Sprint(want) {
		t.Errorf("namespaces %+v, want %+v", rs.Namespaces, want)
	}
	if total := (audit.Summary{Objects: 4, Violations: 2, Admitted: 1, Skipped: 1}); rs.Total != total {
		t.Errorf("total %+v, want %+v", rs.Total, total)
	}
	if got := len(rs.Violations()); got != 2 {
		t.Errorf("%d violations, want 2", got)
	}
}
