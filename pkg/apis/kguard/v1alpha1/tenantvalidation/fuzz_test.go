package tenantvalidation

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// FuzzValidateTenant: arbitrary Tenant documents decode strictly or fail, and
// neither ValidateTenant nor ValidateTenants panics; a tenant that validates
// has what the tenancy rules rely on (a taint that repels, node labels, a
// known mode, source ranges for LoadBalancers), and a copy of it under another
// name that claims the same namespaces conflicts with it.
func FuzzValidateTenant(f *testing.F) {
	f.Add([]byte("apiVersion: kguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: team-a}\nspec: {namespaces: {names: [a-dev, a-prod]}}\n"))
	f.Add([]byte("metadata: {name: b}\nspec:\n  namespaces: {selector: {matchExpressions: [{key: team, operator: In, values: [b]}]}}\n  nodes: {taint: {key: pool, value: b, effect: NoExecute}, mode: require}\n  services: {allowedTypes: [LoadBalancer], loadBalancerSourceRanges: [10.0.0.0/8]}\n"))
	f.Add([]byte("metadata: {name: c}\nspec:\n  namespaces: {names: [kube-system], selector: {}}\n  podSecurity: {level: strict, seLinux: perPod, seccomp: Localhost}\n  network: {blockedEgressCIDRs: ['169.254.169.254'], ingressFrom: [{}, {tenant: a, cidr: 1.2.3.4/32}]}\n"))
	f.Add([]byte("metadata: {name: d}\nspec:\n  namespaces: {names: [d]}\n  quota: {resourceQuota: {hard: {pods: '-1'}}, limitRange: {limits: [{type: Container, min: {cpu: '2'}, max: {cpu: '1'}}]}}\n"))
	namespaces := []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "a-dev", Labels: map[string]string{"team": "a"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "kube-system", Labels: map[string]string{"team": "b"}}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return
		}
		var tn v1alpha1.Tenant
		if strict, err := sigsjson.UnmarshalStrict(j, &tn); err != nil || len(strict) > 0 {
			return
		}
		v1alpha1.SetTenantDefaults(&tn)
		valid := len(ValidateTenant(&tn)) == 0
		other := tn.DeepCopy()
		other.Name += "x"
		errs := ValidateTenants([]*v1alpha1.Tenant{&tn, other}, namespaces)
		if !valid {
			return
		}
		s := tn.Spec
		if s.Nodes.Taint == nil || (s.Nodes.Taint.Effect != corev1.TaintEffectNoSchedule && s.Nodes.Taint.Effect != corev1.TaintEffectNoExecute) ||
			len(s.Nodes.Labels) == 0 || (s.Nodes.Mode != v1alpha1.TenantNodeModeInject && s.Nodes.Mode != v1alpha1.TenantNodeModeRequire) {
			t.Fatalf("valid tenant with nodes %+v", s.Nodes)
		}
		if slices.Contains(s.Services.AllowedTypes, corev1.ServiceTypeLoadBalancer) && len(s.Services.LoadBalancerSourceRanges) == 0 {
			t.Fatal("valid tenant allows LoadBalancers from anywhere")
		}
		if len(s.Namespaces.Names) > 0 && len(errs) == 0 {
			t.Fatalf("two tenants naming %v do not conflict", s.Namespaces.Names)
		}
		if slices.Contains(s.Namespaces.Names, "kube-system") {
			t.Fatal("valid tenant owns kube-system")
		}
	})
}
