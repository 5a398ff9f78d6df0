package controller

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kguard/kguard/internal/audit"
	"github.com/kguard/kguard/pkg/apis/wgpolicyk8s/v1alpha2"
)

// The report resources kguard writes.
var (
	PolicyReportResource        = schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "policyreports"}
	ClusterPolicyReportResource = schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "clusterpolicyreports"}
)

// listPageSize bounds each list of reports.
const listPageSize = 500

// Writer reads and writes the reports through the API server.
type Writer struct {
	Client dynamic.Interface
}

// Existing lists the reports of kguard's name, kguard's and others', of
// both kinds (one per namespace at most: memory grows with the namespaces).
func (w *Writer) Existing(ctx context.Context) ([]v1alpha2.PolicyReport, error) {
	var out []v1alpha2.PolicyReport
	for _, gvr := range []schema.GroupVersionResource{PolicyReportResource, ClusterPolicyReportResource} {
		kind := v1alpha2.KindPolicyReport
		if gvr == ClusterPolicyReportResource {
			kind = v1alpha2.KindClusterPolicyReport
		}
		opts := metav1.ListOptions{Limit: listPageSize, FieldSelector: fields.OneTermEqualSelector("metadata.name", audit.ReportName).String()}
		for {
			list, err := w.Client.Resource(gvr).List(ctx, opts)
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", gvr.GroupResource(), err)
			}
			for i := range list.Items {
				u := &list.Items[i]
				if u.GetName() != audit.ReportName { // a server that ignores the field selector
					continue
				}
				var r v1alpha2.PolicyReport
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &r); err != nil {
					// Unreadable content is compared as empty: kguard's own
					// report is rewritten, another's still left alone.
					r = v1alpha2.PolicyReport{ObjectMeta: metav1.ObjectMeta{Name: u.GetName(), Namespace: u.GetNamespace(), UID: u.GetUID(), Labels: u.GetLabels()}}
				}
				r.APIVersion, r.Kind = v1alpha2.GroupVersion, kind
				out = append(out, r)
			}
			if opts.Continue = list.GetContinue(); opts.Continue == "" {
				break
			}
		}
	}
	return out, nil
}

// Write carries the plan out: server-side apply of each report (field
// manager FieldManager, forcing its own fields), and deletion of each report
// no longer wanted, on the condition that it is still the one read (same
// UID). It goes on past a failure and returns every error.
func (w *Writer) Write(ctx context.Context, p *Plan) error {
	var errs []error
	for i := range p.Apply {
		r := &p.Apply[i]
		if err := w.apply(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("applying %s %s: %w", r.Kind, scopeName(r.Namespace), err))
		}
	}
	for i := range p.Delete {
		r := &p.Delete[i]
		uid := r.UID
		opts := metav1.DeleteOptions{}
		if uid != "" {
			opts.Preconditions = &metav1.Preconditions{UID: &uid}
		}
		err := w.resource(r).Delete(ctx, r.Name, opts)
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s %s: %w", r.Kind, scopeName(r.Namespace), err))
		}
	}
	return errors.Join(errs...)
}

func (w *Writer) apply(ctx context.Context, r *v1alpha2.PolicyReport) error {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(r)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: obj}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	force := true
	_, err = w.resource(r).Apply(ctx, r.Name, u, metav1.ApplyOptions{FieldManager: FieldManager, Force: force})
	return err
}

func (w *Writer) resource(r *v1alpha2.PolicyReport) dynamic.ResourceInterface {
	if r.Kind == v1alpha2.KindClusterPolicyReport {
		return w.Client.Resource(ClusterPolicyReportResource)
	}
	return w.Client.Resource(PolicyReportResource).Namespace(r.Namespace)
}

// scopeName names a report's scope in messages.
func scopeName(ns string) string {
	if ns == "" {
		return "(cluster)"
	}
	return "in namespace " + ns
}
