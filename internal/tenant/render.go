package tenant

import (
	"fmt"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	psaapi "k8s.io/pod-security-admission/api"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// The names of the objects Render makes in each of a tenant's namespaces.
const (
	OwnersBindingName     = "kguard-tenant-owners"
	PSPRoleName           = "kguard-tenant-podsecuritypolicies"
	DenyIngressPolicyName = "kguard-tenant-default-deny-ingress-from-other-tenants"
	EgressPolicyName      = "kguard-tenant-egress"
	QuotaName             = "kguard-tenant-quota"
	LimitRangeName        = "kguard-tenant-limits"
)

// ManagedByLabel and ManagedBy mark every object Render makes.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "kguard"
)

// ownersClusterRole is the ClusterRole the owners are bound to in each namespace.
const ownersClusterRole = "admin"

// pspUseGroups are the API groups in which the PSP Role grants "use": the
// upstream group and kguard's CRD's (deploy/crds/kguard.io_podsecuritypolicies.yaml).
// The PodSecurityPolicy plugin looks in each of them (psp.UseAPIGroups).
var pspUseGroups = []string{"policy", v1alpha1.GroupName}

// The Pod Security Standard labels a tenant's level sets on its namespaces:
// enforced, audited and warned at the same level.
var podSecurityLevelLabels = []string{psaapi.EnforceLevelLabel, psaapi.AuditLevelLabel, psaapi.WarnLevelLabel}

// Rendering is what a Tenant implies, as objects ready for server-side apply.
type Rendering struct {
	// Objects are the Namespaces (first, by name), then each namespace's
	// objects (by namespace, in a fixed order of kinds).
	Objects []*unstructured.Unstructured
	// Warnings say what could not be rendered: a selector matching none of
	// the known Namespaces, an ingressFrom tenant that is not known.
	Warnings []string
}

// Render returns the objects a defaulted, validated Tenant implies: its
// Namespaces with the Pod Security labels, the owners' RoleBindings, the
// Role and RoleBinding for its PodSecurityPolicies, the NetworkPolicies
// (ingress from its own and the allowed namespaces only; egress anywhere but
// the blocked CIDRs), and the ResourceQuota and LimitRange, each labelled
// with the tenant and its required labels. namespaces are the known
// Namespaces: a tenant's selector is matched against them (namespaces known
// only by a selector cannot be created). tenants are the other Tenants, for
// the ingressFrom peers named by tenant. It does no I/O.
func Render(t *v1alpha1.Tenant, namespaces []*corev1.Namespace, tenants []*v1alpha1.Tenant) (*Rendering, error) {
	r := &Rendering{}
	names, err := namespacesOf(t, namespaces, r)
	if err != nil {
		return nil, err
	}
	ingress, err := ingressPeers(t, tenants, r)
	if err != nil {
		return nil, err
	}
	egress, err := egressRules(t.Spec.Network.BlockedEgressCIDRs)
	if err != nil {
		return nil, fmt.Errorf("tenant %q: spec.network.blockedEgressCIDRs: %w", t.Name, err)
	}
	var typed []runtime.Object
	for _, ns := range names {
		typed = append(typed, namespaceObject(t, ns))
	}
	for _, ns := range names {
		typed = append(typed, namespaceObjects(t, ns, ingress, egress)...)
	}
	for _, obj := range typed {
		u, err := toUnstructured(obj)
		if err != nil {
			return nil, fmt.Errorf("tenant %q: %w", t.Name, err)
		}
		r.Objects = append(r.Objects, u)
	}
	return r, nil
}

// namespacesOf lists, sorted, the tenant's namespaces: those named and the
// known ones its selector matches; a selector matching none is a warning.
func namespacesOf(t *v1alpha1.Tenant, namespaces []*corev1.Namespace, r *Rendering) ([]string, error) {
	set := map[string]bool{}
	for _, n := range t.Spec.Namespaces.Names {
		set[n] = true
	}
	if sel := t.Spec.Namespaces.Selector; sel != nil {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return nil, fmt.Errorf("tenant %q: spec.namespaces.selector: %w", t.Name, err)
		}
		matched := 0
		for _, ns := range namespaces {
			if s.Matches(labels.Set(ns.Labels)) {
				set[ns.Name] = true
				matched++
			}
		}
		if matched == 0 {
			r.Warnings = append(r.Warnings, fmt.Sprintf(
				"tenant %q: spec.namespaces.selector %q matches none of the %d Namespaces given: the objects of the namespaces it selects are not rendered (give their Namespaces with the input)",
				t.Name, s.String(), len(namespaces)))
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// tenantLabels are the labels of every object of t: its required labels, then
// the tenant and managed-by labels (which win over a required label of the same key).
func tenantLabels(t *v1alpha1.Tenant) map[string]string {
	l := make(map[string]string, len(t.Spec.RequiredLabels)+2)
	for k, v := range t.Spec.RequiredLabels {
		l[k] = v
	}
	l[v1alpha1.TenantLabel] = t.Name
	l[ManagedByLabel] = ManagedBy
	return l
}

func meta(t *v1alpha1.Tenant, namespace, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: tenantLabels(t)}
}

// namespaceObject is the Namespace ns with the tenant's labels and, when the
// tenant has a level, the Pod Security labels.
func namespaceObject(t *v1alpha1.Tenant, ns string) *corev1.Namespace {
	o := &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: meta(t, "", ns),
	}
	if level := t.Spec.PodSecurity.Level; level != "" {
		for _, k := range podSecurityLevelLabels {
			o.Labels[k] = string(level)
		}
		o.Labels[psaapi.EnforceVersionLabel] = psaapi.VersionLatest
	}
	return o
}

// namespaceObjects are the objects of t in its namespace ns, in a fixed order.
func namespaceObjects(t *v1alpha1.Tenant, ns string, ingress []networkingv1.NetworkPolicyPeer, egress []networkingv1.NetworkPolicyEgressRule) []runtime.Object {
	var out []runtime.Object
	if subjects := ownerSubjects(&t.Spec.Owners); len(subjects) > 0 {
		out = append(out, &rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
			ObjectMeta: meta(t, ns, OwnersBindingName),
			Subjects:   subjects,
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ownersClusterRole},
		})
	}
	if psps := t.Spec.PodSecurity.PodSecurityPolicies; len(psps) > 0 {
		out = append(out,
			&rbacv1.Role{
				TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "Role"},
				ObjectMeta: meta(t, ns, PSPRoleName),
				Rules: []rbacv1.PolicyRule{{
					APIGroups: append([]string(nil), pspUseGroups...), Resources: []string{"podsecuritypolicies"},
					Verbs: []string{"use"}, ResourceNames: append([]string(nil), psps...),
				}},
			},
			&rbacv1.RoleBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
				ObjectMeta: meta(t, ns, PSPRoleName),
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: serviceaccount.MakeNamespaceGroupName(ns)}},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: PSPRoleName},
			})
	}
	npMeta := metav1.TypeMeta{APIVersion: networkingv1.SchemeGroupVersion.String(), Kind: "NetworkPolicy"}
	out = append(out,
		&networkingv1.NetworkPolicy{
			TypeMeta:   npMeta,
			ObjectMeta: meta(t, ns, DenyIngressPolicyName),
			Spec: networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: deepCopyPeers(ingress)}},
			},
		},
		&networkingv1.NetworkPolicy{
			TypeMeta:   npMeta,
			ObjectMeta: meta(t, ns, EgressPolicyName),
			Spec: networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress:      deepCopyEgress(egress),
			},
		})
	if q := t.Spec.Quota.ResourceQuota; q != nil {
		out = append(out, &corev1.ResourceQuota{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"},
			ObjectMeta: meta(t, ns, QuotaName),
			Spec:       *q.DeepCopy(),
		})
	}
	if l := t.Spec.Quota.LimitRange; l != nil {
		out = append(out, &corev1.LimitRange{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "LimitRange"},
			ObjectMeta: meta(t, ns, LimitRangeName),
			Spec:       *l.DeepCopy(),
		})
	}
	return out
}

// ownerSubjects are the owners as RBAC subjects: users, groups, then ServiceAccounts.
func ownerSubjects(o *v1alpha1.TenantOwners) []rbacv1.Subject {
	var out []rbacv1.Subject
	for _, u := range o.Users {
		out = append(out, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: u})
	}
	for _, g := range o.Groups {
		out = append(out, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: g})
	}
	for _, sa := range o.ServiceAccounts {
		out = append(out, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: sa.Namespace, Name: sa.Name})
	}
	return out
}

// metadataNameLabel is the label the API server gives every Namespace, its
// name; it cannot be changed, so selecting on it cannot be fooled.
const metadataNameLabel = corev1.LabelMetadataName

// ownPeers are the peers that stand for t's namespaces: those named (by the
// immutable name label) and those its selector selects.
func ownPeers(t *v1alpha1.Tenant) []networkingv1.NetworkPolicyPeer {
	var out []networkingv1.NetworkPolicyPeer
	if names := t.Spec.Namespaces.Names; len(names) > 0 {
		sorted := append([]string(nil), names...)
		sort.Strings(sorted)
		out = append(out, networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: metadataNameLabel, Operator: metav1.LabelSelectorOpIn, Values: sorted}},
		}})
	}
	if sel := t.Spec.Namespaces.Selector; sel != nil {
		out = append(out, networkingv1.NetworkPolicyPeer{NamespaceSelector: sel.DeepCopy()})
	}
	return out
}

// ingressPeers are the sources allowed to reach t's pods: its own
// namespaces, then spec.network.ingressFrom in order. An ingressFrom tenant
// not among tenants gets no peer (no ingress from it) and a warning.
func ingressPeers(t *v1alpha1.Tenant, tenants []*v1alpha1.Tenant, r *Rendering) ([]networkingv1.NetworkPolicyPeer, error) {
	out := ownPeers(t)
	for i, p := range t.Spec.Network.IngressFrom {
		switch {
		case p.Tenant != "":
			var peer *v1alpha1.Tenant
			for _, x := range tenants {
				if x.Name == p.Tenant {
					peer = x
				}
			}
			if peer == nil {
				r.Warnings = append(r.Warnings, fmt.Sprintf(
					"tenant %q: spec.network.ingressFrom[%d]: tenant %q is not among the Tenants given: no ingress from it is allowed (give it with the input)",
					t.Name, i, p.Tenant))
				continue
			}
			out = append(out, ownPeers(peer)...)
		case p.NamespaceSelector != nil:
			out = append(out, networkingv1.NetworkPolicyPeer{NamespaceSelector: p.NamespaceSelector.DeepCopy()})
		case p.CIDR != "":
			prefix, err := netip.ParsePrefix(p.CIDR)
			if err != nil {
				return nil, fmt.Errorf("tenant %q: spec.network.ingressFrom[%d].cidr: %w", t.Name, i, err)
			}
			out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: prefix.Masked().String()}})
		}
	}
	return out, nil
}

// allIPv4 and allIPv6 are the CIDRs of the two egress rules.
var (
	allIPv4 = netip.MustParsePrefix("0.0.0.0/0")
	allIPv6 = netip.MustParsePrefix("::/0")
)

// egressRules allow all egress but to the blocked CIDRs: one rule for IPv4
// (0.0.0.0/0 except the IPv4 CIDRs) and one for IPv6 (::/0 except the IPv6
// ones), since an except must lie inside its rule's cidr. A family blocked
// whole (a /0) gets no rule.
func egressRules(blocked []string) ([]networkingv1.NetworkPolicyEgressRule, error) {
	var except4, except6 []string
	block4, block6 := false, false
	seen := map[netip.Prefix]bool{}
	for i, c := range blocked {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 { // ::ffff:a.b.c.d/n is IPv4
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		if seen[p] {
			continue
		}
		seen[p] = true
		switch {
		case p.Addr().Is4() && p.Bits() == 0:
			block4 = true
		case p.Addr().Is4():
			except4 = append(except4, p.String())
		case p.Bits() == 0:
			block6 = true
		default:
			except6 = append(except6, p.String())
		}
	}
	var out []networkingv1.NetworkPolicyEgressRule
	if !block4 {
		out = append(out, ipRule(allIPv4, except4))
	}
	if !block6 {
		out = append(out, ipRule(allIPv6, except6))
	}
	return out, nil
}

func ipRule(all netip.Prefix, except []string) networkingv1.NetworkPolicyEgressRule {
	return networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: all.String(), Except: except}}}}
}

func deepCopyPeers(in []networkingv1.NetworkPolicyPeer) []networkingv1.NetworkPolicyPeer {
	out := make([]networkingv1.NetworkPolicyPeer, len(in))
	for i := range in {
		in[i].DeepCopyInto(&out[i])
	}
	return out
}

func deepCopyEgress(in []networkingv1.NetworkPolicyEgressRule) []networkingv1.NetworkPolicyEgressRule {
	out := make([]networkingv1.NetworkPolicyEgressRule, len(in))
	for i := range in {
		in[i].DeepCopyInto(&out[i])
	}
	return out
}

// toUnstructured converts a typed object, without the fields the server
// owns and the typed structs cannot leave out (an empty status).
func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	if s, ok := m["status"].(map[string]any); ok && len(s) == 0 {
		delete(m, "status")
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		if v, ok := md["creationTimestamp"]; ok && v == nil {
			delete(md, "creationTimestamp")
		}
	}
	if spec, ok := m["spec"].(map[string]any); ok && len(spec) == 0 {
		delete(m, "spec")
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// RenderAll renders every tenant, by name, with the same namespaces and
// tenants (for the ingressFrom peers): each tenant's objects follow its
// Namespaces, and the warnings are all the tenants'.
func RenderAll(tenants []*v1alpha1.Tenant, namespaces []*corev1.Namespace) (*Rendering, error) {
	sorted := append([]*v1alpha1.Tenant(nil), tenants...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	all := &Rendering{}
	for _, t := range sorted {
		r, err := Render(t, namespaces, tenants)
		if err != nil {
			return nil, err
		}
		all.Objects = append(all.Objects, r.Objects...)
		all.Warnings = append(all.Warnings, r.Warnings...)
	}
	return all, nil
}
