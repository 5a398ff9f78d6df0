// Package tenantvalidation validates kguard.io/v1alpha1 Tenants as the API
// server validates its objects: every field error with its path, and the
// tenants as a set (a namespace belongs to at most one). It is apart from
// the PodSecurityPolicy validation, which must also build against the v1.24
// API for test/upstream124.
package tenantvalidation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// SystemNamespaces cannot belong to a tenant: their objects run the cluster.
var SystemNamespaces = sets.New("kube-system", "kube-public", "kube-node-lease")

// broadGroups and broadUsers are subjects that stand for everyone (or every
// ServiceAccount): as a tenant's owners they would make everyone one.
var (
	broadGroups = sets.New("system:authenticated", "system:unauthenticated", "system:serviceaccounts")
	broadUsers  = sets.New("system:anonymous")
)

// ValidateTenant returns every problem of a defaulted Tenant (SetTenantDefaults
// runs first, as the API server defaults before it validates), with field
// paths. Conflicts between tenants are ValidateTenants'.
func ValidateTenant(t *v1alpha1.Tenant) field.ErrorList {
	var errs field.ErrorList
	meta := field.NewPath("metadata")
	if t.Name == "" {
		errs = append(errs, field.Required(meta.Child("name"), "name or generateName is required"))
	} else {
		// A DNS-1123 label, not a subdomain: the name is the value of the
		// tenant's default taint and node label, and part of derived names.
		for _, msg := range validation.IsDNS1123Label(t.Name) {
			errs = append(errs, field.Invalid(meta.Child("name"), t.Name, msg))
		}
	}
	if t.Namespace != "" {
		errs = append(errs, field.Forbidden(meta.Child("namespace"), "not allowed on this type: Tenant is cluster-scoped"))
	}
	return append(errs, ValidateTenantSpec(&t.Spec, field.NewPath("spec"))...)
}

// ValidateTenantSpec validates a defaulted TenantSpec.
func ValidateTenantSpec(s *v1alpha1.TenantSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateOwners(&s.Owners, fld.Child("owners"))...)
	errs = append(errs, validateTenantNamespaces(&s.Namespaces, fld.Child("namespaces"))...)
	errs = append(errs, validateNodes(&s.Nodes, fld.Child("nodes"))...)
	errs = append(errs, validatePodSecurity(&s.PodSecurity, fld.Child("podSecurity"))...)
	errs = append(errs, validateServices(&s.Services, fld.Child("services"))...)
	errs = append(errs, validateNetwork(&s.Network, fld.Child("network"))...)
	errs = append(errs, validateQuota(&s.Quota, fld.Child("quota"))...)
	errs = append(errs, metav1validation.ValidateLabels(s.RequiredLabels, fld.Child("requiredLabels"))...)
	return errs
}

func validateOwners(o *v1alpha1.TenantOwners, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateSubjects(o.Users, broadUsers, "user", fld.Child("users"))...)
	errs = append(errs, validateSubjects(o.Groups, broadGroups, "group", fld.Child("groups"))...)
	seen := sets.New[v1alpha1.ServiceAccountReference]()
	for i, sa := range o.ServiceAccounts {
		p := fld.Child("serviceAccounts").Index(i)
		if sa.Namespace == "" {
			errs = append(errs, field.Required(p.Child("namespace"), ""))
		} else {
			for _, msg := range validation.IsDNS1123Label(sa.Namespace) {
				errs = append(errs, field.Invalid(p.Child("namespace"), sa.Namespace, msg))
			}
		}
		if sa.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else {
			for _, msg := range validation.IsDNS1123Subdomain(sa.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), sa.Name, msg))
			}
		}
		if seen.Has(sa) {
			errs = append(errs, field.Duplicate(p, sa.Namespace+"/"+sa.Name))
		}
		seen.Insert(sa)
	}
	return errs
}

func validateSubjects(names []string, broad sets.Set[string], kind string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, n := range names {
		switch {
		case n == "":
			errs = append(errs, field.Required(fld.Index(i), "a "+kind+" name is required"))
		case broad.Has(n):
			errs = append(errs, field.Forbidden(fld.Index(i), fmt.Sprintf("%s %q stands for everyone of its kind: as an owner it would make them all owners of the tenant", kind, n)))
		case seen.Has(n):
			errs = append(errs, field.Duplicate(fld.Index(i), n))
		}
		seen.Insert(n)
	}
	return errs
}

func validateTenantNamespaces(n *v1alpha1.TenantNamespaces, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(n.Names) == 0 && n.Selector == nil {
		errs = append(errs, field.Required(fld, "names or a selector is required"))
	}
	seen := sets.New[string]()
	for i, name := range n.Names {
		p := fld.Child("names").Index(i)
		for _, msg := range validation.IsDNS1123Label(name) {
			errs = append(errs, field.Invalid(p, name, msg))
		}
		if SystemNamespaces.Has(name) {
			errs = append(errs, field.Forbidden(p, fmt.Sprintf("%q is a system namespace: it cannot belong to a tenant", name)))
		}
		if seen.Has(name) {
			errs = append(errs, field.Duplicate(p, name))
		}
		seen.Insert(name)
	}
	if n.Selector != nil {
		errs = append(errs, validateSelector(n.Selector, fld.Child("selector"))...)
	}
	return errs
}

// validateSelector checks a label selector as the API server does, and
// refuses an empty one: it would select every namespace.
func validateSelector(s *metav1.LabelSelector, fld *field.Path) field.ErrorList {
	if len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0 {
		return field.ErrorList{field.Invalid(fld, "{}", "an empty selector selects every namespace: give matchLabels or matchExpressions")}
	}
	return metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, fld)
}

func validateNodes(n *v1alpha1.TenantNodes, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if n.Taint == nil {
		errs = append(errs, field.Required(fld.Child("taint"), "the tenant's nodes need a taint (default kguard.io/tenant=<name>:NoSchedule)"))
	} else {
		errs = append(errs, validateTaint(n.Taint, fld.Child("taint"))...)
	}
	if len(n.Labels) == 0 {
		errs = append(errs, field.Required(fld.Child("labels"), "the tenant's nodes need labels (default kguard.io/tenant: <name>)"))
	}
	errs = append(errs, metav1validation.ValidateLabels(n.Labels, fld.Child("labels"))...)
	switch n.Mode {
	case v1alpha1.TenantNodeModeInject, v1alpha1.TenantNodeModeRequire:
	default:
		errs = append(errs, field.NotSupported(fld.Child("mode"), n.Mode, []string{string(v1alpha1.TenantNodeModeInject), string(v1alpha1.TenantNodeModeRequire)}))
	}
	return errs
}

// validateTaint checks a taint as the API server checks a Node's, and refuses
// PreferNoSchedule, which lets other tenants' pods onto the nodes.
func validateTaint(t *v1alpha1.TenantTaint, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Key == "" {
		errs = append(errs, field.Required(fld.Child("key"), ""))
	} else {
		for _, msg := range validation.IsQualifiedName(t.Key) {
			errs = append(errs, field.Invalid(fld.Child("key"), t.Key, msg))
		}
	}
	for _, msg := range validation.IsValidLabelValue(t.Value) {
		errs = append(errs, field.Invalid(fld.Child("value"), t.Value, msg))
	}
	switch t.Effect {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute:
	case "":
		errs = append(errs, field.Required(fld.Child("effect"), ""))
	case corev1.TaintEffectPreferNoSchedule:
		errs = append(errs, field.Forbidden(fld.Child("effect"), "PreferNoSchedule does not keep other tenants' pods off the tenant's nodes: use NoSchedule or NoExecute"))
	default:
		errs = append(errs, field.NotSupported(fld.Child("effect"), t.Effect, []string{string(corev1.TaintEffectNoSchedule), string(corev1.TaintEffectNoExecute)}))
	}
	return errs
}

func validatePodSecurity(p *v1alpha1.TenantPodSecurity, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch p.Level {
	case v1alpha1.PodSecurityLevelPrivileged, v1alpha1.PodSecurityLevelBaseline, v1alpha1.PodSecurityLevelRestricted:
	case "":
		if len(p.PodSecurityPolicies) == 0 {
			errs = append(errs, field.Required(fld.Child("level"), "a level or podSecurityPolicies is required"))
		}
	default:
		errs = append(errs, field.NotSupported(fld.Child("level"), p.Level, []string{
			string(v1alpha1.PodSecurityLevelPrivileged), string(v1alpha1.PodSecurityLevelBaseline), string(v1alpha1.PodSecurityLevelRestricted)}))
	}
	seen := sets.New[string]()
	for i, name := range p.PodSecurityPolicies {
		pp := fld.Child("podSecurityPolicies").Index(i)
		for _, msg := range validation.IsDNS1123Subdomain(name) {
			errs = append(errs, field.Invalid(pp, name, msg))
		}
		if seen.Has(name) {
			errs = append(errs, field.Duplicate(pp, name))
		}
		seen.Insert(name)
	}
	switch p.Seccomp {
	case corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined:
	default:
		errs = append(errs, field.NotSupported(fld.Child("seccomp"), p.Seccomp, []string{
			string(corev1.SeccompProfileTypeRuntimeDefault), string(corev1.SeccompProfileTypeUnconfined)}))
	}
	switch p.SELinux {
	case v1alpha1.TenantSELinuxPerPod, v1alpha1.TenantSELinuxPerTenant, v1alpha1.TenantSELinuxOff:
	default:
		errs = append(errs, field.NotSupported(fld.Child("seLinux"), p.SELinux, []string{
			string(v1alpha1.TenantSELinuxPerPod), string(v1alpha1.TenantSELinuxPerTenant), string(v1alpha1.TenantSELinuxOff)}))
	}
	return errs
}

var serviceTypes = []string{
	string(corev1.ServiceTypeClusterIP), string(corev1.ServiceTypeNodePort),
	string(corev1.ServiceTypeLoadBalancer), string(corev1.ServiceTypeExternalName),
}

func validateServices(s *v1alpha1.TenantServices, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	types := fld.Child("allowedTypes")
	if len(s.AllowedTypes) == 0 {
		errs = append(errs, field.Required(types, "at least one Service type is required (default ClusterIP)"))
	}
	seen := sets.New[corev1.ServiceType]()
	for i, t := range s.AllowedTypes {
		if !sets.New(serviceTypes...).Has(string(t)) {
			errs = append(errs, field.NotSupported(types.Index(i), t, serviceTypes))
		}
		if seen.Has(t) {
			errs = append(errs, field.Duplicate(types.Index(i), t))
		}
		seen.Insert(t)
	}
	ranges := fld.Child("loadBalancerSourceRanges")
	switch lb := seen.Has(corev1.ServiceTypeLoadBalancer); {
	case lb && len(s.LoadBalancerSourceRanges) == 0:
		errs = append(errs, field.Required(ranges, "allowedTypes has LoadBalancer: the CIDRs its LoadBalancers may be reached from are required"))
	case !lb && len(s.LoadBalancerSourceRanges) > 0:
		errs = append(errs, field.Forbidden(ranges, "may only be set when allowedTypes has LoadBalancer"))
	}
	errs = append(errs, validateCIDRs(s.LoadBalancerSourceRanges, ranges)...)
	return errs
}

func validateCIDRs(cidrs []string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, c := range cidrs {
		errs = append(errs, validation.IsValidCIDR(fld.Index(i), c)...)
		if seen.Has(c) {
			errs = append(errs, field.Duplicate(fld.Index(i), c))
		}
		seen.Insert(c)
	}
	return errs
}

func validateNetwork(n *v1alpha1.TenantNetwork, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateCIDRs(n.BlockedEgressCIDRs, fld.Child("blockedEgressCIDRs"))...)
	for i, peer := range n.IngressFrom {
		p := fld.Child("ingressFrom").Index(i)
		set := 0
		if peer.Tenant != "" {
			set++
			for _, msg := range validation.IsDNS1123Label(peer.Tenant) {
				errs = append(errs, field.Invalid(p.Child("tenant"), peer.Tenant, msg))
			}
		}
		if peer.NamespaceSelector != nil {
			set++
			errs = append(errs, validateSelector(peer.NamespaceSelector, p.Child("namespaceSelector"))...)
		}
		if peer.CIDR != "" {
			set++
			errs = append(errs, validation.IsValidCIDR(p.Child("cidr"), peer.CIDR)...)
		}
		switch {
		case set == 0:
			errs = append(errs, field.Required(p, "one of tenant, namespaceSelector or cidr is required"))
		case set > 1:
			errs = append(errs, field.Forbidden(p, "only one of tenant, namespaceSelector or cidr may be set"))
		}
	}
	return errs
}

var quotaScopes = []string{
	string(corev1.ResourceQuotaScopeTerminating), string(corev1.ResourceQuotaScopeNotTerminating),
	string(corev1.ResourceQuotaScopeBestEffort), string(corev1.ResourceQuotaScopeNotBestEffort),
	string(corev1.ResourceQuotaScopePriorityClass), string(corev1.ResourceQuotaScopeCrossNamespacePodAffinity),
	string(corev1.ResourceQuotaScopeVolumeAttributesClass),
}

var limitTypes = []string{string(corev1.LimitTypePod), string(corev1.LimitTypeContainer), string(corev1.LimitTypePersistentVolumeClaim)}

// validateQuota checks the templates as the API server checks ResourceQuotas
// and LimitRanges: resource names, non-negative quantities, known scopes and
// limit types, and min <= defaultRequest <= default <= max.
func validateQuota(q *v1alpha1.TenantQuota, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if rq := q.ResourceQuota; rq != nil {
		p := fld.Child("resourceQuota")
		errs = append(errs, validateResourceList(rq.Hard, p.Child("hard"))...)
		for i, s := range rq.Scopes {
			if !sets.New(quotaScopes...).Has(string(s)) {
				errs = append(errs, field.NotSupported(p.Child("scopes").Index(i), s, quotaScopes))
			}
		}
		if rq.ScopeSelector != nil {
			for i, e := range rq.ScopeSelector.MatchExpressions {
				ep := p.Child("scopeSelector", "matchExpressions").Index(i)
				if !sets.New(quotaScopes...).Has(string(e.ScopeName)) {
					errs = append(errs, field.NotSupported(ep.Child("scopeName"), e.ScopeName, quotaScopes))
				}
				switch e.Operator {
				case corev1.ScopeSelectorOpIn, corev1.ScopeSelectorOpNotIn:
					if len(e.Values) == 0 {
						errs = append(errs, field.Required(ep.Child("values"), "must be at least one value when `operator` is 'In' or 'NotIn' for resource quota"))
					}
				case corev1.ScopeSelectorOpExists, corev1.ScopeSelectorOpDoesNotExist:
					if len(e.Values) != 0 {
						errs = append(errs, field.Invalid(ep.Child("values"), e.Values, "must be no value when `operator` is 'Exist' or 'DoesNotExist' for resource quota"))
					}
				default:
					errs = append(errs, field.NotSupported(ep.Child("operator"), e.Operator, []string{"In", "NotIn", "Exists", "DoesNotExist"}))
				}
			}
		}
	}
	if lr := q.LimitRange; lr != nil {
		p := fld.Child("limitRange", "limits")
		for i, item := range lr.Limits {
			errs = append(errs, validateLimitRangeItem(&item, p.Index(i))...)
		}
	}
	return errs
}

func validateLimitRangeItem(item *corev1.LimitRangeItem, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !sets.New(limitTypes...).Has(string(item.Type)) {
		errs = append(errs, field.NotSupported(fld.Child("type"), item.Type, limitTypes))
	}
	if item.Type == corev1.LimitTypePod {
		if len(item.Default) > 0 {
			errs = append(errs, field.Forbidden(fld.Child("default"), "may not be specified when `type` is 'Pod'"))
		}
		if len(item.DefaultRequest) > 0 {
			errs = append(errs, field.Forbidden(fld.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
		}
	}
	for _, l := range []struct {
		name string
		list corev1.ResourceList
	}{{"max", item.Max}, {"min", item.Min}, {"default", item.Default}, {"defaultRequest", item.DefaultRequest}, {"maxLimitRequestRatio", item.MaxLimitRequestRatio}} {
		errs = append(errs, validateResourceList(l.list, fld.Child(l.name))...)
	}
	for name, ratio := range item.MaxLimitRequestRatio {
		if ratio.Cmp(resource.MustParse("1")) < 0 {
			errs = append(errs, field.Invalid(fld.Child("maxLimitRequestRatio").Key(string(name)), ratio.String(), "ratio must be greater than or equal to 1"))
		}
	}
	// The order the API server checks: min <= max, min <= defaultRequest <= max,
	// min <= default <= max, defaultRequest <= default.
	type bound struct {
		lo, hi         corev1.ResourceList
		loName, hiName string
	}
	for _, b := range []bound{
		{item.Min, item.Max, "min", "max"},
		{item.Min, item.DefaultRequest, "min", "defaultRequest"},
		{item.DefaultRequest, item.Max, "defaultRequest", "max"},
		{item.Min, item.Default, "min", "default"},
		{item.Default, item.Max, "default", "max"},
		{item.DefaultRequest, item.Default, "defaultRequest", "default"},
	} {
		for _, name := range sets.List(sets.KeySet(b.lo)) {
			lo := b.lo[name]
			hi, ok := b.hi[name]
			if ok && lo.Cmp(hi) > 0 {
				errs = append(errs, field.Invalid(fld.Child(b.loName).Key(string(name)), lo.String(),
					fmt.Sprintf("%s value %s is greater than %s value %s", b.loName, lo.String(), b.hiName, hi.String())))
			}
		}
	}
	return errs
}

// validateResourceList checks resource names (qualified names) and
// quantities (not negative), in name order.
func validateResourceList(list corev1.ResourceList, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range sets.List(sets.KeySet(list)) {
		p := fld.Key(string(name))
		for _, msg := range validation.IsQualifiedName(string(name)) {
			errs = append(errs, field.Invalid(p, name, msg))
		}
		if q := list[name]; q.Sign() < 0 {
			errs = append(errs, field.Invalid(p, q.String(), "must be greater than or equal to 0"))
		}
	}
	return errs
}

// ValidateTenants checks what no single Tenant can: tenant names are unique,
// and a namespace belongs to at most one tenant, whether named or selected by
// labels (selectors are matched against namespaces, the cluster's or the
// input's). A conflict is one error, at the field of the later tenant that
// claims the namespace, naming both tenants. Each tenant is expected to have
// passed ValidateTenant; invalid selectors are skipped here.
func ValidateTenants(tenants []*v1alpha1.Tenant, namespaces []*corev1.Namespace) field.ErrorList {
	type claim struct {
		tenant string
		path   *field.Path
	}
	var errs field.ErrorList
	owner := map[string]claim{}
	claimNamespace := func(ns string, c claim) {
		prev, ok := owner[ns]
		switch {
		case !ok:
			owner[ns] = c
		case prev.tenant != c.tenant:
			errs = append(errs, field.Invalid(c.path, ns, fmt.Sprintf(
				"namespace %q belongs to tenant %q (by %s) and to tenant %q (by %s): a namespace belongs to at most one tenant",
				ns, prev.tenant, prev.path, c.tenant, c.path)))
		}
	}
	names := sets.New[string]()
	for _, t := range tenants {
		if names.Has(t.Name) {
			errs = append(errs, field.Duplicate(field.NewPath("metadata", "name"), t.Name))
			continue
		}
		names.Insert(t.Name)
		fld := field.NewPath("spec", "namespaces")
		for i, n := range t.Spec.Namespaces.Names {
			claimNamespace(n, claim{t.Name, fld.Child("names").Index(i)})
		}
		if t.Spec.Namespaces.Selector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(t.Spec.Namespaces.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		for _, ns := range namespaces {
			if !sel.Matches(labels.Set(ns.Labels)) {
				continue
			}
			if SystemNamespaces.Has(ns.Name) {
				errs = append(errs, field.Forbidden(fld.Child("selector"), fmt.Sprintf(
					"tenant %q selects the system namespace %q: it cannot belong to a tenant", t.Name, ns.Name)))
				continue
			}
			claimNamespace(ns.Name, claim{t.Name, fld.Child("selector")})
		}
	}
	return errs
}
