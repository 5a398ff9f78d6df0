package source

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/dynamic/dynamicinformer"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/informers"
	k8sfake "k8s.io/client-go/kubernetes/fake"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1/tenantvalidation"

	"github.com/kguard/kguard/internal/admission/tenancy"
	"github.com/kguard/kguard/internal/snapshot"
	"github.com/kguard/kguard/internal/tenant"
)

// tenantObject is a Tenant as the informer holds it.
func tenantObject(name string, generation int64, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.SchemeGroupVersion.String(), "kind": "Tenant",
		"metadata": map[string]any{"name": name, "generation": generation},
		"spec":     spec,
	}}
	return u
}

// named is a Tenant spec claiming namespaces by name.
func named(ns ...string) map[string]any {
	names := make([]any, len(ns))
	for i, n := range ns {
		names[i] = n
	}
	return map[string]any{"namespaces": map[string]any{"names": names}}
}

// selecting is a Tenant spec claiming the namespaces labelled key=value.
func selecting(key, value string) map[string]any {
	return map[string]any{"namespaces": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{key: value}}}}
}

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// describe is "name(generation):namespaces" for each Tenant in force, with
// the namespaces each owns among namespaces.
func describe(t *testing.T, tenants []*v1alpha1.Tenant, namespaces []*corev1.Namespace) string {
	t.Helper()
	own, err := tenant.New(tenants, namespaces)
	if err != nil {
		t.Fatalf("the Tenants chosen do not index: %v", err)
	}
	var out []string
	for _, tn := range tenants {
		owned := slices.Clone(tn.Spec.Namespaces.Names)
		for _, ns := range namespaces {
			if o := own.TenantOf(ns.Name); o == tn && !slices.Contains(owned, ns.Name) {
				owned = append(owned, ns.Name)
			}
		}
		out = append(out, fmt.Sprintf("%s(%d):%s", tn.Name, tn.Generation, strings.Join(owned, ",")))
	}
	return strings.Join(out, " ")
}

// One Tenant that does not convert, validate, or fit with the others is
// refused alone, as the API server would have refused it had a webhook
// validated Tenants: its last good version stays (none, if none was
// good), the others update, and it is reported.
func TestTenantsRefuseWhatIsBad(t *testing.T) {
	inf := fakeInformers(t)
	plain := []*corev1.Namespace{namespace("a1", nil), namespace("b1", nil)}
	type want struct {
		tenants string   // describe's
		broken  []string // substrings, one per refused Tenant
		refused string   // "name(generation)" of each Tenant refused
	}
	// Starting (no set was good yet), a bad Tenant is an error: kguard keeps
	// no history across restarts, and its guardrails may have been in force.
	start := fakeInformers(t)
	if err := start.tenants.Informer().GetIndexer().Replace([]any{tenantObject("b", 1, named("kube-system")), tenantObject("a", 1, named("a1"))}, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := start.policySet(); err == nil || !strings.Contains(err.Error(), `invalid Tenant "b": spec.namespaces.names[0]: Forbidden: "kube-system" is a system namespace`) {
		t.Errorf("starting with an invalid Tenant: %v, want its error", err)
	}
	steps := []struct {
		name       string
		objs       []*unstructured.Unstructured
		namespaces []*corev1.Namespace
		want       want
	}{
		{"the good one alone", []*unstructured.Unstructured{tenantObject("a", 1, named("a1"))}, plain, want{"a(1):a1", nil, ""}},
		{"an invalid Tenant beside a good one is left out", []*unstructured.Unstructured{
			tenantObject("b", 1, named("kube-system")), tenantObject("a", 1, named("a1"))}, plain,
			want{"a(1):a1", []string{`Tenant b refused: invalid Tenant "b": spec.namespaces.names[0]: Forbidden: "kube-system" is a system namespace`, "left out (no version of it has been valid since kguard started)"}, "b(1)"}},
		{"the good one still updates", []*unstructured.Unstructured{
			tenantObject("a", 2, named("a1", "a2")), tenantObject("b", 1, named("kube-system"))}, plain,
			want{"a(2):a1,a2", []string{"Tenant b refused", "left out"}, "b(1)"}},
		{"b fixed", []*unstructured.Unstructured{
			tenantObject("a", 2, named("a1", "a2")), tenantObject("b", 2, named("b1"))}, plain,
			want{"a(2):a1,a2 b(2):b1", nil, ""}},
		{"b edited into an invalid state keeps its last good version", []*unstructured.Unstructured{
			tenantObject("a", 2, named("a1", "a2")), tenantObject("b", 3, named("b1", "kube-public"))}, plain,
			want{"a(2):a1,a2 b(2):b1", []string{`Tenant b refused: invalid Tenant "b"`, "kube-public", "its last valid version (generation 2) is used"}, "b(3)"}},
		{"b that does not convert keeps its last good version, a updates", []*unstructured.Unstructured{
			tenantObject("a", 3, named("a1")), tenantObject("b", 4, map[string]any{"namespaces": map[string]any{"names": []any{"b1"}}, "owner": "typo"})}, plain,
			want{"a(3):a1 b(2):b1", []string{"Tenant b refused: it does not convert", `unknown field "spec.owner"`, "generation 2"}, "b(4)"}},
		{"a newcomer claiming a namespace in force is refused, even first in name order", []*unstructured.Unstructured{
			tenantObject("0", 1, named("a1")), tenantObject("a", 3, named("a1")), tenantObject("b", 2, named("b1"))}, plain,
			want{"a(3):a1 b(2):b1", []string{"Tenant 0 refused: it conflicts with the Tenants in force", `namespace "a1" belongs to tenant "a" (by spec.namespaces.names[0]) and to tenant "0"`, "left out"}, "0(1)"}},
		{"a Tenant in force edited to claim another's namespace keeps its last good version", []*unstructured.Unstructured{
			tenantObject("a", 4, named("a1", "b1")), tenantObject("b", 2, named("b1"))}, plain,
			want{"a(3):a1 b(2):b1", []string{"Tenant a refused: it conflicts", `namespace "b1"`, "generation 3"}, "a(4)"}},
		{"a selector matching a system namespace is refused", []*unstructured.Unstructured{
			tenantObject("a", 3, named("a1")), tenantObject("s", 1, selecting("team", "s"))},
			[]*corev1.Namespace{namespace("a1", nil), namespace("kube-system", map[string]string{"team": "s"})},
			want{"a(3):a1", []string{"Tenant s refused: it conflicts", `selects the system namespace "kube-system"`, "left out"}, "s(1)"}},
		{"two selectors", []*unstructured.Unstructured{
			tenantObject("x", 1, selecting("x", "1")), tenantObject("y", 1, selecting("y", "1"))},
			[]*corev1.Namespace{namespace("n", map[string]string{"x": "1"}), namespace("m", map[string]string{"y": "1"})},
			want{"x(1):n y(1):m", nil, ""}},
		{"a Namespace labelled for both: the first in name order keeps it", []*unstructured.Unstructured{
			tenantObject("x", 1, selecting("x", "1")), tenantObject("y", 1, selecting("y", "1"))},
			[]*corev1.Namespace{namespace("n", map[string]string{"x": "1", "y": "1"}), namespace("m", map[string]string{"y": "1"})},
			want{"x(1):n", []string{"Tenant y refused: it conflicts", `namespace "n"`, "left out (its last valid version no longer is either"}, "y(1)"}},
		{"everything deleted", nil, plain, want{"", nil, ""}},
		{"from nothing, a Tenant that never was valid is left out", []*unstructured.Unstructured{
			tenantObject("a", 1, named("a1")), tenantObject("b", 1, map[string]any{"namespaces": map[string]any{}})}, plain,
			want{"a(1):a1", []string{`Tenant b refused: invalid Tenant "b": spec.namespaces: Required value`, "left out (no version of it has been valid since kguard started)"}, "b(1)"}},
	}
	for _, step := range steps {
		objs := make([]any, len(step.objs))
		for i, o := range step.objs {
			objs[i] = o
		}
		if err := inf.tenants.Informer().GetIndexer().Replace(objs, ""); err != nil {
			t.Fatal(err)
		}
		nss := make([]any, len(step.namespaces))
		for i, ns := range step.namespaces {
			nss[i] = ns
		}
		if err := inf.namespaces.Informer().GetIndexer().Replace(nss, ""); err != nil {
			t.Fatal(err)
		}
		set, broken, err := inf.policySet()
		if err != nil {
			t.Errorf("%s: %v", step.name, err)
			continue
		}
		tenants := set.Tenants
		if got := describe(t, tenants, set.Namespaces); got != step.want.tenants {
			t.Errorf("%s: Tenants %q, want %q", step.name, got, step.want.tenants)
		}
		if errs := tenantvalidation.ValidateTenants(tenants, step.namespaces); len(errs) > 0 {
			t.Errorf("%s: the Tenants chosen do not validate as a set: %v", step.name, errs.ToAggregate())
		}
		var msgs []string
		for _, b := range broken {
			msgs = append(msgs, b.Error())
		}
		all := strings.Join(msgs, "\n")
		for _, w := range step.want.broken {
			if !strings.Contains(all, w) {
				t.Errorf("%s: broken %q, want %q in it", step.name, all, w)
			}
		}
		if step.want.broken == nil && len(broken) > 0 {
			t.Errorf("%s: broken %q, want none", step.name, all)
		}
		var refused []string
		for i, r := range set.RefusedTenants {
			refused = append(refused, fmt.Sprintf("%s(%d)", r.Name, r.Generation))
			if i < len(broken) && !strings.Contains(broken[i].Error(), r.Reason) {
				t.Errorf("%s: refused %s for %q, not the reason of its broken error %q", step.name, r.Name, r.Reason, broken[i])
			}
		}
		if got := strings.Join(refused, " "); got != step.want.refused {
			t.Errorf("%s: refused %q, want %q", step.name, got, step.want.refused)
		}
		if step.want.broken != nil && len(broken) != 1 {
			t.Errorf("%s: %d broken, want one: %q", step.name, len(broken), all)
		}
	}
}

// fakeInformers are cluster mode's informers over fake clients, filled by
// hand (not started): what policySet and the builder read.
func fakeInformers(t *testing.T) *clusterInformers {
	t.Helper()
	cs := k8sfake.NewClientset()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{TenantResource: "TenantList"})
	inf := &clusterInformers{client: cs, dyn: dyn,
		typed: informers.NewSharedInformerFactory(cs, 0),
		dynf:  dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)}
	inf.roles, inf.clusterRoles = inf.typed.Rbac().V1().Roles(), inf.typed.Rbac().V1().ClusterRoles()
	inf.bindings, inf.clusterBindings = inf.typed.Rbac().V1().RoleBindings(), inf.typed.Rbac().V1().ClusterRoleBindings()
	inf.namespaces, inf.serviceAccounts = inf.typed.Core().V1().Namespaces(), inf.typed.Core().V1().ServiceAccounts()
	inf.tenants = inf.dynf.ForResource(TenantResource)
	return inf
}

// A Tenant that does not validate does not stop cluster mode's snapshots:
// they are built with the good Tenants (whose changes apply) and the RBAC
// objects as they are now, and the bad Tenant is reported as broken.
func TestClusterBuildsBesideABadTenant(t *testing.T) {
	inf := fakeInformers(t)
	c := &Cluster{Config: snapshot.Config{AuthorizationModes: []string{"RBAC"}, AdmissionPlugins: []string{tenancy.PluginName}}}
	build := c.builder(inf, nil)
	store := func(i interface {
		Add(any) error
		Update(any) error
	}, obj any) {
		t.Helper()
		if err := i.Update(obj); err != nil {
			t.Fatal(err)
		}
	}
	tenants := inf.tenants.Informer().GetIndexer()
	for _, ns := range []string{"a1", "a2", "b1"} {
		store(inf.namespaces.Informer().GetIndexer(), namespace(ns, nil))
	}
	store(inf.clusterRoles.Informer().GetIndexer(), &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "view"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Verbs: []string{"get"}, Resources: []string{"pods"}}}})
	store(tenants, tenantObject("a", 1, named("a1")))

	canGet := func(snap *snapshot.Snapshot, who, ns string) bool {
		t.Helper()
		d, _, err := snap.Authorizer.Authorize(context.Background(), authorizer.AttributesRecord{
			User: &user.DefaultInfo{Name: who}, Verb: "get", Namespace: ns, Resource: "pods", ResourceRequest: true})
		if err != nil {
			t.Fatal(err)
		}
		return d == authorizer.DecisionAllow
	}
	check := func(step, wantTenants string, wantBroken ...string) *snapshot.Snapshot {
		t.Helper()
		snap, broken, err := build()
		if err != nil {
			t.Fatalf("%s: the snapshot does not build: %v", step, err)
		}
		if len(broken) != len(wantBroken) {
			t.Errorf("%s: broken %v, want %q", step, broken, wantBroken)
		}
		for i, b := range broken {
			if i < len(wantBroken) && !strings.Contains(b.Error(), wantBroken[i]) {
				t.Errorf("%s: broken %q, want %q in it", step, b, wantBroken[i])
			}
		}
		if len(snap.RefusedTenants) != len(broken) {
			t.Errorf("%s: %d Tenants refused in the snapshot (%+v), want one per broken error", step, len(snap.RefusedTenants), snap.RefusedTenants)
		}
		for i, r := range snap.RefusedTenants {
			if i < len(broken) && (!strings.Contains(broken[i].Error(), "Tenant "+r.Name+" refused: "+r.Reason)) {
				t.Errorf("%s: refused %+v in the snapshot, not broken %q", step, r, broken[i])
			}
		}
		if got := describe(t, snap.Tenants, snap.Namespaces); got != wantTenants {
			t.Errorf("%s: Tenants %q, want %q", step, got, wantTenants)
		}
		if !snap.TenantsComplete {
			t.Errorf("%s: TenantsComplete false", step)
		}
		return snap
	}

	invalidB := `Tenant b refused: invalid Tenant "b"`
	check("start", "a(1):a1")
	store(tenants, tenantObject("b", 1, named("b1", "kube-system")))
	snap := check("an invalid Tenant b added", "a(1):a1", invalidB)
	if canGet(snap, "alice", "a1") {
		t.Error("alice may get pods before any binding")
	}
	store(tenants, tenantObject("a", 2, named("a1", "a2")))
	store(inf.bindings.Informer().GetIndexer(), &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "a1", Name: "alice"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}}})
	snap = check("a changed, a RoleBinding added", "a(2):a1,a2", invalidB)
	if !canGet(snap, "alice", "a1") {
		t.Error("the RoleBinding added beside a bad Tenant does not apply")
	}
	if err := inf.bindings.Informer().GetIndexer().Delete(&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "a1", Name: "alice"}}); err != nil {
		t.Fatal(err)
	}
	snap = check("the RoleBinding deleted", "a(2):a1,a2", invalidB)
	if canGet(snap, "alice", "a1") {
		t.Error("the RoleBinding deleted beside a bad Tenant still applies")
	}

	store(tenants, tenantObject("b", 2, named("b1")))
	check("b fixed", "a(2):a1,a2 b(2):b1")
	store(tenants, tenantObject("b", 3, map[string]any{}))
	check("b edited into an invalid state", "a(2):a1,a2 b(2):b1", "Tenant b refused: invalid Tenant \"b\": spec.namespaces: Required value: names or a selector is required; its last valid version (generation 2) is used")
	store(tenants, tenantObject("a0", 1, named("b1")))
	check("a newcomer claiming b1", "a(2):a1,a2 b(2):b1",
		"Tenant a0 refused: it conflicts with the Tenants in force: spec.namespaces.names[0]: Invalid value: \"b1\": namespace \"b1\" belongs to tenant \"b\" (by spec.namespaces.names[0]) and to tenant \"a0\" (by spec.namespaces.names[0])",
		"Tenant b refused")
}

// A Tenant refused carries the generation and the status conditions of
// the object stored, even one that does not convert: the reconciler
// writes its Ready condition from them, not from the version in force.
func TestRefusedTenantsCarryTheStoredObject(t *testing.T) {
	var h tenantHistory
	nss := []*corev1.Namespace{namespace("b1", nil)}
	if _, _, _, err := h.choose([]runtime.Object{tenantObject("b", 2, named("b1"))}, nss); err != nil {
		t.Fatal(err)
	}
	bad := tenantObject("b", 3, map[string]any{"namespaces": map[string]any{"names": []any{"b1"}}, "owner": "typo"})
	bad.Object["status"] = map[string]any{"conditions": []any{
		map[string]any{"type": "Ready", "status": "True", "reason": "Applied", "message": "1 objects in 1 namespaces applied",
			"observedGeneration": int64(2), "lastTransitionTime": "2026-12-01T00:00:00Z"},
	}}
	tenants, refused, broken, err := h.choose([]runtime.Object{bad}, nss)
	if err != nil {
		t.Fatal(err)
	}
	if len(tenants) != 1 || tenants[0].Generation != 2 {
		t.Errorf("Tenants in force %v, want b at generation 2", tenants)
	}
	if len(refused) != 1 || len(broken) != 1 {
		t.Fatalf("refused %+v, broken %v: want b once", refused, broken)
	}
	r := refused[0]
	if r.Name != "b" || r.Generation != 3 || !strings.Contains(r.Reason, `it does not convert`) || !strings.Contains(r.Reason, `unknown field "spec.owner"`) {
		t.Errorf("refused %+v, want b, generation 3, why", r)
	}
	if len(r.Conditions) != 1 || r.Conditions[0].Type != "Ready" || r.Conditions[0].Reason != "Applied" || r.Conditions[0].ObservedGeneration != 2 {
		t.Errorf("refused conditions %+v, want the stored Ready", r.Conditions)
	}
}
