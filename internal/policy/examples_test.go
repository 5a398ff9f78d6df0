package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1/tenantvalidation"
)

// The tenancy example (documentation for people, not this package's
// testdata) keeps loading and validating, and team-b's selector does not
// reach team-a's namespaces.
func TestTenancyExample(t *testing.T) {
	s, err := Load([]string{"../../examples/tenancy"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tenants) != 2 || s.Tenants[0].Name != "team-a" || s.Tenants[1].Name != "team-b" || len(s.Warnings) != 0 || len(s.Others) != 0 {
		t.Fatalf("set = %s, %d others, warnings %q", s, len(s.Others), s.Warnings)
	}
	a, b := s.Tenants[0], s.Tenants[1]
	if a.Spec.Nodes.Mode != v1alpha1.TenantNodeModeInject || len(a.Spec.Services.LoadBalancerSourceRanges) == 0 || a.Spec.Quota.ResourceQuota == nil {
		t.Errorf("team-a = %+v", a.Spec)
	}
	// team-b's taint is the default one, written out.
	if *b.Spec.Nodes.Taint != (v1alpha1.TenantTaint{Key: v1alpha1.TenantLabel, Value: "team-b", Effect: corev1.TaintEffectNoSchedule}) ||
		b.Spec.PodSecurity.Seccomp != corev1.SeccompProfileTypeRuntimeDefault || len(b.Spec.Network.BlockedEgressCIDRs) != 2 {
		t.Errorf("team-b = %+v", b.Spec)
	}
	namespaces := []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "a-dev"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b-web", Labels: map[string]string{"example.com/tenant": "team-b"}}},
	}
	if errs := tenantvalidation.ValidateTenants(s.Tenants, namespaces); len(errs) != 0 {
		t.Errorf("tenants conflict: %v", errs)
	}
}
