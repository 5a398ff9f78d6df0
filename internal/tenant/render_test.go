package tenant

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kguard/kguard/internal/admission/psp"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// defaulted is a tenant with its defaults applied, as policy.Load gives it.
func defaulted(name string, spec v1alpha1.TenantSpec) *v1alpha1.Tenant {
	t := tenantOf(name, spec)
	v1alpha1.SetTenantDefaults(t)
	return t
}

func render(t *testing.T, tn *v1alpha1.Tenant, namespaces []*corev1.Namespace, tenants ...*v1alpha1.Tenant) *Rendering {
	t.Helper()
	r, err := Render(tn, namespaces, tenants)
	if err != nil {
		t.Fatal(err)
	}
	validateRendered(t, r.Objects)
	return r
}

// find decodes the object of kind in namespace ns named name into into; it
// reports whether there is one.
func find(t *testing.T, objs []*unstructured.Unstructured, kind, ns, name string, into any) bool {
	t.Helper()
	for _, u := range objs {
		if u.GetKind() == kind && u.GetNamespace() == ns && u.GetName() == name {
			decodeStrict(t, u, into)
			return true
		}
	}
	return false
}

func ids(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, u := range objs {
		id := u.GetKind() + " " + u.GetName()
		if u.GetNamespace() != "" {
			id = u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
		}
		out = append(out, id)
	}
	return out
}

var teamA = v1alpha1.TenantSpec{
	Owners: v1alpha1.TenantOwners{
		Users: []string{"alice"}, Groups: []string{"a-admins"},
		ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "a-ci", Name: "deployer"}},
	},
	Namespaces:  v1alpha1.TenantNamespaces{Names: []string{"a-prod", "a-dev"}},
	PodSecurity: v1alpha1.TenantPodSecurity{Level: v1alpha1.PodSecurityLevelBaseline, PodSecurityPolicies: []string{"restricted"}},
	Network: v1alpha1.TenantNetwork{IngressFrom: []v1alpha1.TenantIngressPeer{
		{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "ingress-nginx"}}},
		{Tenant: "team-b"},
		{CIDR: "203.0.113.7/24"},
	}},
	Quota: v1alpha1.TenantQuota{
		ResourceQuota: &corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10")}},
		LimitRange: &corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer, Default: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
		}}},
	},
	RequiredLabels: map[string]string{"example.com/cost-center": "cc-1"},
}

var teamBSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"example.com/tenant": "b"}}

func TestRenderOrder(t *testing.T) {
	r := render(t, defaulted("team-a", teamA), nil)
	want := []string{
		"Namespace a-dev", "Namespace a-prod",
		"RoleBinding a-dev/kguard-tenant-owners", "Role a-dev/kguard-tenant-podsecuritypolicies", "RoleBinding a-dev/kguard-tenant-podsecuritypolicies",
		"NetworkPolicy a-dev/kguard-tenant-default-deny-ingress-from-other-tenants", "NetworkPolicy a-dev/kguard-tenant-egress",
		"ResourceQuota a-dev/kguard-tenant-quota", "LimitRange a-dev/kguard-tenant-limits",
		"RoleBinding a-prod/kguard-tenant-owners", "Role a-prod/kguard-tenant-podsecuritypolicies", "RoleBinding a-prod/kguard-tenant-podsecuritypolicies",
		"NetworkPolicy a-prod/kguard-tenant-default-deny-ingress-from-other-tenants", "NetworkPolicy a-prod/kguard-tenant-egress",
		"ResourceQuota a-prod/kguard-tenant-quota", "LimitRange a-prod/kguard-tenant-limits",
	}
	if got := ids(r.Objects); !slices.Equal(got, want) {
		t.Fatalf("objects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// ingressFrom team-b without team-b given: no peer, and a warning.
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], `spec.network.ingressFrom[1]: tenant "team-b" is not among the Tenants given`) {
		t.Fatalf("warnings: %q", r.Warnings)
	}
	again := render(t, defaulted("team-a", teamA), nil)
	if !reflect.DeepEqual(r, again) {
		t.Fatal("two renderings differ")
	}
}

func TestRenderKinds(t *testing.T) {
	b := defaulted("team-b", v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Names: []string{"b-fixed"}, Selector: teamBSelector}})
	a := defaulted("team-a", teamA)
	r := render(t, a, nil, a, b)
	objs := r.Objects
	wantLabels := map[string]string{ManagedByLabel: ManagedBy, v1alpha1.TenantLabel: "team-a", "example.com/cost-center": "cc-1"}

	t.Run("every object carries the tenant's labels", func(t *testing.T) {
		for _, u := range objs {
			for k, v := range wantLabels {
				if u.GetLabels()[k] != v {
					t.Errorf("%s %s/%s: label %s=%q, want %q", u.GetKind(), u.GetNamespace(), u.GetName(), k, u.GetLabels()[k], v)
				}
			}
		}
	})
	t.Run("Namespace", func(t *testing.T) {
		var ns corev1.Namespace
		if !find(t, objs, "Namespace", "", "a-dev", &ns) {
			t.Fatal("no Namespace a-dev")
		}
		for k, v := range map[string]string{
			"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/enforce-version": "latest",
			"pod-security.kubernetes.io/audit": "baseline", "pod-security.kubernetes.io/warn": "baseline",
		} {
			if ns.Labels[k] != v {
				t.Errorf("label %s=%q, want %q", k, ns.Labels[k], v)
			}
		}
		if _, ok := r.Objects[0].Object["status"]; ok {
			t.Error("a rendered Namespace has a status")
		}
		if _, ok := r.Objects[0].Object["metadata"].(map[string]any)["creationTimestamp"]; ok {
			t.Error("a rendered Namespace has a creationTimestamp")
		}
	})
	t.Run("Namespace without a level", func(t *testing.T) {
		spec := *teamA.DeepCopy()
		spec.PodSecurity.Level = "" // with PodSecurityPolicies the level is not defaulted
		r := render(t, defaulted("team-a", spec), nil)
		var ns corev1.Namespace
		find(t, r.Objects, "Namespace", "", "a-dev", &ns)
		for k := range ns.Labels {
			if strings.HasPrefix(k, "pod-security.kubernetes.io/") {
				t.Errorf("label %s without a level", k)
			}
		}
	})
	t.Run("owners RoleBinding", func(t *testing.T) {
		var rb rbacv1.RoleBinding
		if !find(t, objs, "RoleBinding", "a-prod", OwnersBindingName, &rb) {
			t.Fatal("none")
		}
		want := []rbacv1.Subject{
			{Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"},
			{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "a-admins"},
			{Kind: "ServiceAccount", Namespace: "a-ci", Name: "deployer"},
		}
		if !reflect.DeepEqual(rb.Subjects, want) {
			t.Errorf("subjects %+v, want %+v", rb.Subjects, want)
		}
		if rb.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"}) {
			t.Errorf("roleRef %+v", rb.RoleRef)
		}
	})
	t.Run("no owners, no RoleBinding", func(t *testing.T) {
		r := render(t, b, nil)
		if find(t, r.Objects, "RoleBinding", "b-fixed", OwnersBindingName, &rbacv1.RoleBinding{}) {
			t.Fatal("an owners RoleBinding without owners")
		}
	})
	t.Run("PodSecurityPolicy Role and RoleBinding", func(t *testing.T) {
		var role rbacv1.Role
		if !find(t, objs, "Role", "a-dev", PSPRoleName, &role) {
			t.Fatal("no Role")
		}
		rule := role.Rules[0]
		if !slices.Equal(rule.Verbs, []string{"use"}) || !slices.Equal(rule.Resources, []string{"podsecuritypolicies"}) || !slices.Equal(rule.ResourceNames, []string{"restricted"}) {
			t.Errorf("rule %+v", rule)
		}
		for _, g := range rule.APIGroups {
			if !slices.Contains(psp.UseAPIGroups, g) {
				t.Errorf("apiGroup %q is not one the PodSecurityPolicy plugin reads (%v)", g, psp.UseAPIGroups)
			}
		}
		if !slices.Contains(rule.APIGroups, v1alpha1.GroupName) || !slices.Contains(rule.APIGroups, "policy") {
			t.Errorf("apiGroups %v, want policy and kguard.io", rule.APIGroups)
		}
		var rb rbacv1.RoleBinding
		find(t, objs, "RoleBinding", "a-dev", PSPRoleName, &rb)
		want := []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "system:serviceaccounts:a-dev"}}
		if !reflect.DeepEqual(rb.Subjects, want) || rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != PSPRoleName {
			t.Errorf("RoleBinding %+v", rb)
		}
		if r := render(t, b, nil); find(t, r.Objects, "Role", "b-fixed", PSPRoleName, &rbacv1.Role{}) {
			t.Error("a Role without podSecurityPolicies")
		}
	})
	t.Run("ingress NetworkPolicy", func(t *testing.T) {
		var np networkingv1.NetworkPolicy
		if !find(t, objs, "NetworkPolicy", "a-dev", DenyIngressPolicyName, &np) {
			t.Fatal("none")
		}
		if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress"}) || len(np.Spec.PodSelector.MatchLabels)+len(np.Spec.PodSelector.MatchExpressions) != 0 {
			t.Errorf("not every pod's ingress: %+v", np.Spec)
		}
		want := []networkingv1.NetworkPolicyPeer{
			{NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: corev1.LabelMetadataName, Operator: "In", Values: []string{"a-dev", "a-prod"}}}}},
			{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "ingress-nginx"}}},
			{NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: corev1.LabelMetadataName, Operator: "In", Values: []string{"b-fixed"}}}}},
			{NamespaceSelector: teamBSelector},
			{IPBlock: &networkingv1.IPBlock{CIDR: "203.0.113.0/24"}},
		}
		if len(np.Spec.Ingress) != 1 || !reflect.DeepEqual(np.Spec.Ingress[0].From, want) {
			t.Errorf("ingress %+v\nwant %+v", np.Spec.Ingress, want)
		}
	})
	t.Run("egress NetworkPolicy", func(t *testing.T) {
		var np networkingv1.NetworkPolicy
		if !find(t, objs, "NetworkPolicy", "a-dev", EgressPolicyName, &np) {
			t.Fatal("none")
		}
		want := []networkingv1.NetworkPolicyEgressRule{
			{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"169.254.0.0/16"}}}}},
			{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "::/0", Except: []string{"fd00:ec2::254/128"}}}}},
		}
		if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{"Egress"}) || !reflect.DeepEqual(np.Spec.Egress, want) {
			t.Errorf("egress %+v", np.Spec)
		}
	})
	t.Run("ResourceQuota and LimitRange", func(t *testing.T) {
		var q corev1.ResourceQuota
		if !find(t, objs, "ResourceQuota", "a-dev", QuotaName, &q) || q.Spec.Hard.Pods().String() != "10" {
			t.Errorf("ResourceQuota %+v", q)
		}
		var l corev1.LimitRange
		if !find(t, objs, "LimitRange", "a-dev", LimitRangeName, &l) || len(l.Spec.Limits) != 1 || l.Spec.Limits[0].Default.Cpu().String() != "500m" {
			t.Errorf("LimitRange %+v", l)
		}
		r := render(t, b, nil)
		if find(t, r.Objects, "ResourceQuota", "b-fixed", QuotaName, &q) || find(t, r.Objects, "LimitRange", "b-fixed", LimitRangeName, &l) {
			t.Error("quota objects without templates")
		}
	})
	t.Run("the tenant is not changed", func(t *testing.T) {
		if !reflect.DeepEqual(a, defaulted("team-a", teamA)) {
			t.Error("Render changed its tenant")
		}
	})
}

func TestRenderEgressFamilies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		blocked []string
		want    [][]string // per rule: cidr, then excepts
	}{
		{"defaults", nil, [][]string{{"0.0.0.0/0", "169.254.0.0/16"}, {"::/0", "fd00:ec2::254/128"}}},
		{"IPv4 only", []string{"169.254.169.254/32", "10.0.0.0/8"}, [][]string{{"0.0.0.0/0", "169.254.169.254/32", "10.0.0.0/8"}, {"::/0"}}},
		{"IPv6 only", []string{"fd00:ec2::254/128"}, [][]string{{"0.0.0.0/0"}, {"::/0", "fd00:ec2::254/128"}}},
		{"non-canonical and duplicate", []string{"169.254.1.2/16", "169.254.0.0/16"}, [][]string{{"0.0.0.0/0", "169.254.0.0/16"}, {"::/0"}}},
		{"IPv4-mapped IPv6 is IPv4", []string{"::ffff:169.254.0.0/112"}, [][]string{{"0.0.0.0/0", "169.254.0.0/16"}, {"::/0"}}},
		{"a whole family blocked", []string{"0.0.0.0/0", "fd00::/8"}, [][]string{{"::/0", "fd00::/8"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := defaulted("t", v1alpha1.TenantSpec{
				Namespaces: v1alpha1.TenantNamespaces{Names: []string{"ns"}},
				Network:    v1alpha1.TenantNetwork{BlockedEgressCIDRs: tc.blocked},
			})
			r := render(t, tn, nil)
			var np networkingv1.NetworkPolicy
			find(t, r.Objects, "NetworkPolicy", "ns", EgressPolicyName, &np)
			var got [][]string
			for _, rule := range np.Spec.Egress {
				b := rule.To[0].IPBlock
				got = append(got, append([]string{b.CIDR}, b.Except...))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("egress %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRenderSelectorOnly(t *testing.T) {
	b := defaulted("team-b", v1alpha1.TenantSpec{
		Owners:     v1alpha1.TenantOwners{Groups: []string{"b-admins"}},
		Namespaces: v1alpha1.TenantNamespaces{Selector: teamBSelector},
	})
	t.Run("no Namespace matches", func(t *testing.T) {
		r := render(t, b, []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "other"}}})
		if len(r.Objects) != 0 {
			t.Errorf("objects %v", ids(r.Objects))
		}
		if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], `tenant "team-b": spec.namespaces.selector "example.com/tenant=b" matches none of the 1 Namespaces given`) {
			t.Errorf("warnings %q", r.Warnings)
		}
	})
	t.Run("Namespaces match", func(t *testing.T) {
		namespaces := []*corev1.Namespace{
			{ObjectMeta: metav1.ObjectMeta{Name: "b-2", Labels: map[string]string{"example.com/tenant": "b"}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "other"}},
			{ObjectMeta: metav1.ObjectMeta{Name: "b-1", Labels: map[string]string{"example.com/tenant": "b"}}},
		}
		r := render(t, b, namespaces)
		if len(r.Warnings) != 0 {
			t.Errorf("warnings %q", r.Warnings)
		}
		got := ids(r.Objects)
		want := []string{
			"Namespace b-1", "Namespace b-2",
			"RoleBinding b-1/kguard-tenant-owners", "NetworkPolicy b-1/kguard-tenant-default-deny-ingress-from-other-tenants", "NetworkPolicy b-1/kguard-tenant-egress",
			"RoleBinding b-2/kguard-tenant-owners", "NetworkPolicy b-2/kguard-tenant-default-deny-ingress-from-other-tenants", "NetworkPolicy b-2/kguard-tenant-egress",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("objects %q, want %q", got, want)
		}
		// Ingress from the tenant's own namespaces is its selector: there are no names.
		var np networkingv1.NetworkPolicy
		find(t, r.Objects, "NetworkPolicy", "b-1", DenyIngressPolicyName, &np)
		if want := []networkingv1.NetworkPolicyPeer{{NamespaceSelector: teamBSelector}}; !reflect.DeepEqual(np.Spec.Ingress[0].From, want) {
			t.Errorf("ingress from %+v", np.Spec.Ingress[0].From)
		}
		// The matched Namespace's own labels are not rendered: applying
		// the labels kguard sets leaves the others alone.
		var ns corev1.Namespace
		find(t, r.Objects, "Namespace", "", "b-1", &ns)
		if _, ok := ns.Labels["example.com/tenant"]; ok {
			t.Error("the selected Namespace's own labels were copied")
		}
	})
}

func TestRenderRequiredLabels(t *testing.T) {
	tn := defaulted("t", v1alpha1.TenantSpec{
		Namespaces: v1alpha1.TenantNamespaces{Names: []string{"ns"}},
		RequiredLabels: map[string]string{
			"example.com/team": "x",
			// kguard's own labels win over a required label of the same key.
			v1alpha1.TenantLabel: "someone-else",
		},
	})
	r := render(t, tn, nil)
	for _, u := range r.Objects {
		t.Run(u.GetKind()+" "+u.GetName(), func(t *testing.T) {
			l := u.GetLabels()
			if l["example.com/team"] != "x" || l[v1alpha1.TenantLabel] != "t" || l[ManagedByLabel] != ManagedBy {
				t.Errorf("labels %v", l)
			}
		})
	}
}

func TestRenderAll(t *testing.T) {
	a := defaulted("team-a", teamA)
	b := defaulted("team-b", v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Names: []string{"b-fixed"}}})
	r, err := RenderAll([]*v1alpha1.Tenant{b, a}, nil)
	if err != nil {
		t.Fatal(err)
	}
	validateRendered(t, r.Objects)
	if got := ids(r.Objects); got[0] != "Namespace a-dev" || got[len(got)-1] != "NetworkPolicy b-fixed/kguard-tenant-egress" {
		t.Errorf("tenants not by name, each with its Namespaces first: %q", got)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("team-b is given, yet: %q", r.Warnings)
	}
}
