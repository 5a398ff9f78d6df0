package audit

import (
	"slices"
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
	b := NewReportBuilder(maxResults)
	for i := range rs.Results {
		b.Add(&rs.Results[i])
	}
	return b.Reports()
}

// ReportBuilder gathers results into reports one object at a time, as
// Reports does for Results, for a caller that streams the objects: it keeps
// at most about twice maxResults results per namespace (the most important
// ones, in Reports' order) and counts the rest, so that its memory grows
// with the namespaces, not with the objects. Not safe for concurrent use.
type ReportBuilder struct {
	maxResults int
	pending    map[string]*pendingReport
}

// pendingReport is one namespace's report being built.
type pendingReport struct {
	summary v1alpha2.Summary
	results []v1alpha2.PolicyReportResult
	leftOut int
}

// NewReportBuilder builds reports of at most maxResults results (0: no cap).
func NewReportBuilder(maxResults int) *ReportBuilder {
	return &ReportBuilder{maxResults: max(maxResults, 0), pending: map[string]*pendingReport{}}
}

// Add adds one object's result: a result per policy, rule and outcome, the
// messages of each joined; nothing for an object reported through its owner.
func (b *ReportBuilder) Add(r *Result) {
	if r.Status == Owned {
		return
	}
	type key struct {
		policy, rule string
		result       v1alpha2.Result
	}
	var order []key
	msgs := map[key][]string{}
	add := func(policy, rule string, result v1alpha2.Result, msg string) {
		k := key{policy, rule, result}
		if _, ok := msgs[k]; !ok {
			order = append(order, k)
		}
		if msg != "" || msgs[k] == nil {
			msgs[k] = append(msgs[k], msg)
		}
	}
	switch r.Status {
	case Denied:
		add(r.Plugin, "", v1alpha2.ResultFail, r.Message)
	case Admitted:
		add(ChainPolicy, "", v1alpha2.ResultPass, "")
	case Skipped:
		add(ChainPolicy, "", v1alpha2.ResultSkip, "no enabled admission plugin judges objects of this kind")
	case Unreadable:
		add(ChainPolicy, "", v1alpha2.ResultError, r.Error)
	}
	for _, w := range r.Warnings {
		add(ChainPolicy, "warning", v1alpha2.ResultWarn, w)
	}
	p := b.pending[r.Namespace]
	if p == nil {
		p = &pendingReport{}
		b.pending[r.Namespace] = p
	}
	resource := corev1.ObjectReference{APIVersion: r.APIVersion, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, UID: types.UID(r.UID)}
	for _, k := range order {
		res := v1alpha2.PolicyReportResult{Source: ReportSource, Policy: k.policy, Rule: k.rule, Result: k.result,
			Message: strings.Join(msgs[k], "; "), Resources: []corev1.ObjectReference{resource}}
		p.add(res, b.maxResults)
	}
}

// add counts res and keeps it, dropping the least important results once
// twice the cap are kept (sorting then, rather than on every result).
func (p *pendingReport) add(res v1alpha2.PolicyReportResult, maxResults int) {
	switch res.Result {
	case v1alpha2.ResultPass:
		p.summary.Pass++
	case v1alpha2.ResultFail:
		p.summary.Fail++
	case v1alpha2.ResultWarn:
		p.summary.Warn++
	case v1alpha2.ResultError:
		p.summary.Error++
	case v1alpha2.ResultSkip:
		p.summary.Skip++
	}
	p.results = append(p.results, res)
	if maxResults > 0 && len(p.results) >= 2*maxResults {
		p.trim(maxResults)
	}
}

// trim sorts the results and keeps the first maxResults.
func (p *pendingReport) trim(maxResults int) {
	sort.Slice(p.results, func(i, j int) bool { return resultLess(&p.results[i], &p.results[j]) })
	if maxResults > 0 && len(p.results) > maxResults {
		p.leftOut += len(p.results) - maxResults
		clear(p.results[maxResults:]) // let the dropped results' strings go
		p.results = p.results[:maxResults]
	}
}

// Reports are the reports built so far, sorted by namespace (the
// cluster-scoped objects' ClusterPolicyReport first).
func (b *ReportBuilder) Reports() []v1alpha2.PolicyReport {
	namespaces := make([]string, 0, len(b.pending))
	for ns := range b.pending {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	reports := make([]v1alpha2.PolicyReport, 0, len(namespaces))
	for _, ns := range namespaces {
		p := b.pending[ns]
		p.trim(b.maxResults)
		reports = append(reports, report(ns, p))
	}
	return reports
}

func report(ns string, p *pendingReport) v1alpha2.PolicyReport {
	kind := v1alpha2.KindPolicyReport
	if ns == "" {
		kind = v1alpha2.KindClusterPolicyReport
	}
	rep := v1alpha2.PolicyReport{TypeMeta: metav1.TypeMeta{APIVersion: v1alpha2.GroupVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Name: ReportName, Namespace: ns}, Summary: p.summary}
	if p.leftOut > 0 {
		rep.Annotations = map[string]string{AnnotationLeftOut: strconv.Itoa(p.leftOut)}
	}
	rep.Results = slices.Clone(p.results)
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
	// A kind of the same name in another group (two CRDs' Gateway): the
	// order must not be the input's, or the controller rewrites the report.
	if x.APIVersion != y.APIVersion {
		return x.APIVersion < y.APIVersion
	}
	if a.Message != b.Message {
		return a.Message < b.Message
	}
	return x.UID < y.UID
}
