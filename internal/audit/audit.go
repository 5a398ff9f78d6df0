// Package audit judges objects that already exist (what runs in a cluster,
// or a dump of it) with the admission chain, as the webhook would judge
// their creation today: the pods of a pod controller as created by the
// controller of kube-controller-manager that makes them, a bare Pod by its
// ServiceAccount, a pod that a controller in the input owns through that
// controller only. It does no I/O: it takes a chain and documents and returns
// results, aggregated per namespace here and per policy, rule and resource
// as PolicyReports (reports.go).
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/parallel"
)

// Status is what the audit found about one object.
type Status string

const (
	// Admitted: the chain would admit the object's creation today.
	Admitted Status = "admitted"
	// Denied: a plugin would refuse it — a violation.
	Denied Status = "denied"
	// Skipped: no enabled plugin judges objects of its kind.
	Skipped Status = "skipped"
	// Owned: a controller in the input owns it; the controller's result
	// stands for it (a ReplicaSet's pods, a Deployment's ReplicaSets).
	Owned Status = "owned"
	// Unreadable: kguard could not read the pod-carrying object.
	Unreadable Status = "unreadable"
)

// Object names an audited object and where it was read.
type Object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	UID        string `json:"uid,omitempty"`
	Source     string `json:"source,omitempty"`
	Line       int    `json:"line,omitempty"`
	// Item is the object's index in a List document.
	Item *int `json:"item,omitempty"`
}

// objectOf names a document.
func objectOf(d *manifest.Document, namespace, uid string) Object {
	o := Object{APIVersion: d.APIVersion, Kind: d.Kind, Namespace: namespace, Name: d.Name, UID: uid, Source: d.Source, Line: d.Line}
	if d.Item >= 0 {
		item := d.Item
		o.Item = &item
	}
	return o
}

// Position is "file:line", with the List item when there is one.
func (o *Object) Position() string {
	d := manifest.Document{Source: o.Source, Line: o.Line, Item: -1}
	if o.Item != nil {
		d.Item = *o.Item
	}
	return d.Position()
}

// Result is the audit of one object.
type Result struct {
	Object
	Status Status `json:"status"`
	// Reviewer is the user the object was reviewed as (empty when not reviewed).
	Reviewer string `json:"reviewer,omitempty"`
	// Plugin denied the object with Message.
	Plugin  string `json:"plugin,omitempty"`
	Message string `json:"message,omitempty"`
	// Warnings are what the chain would tell the client (Pod Security's warn level...).
	Warnings []string `json:"warnings,omitempty"`
	// Patch is what the mutating plugins would change (a JSON Patch); not a violation.
	Patch json.RawMessage `json:"patch,omitempty"`
	// Owner is the controller whose result stands for an Owned object.
	Owner *Object `json:"owner,omitempty"`
	// Error is why an Unreadable object could not be read.
	Error string `json:"error,omitempty"`
}

// Violation reports whether the result is a denial.
func (r *Result) Violation() bool { return r.Status == Denied }

// Summary counts the objects of one namespace ("" for cluster-scoped ones)
// by status.
type Summary struct {
	Namespace  string `json:"namespace"`
	Objects    int    `json:"objects"`
	Violations int    `json:"violations"`
	Admitted   int    `json:"admitted"`
	Skipped    int    `json:"skipped"`
	Owned      int    `json:"owned"`
	Unreadable int    `json:"unreadable"`
}

func (s *Summary) add(r *Result) {
	s.Objects++
	switch r.Status {
	case Denied:
		s.Violations++
	case Admitted:
		s.Admitted++
	case Skipped:
		s.Skipped++
	case Owned:
		s.Owned++
	case Unreadable:
		s.Unreadable++
	}
}

// Results are an audit's findings: every object in input order, and the
// counts per namespace (sorted, cluster-scoped first) and in all.
type Results struct {
	Plugins    []string  `json:"plugins"`
	Results    []Result  `json:"results"`
	Namespaces []Summary `json:"namespaces"`
	Total      Summary   `json:"total"`
}

// Violations returns the denied results, in input order.
func (rs *Results) Violations() []Result {
	var out []Result
	for _, r := range rs.Results {
		if r.Violation() {
			out = append(out, r)
		}
	}
	return out
}

// Options shape an audit. The zero value is usable.
type Options struct {
	// DefaultNamespace is the namespace of namespaced objects that name none
	// (default "default").
	DefaultNamespace string
	// Requester is the user who creates objects without a pod (Services,
	// Namespaces, ...): by default an authenticated user with no grants
	// of its own (DefaultRequester).
	Requester string
	// Patches: record what the mutating plugins would change (Result.Patch),
	// which costs a JSON Patch per object.
	Patches bool
	// Progress, when set, is called with the number of objects done and
	// the total, from several goroutines at once.
	Progress func(done, total int)
}

// Run audits docs with chain: each object as its creation would be
// reviewed, on every core, in input order.
func Run(ctx context.Context, chain *admission.Chain, docs []manifest.Document, o Options) *Results {
	if o.DefaultNamespace == "" {
		o.DefaultNamespace = "default"
	}
	if !o.Patches {
		chain = chain.WithoutPatches()
	}
	lineage := ownersInInput(docs, o.DefaultNamespace)
	a := &Auditor{chain: chain, defaultNamespace: o.DefaultNamespace, reviewer: newReviewer(o.Requester)}
	out := &Results{Plugins: chain.Plugins(), Results: make([]Result, len(docs))}
	var done atomic.Int64
	parallel.Do(len(docs), func(i int) {
		var owner *Object
		if j := lineage.owner[i]; j >= 0 {
			d := &docs[j]
			ob := objectOf(d, namespaceOf(d, o.DefaultNamespace), lineage.uids[j])
			owner = &ob
		}
		out.Results[i] = a.Audit(ctx, &docs[i], lineage.uids[i], owner)
		if o.Progress != nil {
			o.Progress(int(done.Add(1)), len(docs))
		}
	})
	out.summarize()
	return out
}

// Auditor audits objects one at a time, for a caller that streams them
// (`kguard controller` reads them from informer caches) rather than holding
// them all, as Run does. It is safe for concurrent use.
type Auditor struct {
	chain            *admission.Chain
	defaultNamespace string
	reviewer         *reviewer
}

// NewAuditor audits with chain as Run does with o (Progress is not used).
func NewAuditor(chain *admission.Chain, o Options) *Auditor {
	if o.DefaultNamespace == "" {
		o.DefaultNamespace = "default"
	}
	if !o.Patches {
		chain = chain.WithoutPatches()
	}
	return &Auditor{chain: chain, defaultNamespace: o.DefaultNamespace, reviewer: newReviewer(o.Requester)}
}

// Plugins are the chain's plugins, in order.
func (a *Auditor) Plugins() []string { return a.chain.Plugins() }

// Audit reviews one document whose object has uid, unless owner (the
// controller whose result stands for it, see TopController) is given.
func (a *Auditor) Audit(ctx context.Context, d *manifest.Document, uid string, owner *Object) Result {
	r := a.audit(ctx, d, owner)
	r.UID = uid
	return r
}

func (a *Auditor) audit(ctx context.Context, d *manifest.Document, owner *Object) Result {
	defaultNamespace, rv := a.defaultNamespace, a.reviewer
	r := Result{Object: objectOf(d, d.Namespace, "")}
	if owner != nil {
		r.Namespace = namespaceOf(d, defaultNamespace)
		r.Status, r.Owner = Owned, owner
		return r
	}
	reviewedAs := ""
	// As the plugins' own audits judge (Gatekeeper's: its audit point and
	// exclusions), not as their webhooks.
	ctx = admission.WithAudit(ctx)
	oc := a.chain.AdmitDocumentAs(ctx, d, defaultNamespace, func(obj metav1.Object, spec *corev1.PodSpec) user.Info {
		u := rv.of(d, namespaceOf(d, defaultNamespace), obj, spec)
		reviewedAs = u.GetName()
		return u
	}, rv.object(d))
	r.Namespace, r.Reviewer = oc.Namespace, reviewedAs
	switch resp := oc.Response; {
	case oc.Err != nil:
		r.Status, r.Error = Unreadable, documentError(oc.Err)
	case resp == nil:
		r.Status, r.Reviewer = Skipped, ""
	case !resp.Allowed:
		r.Status, r.Plugin = Denied, oc.DeniedBy
		if resp.Result != nil {
			r.Message = resp.Result.Message
		}
		r.Warnings = resp.Warnings
	default:
		r.Status, r.Warnings = Admitted, resp.Warnings
		r.Patch = resp.Patch
	}
	return r
}

// documentError is err without the file and line the result already names.
func documentError(err error) string {
	var me *manifest.Error
	if errors.As(err, &me) {
		return me.Err.Error()
	}
	return err.Error()
}

func (rs *Results) summarize() {
	per := map[string]*Summary{}
	for i := range rs.Results {
		r := &rs.Results[i]
		s := per[r.Namespace]
		if s == nil {
			s = &Summary{Namespace: r.Namespace}
			per[r.Namespace] = s
		}
		s.add(r)
		rs.Total.add(r)
	}
	rs.Namespaces = make([]Summary, 0, len(per))
	for _, s := range per {
		rs.Namespaces = append(rs.Namespaces, *s)
	}
	sort.Slice(rs.Namespaces, func(i, j int) bool { return rs.Namespaces[i].Namespace < rs.Namespaces[j].Namespace })
}
