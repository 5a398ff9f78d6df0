package tenantvalidation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// validTenant is a defaulted tenant that validates; tests tweak one field.
func validTenant(name string, namespaces ...string) *v1alpha1.Tenant {
	t := &v1alpha1.Tenant{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Names: namespaces}},
	}
	v1alpha1.SetTenantDefaults(t)
	return t
}

func TestValidateTenant(t *testing.T) {
	cases := []struct {
		name  string
		tweak func(t *v1alpha1.Tenant)
		want  string // the one expected error, as the API server prints it; "" for valid
	}{
		{"valid", func(t *v1alpha1.Tenant) {}, ""},
		{"every field set", func(t *v1alpha1.Tenant) {
			s := &t.Spec
			s.Owners = v1alpha1.TenantOwners{Users: []string{"alice"}, Groups: []string{"team-a"},
				ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "a-ci", Name: "deployer"}}}
			s.Namespaces.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}
			s.PodSecurity.PodSecurityPolicies = []string{"restricted"}
			s.Services = v1alpha1.TenantServices{ExternalIPs: true, AllowedTypes: []corev1.ServiceType{"ClusterIP", "LoadBalancer"}, LoadBalancerSourceRanges: []string{"203.0.113.0/24"}}
			s.Network.IngressFrom = []v1alpha1.TenantIngressPeer{{Tenant: "team-b"}, {CIDR: "10.0.0.0/8"},
				{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "ingress-nginx"}}}}
			s.Quota.ResourceQuota = &corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"requests.cpu": resource.MustParse("4")}}
			s.Quota.LimitRange = &corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: "Container",
				Default: corev1.ResourceList{"cpu": resource.MustParse("500m")}, DefaultRequest: corev1.ResourceList{"cpu": resource.MustParse("100m")},
				Max: corev1.ResourceList{"cpu": resource.MustParse("2")}}}}
			s.RequiredLabels = map[string]string{"kguard.io/tenant": "team-a"}
		}, ""},
		{"bad name", func(t *v1alpha1.Tenant) { t.Name = "team.a" }, `metadata.name: Invalid value: "team.a": must not contain dots`},
		{"namespaced", func(t *v1alpha1.Tenant) { t.Namespace = "x" }, "metadata.namespace: Forbidden: not allowed on this type: Tenant is cluster-scoped"},
		{"empty user", func(t *v1alpha1.Tenant) { t.Spec.Owners.Users = []string{""} }, "spec.owners.users[0]: Required value"},
		{"duplicate group", func(t *v1alpha1.Tenant) { t.Spec.Owners.Groups = []string{"g", "g"} }, `spec.owners.groups[1]: Duplicate value: "g"`},
		{"everyone as owner", func(t *v1alpha1.Tenant) { t.Spec.Owners.Groups = []string{"system:authenticated"} },
			`spec.owners.groups[0]: Forbidden: group "system:authenticated" stands for everyone`},
		{"anonymous as owner", func(t *v1alpha1.Tenant) { t.Spec.Owners.Users = []string{"system:anonymous"} }, `spec.owners.users[0]: Forbidden`},
		{"ServiceAccount without namespace", func(t *v1alpha1.Tenant) {
			t.Spec.Owners.ServiceAccounts = []v1alpha1.ServiceAccountReference{{Name: "sa"}}
		}, "spec.owners.serviceAccounts[0].namespace: Required value"},
		{"ServiceAccount bad name", func(t *v1alpha1.Tenant) {
			t.Spec.Owners.ServiceAccounts = []v1alpha1.ServiceAccountReference{{Namespace: "ns", Name: "Bad_Name"}}
		}, `spec.owners.serviceAccounts[0].name: Invalid value: "Bad_Name"`},
		{"no namespaces", func(t *v1alpha1.Tenant) { t.Spec.Namespaces.Names = nil }, "spec.namespaces: Required value: names or a selector is required"},
		{"bad namespace name", func(t *v1alpha1.Tenant) { t.Spec.Namespaces.Names = []string{"A"} }, `spec.namespaces.names[0]: Invalid value: "A"`},
		{"duplicate namespace", func(t *v1alpha1.Tenant) { t.Spec.Namespaces.Names = []string{"a", "a"} }, `spec.namespaces.names[1]: Duplicate value: "a"`},
		{"system namespace", func(t *v1alpha1.Tenant) { t.Spec.Namespaces.Names = []string{"kube-system"} },
			`spec.namespaces.names[0]: Forbidden: "kube-system" is a system namespace`},
		{"empty selector", func(t *v1alpha1.Tenant) { t.Spec.Namespaces.Selector = &metav1.LabelSelector{} },
			`spec.namespaces.selector: Invalid value: "{}": an empty selector selects every namespace`},
		{"invalid selector", func(t *v1alpha1.Tenant) {
			t.Spec.Namespaces.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "In"}}}
		}, "spec.namespaces.selector.matchExpressions[0].values: Required value"},
		{"invalid selector label", func(t *v1alpha1.Tenant) {
			t.Spec.Namespaces.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a b"}}
		}, `spec.namespaces.selector.matchLabels: Invalid value: "a b"`},
		{"unknown node mode", func(t *v1alpha1.Tenant) { t.Spec.Nodes.Mode = "x" },
			`spec.nodes.mode: Unsupported value: "x": supported values: "inject", "require"`},
		{"no taint", func(t *v1alpha1.Tenant) { t.Spec.Nodes.Taint = nil }, "spec.nodes.taint: Required value"},
		{"taint without key", func(t *v1alpha1.Tenant) { t.Spec.Nodes.Taint.Key = "" }, "spec.nodes.taint.key: Required value"},
		{"bad taint key", func(t *v1alpha1.Tenant) { t.Spec.Nodes.Taint.Key = "a/b/c" }, `spec.nodes.taint.key: Invalid value: "a/b/c"`},
		{"bad taint value", func(t *v1alpha1.Tenant) { t.Spec.Nodes.Taint.Value = "a=b" }, `spec.nodes.taint.value: Invalid value: "a=b"`},
		{"taint without effect", func(t *v1alpha1.Tenant) { t.Spec.Nodes.Taint.Effect = "" }, "spec.nodes.taint.effect: Required value"},
		{"unknown taint effect", func(t *v1alpha1.Tenant) { t.Spec.Nodes.Taint.Effect = "NoWay" },
			`spec.nodes.taint.effect: Unsupported value: "NoWay": supported values: "NoSchedule", "NoExecute"`},
		{"PreferNoSchedule", func(t *v1alpha1.Tenant) { t.Spec.Nodes.Taint.Effect = corev1.TaintEffectPreferNoSchedule },
			"spec.nodes.taint.effect: Forbidden: PreferNoSchedule does not keep other tenants' pods off"},
		{"NoExecute", func(t *v1alpha1.Tenant) { t.Spec.Nodes.Taint.Effect = corev1.TaintEffectNoExecute }, ""},
		{"no node labels", func(t *v1alpha1.Tenant) { t.Spec.Nodes.Labels = nil }, "spec.nodes.labels: Required value"},
		{"bad node label", func(t *v1alpha1.Tenant) { t.Spec.Nodes.Labels = map[string]string{"-x": "a"} }, `spec.nodes.labels: Invalid value: "-x"`},
		{"unknown level", func(t *v1alpha1.Tenant) { t.Spec.PodSecurity.Level = "strict" },
			`spec.podSecurity.level: Unsupported value: "strict": supported values: "privileged", "baseline", "restricted"`},
		{"neither level nor PSPs", func(t *v1alpha1.Tenant) { t.Spec.PodSecurity.Level = "" },
			"spec.podSecurity.level: Required value: a level or podSecurityPolicies is required"},
		{"PSPs without level", func(t *v1alpha1.Tenant) {
			t.Spec.PodSecurity.Level, t.Spec.PodSecurity.PodSecurityPolicies = "", []string{"tenant"}
		}, ""},
		{"bad PSP name", func(t *v1alpha1.Tenant) { t.Spec.PodSecurity.PodSecurityPolicies = []string{"Bad"} },
			`spec.podSecurity.podSecurityPolicies[0]: Invalid value: "Bad"`},
		{"unknown seccomp", func(t *v1alpha1.Tenant) { t.Spec.PodSecurity.Seccomp = "Localhost" },
			`spec.podSecurity.seccomp: Unsupported value: "Localhost": supported values: "RuntimeDefault", "Unconfined"`},
		{"unknown SELinux mode", func(t *v1alpha1.Tenant) { t.Spec.PodSecurity.SELinux = "perNamespace" },
			`spec.podSecurity.seLinux: Unsupported value: "perNamespace": supported values: "perPod", "perTenant", "off"`},
		{"unknown Service type", func(t *v1alpha1.Tenant) { t.Spec.Services.AllowedTypes = []corev1.ServiceType{"Headless"} },
			`spec.services.allowedTypes[0]: Unsupported value: "Headless": supported values: "ClusterIP", "NodePort", "LoadBalancer", "ExternalName"`},
		{"duplicate Service type", func(t *v1alpha1.Tenant) {
			t.Spec.Services.AllowedTypes = []corev1.ServiceType{"ClusterIP", "ClusterIP"}
		},
			`spec.services.allowedTypes[1]: Duplicate value: "ClusterIP"`},
		{"no Service types", func(t *v1alpha1.Tenant) { t.Spec.Services.AllowedTypes = nil }, "spec.services.allowedTypes: Required value"},
		{"LoadBalancer without source ranges", func(t *v1alpha1.Tenant) {
			t.Spec.Services.AllowedTypes = []corev1.ServiceType{"ClusterIP", "LoadBalancer"}
		}, "spec.services.loadBalancerSourceRanges: Required value: allowedTypes has LoadBalancer"},
		{"source ranges without LoadBalancer", func(t *v1alpha1.Tenant) { t.Spec.Services.LoadBalancerSourceRanges = []string{"10.0.0.0/8"} },
			"spec.services.loadBalancerSourceRanges: Forbidden: may only be set when allowedTypes has LoadBalancer"},
		{"invalid source range", func(t *v1alpha1.Tenant) {
			t.Spec.Services.AllowedTypes = []corev1.ServiceType{"LoadBalancer"}
			t.Spec.Services.LoadBalancerSourceRanges = []string{"10.0.0.1/33"}
		}, `spec.services.loadBalancerSourceRanges[0]: Invalid value: "10.0.0.1/33": must be a valid CIDR value`},
		{"invalid blocked CIDR", func(t *v1alpha1.Tenant) { t.Spec.Network.BlockedEgressCIDRs = []string{"169.254.169.254"} },
			`spec.network.blockedEgressCIDRs[0]: Invalid value: "169.254.169.254": must be a valid CIDR value`},
		{"CIDR with host bits", func(t *v1alpha1.Tenant) { t.Spec.Network.BlockedEgressCIDRs = []string{"169.254.169.254/16"} },
			`spec.network.blockedEgressCIDRs[0]: Invalid value: "169.254.169.254/16"`},
		{"empty ingress peer", func(t *v1alpha1.Tenant) { t.Spec.Network.IngressFrom = []v1alpha1.TenantIngressPeer{{}} },
			"spec.network.ingressFrom[0]: Required value: one of tenant, namespaceSelector or cidr is required"},
		{"two ingress sources in one peer", func(t *v1alpha1.Tenant) {
			t.Spec.Network.IngressFrom = []v1alpha1.TenantIngressPeer{{Tenant: "b", CIDR: "10.0.0.0/8"}}
		}, "spec.network.ingressFrom[0]: Forbidden: only one of tenant, namespaceSelector or cidr may be set"},
		{"ingress from an empty selector", func(t *v1alpha1.Tenant) {
			t.Spec.Network.IngressFrom = []v1alpha1.TenantIngressPeer{{NamespaceSelector: &metav1.LabelSelector{}}}
		}, "spec.network.ingressFrom[0].namespaceSelector: Invalid value"},
		{"ingress bad CIDR", func(t *v1alpha1.Tenant) { t.Spec.Network.IngressFrom = []v1alpha1.TenantIngressPeer{{CIDR: "x"}} },
			`spec.network.ingressFrom[0].cidr: Invalid value: "x"`},
		{"negative quota", func(t *v1alpha1.Tenant) {
			t.Spec.Quota.ResourceQuota = &corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"pods": resource.MustParse("-1")}}
		}, `spec.quota.resourceQuota.hard[pods]: Invalid value: "-1": must be greater than or equal to 0`},
		{"unknown quota scope", func(t *v1alpha1.Tenant) {
			t.Spec.Quota.ResourceQuota = &corev1.ResourceQuotaSpec{Scopes: []corev1.ResourceQuotaScope{"Cheap"}}
		}, `spec.quota.resourceQuota.scopes[0]: Unsupported value: "Cheap"`},
		{"scope selector In without values", func(t *v1alpha1.Tenant) {
			t.Spec.Quota.ResourceQuota = &corev1.ResourceQuotaSpec{ScopeSelector: &corev1.ScopeSelector{
				MatchExpressions: []corev1.ScopedResourceSelectorRequirement{{ScopeName: "PriorityClass", Operator: "In"}}}}
		}, "spec.quota.resourceQuota.scopeSelector.matchExpressions[0].values: Required value"},
		{"unknown limit type", func(t *v1alpha1.Tenant) {
			t.Spec.Quota.LimitRange = &corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: "Node"}}}
		}, `spec.quota.limitRange.limits[0].type: Unsupported value: "Node"`},
		{"pod limit with default", func(t *v1alpha1.Tenant) {
			t.Spec.Quota.LimitRange = &corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: "Pod", Default: corev1.ResourceList{"cpu": resource.MustParse("1")}}}}
		}, "spec.quota.limitRange.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"},
		{"min above max", func(t *v1alpha1.Tenant) {
			t.Spec.Quota.LimitRange = &corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: "Container",
				Min: corev1.ResourceList{"memory": resource.MustParse("2Gi")}, Max: corev1.ResourceList{"memory": resource.MustParse("1Gi")}}}}
		}, `spec.quota.limitRange.limits[0].min[memory]: Invalid value: "2Gi": min value 2Gi is greater than max value 1Gi`},
		{"ratio below one", func(t *v1alpha1.Tenant) {
			t.Spec.Quota.LimitRange = &corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: "Container",
				MaxLimitRequestRatio: corev1.ResourceList{"cpu": resource.MustParse("500m")}}}}
		}, "spec.quota.limitRange.limits[0].maxLimitRequestRatio[cpu]: Invalid value"},
		{"bad required label", func(t *v1alpha1.Tenant) { t.Spec.RequiredLabels = map[string]string{"team": "a/b"} },
			`spec.requiredLabels: Invalid value: "a/b"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tn := validTenant("team-a", "a-dev")
			tc.tweak(tn)
			errs := ValidateTenant(tn)
			if tc.want == "" {
				if len(errs) != 0 {
					t.Fatalf("errors: %v", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), tc.want) {
				t.Fatalf("errors = %v, want one starting with %q", errs, tc.want)
			}
		})
	}
}

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func withSelector(t *v1alpha1.Tenant, labels map[string]string) *v1alpha1.Tenant {
	t.Spec.Namespaces.Selector = &metav1.LabelSelector{MatchLabels: labels}
	return t
}

func TestValidateTenants(t *testing.T) {
	namespaces := []*corev1.Namespace{
		namespace("a-dev", map[string]string{"team": "a"}),
		namespace("shared", map[string]string{"team": "b", "env": "prod"}),
		namespace("kube-system", map[string]string{"env": "prod"}),
	}
	cases := []struct {
		name    string
		tenants []*v1alpha1.Tenant
		want    []string // the errors, in order
	}{
		{"disjoint", []*v1alpha1.Tenant{validTenant("team-a", "a-dev"), withSelector(validTenant("team-b"), map[string]string{"team": "b"})}, nil},
		{"one tenant names and selects a namespace", []*v1alpha1.Tenant{withSelector(validTenant("team-a", "a-dev"), map[string]string{"team": "a"})}, nil},
		{"both name it", []*v1alpha1.Tenant{validTenant("team-a", "a-dev", "shared"), validTenant("team-b", "shared")}, []string{
			`spec.namespaces.names[0]: Invalid value: "shared": namespace "shared" belongs to tenant "team-a" (by spec.namespaces.names[1]) and to tenant "team-b" (by spec.namespaces.names[0]): a namespace belongs to at most one tenant`}},
		{"a name and a selector", []*v1alpha1.Tenant{validTenant("team-a", "shared"), withSelector(validTenant("team-b"), map[string]string{"team": "b"})}, []string{
			`spec.namespaces.selector: Invalid value: "shared": namespace "shared" belongs to tenant "team-a" (by spec.namespaces.names[0]) and to tenant "team-b" (by spec.namespaces.selector)`}},
		{"a selector and a name", []*v1alpha1.Tenant{withSelector(validTenant("team-b"), map[string]string{"team": "b"}), validTenant("team-a", "shared")}, []string{
			`spec.namespaces.names[0]: Invalid value: "shared": namespace "shared" belongs to tenant "team-b" (by spec.namespaces.selector) and to tenant "team-a" (by spec.namespaces.names[0])`}},
		{"two selectors", []*v1alpha1.Tenant{withSelector(validTenant("team-b"), map[string]string{"team": "b"}), withSelector(validTenant("prod"), map[string]string{"env": "prod"})}, []string{
			`spec.namespaces.selector: Invalid value: "shared": namespace "shared" belongs to tenant "team-b" (by spec.namespaces.selector) and to tenant "prod" (by spec.namespaces.selector)`,
			`spec.namespaces.selector: Forbidden: tenant "prod" selects the system namespace "kube-system"`}},
		{"duplicate tenant", []*v1alpha1.Tenant{validTenant("team-a", "a-dev"), validTenant("team-a", "other")}, []string{
			`metadata.name: Duplicate value: "team-a"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := ValidateTenants(tc.tenants, namespaces)
			if len(errs) != len(tc.want) {
				t.Fatalf("errors = %v, want %d", errs, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to start with %q", i, errs[i].Error(), w)
				}
			}
		})
	}
}
