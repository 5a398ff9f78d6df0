package controller_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kguard/kguard/internal/admission/constraints"
	"github.com/kguard/kguard/internal/controller"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/snapshot"
	"github.com/kguard/kguard/internal/source"
)

// A custom kind whose preferred version changes (a CRD serving v2 beside
// v1) is still one set of objects: each object must be audited once, not
// once per version ever preferred.
func TestJudgedKindChangingVersionAuditedOnce(t *testing.T) {
	v1 := schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	v2 := schema.GroupVersionResource{Group: "example.com", Version: "v2", Resource: "widgets"}
	listKinds := map[schema.GroupVersionResource]string{
		controller.PolicyReportResource: "PolicyReportList", controller.ClusterPolicyReportResource: "ClusterPolicyReportList",
		v1: "WidgetList", v2: "WidgetList"}
	for gvr, kind := range source.AuditedKinds {
		listKinds[gvr] = kind + "List"
	}
	widget := func(version string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "example.com/" + version, "kind": "Widget",
			"metadata": map[string]any{"name": "w", "namespace": "a", "uid": "w-1", "labels": map[string]any{"bad": "yes"}}}}
	}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds)
	for gvr, version := range map[schema.GroupVersionResource]string{v1: "v1", v2: "v2"} {
		if err := client.Tracker().Create(gvr, widget(version), "a"); err != nil {
			t.Fatal(err)
		}
	}
	client.PrependReactor("patch", "*", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, nil })
	res := func(version string) *metav1.APIResourceList {
		return &metav1.APIResourceList{GroupVersion: "example.com/" + version, APIResources: []metav1.APIResource{
			{Name: "widgets", Kind: "Widget", Namespaced: true, Verbs: []string{"get", "list", "watch"}}}}
	}
	disco := &fakediscovery.FakeDiscovery{Fake: &k8stesting.Fake{}}
	disco.Resources = []*metav1.APIResourceList{res("v1")}
	build := func(rego ...policy.RegoModule) *snapshot.Snapshot {
		set := &policy.Set{Namespaces: []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}, RegoModules: rego}
		snap, err := snapshot.Build(snapshot.Config{AuthorizationModes: []string{"RBAC"}, AdmissionPlugins: []string{constraints.PluginName}}, set)
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	badWidget := policy.RegoModule{Name: "w.rego", Source: "package kubernetes.admission\ndeny contains \"bad widget\" if input.request.object.metadata.labels.bad\n"}
	c := &controller.Controller{Client: client, Discovery: disco, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); c.Shutdown() })
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c.Store(build(badWidget))
	reconcile(t, c)
	if got := violations(t, c, constraints.PluginName, "a"); got != 1 {
		t.Fatalf("violations in a: %v, want 1", got)
	}
	// v2 served and preferred: the same objects.
	disco.Resources = []*metav1.APIResourceList{res("v2"), res("v1")}
	c.Store(build(badWidget))
	reconcile(t, c)
	if got := violations(t, c, constraints.PluginName, "a"); got != 1 {
		t.Errorf("violations in a after v2 became preferred: %v, want 1 (the widget audited once per version)", got)
	}
	if got := auditedObjects(t, c); got != 1 {
		t.Errorf("kguard_audit_objects = %v, want 1 (the widget)", got)
	}

	// The policy gone, widgets are judged no more: no longer audited (as
	// `kguard audit --kubeconfig` no longer lists them), though still watched.
	c.Store(build())
	reconcile(t, c)
	if got := auditedObjects(t, c); got != 0 {
		t.Errorf("kguard_audit_objects = %v after no constraint matches widgets, want 0", got)
	}
}

// auditedObjects is kguard_audit_objects.
func auditedObjects(t *testing.T, c *controller.Controller) float64 {
	t.Helper()
	families, err := c.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "kguard_audit_objects" {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no kguard_audit_objects")
	return 0
}
