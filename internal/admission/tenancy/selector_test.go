package tenancy

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

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

// FuzzAffinityAsTheScheduler holds the required-affinity rule to the
// scheduler's own matcher (k8s.io/component-helpers nodeaffinity): for a
// team-a pod whose required affinity is one term of two expressions, and
// for each other tenant, a node carrying that tenant's labels — and, for
// expressions on other keys, labels that meet them — is matched by the
// scheduler exactly when the plugin refuses the term as selecting that
// tenant's nodes (given one expression on the tenant's keys; terms the
// scheduler cannot parse, or whose other expressions no label can meet,
// are only held to the first half: matched means refused).
func FuzzAffinityAsTheScheduler(f *testing.F) {
	f.Add("kguard.io/tenant", "NotIn", "team-a", "", "", "")
	f.Add("kguard.io/tenant", "Exists", "", "zone", "In", "z1")
	f.Add("tenant-id", "Gt", "6", "kguard.io/tenant", "DoesNotExist", "")
	f.Add("tenant-id", "Lt", "7", "", "", "")
	f.Add("tenant-id", "Gt", "7", "", "", "")
	f.Add("kguard.io/tenant", "In", "team-b,team-a", "tenant-id", "NotIn", "7")
	f.Add("zone", "DoesNotExist", "", "kguard.io/tenant", "In", "team-b")
	set, err := policy.Read(strings.NewReader(tenants+numericTenant), "tenants.yaml")
	if err != nil {
		f.Fatal(err)
	}
	ix, err := NewIndex(set.Tenants, set.Namespaces)
	if err != nil {
		f.Fatal(err)
	}
	a := ix.TenantOf("a-dev")
	if a == nil || ix.Len() != 3 {
		f.Fatalf("tenants: %d, team-a %v", ix.Len(), a)
	}
	expr := func(key, op, values string) *corev1.NodeSelectorRequirement {
		if key == "" && op == "" {
			return nil
		}
		e := &corev1.NodeSelectorRequirement{Key: key, Operator: corev1.NodeSelectorOperator(op)}
		if values != "" {
			e.Values = strings.Split(values, ",")
		}
		return e
	}
	f.Fuzz(func(t *testing.T, k1, op1, v1, k2, op2, v2 string) {
		var exprs []corev1.NodeSelectorRequirement
		for _, e := range []*corev1.NodeSelectorRequirement{expr(k1, op1, v1), expr(k2, op2, v2)} {
			if e != nil {
				exprs = append(exprs, *e)
			}
		}
		if len(exprs) == 0 {
			return
		}
		required := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: exprs}}}
		spec := corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: required}}}
		errs := ix.affinity(a, &spec, field.NewPath("spec"))
		_, parseErr := nodeaffinity.NewNodeSelector(required)
		for _, other := range ix.Tenants() {
			if other == a {
				continue
			}
			labels, satisfiable := nodeLabelsMeeting(exprs, other.Spec.Nodes.Labels)
			node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: labels}}
			matched, _ := nodeaffinity.NewLazyErrorNodeSelector(required).Match(node)
			onKeys := false
			for _, e := range exprs {
				_, has := other.Spec.Nodes.Labels[e.Key]
				onKeys = onKeys || has
			}
			refused := false
			for _, e := range errs {
				refused = refused || strings.Contains(e.Detail, fmt.Sprintf("tenant %q", other.Name))
			}
			if matched && onKeys && !refused {
				t.Fatalf("the scheduler matches %s's node %v with %v; admitted", other.Name, labels, exprs)
			}
			if refused && !matched && parseErr == nil && satisfiable {
				t.Fatalf("refused as selecting %s's nodes, which the scheduler does not match (node %v, %v): %v", other.Name, labels, exprs, errs)
			}
		}
	})
}

// nodeLabelsMeeting is a node's labels: tenant's, and for each expression
// on another key a label that meets it (satisfiable is false when one
// cannot: a Gt or Lt bound that is not an integer, an In without values).
func nodeLabelsMeeting(exprs []corev1.NodeSelectorRequirement, tenant map[string]string) (map[string]string, bool) {
	labels := maps.Clone(tenant)
	satisfiable := true
	for _, e := range exprs {
		if _, own := tenant[e.Key]; own {
			continue
		}
		switch e.Operator {
		case corev1.NodeSelectorOpIn:
			if len(e.Values) == 0 {
				satisfiable = false
			} else {
				labels[e.Key] = e.Values[0]
			}
		case corev1.NodeSelectorOpExists:
			labels[e.Key] = "x"
		case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
			n, err := strconv.ParseInt(strings.Join(e.Values, ","), 10, 64)
			if err != nil || (e.Operator == corev1.NodeSelectorOpGt && n == math.MaxInt64) || (e.Operator == corev1.NodeSelectorOpLt && n == math.MinInt64) {
				satisfiable = false
			} else if e.Operator == corev1.NodeSelectorOpGt {
				labels[e.Key] = strconv.FormatInt(n+1, 10)
			} else {
				labels[e.Key] = strconv.FormatInt(n-1, 10)
			}
		case corev1.NodeSelectorOpNotIn, corev1.NodeSelectorOpDoesNotExist:
			// absent meets them
		default:
			satisfiable = false
		}
	}
	// Two expressions on one other key may ask for different labels.
	for _, e := range exprs {
		if _, own := tenant[e.Key]; !own {
			if v, set := labels[e.Key]; set && !requirementHolds(&e, v) || !set && (e.Operator == corev1.NodeSelectorOpIn || e.Operator == corev1.NodeSelectorOpExists) {
				satisfiable = false
			}
		}
	}
	return labels, satisfiable
}
