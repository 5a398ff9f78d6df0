package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/podsecuritypolicy"
	"github.com/kguard/kguard/internal/audit"
	"github.com/kguard/kguard/internal/controller"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/snapshot"
	"github.com/kguard/kguard/internal/source"
	"github.com/kguard/kguard/pkg/apis/wgpolicyk8s/v1alpha2"
)

var (
	pods = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

// fakeCluster is a fake dynamic client that lists every audited resource
// and the reports, and answers server-side apply as one field manager's
// apply ends: the object is created, or replaced by what was applied.
func fakeCluster(t testing.TB, objects ...runtime.Object) *dynamicfake.FakeDynamicClient {
	t.Helper()
	listKinds := map[schema.GroupVersionResource]string{
		controller.PolicyReportResource:        "PolicyReportList",
		controller.ClusterPolicyReportResource: "ClusterPolicyReportList",
	}
	for gvr, kind := range source.AuditedKinds {
		listKinds[gvr] = kind + "List"
	}
	c := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, objects...)
	c.PrependReactor("patch", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		pa := action.(k8stesting.PatchActionImpl)
		if pa.GetPatchType() != types.ApplyPatchType {
			return false, nil, nil
		}
		if pa.PatchOptions.FieldManager != controller.FieldManager {
			return true, nil, fmt.Errorf("field manager %q, want %q", pa.PatchOptions.FieldManager, controller.FieldManager)
		}
		u := &unstructured.Unstructured{}
		if err := json.Unmarshal(pa.GetPatch(), &u.Object); err != nil {
			return true, nil, err
		}
		gvr, ns := pa.GetResource(), pa.GetNamespace()
		var err error
		if _, gerr := c.Tracker().Get(gvr, ns, pa.GetName()); apierrors.IsNotFound(gerr) {
			err = c.Tracker().Create(gvr, u, ns)
		} else {
			err = c.Tracker().Update(gvr, u, ns)
		}
		return true, u, err
	})
	return c
}

func namespace(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": name, "uid": "ns-" + name}}}
}

func pod(ns, name string, privileged bool) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": ns, "uid": ns + "-" + name},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "busybox",
			"securityContext": map[string]any{"privileged": privileged}}}}}}
}

// baselineSnapshot is a chain of PodSecurity with baseline enforced in
// namespaces a to d.
func baselineSnapshot(t *testing.T) *snapshot.Snapshot {
	t.Helper()
	set := &policy.Set{}
	for _, ns := range []string{"a", "b", "c", "d"} {
		set.Namespaces = append(set.Namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels: map[string]string{"pod-security.kubernetes.io/enforce": "baseline"}}})
	}
	snap, err := snapshot.Build(snapshot.Config{AuthorizationModes: []string{"RBAC"}, AdmissionPlugins: []string{podsecurity.PluginName}}, set)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// newController is a controller of the fake cluster, started, with
// baselineSnapshot stored.
func newController(t *testing.T, client *dynamicfake.FakeDynamicClient, maxResults int) *controller.Controller {
	t.Helper()
	snap := baselineSnapshot(t)
	c := &controller.Controller{Client: client, MaxResults: maxResults, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); c.Shutdown() })
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c.Store(snap)
	return c
}

func reconcile(t *testing.T, c *controller.Controller) {
	t.Helper()
	if err := c.Reconcile(t.Context()); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
}

// report reads the report of ns ("" the ClusterPolicyReport); nil when there is none.
func report(t *testing.T, client *dynamicfake.FakeDynamicClient, ns string) *v1alpha2.PolicyReport {
	t.Helper()
	var u *unstructured.Unstructured
	var err error
	if ns == "" {
		u, err = client.Resource(controller.ClusterPolicyReportResource).Get(t.Context(), audit.ReportName, metav1.GetOptions{})
	} else {
		u, err = client.Resource(controller.PolicyReportResource).Namespace(ns).Get(t.Context(), audit.ReportName, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var r v1alpha2.PolicyReport
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// failing names the failing resources of a report.
func failing(r *v1alpha2.PolicyReport) string {
	var out []string
	for _, res := range r.Results {
		if res.Result == v1alpha2.ResultFail {
			out = append(out, res.Policy+":"+res.Resources[0].Kind+"/"+res.Resources[0].Name)
		}
	}
	return fmt.Sprint(out)
}

// eventually waits until cond holds (an informer has seen a change).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReconcile(t *testing.T) {
	foreign := &unstructured.Unstructured{Object: map[string]any{"apiVersion": v1alpha2.GroupVersion, "kind": v1alpha2.KindPolicyReport,
		"metadata": map[string]any{"name": audit.ReportName, "namespace": "c", "labels": map[string]any{"app.kubernetes.io/managed-by": "someone-else"}},
		"summary":  map[string]any{"pass": int64(7)}}}
	client := fakeCluster(t, namespace("a"), namespace("b"), namespace("c"),
		pod("a", "bad", true), pod("a", "good", false), pod("b", "alone", true), pod("c", "privileged", true), foreign)
	c := newController(t, client, 0)

	t.Run("the first run writes a report per namespace and the cluster's", func(t *testing.T) {
		reconcile(t, c)
		a := report(t, client, "a")
		if a == nil {
			t.Fatal("no report in namespace a")
		}
		if got := failing(a); got != "[PodSecurity:Pod/bad]" {
			t.Errorf("namespace a fails %s, want [PodSecurity:Pod/bad]", got)
		}
		if a.Summary != (v1alpha2.Summary{Fail: 1, Pass: 1}) {
			t.Errorf("namespace a summary %+v", a.Summary)
		}
		if !controller.Managed(a) {
			t.Errorf("report a labels %v", a.Labels)
		}
		if b := report(t, client, "b"); b == nil || failing(b) != "[PodSecurity:Pod/alone]" {
			t.Errorf("namespace b: %+v", b)
		}
		if cl := report(t, client, ""); cl == nil || cl.Summary.Skip != 3 {
			t.Errorf("cluster report: %+v, want 3 Namespaces skipped", cl)
		}
		if got := violations(t, c, "PodSecurity", "a"); got != 1 {
			t.Errorf("kguard_audit_violations{a} = %v, want 1", got)
		}
		if n, err := testutil.GatherAndCount(c.Metrics.Registry, "kguard_audit_last_run_timestamp_seconds"); err != nil || n != 1 {
			t.Errorf("kguard_audit_last_run_timestamp_seconds: %d series, %v", n, err)
		}
	})

	t.Run("a report kguard did not create is left alone", func(t *testing.T) {
		f := report(t, client, "c")
		if f == nil || f.Summary != (v1alpha2.Summary{Pass: 7}) || len(f.Results) != 0 || controller.Managed(f) {
			t.Errorf("foreign report changed: %+v", f)
		}
	})

	t.Run("a run with nothing changed writes nothing", func(t *testing.T) {
		client.ClearActions()
		reconcile(t, c)
		for _, a := range client.Actions() {
			if a.GetVerb() == "patch" || a.GetVerb() == "delete" {
				t.Errorf("unexpected %s %s", a.GetVerb(), a.GetResource().Resource)
			}
		}
	})

	t.Run("a fixed object loses its failure; an empty namespace loses its report", func(t *testing.T) {
		if _, err := client.Resource(pods).Namespace("a").Update(t.Context(), pod("a", "bad", false), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := client.Resource(pods).Namespace("b").Delete(t.Context(), "alone", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the informers to see the changes", func() bool {
			reconcile(t, c)
			return report(t, client, "b") == nil
		})
		eventually(t, "the fixed pod to pass", func() bool {
			reconcile(t, c)
			return failing(report(t, client, "a")) == "[]"
		})
		if a := report(t, client, "a"); a.Summary != (v1alpha2.Summary{Pass: 2}) {
			t.Errorf("namespace a summary %+v, want 2 passes", a.Summary)
		}
		// Namespace c's report is not kguard's, but its violation counts.
		if n, err := testutil.GatherAndCount(c.Metrics.Registry, "kguard_audit_violations"); err != nil || n != 1 {
			t.Errorf("%d kguard_audit_violations series (%v), want 1: namespace c's", n, err)
		}
		if got := violations(t, c, "PodSecurity", "c"); got != 1 {
			t.Errorf("kguard_audit_violations{c} = %v, want 1", got)
		}
	})
}

func TestReconcileCap(t *testing.T) {
	objects := []runtime.Object{namespace("d")}
	for i := range 7 {
		objects = append(objects, pod("d", fmt.Sprintf("p%d", i), i%2 == 0))
	}
	client := fakeCluster(t, objects...)
	c := newController(t, client, 3)
	reconcile(t, c)
	d := report(t, client, "d")
	if d == nil {
		t.Fatal("no report in namespace d")
	}
	if len(d.Results) != 3 || d.Annotations[audit.AnnotationLeftOut] != "4" {
		t.Errorf("%d results, %q left out; want 3 and 4", len(d.Results), d.Annotations[audit.AnnotationLeftOut])
	}
	if d.Summary != (v1alpha2.Summary{Fail: 4, Pass: 3}) {
		t.Errorf("summary %+v, want every result counted", d.Summary)
	}
	if got := failing(d); got != "[PodSecurity:Pod/p0 PodSecurity:Pod/p2 PodSecurity:Pod/p4]" {
		t.Errorf("kept %s, want the failures first", got)
	}
	if got := violations(t, c, "PodSecurity", "d"); got != 4 {
		t.Errorf("kguard_audit_violations{d} = %v, want 4 (the gauge is not capped)", got)
	}
}

// violations is the value of kguard_audit_violations{policy, namespace}, -1
// when there is no such series.
func violations(t *testing.T, c *controller.Controller, policy, ns string) float64 {
	t.Helper()
	families, err := c.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "kguard_audit_violations" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["policy"] == policy && labels["namespace"] == ns {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

// Run audits when the first snapshot comes, and again after an object changes.
func TestRunAuditsOnSnapshotAndChange(t *testing.T) {
	client := fakeCluster(t, namespace("a"), pod("a", "good", false))
	c := &controller.Controller{Client: client, Debounce: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	c.Store(baselineSnapshot(t))
	eventually(t, "the first report", func() bool { return report(t, client, "a") != nil })
	if _, err := client.Resource(pods).Namespace("a").Create(t.Context(), pod("a", "bad", true), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new pod's failure", func() bool {
		r := report(t, client, "a")
		return r != nil && failing(r) == "[PodSecurity:Pod/bad]"
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// A Deployment's ReplicaSets and pods are reported through the Deployment,
// looked up in the informers' caches, as audit.Run does within its input.
func TestReconcileReportsThroughOwners(t *testing.T) {
	ref := func(kind, name, uid string) []any {
		return []any{map[string]any{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid, "controller": true}}
	}
	template := map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "busybox",
		"securityContext": map[string]any{"privileged": true}}}}}
	deploy := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "a", "uid": "d1"},
		"spec":     map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}}, "template": template}}}
	rs := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "ReplicaSet",
		"metadata": map[string]any{"name": "web-1", "namespace": "a", "uid": "rs1", "ownerReferences": ref("Deployment", "web", "d1")},
		"spec":     map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}}, "template": template}}}
	p := pod("a", "web-1-x", true)
	p.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-1", UID: "rs1", Controller: ptrTrue()}})
	orphan := pod("a", "orphan", true)
	orphan.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "gone", UID: "x", Controller: ptrTrue()}})
	client := fakeCluster(t, deploy, rs, p, orphan)
	c := newController(t, client, 0)
	reconcile(t, c)
	a := report(t, client, "a")
	if a == nil {
		t.Fatal("no report in namespace a")
	}
	if got := failing(a); got != "[PodSecurity:Deployment/web PodSecurity:Pod/orphan]" {
		t.Errorf("failing %s, want the Deployment and the pod whose owner is not there", got)
	}
	if a.Summary != (v1alpha2.Summary{Fail: 2}) {
		t.Errorf("summary %+v, want 2 failures and nothing for the owned objects", a.Summary)
	}
}

func ptrTrue() *bool { b := true; return &b }

// A write that fails does not stop the others; the audit reports the error,
// counts it, and does not move the last-run timestamp.
func TestReconcileWriteFailure(t *testing.T) {
	client := fakeCluster(t, pod("a", "bad", true), pod("b", "bad", true))
	client.PrependReactor("patch", "policyreports", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetNamespace() == "b" {
			return true, nil, apierrors.NewForbidden(controller.PolicyReportResource.GroupResource(), audit.ReportName, fmt.Errorf("namespace b is terminating"))
		}
		return false, nil, nil
	})
	c := newController(t, client, 0)
	err := c.Reconcile(t.Context())
	if err == nil || !strings.Contains(err.Error(), "namespace b is terminating") {
		t.Fatalf("Reconcile: %v, want namespace b's error", err)
	}
	if report(t, client, "a") == nil {
		t.Error("namespace a's report was not written after b's failed")
	}
	if got := metricValue(t, c, "kguard_audit_errors_total"); got != 1 {
		t.Errorf("kguard_audit_errors_total = %v, want 1", got)
	}
	if got := violations(t, c, "PodSecurity", "b"); got != 1 {
		t.Errorf("kguard_audit_violations{b} = %v, want 1: the audit itself succeeded", got)
	}
	if got := metricValue(t, c, "kguard_audit_last_run_timestamp_seconds"); got != 0 {
		t.Errorf("kguard_audit_last_run_timestamp_seconds = %v, want 0 (never written in full)", got)
	}
}

// metricValue is the value of the unlabelled counter or gauge name.
func metricValue(t *testing.T, c *controller.Controller, name string) float64 {
	t.Helper()
	families, err := c.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			m := f.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// pspSnapshot is the PodSecurityPolicy chain of testdata/psps.yaml, with
// namespace a's ServiceAccounts granted the use of one policy.
func pspSnapshot(t *testing.T, grant string) *snapshot.Snapshot {
	t.Helper()
	set, err := policy.Load([]string{"testdata/psps.yaml", "testdata/grant-" + grant + ".yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := snapshot.Build(snapshot.Config{AuthorizationModes: []string{"RBAC"}, AdmissionPlugins: []string{podsecuritypolicy.PluginName}}, set)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// The scenario of the end-to-end test to come: a pod admitted when it was
// created fails in the report once the policies change so that its
// ServiceAccount may use only a policy it violates.
func TestPolicyChangeReportsExistingPods(t *testing.T) {
	client := fakeCluster(t, pod("a", "priv", true))
	c := &controller.Controller{Client: client, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(func() { cancel(); c.Shutdown() })
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c.Store(pspSnapshot(t, "privileged"))
	reconcile(t, c)
	if a := report(t, client, "a"); a == nil || a.Summary != (v1alpha2.Summary{Pass: 1}) {
		t.Fatalf("with the privileged policy: %+v, want one pass", a)
	}
	c.Store(pspSnapshot(t, "unprivileged"))
	reconcile(t, c)
	a := report(t, client, "a")
	if a == nil || len(a.Results) != 1 || a.Results[0].Result != v1alpha2.ResultFail || a.Results[0].Policy != podsecuritypolicy.PluginName ||
		!strings.Contains(a.Results[0].Message, "Privileged containers are not allowed") {
		t.Fatalf("with the unprivileged policy only: %+v, want PodSecurityPolicy's failure", a)
	}
	t.Logf("the result: %s: %s", a.Results[0].Policy, a.Results[0].Message)
	if got := violations(t, c, podsecuritypolicy.PluginName, "a"); got != 1 {
		t.Errorf("kguard_audit_violations{PodSecurityPolicy,a} = %v, want 1", got)
	}
}
