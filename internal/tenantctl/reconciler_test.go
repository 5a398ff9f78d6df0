package tenantctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kguard/kguard/internal/controller"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/snapshot"
	"github.com/kguard/kguard/internal/source"
	"github.com/kguard/kguard/internal/tenant"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

var (
	namespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	policiesGVR   = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}
	bindingsGVR   = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}
	quotasGVR     = schema.GroupVersionResource{Version: "v1", Resource: "resourcequotas"}
)

// fakeCluster is a fake dynamic client of the tenant resources and the
// Tenants. It answers server-side apply roughly as the API server does for
// one field manager: the object is created, or its top-level fields are
// replaced by the applied ones and the labels and annotations merged
// (others' stay), and the apply is recorded in managedFields; an empty
// map applied keeps the keys there, as server-side apply leaves another
// manager's keys; an apply to a Tenant's status subresource sets its conditions by type.
// A patch of any resource in failing fails.
func fakeCluster(t *testing.T, failing *atomic.Pointer[schema.GroupVersionResource], objects ...runtime.Object) *dynamicfake.FakeDynamicClient {
	t.Helper()
	listKinds := map[schema.GroupVersionResource]string{source.TenantResource: "TenantList"}
	for _, r := range Resources {
		listKinds[r.GVR] = r.Kind + "List"
	}
	c := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, objects...)
	c.PrependReactor("patch", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		pa := action.(k8stesting.PatchActionImpl)
		if pa.GetPatchType() != types.ApplyPatchType {
			return false, nil, nil
		}
		if pa.PatchOptions.FieldManager != FieldManager || pa.PatchOptions.Force == nil || !*pa.PatchOptions.Force {
			return true, nil, fmt.Errorf("field manager %q, force %v; want %q, forced", pa.PatchOptions.FieldManager, pa.PatchOptions.Force, FieldManager)
		}
		gvr, ns := pa.GetResource(), pa.GetNamespace()
		if f := failing.Load(); f != nil && *f == gvr {
			return true, nil, apierrors.NewForbidden(gvr.GroupResource(), pa.GetName(), errors.New("no patch for you"))
		}
		applied := &unstructured.Unstructured{}
		if err := json.Unmarshal(pa.GetPatch(), &applied.Object); err != nil {
			return true, nil, err
		}
		o, err := c.Tracker().Get(gvr, ns, pa.GetName())
		if pa.GetSubresource() == "status" {
			if err != nil {
				return true, nil, err
			}
			u := o.(*unstructured.Unstructured).DeepCopy()
			var tn v1alpha1.Tenant
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &tn); err != nil {
				return true, nil, err
			}
			var in v1alpha1.Tenant
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(applied.Object, &in); err != nil {
				return true, nil, err
			}
			for _, cond := range in.Status.Conditions {
				meta.SetStatusCondition(&tn.Status.Conditions, cond)
			}
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&tn)
			if err != nil {
				return true, nil, err
			}
			u.Object["status"] = m["status"]
			return true, u, c.Tracker().Update(gvr, u, ns)
		}
		// The API server records the apply in managedFields.
		applied.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: applied.GetAPIVersion()}})
		if apierrors.IsNotFound(err) {
			applied.SetUID(types.UID(fmt.Sprintf("uid-%s-%s-%s", gvr.Resource, ns, pa.GetName())))
			return true, applied, c.Tracker().Create(gvr, applied, ns)
		}
		if err != nil {
			return true, nil, err
		}
		u := o.(*unstructured.Unstructured).DeepCopy()
		merge := func(there, applied map[string]string) map[string]string {
			if there == nil {
				there = map[string]string{}
			}
			for k, v := range applied {
				there[k] = v
			}
			return there
		}
		labels, annotations := merge(u.GetLabels(), applied.GetLabels()), merge(u.GetAnnotations(), applied.GetAnnotations())
		for k, v := range applied.Object {
			if k != "metadata" {
				u.Object[k] = overlay(u.Object[k], v)
			}
		}
		u.SetLabels(labels)
		u.SetAnnotations(annotations)
		if !Applied(u) {
			u.SetManagedFields(append(u.GetManagedFields(), applied.GetManagedFields()...))
		}
		return true, u, c.Tracker().Update(gvr, u, ns)
	})
	return c
}

// overlay is the value applied over the one there: the applied one, but
// for an empty map applied, which keeps the keys there (others' keys:
// kguard's apply owns none of them).
func overlay(there, applied any) any {
	a, ok := applied.(map[string]any)
	t, tok := there.(map[string]any)
	if !ok || !tok {
		return applied
	}
	if len(a) == 0 {
		return t
	}
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = overlay(t[k], v)
	}
	return out
}

func toUnstructured(t *testing.T, o runtime.Object) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// teamA is a defaulted Tenant of namespaces a1 and a2, owned by alice, with
// a quota: every kind but the PodSecurityPolicies' Role.
func teamA() *v1alpha1.Tenant {
	tn := &v1alpha1.Tenant{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Tenant"},
		ObjectMeta: metav1.ObjectMeta{Name: "team-a", Generation: 3, UID: "tenant-a"},
		Spec: v1alpha1.TenantSpec{
			Owners:     v1alpha1.TenantOwners{Users: []string{"alice"}},
			Namespaces: v1alpha1.TenantNamespaces{Names: []string{"a1", "a2"}},
			Quota: v1alpha1.TenantQuota{ResourceQuota: &corev1.ResourceQuotaSpec{
				Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10"), corev1.ResourceServices: resource.MustParse("5")}}},
		},
	}
	v1alpha1.SetTenantDefaults(tn)
	return tn
}

// existingA1 is namespace a1 as someone created it, before the Tenant.
func existingA1() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": "a1", "uid": "ns-a1", "labels": map[string]any{"team": "x"}}}}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// started is a reconciler of client with its informers synced.
func started(t *testing.T, client *dynamicfake.FakeDynamicClient) *Reconciler {
	t.Helper()
	r := &Reconciler{Client: client, Logger: quiet(), Debounce: 20 * time.Millisecond,
		Now: func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); r.Shutdown() })
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

func get(t *testing.T, client *dynamicfake.FakeDynamicClient, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u, err := client.Resource(gvr).Namespace(ns).Get(t.Context(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func ready(t *testing.T, client *dynamicfake.FakeDynamicClient, name string) *metav1.Condition {
	t.Helper()
	u := get(t, client, source.TenantResource, "", name)
	var tn v1alpha1.Tenant
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &tn); err != nil {
		t.Fatal(err)
	}
	return meta.FindStatusCondition(tn.Status.Conditions, ConditionReady)
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

// cached waits until the informers hold n managed objects.
func cached(t *testing.T, r *Reconciler, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d managed objects in the caches", n), func() bool {
		got := 0
		for _, u := range r.existing() {
			if _, ok := Managed(u); ok {
				got++
			}
		}
		return got == n
	})
}

func egressSpec(t *testing.T, client *dynamicfake.FakeDynamicClient, ns string) string {
	t.Helper()
	u := get(t, client, policiesGVR, ns, tenant.EgressPolicyName)
	if u == nil {
		t.Fatalf("no NetworkPolicy %s in %s", tenant.EgressPolicyName, ns)
	}
	js, _ := json.Marshal(u.Object["spec"])
	return string(js)
}

func TestReconcile(t *testing.T) {
	var failing atomic.Pointer[schema.GroupVersionResource]
	a := teamA()
	client := fakeCluster(t, &failing, existingA1(), toUnstructured(t, a))
	r := started(t, client)
	nsA1 := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a1", Labels: map[string]string{"team": "x"}}}
	r.Store(&snapshot.Snapshot{TenantsComplete: true, Tenants: []*v1alpha1.Tenant{a}, Namespaces: []*corev1.Namespace{nsA1}})
	rendering, err := tenant.Render(a, []*corev1.Namespace{nsA1}, []*v1alpha1.Tenant{a})
	if err != nil {
		t.Fatal(err)
	}
	want := len(rendering.Objects) // 2 Namespaces, per namespace the owners' RoleBinding, 2 NetworkPolicies, a ResourceQuota
	if want != 10 {
		t.Fatalf("the Tenant renders %d objects, the test expects 10", want)
	}
	var wantEgress string
	for _, u := range rendering.Objects {
		if u.GetName() == tenant.EgressPolicyName && u.GetNamespace() == "a1" {
			js, _ := json.Marshal(u.Object["spec"])
			wantEgress = string(js)
		}
	}

	t.Run("the objects a Tenant implies are created, and its status says so", func(t *testing.T) {
		if err := r.Reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
		ns := get(t, client, namespacesGVR, "", "a1")
		if l := ns.GetLabels(); l["team"] != "x" || l[v1alpha1.TenantLabel] != "team-a" || l["pod-security.kubernetes.io/enforce"] != "restricted" {
			t.Errorf("namespace a1 labels %v: want the tenant's and the Pod Security labels beside team=x", l)
		}
		if get(t, client, namespacesGVR, "", "a2") == nil {
			t.Error("namespace a2 not created")
		}
		for _, ns := range []string{"a1", "a2"} {
			if get(t, client, bindingsGVR, ns, tenant.OwnersBindingName) == nil || get(t, client, quotasGVR, ns, tenant.QuotaName) == nil ||
				get(t, client, policiesGVR, ns, tenant.DenyIngressPolicyName) == nil {
				t.Errorf("namespace %s misses the owners' RoleBinding, the ResourceQuota or the ingress NetworkPolicy", ns)
			}
		}
		c := ready(t, client, "team-a")
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != ReasonApplied || c.ObservedGeneration != 3 ||
			c.Message != "10 objects in 2 namespaces applied" {
			t.Errorf("Ready %+v, want True, Applied, observedGeneration 3", c)
		}
		cached(t, r, want)
		if err := r.Reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
		if p := PlanObjects(stamped(t, a, nsA1), r.existing(), nil); !p.Empty() {
			t.Errorf("after a pass, the plan still applies %q and deletes %q", names(p.Apply), names(p.Delete))
		}
	})

	t.Run("drift is corrected", func(t *testing.T) {
		np := get(t, client, policiesGVR, "a1", tenant.EgressPolicyName)
		np.Object["spec"] = map[string]any{"policyTypes": []any{"Egress"}, "egress": []any{map[string]any{}}} // egress anywhere
		if _, err := client.Resource(policiesGVR).Namespace("a1").Update(t.Context(), np, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the informer to see the edit", func() bool {
			for _, u := range r.existing() {
				if u.GetNamespace() == "a1" && u.GetName() == tenant.EgressPolicyName {
					return strings.Contains(fmt.Sprint(u.Object["spec"]), "egress:[map[]]")
				}
			}
			return false
		})
		if err := r.Reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := egressSpec(t, client, "a1"); got != wantEgress {
			t.Errorf("egress policy of a1 %s, want %s", got, wantEgress)
		}
	})

	t.Run("a podSelector narrowed by hand is emptied again", func(t *testing.T) {
		np := get(t, client, policiesGVR, "a1", tenant.EgressPolicyName)
		if err := unstructured.SetNestedStringMap(np.Object, map[string]string{"nobody": "x"}, "spec", "podSelector", "matchLabels"); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Resource(policiesGVR).Namespace("a1").Update(t.Context(), np, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the informer to see the edit", func() bool {
			for _, u := range r.existing() {
				if u.GetNamespace() == "a1" && u.GetName() == tenant.EgressPolicyName {
					return strings.Contains(fmt.Sprint(u.Object["spec"]), "nobody")
				}
			}
			return false
		})
		if err := r.Reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := egressSpec(t, client, "a1"); got != wantEgress {
			t.Errorf("egress policy of a1 %s, want %s (every pod selected)", got, wantEgress)
		}
	})

	t.Run("a failed apply is reported in the status, then cleared", func(t *testing.T) {
		q := get(t, client, quotasGVR, "a2", tenant.QuotaName)
		q.Object["spec"] = map[string]any{"hard": map[string]any{"pods": "1000"}}
		if _, err := client.Resource(quotasGVR).Namespace("a2").Update(t.Context(), q, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the informer to see the edit", func() bool {
			for _, u := range r.existing() {
				if u.GetNamespace() == "a2" && u.GetName() == tenant.QuotaName {
					return strings.Contains(fmt.Sprint(u.Object["spec"]), "1000")
				}
			}
			return false
		})
		failing.Store(&quotasGVR)
		err := r.Reconcile(t.Context())
		if err == nil || !strings.Contains(err.Error(), "no patch for you") {
			t.Fatalf("Reconcile: %v, want the failed apply", err)
		}
		c := ready(t, client, "team-a")
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != ReasonApplyFailed ||
			!strings.HasPrefix(c.Message, "applying ResourceQuota a2/kguard-tenant-quota: ") {
			t.Errorf("Ready %+v, want False, ApplyFailed, the ResourceQuota's error", c)
		}
		failing.Store(nil)
		if err := r.Reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
		if c := ready(t, client, "team-a"); c.Status != metav1.ConditionTrue || c.Reason != ReasonApplied {
			t.Errorf("Ready %+v after the apply succeeded, want True", c)
		}
		if q := get(t, client, quotasGVR, "a2", tenant.QuotaName); !strings.Contains(fmt.Sprint(q.Object["spec"]), "pods:10") {
			t.Errorf("quota of a2 %v, want pods 10", q.Object["spec"])
		}
	})

	t.Run("a field the Tenant no longer implies is applied away", func(t *testing.T) {
		cached(t, r, want)
		eventually(t, "the informers to see the last pass", func() bool {
			return PlanObjects(stamped(t, a, nsA1), r.existing(), nil).Empty()
		})
		fewer := a.DeepCopy()
		fewer.Generation = 4
		delete(fewer.Spec.Quota.ResourceQuota.Hard, corev1.ResourceServices)
		r.Store(&snapshot.Snapshot{TenantsComplete: true, Tenants: []*v1alpha1.Tenant{fewer}, Namespaces: []*corev1.Namespace{nsA1}})
		if err := r.Reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, ns := range []string{"a1", "a2"} {
			if q := get(t, client, quotasGVR, ns, tenant.QuotaName); fmt.Sprint(q.Object["spec"]) != "map[hard:map[pods:10]]" {
				t.Errorf("quota of %s %v, want pods 10 alone", ns, q.Object["spec"])
			}
		}
		if c := ready(t, client, "team-a"); c.ObservedGeneration != 4 {
			t.Errorf("Ready %+v, want observedGeneration 4", c)
		}
	})

	t.Run("a Tenant removed loses its objects, not its Namespaces", func(t *testing.T) {
		cached(t, r, want)
		r.Store(&snapshot.Snapshot{Namespaces: []*corev1.Namespace{nsA1}}) // not complete: ignored
		if err := r.Reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
		if get(t, client, policiesGVR, "a1", tenant.EgressPolicyName) == nil {
			t.Fatal("a snapshot without the list of Tenants pruned team-a's objects")
		}
		r.Store(&snapshot.Snapshot{TenantsComplete: true, Namespaces: []*corev1.Namespace{nsA1}})
		if err := r.Reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, ns := range []string{"a1", "a2"} {
			if get(t, client, namespacesGVR, "", ns) == nil {
				t.Errorf("namespace %s deleted", ns)
			}
			for _, o := range []struct {
				gvr  schema.GroupVersionResource
				name string
			}{{bindingsGVR, tenant.OwnersBindingName}, {quotasGVR, tenant.QuotaName}, {policiesGVR, tenant.EgressPolicyName}, {policiesGVR, tenant.DenyIngressPolicyName}} {
				if get(t, client, o.gvr, ns, o.name) != nil {
					t.Errorf("%s %s/%s not deleted", o.gvr.Resource, ns, o.name)
				}
			}
		}
		if ns := get(t, client, namespacesGVR, "", "a1"); ns.GetLabels()["team"] != "x" {
			t.Errorf("namespace a1 labels %v", ns.GetLabels())
		}
	})
}

// The informers' watch triggers a pass: an edit to a managed object is
// undone by Run without a new snapshot.
func TestRunCorrectsDrift(t *testing.T) {
	var failing atomic.Pointer[schema.GroupVersionResource]
	a := teamA()
	client := fakeCluster(t, &failing, toUnstructured(t, a))
	r := &Reconciler{Client: client, Logger: quiet(), Debounce: 10 * time.Millisecond, Interval: time.Hour}
	r.Store(&snapshot.Snapshot{TenantsComplete: true, Tenants: []*v1alpha1.Tenant{a}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var wantEgress string
	eventually(t, "the first pass", func() bool {
		if _, err := client.Resource(policiesGVR).Namespace("a2").Get(ctx, tenant.EgressPolicyName, metav1.GetOptions{}); err != nil {
			return false
		}
		wantEgress = egressSpec(t, client, "a2")
		return true
	})
	np := get(t, client, policiesGVR, "a2", tenant.EgressPolicyName)
	np.Object["spec"] = map[string]any{"policyTypes": []any{"Egress"}, "egress": []any{map[string]any{}}}
	if _, err := client.Resource(policiesGVR).Namespace("a2").Update(ctx, np, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the drift corrected", func() bool { return egressSpec(t, client, "a2") == wantEgress })
}

// Every kind Render makes is one the reconciler watches, applies and prunes.
func TestResourcesCoverRender(t *testing.T) {
	a := teamA()
	a.Spec.PodSecurity.PodSecurityPolicies = []string{"restricted"}
	a.Spec.Quota.LimitRange = &corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
		Default: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}
	rendering, err := tenant.Render(a, nil, []*v1alpha1.Tenant{a})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, u := range rendering.Objects {
		gvk := u.GroupVersionKind()
		res := resourceOf(gvk.Group, gvk.Kind)
		if res == nil {
			t.Errorf("%s %s is rendered but not in Resources", gvk, u.GetName())
			continue
		}
		if res.GVR.GroupVersion() != gvk.GroupVersion() || res.Namespaced != (u.GetNamespace() != "") {
			t.Errorf("%s: Resources says %+v", gvk, res)
		}
		kinds[gvk.Kind] = true
	}
	if len(kinds) != len(Resources) {
		t.Errorf("rendered kinds %v, Resources has %d", kinds, len(Resources))
	}
}

// stamped is what the reconciler wants for t: its rendering, stamped.
func stamped(t *testing.T, tn *v1alpha1.Tenant, namespaces ...*corev1.Namespace) []*unstructured.Unstructured {
	t.Helper()
	rendering, err := tenant.Render(tn, namespaces, []*v1alpha1.Tenant{tn})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range rendering.Objects {
		if err := Stamp(u); err != nil {
			t.Fatal(err)
		}
	}
	return rendering.Objects
}

// A Tenant that cannot be rendered says why in its status and keeps the
// objects it had; the others are reconciled.
func TestReconcileRenderFailed(t *testing.T) {
	var failing atomic.Pointer[schema.GroupVersionResource]
	bad := teamA()
	bad.Name, bad.UID = "team-b", "tenant-b"
	bad.Spec.Namespaces.Names = []string{"b1"}
	bad.Spec.Network.BlockedEgressCIDRs = []string{"not-a-cidr"}
	good := teamA()
	kept := obj("NetworkPolicy", "b1", tenant.EgressPolicyName, "team-b", map[string]any{"policyTypes": []any{"Egress"}})
	client := fakeCluster(t, &failing, toUnstructured(t, bad), toUnstructured(t, good), kept)
	r := started(t, client)
	cached(t, r, 1)
	r.Store(&snapshot.Snapshot{TenantsComplete: true, Tenants: []*v1alpha1.Tenant{bad, good}})
	err := r.Reconcile(t.Context())
	if err == nil || !strings.Contains(err.Error(), "not-a-cidr") {
		t.Fatalf("Reconcile: %v, want the rendering error", err)
	}
	if c := ready(t, client, "team-b"); c == nil || c.Status != metav1.ConditionFalse || c.Reason != ReasonRenderFailed || !strings.Contains(c.Message, "not-a-cidr") {
		t.Errorf("team-b Ready %+v, want False, RenderFailed", c)
	}
	if get(t, client, policiesGVR, "b1", tenant.EgressPolicyName) == nil {
		t.Error("team-b's NetworkPolicy was deleted though team-b could not be rendered")
	}
	if c := ready(t, client, "team-a"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("team-a Ready %+v, want True", c)
	}
}

// The passes are counted by result, the objects applied and deleted, each
// Tenant's Ready in kguard_tenant_ready until the Tenant is gone, and the
// last success is stamped only by a pass without error.
func TestReconcileMetrics(t *testing.T) {
	var failing atomic.Pointer[schema.GroupVersionResource]
	a := teamA()
	bad := teamA()
	bad.Name, bad.UID = "team-b", "tenant-b"
	bad.Spec.Namespaces.Names = []string{"b1"}
	bad.Spec.Network.BlockedEgressCIDRs = []string{"not-a-cidr"}
	client := fakeCluster(t, &failing, toUnstructured(t, a), toUnstructured(t, bad))
	r := started(t, client)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	r.Now = func() time.Time { return now }
	reg := prometheus.NewRegistry()
	r.Metrics = NewMetrics(reg)
	m := r.Metrics

	for _, name := range []string{"kguard_tenant_reconcile_total", "kguard_tenant_objects_applied_total", "kguard_tenant_objects_deleted_total",
		"kguard_tenant_reconcile_last_success_timestamp_seconds", "kguard_tenant_reconcile_duration_seconds"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n == 0 {
			t.Errorf("%s: %d series in the registry (%v), want it registered", name, n, err)
		}
	}
	check := func(t *testing.T, success, failed, applied, deleted, lastSuccess float64, passes uint64, ready map[string]float64) {
		t.Helper()
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{`kguard_tenant_reconcile_total{result="success"}`, testutil.ToFloat64(m.passes.WithLabelValues(ResultSuccess)), success},
			{`kguard_tenant_reconcile_total{result="error"}`, testutil.ToFloat64(m.passes.WithLabelValues(ResultError)), failed},
			{"kguard_tenant_objects_applied_total", testutil.ToFloat64(m.applied), applied},
			{"kguard_tenant_objects_deleted_total", testutil.ToFloat64(m.deleted), deleted},
			{"kguard_tenant_reconcile_last_success_timestamp_seconds", testutil.ToFloat64(m.lastSuccess), lastSuccess},
		} {
			if c.got != c.want {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		}
		if got := durationCount(t, reg); got != passes {
			t.Errorf("kguard_tenant_reconcile_duration_seconds counts %d passes, want %d", got, passes)
		}
		if n := testutil.CollectAndCount(m.ready); n != len(ready) {
			t.Errorf("%d kguard_tenant_ready series, want %d (%v)", n, len(ready), ready)
		}
		for name, want := range ready {
			if got := testutil.ToFloat64(m.ready.WithLabelValues(name)); got != want {
				t.Errorf("kguard_tenant_ready{tenant=%q} = %v, want %v", name, got, want)
			}
		}
	}

	t.Run("a pass before the first snapshot is not counted", func(t *testing.T) {
		if err := r.Reconcile(t.Context()); !errors.Is(err, errNoSnapshot) {
			t.Fatalf("Reconcile: %v, want errNoSnapshot", err)
		}
		check(t, 0, 0, 0, 0, 0, 0, nil)
	})

	t.Run("a successful pass counts its applies and stamps the time", func(t *testing.T) {
		r.Store(&snapshot.Snapshot{TenantsComplete: true, Tenants: []*v1alpha1.Tenant{a}})
		if err := r.Reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
		check(t, 1, 0, 10, 0, float64(now.Unix()), 1, map[string]float64{"team-a": 1})
	})

	t.Run("a Tenant that cannot be rendered is not ready, and the pass is an error", func(t *testing.T) {
		eventually(t, "the informers to see the first pass", func() bool {
			return PlanObjects(stamped(t, a), r.existing(), nil).Empty()
		})
		before := now
		now = now.Add(time.Minute)
		r.Store(&snapshot.Snapshot{TenantsComplete: true, Tenants: []*v1alpha1.Tenant{a, bad}})
		if err := r.Reconcile(t.Context()); err == nil {
			t.Fatal("Reconcile succeeded with a Tenant that cannot be rendered")
		}
		check(t, 1, 1, 10, 0, float64(before.Unix()), 2, map[string]float64{"team-a": 1, "team-b": 0})
	})

	t.Run("a failed apply makes its Tenant not ready", func(t *testing.T) {
		q := get(t, client, quotasGVR, "a1", tenant.QuotaName)
		q.Object["spec"] = map[string]any{"hard": map[string]any{"pods": "1000"}}
		if _, err := client.Resource(quotasGVR).Namespace("a1").Update(t.Context(), q, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the informer to see the edit", func() bool {
			return len(PlanObjects(stamped(t, a), r.existing(), nil).Apply) == 1
		})
		failing.Store(&quotasGVR)
		defer failing.Store(nil)
		r.Store(&snapshot.Snapshot{TenantsComplete: true, Tenants: []*v1alpha1.Tenant{a}})
		if err := r.Reconcile(t.Context()); err == nil {
			t.Fatal("Reconcile succeeded though the ResourceQuota's apply failed")
		}
		check(t, 1, 2, 10, 0, float64(now.Add(-time.Minute).Unix()), 3, map[string]float64{"team-a": 0})
	})

	t.Run("a Tenant deleted loses its series and its objects are counted as deleted", func(t *testing.T) {
		now = now.Add(time.Minute)
		r.Store(&snapshot.Snapshot{TenantsComplete: true})
		if err := r.Reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
		// 2 RoleBindings, 4 NetworkPolicies, 2 ResourceQuotas; never the 2 Namespaces.
		check(t, 2, 2, 10, 8, float64(now.Unix()), 4, nil)
	})
}

// durationCount is the number of passes kguard_tenant_reconcile_duration_seconds observed.
func durationCount(t *testing.T, reg *prometheus.Registry) uint64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "kguard_tenant_reconcile_duration_seconds" {
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("no kguard_tenant_reconcile_duration_seconds in the registry")
	return 0
}

// kguard controller registers the series beside the audit's and serves
// them on the same /metrics.
func TestMetricsServedByTheController(t *testing.T) {
	cm := controller.NewMetrics()
	m := NewMetrics(cm.Registry)
	m.setReady(map[string]bool{"team-a": true})
	rec := httptest.NewRecorder()
	cm.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{`kguard_tenant_ready{tenant="team-a"} 1`, `kguard_tenant_reconcile_total{result="error"} 0`, "kguard_audit_last_run_timestamp_seconds"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics holds no %s", want)
		}
	}
}

// A user's object that carries kguard's labels (its YAML copied from one of
// kguard's NetworkPolicies) is not kguard's: neither a pass nor the Tenant's
// removal deletes it.
func TestReconcileLeavesObjectsKguardNeverApplied(t *testing.T) {
	var failing atomic.Pointer[schema.GroupVersionResource]
	a := teamA()
	copied := obj("NetworkPolicy", "a1", "allow-dns", "team-a", map[string]any{"policyTypes": []any{"Egress"}})
	copied.SetManagedFields(nil) // created by kubectl, not applied by kguard
	client := fakeCluster(t, &failing, toUnstructured(t, a), copied)
	r := started(t, client)
	cached(t, r, 1)
	r.Store(&snapshot.Snapshot{TenantsComplete: true, Tenants: []*v1alpha1.Tenant{a}})
	if err := r.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if get(t, client, policiesGVR, "a1", "allow-dns") == nil {
		t.Fatal("a pass deleted the user's NetworkPolicy allow-dns")
	}
	cached(t, r, 11)
	r.Store(&snapshot.Snapshot{TenantsComplete: true})
	if err := r.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if get(t, client, policiesGVR, "a1", "allow-dns") == nil {
		t.Error("the Tenant's removal deleted the user's NetworkPolicy allow-dns")
	}
	if get(t, client, policiesGVR, "a1", tenant.EgressPolicyName) != nil {
		t.Error("the Tenant's removal left kguard's own NetworkPolicy")
	}
}

// A pass that failed is tried again without waiting for the Interval nor
// for a change: a transient failure (the API server or a webhook briefly
// unavailable) does not leave a Tenant's objects missing until the next
// periodic pass.
func TestRunRetriesAFailedPass(t *testing.T) {
	var failing atomic.Pointer[schema.GroupVersionResource]
	failing.Store(&quotasGVR)
	a := teamA()
	client := fakeCluster(t, &failing, toUnstructured(t, a))
	r := &Reconciler{Client: client, Logger: quiet(), Debounce: 10 * time.Millisecond, Interval: time.Hour}
	r.Store(&snapshot.Snapshot{TenantsComplete: true, Tenants: []*v1alpha1.Tenant{a}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	eventually(t, "a pass to fail on the ResourceQuotas", func() bool {
		c := ready(t, client, "team-a")
		return c != nil && c.Reason == ReasonApplyFailed && get(t, client, policiesGVR, "a2", tenant.EgressPolicyName) != nil
	})
	time.Sleep(100 * time.Millisecond) // the passes the informers' events asked for are over
	failing.Store(nil)
	eventually(t, "the ResourceQuotas applied once the failure is gone", func() bool {
		return get(t, client, quotasGVR, "a1", tenant.QuotaName) != nil && get(t, client, quotasGVR, "a2", tenant.QuotaName) != nil
	})
	eventually(t, "team-a Ready", func() bool { return ready(t, client, "team-a").Status == metav1.ConditionTrue })
}

// A namespace being deleted is left to kube-controller-manager: nothing is
// applied in it (the API server refuses new content there, and the Tenant
// would be ApplyFailed until it is gone), and a Namespace that a selector
// matched while it was being deleted is not created again once it is gone
// (the snapshot may still hold it).
func TestReconcileSkipsNamespacesBeingDeleted(t *testing.T) {
	var failing atomic.Pointer[schema.GroupVersionResource]
	a := teamA()
	a.Spec.Namespaces.Names = []string{"a1"}
	a.Spec.Namespaces.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}
	deleting := metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	nsType := metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}
	a1 := &corev1.Namespace{TypeMeta: nsType, ObjectMeta: metav1.ObjectMeta{Name: "a1", DeletionTimestamp: &deleting, Finalizers: []string{"kubernetes"}}}
	gone := &corev1.Namespace{TypeMeta: nsType, ObjectMeta: metav1.ObjectMeta{Name: "gone", Labels: map[string]string{"team": "a"}, DeletionTimestamp: &deleting}}
	live := &corev1.Namespace{TypeMeta: nsType, ObjectMeta: metav1.ObjectMeta{Name: "live", Labels: map[string]string{"team": "a"}}}
	client := fakeCluster(t, &failing, toUnstructured(t, a), toUnstructured(t, a1), toUnstructured(t, live)) // "gone" is gone
	r := started(t, client)
	r.Store(&snapshot.Snapshot{TenantsComplete: true, Tenants: []*v1alpha1.Tenant{a}, Namespaces: []*corev1.Namespace{a1, gone, live}})
	if err := r.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if get(t, client, namespacesGVR, "", "gone") != nil {
		t.Error("namespace gone, deleted while the Tenant's selector matched it, was created again")
	}
	if get(t, client, bindingsGVR, "a1", tenant.OwnersBindingName) != nil || get(t, client, policiesGVR, "a1", tenant.EgressPolicyName) != nil {
		t.Error("objects were applied in namespace a1, which is being deleted")
	}
	if get(t, client, bindingsGVR, "live", tenant.OwnersBindingName) == nil {
		t.Error("namespace live, not being deleted, misses its owners' RoleBinding")
	}
	c := ready(t, client, "team-a")
	if c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, `namespace "a1" is being deleted`) ||
		!strings.Contains(c.Message, `namespace "gone" is being deleted`) {
		t.Errorf("Ready %+v, want True, saying that a1 and gone are being deleted", c)
	}
}

// statusWrites counts the writes of Tenants' status.
func statusWrites(client *dynamicfake.FakeDynamicClient) int {
	n := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "patch" && a.GetResource() == source.TenantResource && a.GetSubresource() == "status" {
			n++
		}
	}
	return n
}

// A Tenant refused (cluster mode: the version stored does not convert,
// validate, or fit with the others) keeps its last good version applied as
// it is, and its Ready says that the stored one is refused: False,
// Refused, at the refused generation, naming the generation in force. The
// snapshot's Tenant is that last good version, whose status is stale: the
// condition is written once, not on every pass.
func TestReconcileRefusedKeepsItsLastGoodVersion(t *testing.T) {
	var failing atomic.Pointer[schema.GroupVersionResource]
	last := teamA() // generation 3, in force
	last.Status.Conditions = []metav1.Condition{{Type: ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonApplied,
		Message: "10 objects in 2 namespaces applied", ObservedGeneration: 3, LastTransitionTime: metav1.NewTime(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))}}
	stored := toUnstructured(t, last)
	stored.SetGeneration(4)
	stored.Object["spec"].(map[string]any)["owner"] = "typo"
	client := fakeCluster(t, &failing, stored)
	r := started(t, client)
	r.Metrics = NewMetrics(prometheus.NewRegistry())
	why := `it does not convert: unknown field "spec.owner"`
	refused := policy.RefusedTenant{Name: "team-a", Generation: 4, Reason: why, Conditions: last.Status.Conditions}
	r.Store(&snapshot.Snapshot{TenantsComplete: true, Tenants: []*v1alpha1.Tenant{last}, RefusedTenants: []policy.RefusedTenant{refused}})
	if err := r.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"a1", "a2"} {
		if get(t, client, bindingsGVR, ns, tenant.OwnersBindingName) == nil || get(t, client, quotasGVR, ns, tenant.QuotaName) == nil {
			t.Errorf("namespace %s misses the objects of the version in force", ns)
		}
	}
	c := ready(t, client, "team-a")
	want := `generation 4 is refused: it does not convert: unknown field "spec.owner"; generation 3 stays in force (Applied: 10 objects in 2 namespaces applied)`
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != ReasonRefused || c.ObservedGeneration != 4 || c.Message != want {
		t.Fatalf("Ready %+v, want False, Refused, observedGeneration 4, %q", c, want)
	}
	if got := testutil.ToFloat64(r.Metrics.ready.WithLabelValues("team-a")); got != 0 {
		t.Errorf("kguard_tenant_ready{tenant=\"team-a\"} = %v, want 0", got)
	}

	// The next snapshot holds the condition written: nothing is written again.
	writes := statusWrites(client)
	refused.Conditions = []metav1.Condition{*c}
	r.Store(&snapshot.Snapshot{TenantsComplete: true, Tenants: []*v1alpha1.Tenant{last}, RefusedTenants: []policy.RefusedTenant{refused}})
	if err := r.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := statusWrites(client) - writes; n != 0 {
		t.Errorf("a pass with nothing new wrote the status %d times", n)
	}
}

// A Tenant refused that never had a good version is in no snapshot's
// Tenants: its Ready is written by name, False, Refused, at the refused
// generation, saying that nothing of it is applied; the others are
// reconciled.
func TestReconcileRefusedWithoutAGoodVersion(t *testing.T) {
	var failing atomic.Pointer[schema.GroupVersionResource]
	a := teamA()
	b := teamA()
	b.Name, b.UID, b.Generation = "team-b", "tenant-b", 1
	b.Spec.Namespaces.Names = []string{"kube-system"}
	client := fakeCluster(t, &failing, toUnstructured(t, a), toUnstructured(t, b))
	r := started(t, client)
	r.Metrics = NewMetrics(prometheus.NewRegistry())
	why := `invalid Tenant "team-b": spec.namespaces.names[0]: Forbidden: "kube-system" is a system namespace`
	refused := policy.RefusedTenant{Name: "team-b", Generation: 1, Reason: why}
	r.Store(&snapshot.Snapshot{TenantsComplete: true, Tenants: []*v1alpha1.Tenant{a}, RefusedTenants: []policy.RefusedTenant{refused}})
	if err := r.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := ready(t, client, "team-b")
	want := "generation 1 is refused: " + why + "; nothing of it is applied"
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != ReasonRefused || c.ObservedGeneration != 1 || c.Message != want {
		t.Fatalf("team-b Ready %+v, want False, Refused, observedGeneration 1, %q", c, want)
	}
	if get(t, client, bindingsGVR, "kube-system", tenant.OwnersBindingName) != nil {
		t.Error("the refused Tenant's RoleBinding was applied")
	}
	if c := ready(t, client, "team-a"); c == nil || c.Status != metav1.ConditionTrue || c.Reason != ReasonApplied {
		t.Errorf("team-a Ready %+v, want True, Applied", c)
	}
	for name, want := range map[string]float64{"team-a": 1, "team-b": 0} {
		if got := testutil.ToFloat64(r.Metrics.ready.WithLabelValues(name)); got != want {
			t.Errorf("kguard_tenant_ready{tenant=%q} = %v, want %v", name, got, want)
		}
	}

	writes := statusWrites(client)
	refused.Conditions = []metav1.Condition{*c}
	r.Store(&snapshot.Snapshot{TenantsComplete: true, Tenants: []*v1alpha1.Tenant{a}, RefusedTenants: []policy.RefusedTenant{refused}})
	if err := r.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := statusWrites(client) - writes; n != 1 { // team-a's: its object in the snapshot has no status yet
		t.Errorf("the second pass wrote the status %d times, want once (team-a's only)", n)
	}
}

// A refusal's reason longer than the CRD's bound on a message is cut at a
// character's start, never inside one.
func TestReconcileRefusedLongReason(t *testing.T) {
	var failing atomic.Pointer[schema.GroupVersionResource]
	b := teamA()
	b.Name, b.UID, b.Generation = "team-b", "tenant-b", 1
	client := fakeCluster(t, &failing, toUnstructured(t, b))
	r := started(t, client)
	why := strings.Repeat("é", 20000) // 40,000 bytes; the cut falls inside one
	r.Store(&snapshot.Snapshot{TenantsComplete: true, RefusedTenants: []policy.RefusedTenant{{Name: "team-b", Generation: 1, Reason: why}}})
	if err := r.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := ready(t, client, "team-b")
	if c == nil || c.Reason != ReasonRefused {
		t.Fatalf("team-b Ready %+v, want Refused", c)
	}
	if !utf8.ValidString(c.Message) || len(c.Message) > maxMessage || len(c.Message) < maxMessage-1 || !strings.HasPrefix(c.Message, "generation 1 is refused: éé") {
		t.Errorf("message of %d bytes (valid UTF-8: %v), want at most %d, cut between characters", len(c.Message), utf8.ValidString(c.Message), maxMessage)
	}
}
