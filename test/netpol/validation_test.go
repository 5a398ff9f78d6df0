package netpol

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1/tenantvalidation"
)

// TestRefused: the setups whose NetworkPolicies would admit too much never
// reach the rendering.
func TestRefused(t *testing.T) {
	nss := []*corev1.Namespace{namespace("kube-system"), namespace("a1"), namespace("b1", "team", "b"), namespace("x", "team", "a")}
	names := v1alpha1.TenantNamespaces{Names: []string{"a1"}}
	empty := &metav1.LabelSelector{MatchLabels: map[string]string{}, MatchExpressions: []metav1.LabelSelectorRequirement{}}
	for what, ts := range map[string][]*v1alpha1.Tenant{
		"empty tenant selector":        {tn("a", v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Selector: empty}})},
		"empty ingressFrom selector":   {tn("a", v1alpha1.TenantSpec{Namespaces: names, Network: v1alpha1.TenantNetwork{IngressFrom: []v1alpha1.TenantIngressPeer{{NamespaceSelector: &metav1.LabelSelector{}}}}})},
		"IPv4-mapped ingressFrom CIDR": {tn("a", v1alpha1.TenantSpec{Namespaces: names, Network: v1alpha1.TenantNetwork{IngressFrom: []v1alpha1.TenantIngressPeer{{CIDR: "::ffff:203.0.113.0/120"}}}})},
		"selector matching kube-system": {tn("a", v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Selector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: metav1.LabelSelectorOpDoesNotExist}}}}})},
		"selector matching another tenant's namespace": {
			tn("a", v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Names: []string{"b1"}}}),
			tn("b", v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Selector: sel("team", "b")}}),
		},
	} {
		var errs int
		for _, x := range ts {
			v1alpha1.SetTenantDefaults(x)
			errs += len(tenantvalidation.ValidateTenant(x))
		}
		errs += len(tenantvalidation.ValidateTenants(ts, nss))
		if errs == 0 {
			t.Errorf("%s: not refused", what)
		}
	}
}

// TestEmptyBlockedEgressDefaults: blockedEgressCIDRs: [] is the default,
// the metadata services blocked, not "nothing blocked".
func TestEmptyBlockedEgressDefaults(t *testing.T) {
	x := tn("a", v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Names: []string{"a1"}},
		Network: v1alpha1.TenantNetwork{BlockedEgressCIDRs: []string{}}})
	w := &world{namespaces: []*corev1.Namespace{namespace("a1")}, tenants: []*v1alpha1.Tenant{x}}
	w.pods = []pod{{ns: "a1", ip4: "10.0.0.1", ip6: "fd00::1"}}
	if got := x.Spec.Network.BlockedEgressCIDRs; len(got) != 0 {
		t.Fatalf("precondition: %v", got)
	}
	check(t, w, outside) // defaults x
	if !slices.Equal(x.Spec.Network.BlockedEgressCIDRs, v1alpha1.DefaultBlockedEgressCIDRs) {
		t.Errorf("blockedEgressCIDRs = %v, want the defaults", x.Spec.Network.BlockedEgressCIDRs)
	}
}
