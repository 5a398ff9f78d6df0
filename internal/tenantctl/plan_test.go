package tenantctl

import (
	"fmt"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// obj is an object of kind (Namespace, NetworkPolicy...) labelled for
// tenant, and applied by kguard (its field manager in managedFields), or
// ("" tenant) without labels nor kguard's field manager, with spec.
func obj(kind, ns, name, tenantName string, spec map[string]any) *unstructured.Unstructured {
	api := map[string]string{"Namespace": "v1", "NetworkPolicy": "networking.k8s.io/v1", "RoleBinding": "rbac.authorization.k8s.io/v1"}[kind]
	md := map[string]any{"name": name}
	if ns != "" {
		md["namespace"] = ns
	}
	if tenantName != "" {
		md["labels"] = map[string]any{"app.kubernetes.io/managed-by": "kguard", "kguard.io/tenant": tenantName}
		md["managedFields"] = []any{map[string]any{"manager": FieldManager, "operation": "Apply", "apiVersion": api}}
	}
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": api, "kind": kind, "metadata": md}}
	if spec != nil {
		u.Object["spec"] = spec
	}
	return u
}

// with returns u with extra labels and top-level fields (a server's defaults, another manager's labels).
func with(u *unstructured.Unstructured, extraLabels map[string]string, fields map[string]any) *unstructured.Unstructured {
	c := u.DeepCopy()
	l := c.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	for k, v := range extraLabels {
		l[k] = v
	}
	c.SetLabels(l)
	for k, v := range fields {
		c.Object[k] = v
	}
	return c
}

func names(us []*unstructured.Unstructured) []string {
	out := []string{}
	for _, u := range us {
		k := KeyOf(u)
		out = append(out, fmt.Sprintf("%s %s/%s", k.Kind, k.Namespace, k.Name))
	}
	return out
}

func TestPlanObjects(t *testing.T) {
	egress := map[string]any{"policyTypes": []any{"Egress"}, "egress": []any{map[string]any{"to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "0.0.0.0/0"}}}}}}
	egressDefaulted := map[string]any{"policyTypes": []any{"Egress"}, "podSelector": map[string]any{},
		"egress": []any{map[string]any{"to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "0.0.0.0/0"}}}}}}
	egressWidened := map[string]any{"policyTypes": []any{"Egress"}, "egress": []any{
		map[string]any{"to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "0.0.0.0/0"}}}},
		map[string]any{"to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "169.254.169.254/32"}}}}}}
	narrowed := map[string]any{"policyTypes": []any{"Egress"}, "podSelector": map[string]any{"matchLabels": map[string]any{"nobody": "x"}},
		"egress": []any{map[string]any{"to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "0.0.0.0/0"}}}}}}
	np := func(ns, tn string, spec map[string]any) *unstructured.Unstructured {
		return obj("NetworkPolicy", ns, "kguard-tenant-egress", tn, spec)
	}
	tests := []struct {
		name                    string
		wanted, existing        []*unstructured.Unstructured
		keep                    map[string]bool
		apply, delete, released []string
		foreign                 []string
	}{
		{
			name:   "nothing there: everything applied",
			wanted: []*unstructured.Unstructured{obj("Namespace", "", "a1", "a", nil), np("a1", "a", egress)},
			apply:  []string{"Namespace /a1", "NetworkPolicy a1/kguard-tenant-egress"},
		},
		{
			name:     "the same there, with server defaults and others' labels: nothing to do",
			wanted:   []*unstructured.Unstructured{obj("Namespace", "", "a1", "a", nil), np("a1", "a", egress)},
			existing: []*unstructured.Unstructured{with(obj("Namespace", "", "a1", "a", nil), map[string]string{"kubernetes.io/metadata.name": "a1"}, map[string]any{"status": map[string]any{"phase": "Active"}}), np("a1", "a", egressDefaulted)},
		},
		{
			name:     "drift: an egress rule added is applied over",
			wanted:   []*unstructured.Unstructured{np("a1", "a", egress)},
			existing: []*unstructured.Unstructured{np("a1", "a", egressWidened)},
			apply:    []string{"NetworkPolicy a1/kguard-tenant-egress"},
		},
		{
			name:     "drift: an empty selector kguard sets (every pod) narrowed by a matchLabels is applied over",
			wanted:   []*unstructured.Unstructured{np("a1", "a", egressDefaulted)},
			existing: []*unstructured.Unstructured{np("a1", "a", narrowed)},
			apply:    []string{"NetworkPolicy a1/kguard-tenant-egress"},
		},
		{
			name:     "drift: kguard's labels removed (the object is not managed any more) is applied over",
			wanted:   []*unstructured.Unstructured{np("a1", "a", egress)},
			existing: []*unstructured.Unstructured{np("a1", "", egress)},
			apply:    []string{"NetworkPolicy a1/kguard-tenant-egress"},
		},
		{
			name:     "a namespace moved from tenant a to b: relabelled, not deleted",
			wanted:   []*unstructured.Unstructured{obj("Namespace", "", "x", "b", nil), np("x", "b", egress)},
			existing: []*unstructured.Unstructured{obj("Namespace", "", "x", "a", nil), np("x", "a", egress)},
			apply:    []string{"Namespace /x", "NetworkPolicy x/kguard-tenant-egress"},
		},
		{
			name: "a tenant deleted: its objects deleted, its Namespaces released",
			existing: []*unstructured.Unstructured{np("a2", "a", egress), obj("Namespace", "", "a2", "a", nil), np("a1", "a", egress),
				obj("RoleBinding", "a1", "kguard-tenant-owners", "a", map[string]any{})},
			delete:   []string{"NetworkPolicy a1/kguard-tenant-egress", "NetworkPolicy a2/kguard-tenant-egress", "RoleBinding a1/kguard-tenant-owners"},
			released: []string{"Namespace /a2"},
		},
		{
			name:     "objects without kguard's labels are never deleted",
			existing: []*unstructured.Unstructured{np("a1", "", egress), obj("Namespace", "", "a1", "", nil)},
		},
		{
			name: "objects with kguard's labels that kguard never applied (a copy of its YAML, another manager's) are not deleted",
			existing: []*unstructured.Unstructured{
				without(obj("NetworkPolicy", "a1", "allow-dns", "a", egress)),
				managedBy(obj("NetworkPolicy", "a1", "user-copy", "a", egress), "kubectl-client-side-apply", "Update"),
				managedBy(obj("NetworkPolicy", "a1", "user-update", "a", egress), FieldManager, "Update"),
				np("a1", "a", egress)},
			delete:  []string{"NetworkPolicy a1/kguard-tenant-egress"},
			foreign: []string{"NetworkPolicy a1/allow-dns", "NetworkPolicy a1/user-copy", "NetworkPolicy a1/user-update"},
		},
		{
			name:     "a tenant that could not be rendered keeps its objects",
			existing: []*unstructured.Unstructured{np("a1", "a", egress), np("b1", "b", egress)},
			keep:     map[string]bool{"a": true},
			delete:   []string{"NetworkPolicy b1/kguard-tenant-egress"},
		},
		{
			name:     "the rendering changed (a field dropped): applied, though the object holds every field still wanted",
			wanted:   []*unstructured.Unstructured{stampedAs(np("a1", "a", egress), "new")},
			existing: []*unstructured.Unstructured{stampedAs(np("a1", "a", egressWidened), "old")},
			apply:    []string{"NetworkPolicy a1/kguard-tenant-egress"},
		},
		{
			name:     "the same rendering: nothing to do",
			wanted:   []*unstructured.Unstructured{stampedAs(np("a1", "a", egress), "same")},
			existing: []*unstructured.Unstructured{with(stampedAs(np("a1", "a", egressDefaulted), "same"), map[string]string{"other": "x"}, nil)},
		},
		{
			name:     "numbers compare by value, whatever their Go type",
			wanted:   []*unstructured.Unstructured{np("a1", "a", map[string]any{"ingress": []any{map[string]any{"ports": []any{map[string]any{"port": int64(80)}}}}})},
			existing: []*unstructured.Unstructured{np("a1", "a", map[string]any{"ingress": []any{map[string]any{"ports": []any{map[string]any{"port": float64(80), "protocol": "TCP"}}}}})},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := PlanObjects(tc.wanted, tc.existing, tc.keep)
			for _, c := range []struct {
				what      string
				got, want []string
			}{{"apply", names(p.Apply), tc.apply}, {"delete", names(p.Delete), tc.delete}, {"released", names(p.Released), tc.released}, {"foreign", names(p.Foreign), tc.foreign}} {
				if c.want == nil {
					c.want = []string{}
				}
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s %q, want %q", c.what, c.got, c.want)
				}
			}
			if p.Empty() != (len(tc.apply) == 0 && len(tc.delete) == 0) {
				t.Errorf("Empty() = %v", p.Empty())
			}
		})
	}
}

// without returns u without managedFields: labelled as kguard's, but
// created by someone else.
func without(u *unstructured.Unstructured) *unstructured.Unstructured {
	u.SetManagedFields(nil)
	return u
}

// managedBy returns u with manager as its only field manager, by operation.
func managedBy(u *unstructured.Unstructured, manager, operation string) *unstructured.Unstructured {
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: manager, Operation: metav1.ManagedFieldsOperationType(operation), APIVersion: u.GetAPIVersion()}})
	return u
}

// stampedAs sets u's RenderingAnnotation to digest.
func stampedAs(u *unstructured.Unstructured, digest string) *unstructured.Unstructured {
	u.SetAnnotations(map[string]string{RenderingAnnotation: digest})
	return u
}

// Stamp's digest changes with the content, not with the order of map keys
// nor with a digest already there.
func TestStamp(t *testing.T) {
	a := obj("NetworkPolicy", "a1", "p", "a", map[string]any{"x": int64(1), "y": "z"})
	b := obj("NetworkPolicy", "a1", "p", "a", map[string]any{"y": "z", "x": int64(1)})
	b.SetAnnotations(map[string]string{RenderingAnnotation: "stale"})
	c := obj("NetworkPolicy", "a1", "p", "a", map[string]any{"y": "z"})
	for _, u := range []*unstructured.Unstructured{a, b, c} {
		if err := Stamp(u); err != nil {
			t.Fatal(err)
		}
	}
	da, db, dc := a.GetAnnotations()[RenderingAnnotation], b.GetAnnotations()[RenderingAnnotation], c.GetAnnotations()[RenderingAnnotation]
	if da == "" || da != db || da == dc {
		t.Errorf("digests %q %q %q: want the first two equal, the third different", da, db, dc)
	}
}
