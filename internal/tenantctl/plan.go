// Package tenantctl is the Tenant reconciler of `kguard controller`: it
// applies the objects kguard.io Tenants imply (internal/tenant's Render:
// Namespaces with the Pod Security labels, RoleBindings, Roles,
// NetworkPolicies, ResourceQuotas, LimitRanges) with server-side apply,
// deletes the objects of kguard's that no Tenant implies any more — never a
// Namespace — and writes each Tenant's Ready condition.
//
// PlanObjects, which turns the objects wanted and the objects there into
// writes, does no I/O; Reconciler does them, on every policy snapshot, on
// every change to a managed object and periodically.
package tenantctl

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"reflect"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kguard/kguard/internal/tenant"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// FieldManager is the server-side apply field manager of the tenants' objects.
const FieldManager = "kguard-tenants"

// RenderingAnnotation holds a digest of the object as kguard last rendered
// it (Stamp): a field kguard stops setting (a quota removed from a Tenant's
// spec, a Pod Security level unset) leaves the object there holding every
// field still wanted, yet it must be applied for server-side apply to
// remove the field.
const RenderingAnnotation = "kguard.io/tenant-rendering"

// Stamp sets RenderingAnnotation on a rendered object to the digest of its
// content (apiVersion, kind, metadata and the rest, JSON with sorted keys).
func Stamp(u *unstructured.Unstructured) error {
	a := u.GetAnnotations()
	delete(a, RenderingAnnotation)
	if len(a) == 0 {
		a = nil
	}
	u.SetAnnotations(a)
	js, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(js)
	if a == nil {
		a = map[string]string{}
	}
	a[RenderingAnnotation] = hex.EncodeToString(sum[:12])
	u.SetAnnotations(a)
	return nil
}

// Key names an object: API group, kind, namespace and name.
type Key struct {
	Group, Kind, Namespace, Name string
}

// KeyOf is u's key.
func KeyOf(u *unstructured.Unstructured) Key {
	gvk := u.GroupVersionKind()
	return Key{Group: gvk.Group, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

// Managed reports whether u carries kguard's marks for a tenant's object
// (app.kubernetes.io/managed-by=kguard and a kguard.io/tenant label), and
// names the tenant.
func Managed(u *unstructured.Unstructured) (tenantName string, ok bool) {
	l := u.GetLabels()
	if l[tenant.ManagedByLabel] != tenant.ManagedBy || l[v1alpha1.TenantLabel] == "" {
		return "", false
	}
	return l[v1alpha1.TenantLabel], true
}

// Plan is what it takes to make the cluster hold what the Tenants imply.
type Plan struct {
	// Apply are the wanted objects that are missing or whose fields differ
	// from the ones there.
	Apply []*unstructured.Unstructured
	// Delete are kguard's tenant objects (Managed) that no Tenant implies
	// any more, Namespaces excepted.
	Delete []*unstructured.Unstructured
	// Released are kguard's tenant Namespaces that no Tenant implies any
	// more: they are never deleted nor changed (their labels stay).
	Released []*unstructured.Unstructured
	// Foreign are objects that carry kguard's labels, that no Tenant
	// implies, but that kguard never applied (Applied): labels are copied
	// with an object's YAML, so they alone do not make it kguard's to
	// delete. They are left as they are.
	Foreign []*unstructured.Unstructured
}

// Empty reports whether the plan writes nothing.
func (p Plan) Empty() bool { return len(p.Apply) == 0 && len(p.Delete) == 0 }

// Applied reports whether kguard applied u: its managedFields hold an Apply
// by FieldManager. Unlike the labels, the API server writes that entry, and
// copying an object's YAML does not copy it (kubectl hides managedFields).
func Applied(u *unstructured.Unstructured) bool {
	for _, f := range u.GetManagedFields() {
		if f.Manager == FieldManager && f.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// PlanObjects compares the objects wanted (the Tenants' renderings) with the
// objects there (any order; those that are not Managed are only compared
// with a wanted one of the same key): a wanted object is applied unless the
// one there already holds every field it sets; a Managed object not wanted
// is deleted, unless it is a Namespace (Released), kguard never applied it
// (Foreign) or its tenant is in keep (a Tenant that could not be rendered
// keeps what it had). Apply follows the order of wanted; Delete, Released
// and Foreign are sorted by key.
func PlanObjects(wanted, existing []*unstructured.Unstructured, keep map[string]bool) Plan {
	there := make(map[Key]*unstructured.Unstructured, len(existing))
	for _, e := range existing {
		there[KeyOf(e)] = e
	}
	var p Plan
	seen := make(map[Key]bool, len(wanted))
	for _, w := range wanted {
		k := KeyOf(w)
		seen[k] = true
		if e := there[k]; e != nil && holds(e, w) {
			continue
		}
		p.Apply = append(p.Apply, w)
	}
	for _, e := range existing {
		k := KeyOf(e)
		name, managed := Managed(e)
		if !managed || seen[k] || keep[name] {
			continue
		}
		switch {
		case k.Group == "" && k.Kind == "Namespace":
			p.Released = append(p.Released, e)
		case !Applied(e):
			p.Foreign = append(p.Foreign, e)
		default:
			p.Delete = append(p.Delete, e)
		}
	}
	byKey := func(s []*unstructured.Unstructured) {
		sort.Slice(s, func(i, j int) bool { return less(KeyOf(s[i]), KeyOf(s[j])) })
	}
	byKey(p.Delete)
	byKey(p.Released)
	byKey(p.Foreign)
	return p
}

func less(a, b Key) bool {
	if a.Group != b.Group {
		return a.Group < b.Group
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

// holds reports whether the object there holds every field the wanted one
// sets: its labels and annotations (RenderingAnnotation: the same
// rendering) and everything but its metadata. Maps may hold more keys
// (fields the server defaults, labels of others); lists must have the same
// length, element by element (kguard's lists are atomic: an element added
// by someone else is drift).
func holds(there, wanted *unstructured.Unstructured) bool {
	for k, v := range wanted.Object {
		switch k {
		case "apiVersion", "kind":
			continue
		case "metadata":
			if !contains(there.GetLabels(), wanted.GetLabels()) || !contains(there.GetAnnotations(), wanted.GetAnnotations()) {
				return false
			}
			continue
		}
		if !subset(there.Object[k], v) {
			return false
		}
	}
	return true
}

func contains(there, wanted map[string]string) bool {
	for k, v := range wanted {
		if tv, ok := there[k]; !ok || tv != v {
			return false
		}
	}
	return true
}

// subset reports whether there holds wanted: maps by key (an empty map
// wanted, such as the podSelector {} that selects every pod, only by an
// empty one), lists element by element with the same length, other values
// equal (numbers of any Go type).
func subset(there, wanted any) bool {
	switch w := wanted.(type) {
	case map[string]any:
		t, ok := there.(map[string]any)
		if !ok {
			return len(w) == 0 && there == nil
		}
		if len(w) == 0 && len(t) > 0 {
			return false
		}
		for k, v := range w {
			if !subset(t[k], v) {
				return false
			}
		}
		return true
	case []any:
		t, ok := there.([]any)
		if !ok {
			return len(w) == 0 && there == nil
		}
		if len(t) != len(w) {
			return false
		}
		for i := range w {
			if !subset(t[i], w[i]) {
				return false
			}
		}
		return true
	case int64, int32, int, float64:
		return number(there) == number(wanted)
	default:
		return reflect.DeepEqual(there, wanted)
	}
}

// number is a JSON number as float64 (the informers' objects hold int64,
// rendered ones int64 or float64), or nil.
func number(v any) any {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case int32:
		return float64(n)
	case int:
		return float64(n)
	case float64:
		return n
	}
	return v
}

// Emptied is the JSON merge patch that empties, in there, the maps that
// wanted sets empty, or nil when they are. Server-side apply does not: an
// empty map kguard applies owns none of the keys another manager adds to it,
// and an empty selector (a NetworkPolicy's podSelector {}, every pod) that
// someone gave a matchLabels selects fewer pods. metadata is not looked at.
func Emptied(there, wanted *unstructured.Unstructured) map[string]any {
	w := maps.Clone(wanted.Object)
	delete(w, "metadata")
	return emptied(there.Object, w)
}

func emptied(there, wanted map[string]any) map[string]any {
	var patch map[string]any
	for k, v := range wanted {
		w, ok := v.(map[string]any)
		if !ok {
			continue // lists are atomic: applied whole
		}
		t, _ := there[k].(map[string]any)
		var p map[string]any
		if len(w) > 0 {
			p = emptied(t, w)
		} else if len(t) > 0 {
			p = map[string]any{}
			for tk := range t {
				p[tk] = nil
			}
		}
		if p == nil {
			continue
		}
		if patch == nil {
			patch = map[string]any{}
		}
		patch[k] = p
	}
	return patch
}
