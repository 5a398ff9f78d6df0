package tenancy

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// sharedLabelTenants: team-a's nodes are pool=shared, team-b's pool=shared
// and team=b, team-c's its default label only.
func sharedLabelTenants(t testing.TB) *Index {
	var tenants []*v1alpha1.Tenant
	for name, labels := range map[string]map[string]string{
		"team-a": {"pool": "shared"}, "team-b": {"pool": "shared", "team": "b"}, "team-c": nil,
	} {
		tenants = append(tenants, &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Names: []string{name}}, Nodes: v1alpha1.TenantNodes{Labels: labels}}})
	}
	return checkedIndex(t, tenants)
}

// checkedIndex defaults and validates tenants as kguard does when it reads
// them, and indexes them.
func checkedIndex(t testing.TB, tenants []*v1alpha1.Tenant) *Index {
	for _, tn := range tenants {
		if err := policy.CheckTenant(tn); err != nil {
			t.Fatal(err)
		}
	}
	ix, err := NewIndex(tenants, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// A node label two tenants share is looked up on every pod: team-b's pods,
// injected with pool=shared and team=b, select team-a's nodes too (all of
// team-a's labels), team-a's do not select team-b's.
func TestSharedNodeLabels(t *testing.T) {
	ix := sharedLabelTenants(t)
	a, b, c := ix.TenantOf("team-a"), ix.TenantOf("team-b"), ix.TenantOf("team-c")
	if ix.nodesOf(a).ownLabels || ix.nodesOf(b).ownLabels || !ix.nodesOf(c).ownLabels {
		t.Fatalf("ownLabels: a %v, b %v, c %v", ix.nodesOf(a).ownLabels, ix.nodesOf(b).ownLabels, ix.nodesOf(c).ownLabels)
	}
	for _, tc := range []struct {
		tenant *v1alpha1.Tenant
		want   string // "" admitted
	}{
		{a, ""},
		{b, `spec.nodeSelector: Forbidden: selects the nodes of tenant "team-a"`},
		{c, ""},
	} {
		var spec corev1.PodSpec
		ix.Inject(tc.tenant, &spec)
		got := ix.ValidatePod(tc.tenant, &spec, specPath, true).ToAggregate()
		if tc.want == "" && got != nil || tc.want != "" && (got == nil || got.Error() != tc.want) {
			t.Errorf("%s's injected pod %v: %v, want %q", tc.tenant.Name, spec.NodeSelector, got, tc.want)
		}
	}
}

// FuzzOwnLabelsShortcut: skipping the lookup of other tenants' nodes for a
// selector made of the tenant's own labels, which no other tenant's carry,
// refuses exactly what looking them up refuses.
func FuzzOwnLabelsShortcut(f *testing.F) {
	f.Add(uint8(0), "kguard.io/tenant", "team-c", "", "")
	f.Add(uint8(1), "pool", "shared", "team", "b")
	f.Add(uint8(2), "kguard.io/tenant", "team-a", "pool", "shared")
	ix := sharedLabelTenants(f)
	slow := *ix
	slow.nodes = map[*v1alpha1.Tenant]*tenantNodes{}
	for t, n := range ix.nodes {
		c := *n
		c.ownLabels = false
		slow.nodes[t] = &c
	}
	tenants := ix.Tenants()
	f.Fuzz(func(t *testing.T, which uint8, k1, v1, k2, v2 string) {
		tn := tenants[int(which)%len(tenants)]
		spec := corev1.PodSpec{NodeSelector: map[string]string{}}
		for _, kv := range [][2]string{{k1, v1}, {k2, v2}} {
			if kv[0] != "" {
				spec.NodeSelector[kv[0]] = kv[1]
			}
		}
		ix.Inject(tn, &spec)
		path := field.NewPath("spec")
		fast, full := ix.ValidatePod(tn, &spec, path, true), slow.ValidatePod(tn, &spec, path, true)
		if !reflect.DeepEqual(fast, full) {
			t.Fatalf("%s %v: %v, looking every label up: %v", tn.Name, spec.NodeSelector, fmt.Sprint(fast), fmt.Sprint(full))
		}
	})
}

// A tenant that was not defaulted (no taint) is an error of the index, not
// a panic of the plugin's constructor.
func TestIndexRefusesUndefaultedTenant(t *testing.T) {
	tn := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "raw"}, Spec: v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Names: []string{"raw"}}}}
	if _, err := NewIndex([]*v1alpha1.Tenant{tn}, nil); err == nil || !strings.Contains(err.Error(), `tenant "raw": spec.nodes.taint is not set`) {
		t.Errorf("NewIndex of an undefaulted tenant: %v", err)
	}
}
