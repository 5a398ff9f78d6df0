// Package tenant says which kguard.io Tenant a namespace and a user belong
// to: a namespace by its name or the tenant's namespace selector, a user as
// one of the tenant's owners or as a ServiceAccount of one of its
// namespaces. It does no I/O; the Tenancy admission plugin and the Tenant
// authorization mode share it.
package tenant

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// Ownership maps namespaces and users to their tenants. It is immutable.
type Ownership struct {
	tenants []*v1alpha1.Tenant          // sorted by name
	byNS    map[string]*v1alpha1.Tenant // namespaces named, or selected among the known ones
	byUser  map[string][]*v1alpha1.Tenant
	byGroup map[string][]*v1alpha1.Tenant
}

// New indexes defaulted, validated tenants; namespaces are the known
// Namespaces, which the tenants' selectors are matched against (a namespace
// not known yet belongs to a tenant by its name only, until it is known).
// A namespace claimed by two tenants is an error naming both.
func New(tenants []*v1alpha1.Tenant, namespaces []*corev1.Namespace) (*Ownership, error) {
	o := &Ownership{byNS: map[string]*v1alpha1.Tenant{}, byUser: map[string][]*v1alpha1.Tenant{}, byGroup: map[string][]*v1alpha1.Tenant{}}
	o.tenants = append(o.tenants, tenants...)
	sort.Slice(o.tenants, func(i, j int) bool { return o.tenants[i].Name < o.tenants[j].Name })
	claim := func(ns string, t *v1alpha1.Tenant) error {
		if other, ok := o.byNS[ns]; ok && other != t {
			return fmt.Errorf("namespace %q belongs to tenants %q and %q: a namespace belongs to at most one tenant", ns, other.Name, t.Name)
		}
		o.byNS[ns] = t
		return nil
	}
	for _, t := range o.tenants {
		for _, ns := range t.Spec.Namespaces.Names {
			if err := claim(ns, t); err != nil {
				return nil, err
			}
		}
		if sel := t.Spec.Namespaces.Selector; sel != nil {
			s, err := metav1.LabelSelectorAsSelector(sel)
			if err != nil {
				return nil, fmt.Errorf("tenant %q: spec.namespaces.selector: %v", t.Name, err)
			}
			for _, ns := range namespaces {
				if s.Matches(labels.Set(ns.Labels)) {
					if err := claim(ns.Name, t); err != nil {
						return nil, err
					}
				}
			}
		}
		owners := t.Spec.Owners
		for _, u := range owners.Users {
			o.byUser[u] = appendOnce(o.byUser[u], t)
		}
		for _, g := range owners.Groups {
			o.byGroup[g] = appendOnce(o.byGroup[g], t)
		}
		for _, sa := range owners.ServiceAccounts {
			u := serviceaccount.MakeUsername(sa.Namespace, sa.Name)
			o.byUser[u] = appendOnce(o.byUser[u], t)
		}
	}
	return o, nil
}

func appendOnce(ts []*v1alpha1.Tenant, t *v1alpha1.Tenant) []*v1alpha1.Tenant {
	for _, x := range ts {
		if x == t {
			return ts
		}
	}
	return append(ts, t)
}

// Tenants are the tenants, sorted by name.
func (o *Ownership) Tenants() []*v1alpha1.Tenant { return o.tenants }

// TenantOf is the tenant a namespace belongs to (nil: none).
func (o *Ownership) TenantOf(namespace string) *v1alpha1.Tenant { return o.byNS[namespace] }

// MemberOf lists, sorted by name, the tenants u belongs to: those it owns
// (as a user, through a group, or as a ServiceAccount owner) and the one
// whose namespace holds it when it is a ServiceAccount.
func (o *Ownership) MemberOf(u user.Info) []*v1alpha1.Tenant {
	if u == nil || len(o.tenants) == 0 {
		return nil
	}
	var out []*v1alpha1.Tenant
	add := func(ts ...*v1alpha1.Tenant) {
		for _, t := range ts {
			out = appendOnce(out, t)
		}
	}
	add(o.byUser[u.GetName()]...)
	for _, g := range u.GetGroups() {
		add(o.byGroup[g]...)
	}
	if ns, _, err := serviceaccount.SplitUsername(u.GetName()); err == nil {
		if t := o.byNS[ns]; t != nil {
			add(t)
		}
	}
	if len(out) > 1 {
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	}
	return out
}
