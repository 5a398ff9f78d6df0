// Package controller is `kguard controller`: it audits every object of the
// cluster with the admission chain `kguard serve` answers with (through
// internal/audit, from informer caches), and writes the results as
// wgpolicyk8s.io/v1alpha2 PolicyReports — one per namespace and one
// ClusterPolicyReport, all named kguard-audit — with server-side apply,
// again on every policy change, every object change and periodically.
//
// Plan, which turns the reports wanted and the reports there into writes,
// does no I/O; Writer does them, Controller schedules the audits.
package controller

import (
	"maps"

	apiequality "k8s.io/apimachinery/pkg/api/equality"

	"github.com/kguard/kguard/internal/audit"
	"github.com/kguard/kguard/pkg/apis/wgpolicyk8s/v1alpha2"
)

// The marks of the reports kguard writes: it never applies to nor deletes
// a report without ManagedByLabel=ManagedBy.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "kguard"
	// FieldManager is the server-side apply field manager of the reports.
	FieldManager = "kguard-controller"
)

// Plan is what it takes to make the reports in the cluster the ones wanted.
type Plan struct {
	// Apply are the reports to write: new ones and changed ones, labelled.
	Apply []v1alpha2.PolicyReport
	// Delete are kguard's reports of namespaces (or of the cluster scope)
	// that no longer have results.
	Delete []v1alpha2.PolicyReport
	// Foreign are the namespaces ("" for the cluster scope) where a report
	// of kguard's name exists that kguard did not create: left alone, and
	// kguard's results there are not written.
	Foreign []string
}

// Empty reports whether the plan writes nothing.
func (p *Plan) Empty() bool { return len(p.Apply) == 0 && len(p.Delete) == 0 }

// Managed reports whether kguard created r.
func Managed(r *v1alpha2.PolicyReport) bool { return r.Labels[ManagedByLabel] == ManagedBy }

// PlanReports compares the reports wanted (audit.Reports' or a
// ReportBuilder's, in namespace order) with the reports of kguard's name
// that exist (any order): a wanted report is applied unless kguard's
// existing one already says the same, or a report kguard did not create
// holds its name; kguard's reports no longer wanted are deleted.
func PlanReports(wanted, existing []v1alpha2.PolicyReport) Plan {
	type scope struct{ kind, namespace string }
	there := make(map[scope]*v1alpha2.PolicyReport, len(existing))
	for i := range existing {
		e := &existing[i]
		if e.Name == audit.ReportName {
			there[scope{e.Kind, e.Namespace}] = e
		}
	}
	var p Plan
	seen := make(map[scope]bool, len(wanted))
	for _, w := range wanted {
		s := scope{w.Kind, w.Namespace}
		seen[s] = true
		e := there[s]
		switch {
		case e != nil && !Managed(e):
			p.Foreign = append(p.Foreign, w.Namespace)
		case e != nil && sameContent(e, &w):
		default:
			w.Labels = maps.Clone(w.Labels)
			if w.Labels == nil {
				w.Labels = map[string]string{}
			}
			w.Labels[ManagedByLabel] = ManagedBy
			p.Apply = append(p.Apply, w)
		}
	}
	for i := range existing {
		e := &existing[i]
		if e.Name == audit.ReportName && Managed(e) && !seen[scope{e.Kind, e.Namespace}] {
			p.Delete = append(p.Delete, *e)
		}
	}
	return p
}

// sameContent reports whether kguard's existing report says what the
// wanted one says: summary, results and the count left out.
func sameContent(existing, wanted *v1alpha2.PolicyReport) bool {
	return existing.Summary == wanted.Summary &&
		existing.Annotations[audit.AnnotationLeftOut] == wanted.Annotations[audit.AnnotationLeftOut] &&
		apiequality.Semantic.DeepEqual(existing.Results, wanted.Results)
}
