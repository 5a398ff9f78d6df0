package audit

import (
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kguard/kguard/pkg/apis/wgpolicyk8s/v1alpha2"
)

// The PolicyReport vocabulary of kguard's audit.
const (
	// ReportName is the name of every report kguard writes.
	ReportName = "kguard-audit"
	// ReportSource is the source of every result.
	ReportSource = "kguard"
	// ChainPolicy is the policy of what the chain as a whole decides: an
	// admission (pass), a warning, an object no plugin judges (skip) or
	// cannot read (error). A denial's policy is the plugin that denied.
	ChainPolicy = "admission"
	// AnnotationLeftOut counts the results a capped report leaves out
	// (its summary still counts them).
	AnnotationLeftOut = "kguard.io/results-left-out"
)

// Reports are the audit as PolicyReports: one per namespace with objects
// (PolicyReport) and one for the cluster-scoped objects
// (ClusterPolicyReport), sorted by namespace, each with at most maxResults
// results (0: no cap) — failures first, then errors, warnings, passes and
// skips, so that a cap drops the passes first — and the number left out in
// the AnnotationLeftOut annotation. A result is one policy and rule on one
// resource; several messages of the same policy, rule and resource are joined.
// Objects reported through their owner have no result of their own.
func Reports(rs *Results, maxResults int) []v1alpha2.PolicyReport {
	type key struct {
		policy, rule string
		result       v1alpha2.Result
		resource     Object
	}
	perNamespace := map[string]map[key][]string{}
	add := func(r *Result, policy, rule string, result v1alpha2.Result, msg string) {
		m := perNamespace[r.Namespace]
		if m == nil {
			m = map[key][]string{}
			perNamespace[r.Namespace] = m
		}
		res := r.Object
		res.Source, res.Line, res.Item = "", 0, nil
		k := key{policy, rule, result, res}
		if msg != "" || m[k] == nil {
			m[k] = append(m[k], msg)
		}
	}
	for i := range rs.Results {
		r := &rs.Results[i]
		switch r.Status {
		case Owned:
			continue
		case Denied:
			add(r, r.Plugin, "", v1alpha2.ResultFail, r.Message)
		case Admitted:
			add(r, ChainPolicy, "", v1alpha2.ResultPass, "")
		case Skipped:
			add(r, ChainPolicy, "", v1alpha2.ResultSkip, "no enabled admission plugin judges objects of this kind")
		case Unreadable:
			add(r, ChainPolicy, "", v1alpha2.ResultError, r.Error)
		}
		for _, w := range r.Warnings {
			add(r, ChainPolicy, "warning", v1alpha2.ResultWarn, w)
		}
	}
	namespaces := make([]string, 0, len(perNamespace))
	for ns := range perNamespace {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	reports := make([]v1alpha2.PolicyReport, 0, len(namespaces))
	for _, ns := range namespaces {
		var results []v1alpha2.PolicyReportResult
		for k, msgs := range perNamespace[ns] {
			results = append(results, v1alpha2.PolicyReportResult{Source: ReportSource, Policy: k.policy, Rule: k.rule, Result: k.result,
				Message: strings.Join(msgs, "; "), Resources: []corev1.ObjectReference{{APIVersion: k.resource.APIVersion,
					Kind: k.resource.Kind, Namespace: k.resource.Namespace, Name: k.resource.Name, UID: types.UID(k.resource.UID)}}})
		}
		sort.Slice(results, func(i, j int) bool { return resultLess(&results[i], &results[j]) })
		reports = append(reports, report(ns, results, maxResults))
	}
	return reports
}

func report(ns string, results []v1alpha2.PolicyReportResult, maxResults int) v1alpha2.PolicyReport {
	kind := v1alpha2.KindPolicyReport
	if ns == "" {
		kind = v1alpha2.KindClusterPolicyReport
	}
	rep := v1alpha2.PolicyReport{TypeMeta: metav1.TypeMeta{APIVersion: v1alpha2.GroupVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Name: ReportName, Namespace: ns}}
	for _, r := range results {
		switch r.Result {
		case v1alpha2.ResultPass:
			rep.Summary.Pass++
		case v1alpha2.ResultFail:
			rep.Summary.Fail++
		case v1alpha2.ResultWarn:
			rep.Summary.Warn++
		case v1alpha2.ResultError:
			rep.Summary.Error++
		case v1alpha2.ResultSkip:
			rep.Summary.Skip++
		}
	}
	if maxResults > 0 && len(results) > maxResults {
		rep.Annotations = map[string]string{AnnotationLeftOut: strconv.Itoa(len(results) - maxResults)}
		results = results[:maxResults]
	}
	rep.Results = results
	return rep
}

// resultRank orders outcomes by how much they matter.
var resultRank = map[v1alpha2.Result]int{v1alpha2.ResultFail: 0, v1alpha2.ResultError: 1, v1alpha2.ResultWarn: 2, v1alpha2.ResultPass: 3, v1alpha2.ResultSkip: 4}

func resultLess(a, b *v1alpha2.PolicyReportResult) bool {
	if ra, rb := resultRank[a.Result], resultRank[b.Result]; ra != rb {
		return ra < rb
	}
	if a.Policy != b.Policy {
		return a.Policy < b.Policy
	}
	if a.Rule != b.Rule {
		return a.Rule < b.Rule
	}
	x, y := a.Resources[0], b.Resources[0]
	if x.Kind != y.Kind {
		return x.Kind < y.Kind
	}
	if x.Name != y.Name {
		return x.Name < y.Name
	}
	return a.Message < b.Message
}
