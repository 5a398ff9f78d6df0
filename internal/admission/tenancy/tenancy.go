// Package tenancy is the admission plugin Tenancy: the guardrails of seed
// 004 that kguard.io Tenants ask for, in their namespaces. Pods and pod
// templates are kept on the tenant's nodes — its toleration and
// nodeSelector injected (mode inject) or required (mode require) — and may
// not tolerate another tenant's taint, tolerate every taint, select another
// tenant's nodes or name a node themselves; they get the tenant's seccomp
// profile when they set none. Services may not claim externalIPs or use a
// type the tenant does not allow. Each denial names the tenant, the field
// and the rule. The rules (this file) do no I/O.
package tenancy

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kguard/kguard/internal/podspec"
	"github.com/kguard/kguard/internal/tenant"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// Index finds the tenants a namespace, a toleration or a node selector
// concerns. It is immutable.
type Index struct {
	*tenant.Ownership
	// byTaintKey and byNodeLabel ("key=value") find the tenants a
	// toleration or a node selector may concern without going through all.
	byTaintKey   map[string][]*v1alpha1.Tenant
	byTaintValue map[string][]*v1alpha1.Tenant // "key=value"
	byNodeLabel  map[string][]*v1alpha1.Tenant
	nodes        map[*v1alpha1.Tenant]*tenantNodes
}

// tenantNodes is what the rules read of a tenant's nodes, worked out once
// (sorting its labels and looking up other tenants' on every pod was a
// fifth of the plugin's call).
type tenantNodes struct {
	toleration corev1.Toleration // the one its pods carry
	labels     []nodeLabel       // its node labels, by key
	// ownLabels: no other tenant's nodes carry one of labels, so that a node
	// selector made of them selects no other tenant's nodes.
	ownLabels bool
}

type nodeLabel struct{ key, value string }

// NewIndex indexes defaulted, validated tenants; namespaces are the known
// Namespaces, which their selectors are matched against (a namespace
// kguard does not know yet is matched by name only until it does).
func NewIndex(tenants []*v1alpha1.Tenant, namespaces []*corev1.Namespace) (*Index, error) {
	own, err := tenant.New(tenants, namespaces)
	if err != nil {
		return nil, err
	}
	ix := &Index{Ownership: own,
		byTaintKey: map[string][]*v1alpha1.Tenant{}, byTaintValue: map[string][]*v1alpha1.Tenant{}, byNodeLabel: map[string][]*v1alpha1.Tenant{},
		nodes: map[*v1alpha1.Tenant]*tenantNodes{}}
	for _, t := range own.Tenants() {
		if tt := t.Spec.Nodes.Taint; tt != nil {
			ix.byTaintKey[tt.Key] = append(ix.byTaintKey[tt.Key], t)
			ix.byTaintValue[tt.Key+"="+tt.Value] = append(ix.byTaintValue[tt.Key+"="+tt.Value], t)
		}
		for k, v := range t.Spec.Nodes.Labels {
			ix.byNodeLabel[k+"="+v] = append(ix.byNodeLabel[k+"="+v], t)
		}
	}
	for _, t := range own.Tenants() {
		if t.Spec.Nodes.Taint == nil {
			// SetTenantDefaults gives every tenant one; reading files or the
			// cluster defaults every tenant.
			return nil, fmt.Errorf("tenant %q: spec.nodes.taint is not set (the tenant was not defaulted)", t.Name)
		}
		n := nodesOf(t)
		n.ownLabels = true
		for _, l := range n.labels {
			if len(ix.byNodeLabel[l.key+"="+l.value]) > 1 {
				n.ownLabels = false
			}
		}
		ix.nodes[t] = n
	}
	return ix, nil
}

// nodesOf works out t's tenantNodes (ownLabels: false, not known).
func nodesOf(t *v1alpha1.Tenant) *tenantNodes {
	n := &tenantNodes{toleration: toleration(t)}
	for _, k := range sortedKeys(t.Spec.Nodes.Labels) {
		n.labels = append(n.labels, nodeLabel{k, t.Spec.Nodes.Labels[k]})
	}
	return n
}

// nodesOf is t's tenantNodes.
func (ix *Index) nodesOf(t *v1alpha1.Tenant) *tenantNodes {
	if n := ix.nodes[t]; n != nil {
		return n
	}
	return nodesOf(t) // not one of ix's tenants
}

// specPath is a pod's spec, where its field paths start (a Path is never
// changed: Child makes a new one).
var specPath = field.NewPath("spec")

// Len is the number of tenants.
func (ix *Index) Len() int { return len(ix.Tenants()) }

// toleration is the one a tenant's pods carry.
func toleration(t *v1alpha1.Tenant) corev1.Toleration {
	tt := t.Spec.Nodes.Taint
	return corev1.Toleration{Key: tt.Key, Operator: corev1.TolerationOpEqual, Value: tt.Value, Effect: tt.Effect}
}

func taint(t *v1alpha1.Tenant) corev1.Taint {
	tt := t.Spec.Nodes.Taint
	return corev1.Taint{Key: tt.Key, Value: tt.Value, Effect: tt.Effect}
}

// Inject adds, in mode inject, the tenant's toleration and node labels to
// spec, and its seccomp profile when the pod sets none. It reports whether
// spec changed. A nodeSelector key the pod already sets is left for
// Validate to judge.
func (ix *Index) Inject(t *v1alpha1.Tenant, spec *corev1.PodSpec) bool {
	changed := false
	if t.Spec.Nodes.Mode == v1alpha1.TenantNodeModeInject {
		n := ix.nodesOf(t)
		tol := &n.toleration
		if !slices.ContainsFunc(spec.Tolerations, func(x corev1.Toleration) bool { return x.MatchToleration(tol) }) {
			spec.Tolerations = append(spec.Tolerations, *tol)
			changed = true
		}
		for _, l := range n.labels {
			if _, set := spec.NodeSelector[l.key]; set {
				continue
			}
			if spec.NodeSelector == nil {
				spec.NodeSelector = make(map[string]string, len(n.labels))
			}
			spec.NodeSelector[l.key] = l.value
			changed = true
		}
	}
	if sc := t.Spec.PodSecurity.Seccomp; sc != "" && !setsSeccomp(spec) {
		if spec.SecurityContext == nil {
			spec.SecurityContext = &corev1.PodSecurityContext{}
		}
		spec.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: sc}
		changed = true
	}
	return changed
}

// setsSeccomp: the pod, or every one of its containers, names a profile.
func setsSeccomp(spec *corev1.PodSpec) bool {
	if spec.SecurityContext != nil && spec.SecurityContext.SeccompProfile != nil {
		return true
	}
	n := 0
	for _, cs := range [2][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			if sc := cs[i].SecurityContext; sc == nil || sc.SeccompProfile == nil {
				return false
			}
			n++
		}
	}
	return n > 0
}

func sortedKeys(m map[string]string) []string {
	return appendSortedKeys(make([]string, 0, len(m)), m)
}

// appendSortedKeys appends m's keys to dst in order (dst on the caller's
// stack spares an allocation for the usual one or two node labels).
func appendSortedKeys(dst []string, m map[string]string) []string {
	for k := range m {
		dst = append(dst, k)
	}
	slices.Sort(dst)
	return dst
}

// ValidatePod judges a tenant's pod spec (at path: spec, or the template's
// spec.template.spec); create is a creation (a pod that names its node
// bypasses the scheduler; an UPDATE keeps the node the scheduler bound).
func (ix *Index) ValidatePod(t *v1alpha1.Tenant, spec *corev1.PodSpec, path *field.Path, create bool) field.ErrorList {
	var errs field.ErrorList
	n := ix.nodesOf(t)
	own := &n.toleration
	ownTaint := taint(t)
	hasOwn := false
	for i := range spec.Tolerations {
		tol := &spec.Tolerations[i]
		// The path only for a denial: most pods are admitted.
		p := func() *field.Path { return path.Child("tolerations").Index(i) }
		if tol.MatchToleration(own) {
			// It tolerates the tenant's taint and nothing else (an Equal
			// toleration with an effect): another tenant's taint only when
			// it is the same, which is not refused.
			hasOwn = true
			continue
		}
		// Written otherwise (no operator, which means Equal; no effect,
		// which means every effect), it may still be the tenant's.
		hasOwn = hasOwn || tol.ToleratesTaint(logr.Discard(), &ownTaint, true)
		if tol.Key == "" {
			if tol.Operator == corev1.TolerationOpExists {
				errs = append(errs, field.Forbidden(p(), fmt.Sprintf("tolerates every taint, the other tenants' too (tenant %q may tolerate only %s)", t.Name, describeTaint(ownTaint))))
			} else {
				// kube-apiserver refuses it; offline it would tolerate the
				// value under every key.
				errs = append(errs, field.Invalid(p().Child("operator"), tol.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
			}
			continue
		}
		// A toleration with a key concerns only the tenants tainted with it
		// (an Equal one, only those with its value).
		candidates := ix.byTaintKey[tol.Key]
		if tol.Operator == corev1.TolerationOpEqual || tol.Operator == "" {
			candidates = ix.byTaintValue[tol.Key+"="+tol.Value]
		}
		for _, other := range candidates {
			if other == t {
				continue
			}
			ot := taint(other)
			if tol.ToleratesTaint(logr.Discard(), &ot, true) && !(own.Key == ot.Key && own.Value == ot.Value && own.Effect == ot.Effect) {
				errs = append(errs, field.Forbidden(p(), fmt.Sprintf("tolerates the taint of tenant %q (%s)", other.Name, describeTaint(ot))))
			}
		}
	}
	// A selector that selects a tenant's nodes has one of its labels (none
	// to look for when the selector is made of the tenant's own labels,
	// which no other tenant's nodes carry: what injection gives).
	var seen map[*v1alpha1.Tenant]bool
	var keys [4]string
	var selected []string
	if !n.ownLabels || !onlyLabels(spec.NodeSelector, n.labels) {
		selected = appendSortedKeys(keys[:0], spec.NodeSelector)
	}
	for _, k := range selected {
		for _, other := range ix.byNodeLabel[k+"="+spec.NodeSelector[k]] {
			if other == t || seen[other] {
				continue
			}
			if seen == nil {
				seen = map[*v1alpha1.Tenant]bool{}
			}
			seen[other] = true
			if selectsAll(spec.NodeSelector, other.Spec.Nodes.Labels) {
				errs = append(errs, field.Forbidden(path.Child("nodeSelector"), fmt.Sprintf("selects the nodes of tenant %q", other.Name)))
			}
		}
	}
	for _, l := range n.labels {
		if got, set := spec.NodeSelector[l.key]; set && got != l.value {
			errs = append(errs, field.Invalid(path.Child("nodeSelector").Key(l.key), got, fmt.Sprintf("tenant %q's pods run on its nodes (%s=%s)", t.Name, l.key, l.value)))
		}
	}
	errs = append(errs, ix.affinity(t, spec, path)...)
	if t.Spec.Nodes.Mode == v1alpha1.TenantNodeModeRequire {
		if !hasOwn {
			errs = append(errs, field.Required(path.Child("tolerations"), fmt.Sprintf("tenant %q's pods must tolerate its taint %s", t.Name, describeTaint(taint(t)))))
		}
		for _, l := range n.labels {
			if _, set := spec.NodeSelector[l.key]; !set {
				errs = append(errs, field.Required(path.Child("nodeSelector").Key(l.key), fmt.Sprintf("tenant %q's pods must select its nodes (%s=%s)", t.Name, l.key, l.value)))
			}
		}
	}
	if create && spec.NodeName != "" {
		errs = append(errs, field.Forbidden(path.Child("nodeName"), fmt.Sprintf("tenant %q's pods are placed by the scheduler on its nodes, not by name", t.Name)))
	}
	return append(errs, unisolable(t, spec, path)...)
}

// unisolable refuses what SELinux MCS levels cannot confine, in a tenant
// whose pods are isolated by them (seLinux perPod or perTenant): a
// privileged container runs unconfined (spc_t), and a pod in the host's
// PID namespace sees and signals every process of the node.
func unisolable(t *v1alpha1.Tenant, spec *corev1.PodSpec, path *field.Path) field.ErrorList {
	mode := t.Spec.PodSecurity.SELinux
	if mode == v1alpha1.TenantSELinuxOff || mode == "" {
		return nil
	}
	var errs field.ErrorList
	if spec.HostPID {
		errs = append(errs, field.Forbidden(path.Child("hostPID"), fmt.Sprintf("tenant %q isolates its pods with SELinux MCS levels (seLinux: %s); a pod in the host's PID namespace sees and signals every process of the node, whatever its level (a tenant that needs it sets seLinux: \"off\")", t.Name, mode)))
	}
	check := func(field_ string, cs []corev1.Container) {
		for i, c := range cs {
			if podspec.Privileged(c.SecurityContext) {
				errs = append(errs, privilegedUnconfined(t, path.Child(field_).Index(i)))
			}
		}
	}
	check("initContainers", spec.InitContainers)
	check("containers", spec.Containers)
	for i, c := range spec.EphemeralContainers {
		if podspec.Privileged(c.SecurityContext) {
			errs = append(errs, privilegedUnconfined(t, path.Child("ephemeralContainers").Index(i)))
		}
	}
	return errs
}

// privilegedUnconfined refuses the privileged container at path (a
// container of a pod of t, isolated by SELinux MCS levels): it runs
// unconfined (spc_t).
func privilegedUnconfined(t *v1alpha1.Tenant, path *field.Path) *field.Error {
	return field.Forbidden(path.Child("securityContext", "privileged"),
		fmt.Sprintf("tenant %q isolates its pods with SELinux MCS levels (seLinux: %s); a privileged container runs unconfined by SELinux (a tenant that needs it sets seLinux: \"off\")", t.Name, t.Spec.PodSecurity.SELinux))
}

// affinity refuses required node affinity terms that select another
// tenant's nodes by their labels: a term whose expressions on the other
// tenant's label keys all match its nodes' values, as the scheduler
// matches them (In, NotIn, Exists, DoesNotExist, Gt, Lt), at least one
// such expression in it. Expressions on other keys may hold on any node
// and decide nothing; matchFields name nodes, not tenants.
func (ix *Index) affinity(t *v1alpha1.Tenant, spec *corev1.PodSpec, path *field.Path) field.ErrorList {
	if spec.Affinity == nil || spec.Affinity.NodeAffinity == nil || spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	var errs field.ErrorList
	terms := path.Child("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
	for i, term := range spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if len(term.MatchExpressions) == 0 {
			continue
		}
		for _, other := range ix.Tenants() {
			if other == t {
				continue
			}
			if j, v := selectsNodes(term.MatchExpressions, other.Spec.Nodes.Labels); j >= 0 {
				e := term.MatchExpressions[j]
				errs = append(errs, field.Forbidden(terms.Index(i).Child("matchExpressions").Index(j), fmt.Sprintf("selects the nodes of tenant %q (%s=%s)", other.Name, e.Key, v)))
			}
		}
	}
	return errs
}

// selectsNodes: the expressions hold on nodes labelled labels, so far as
// labels decide (the index of the first expression on one of their keys,
// and its value), or -1.
func selectsNodes(exprs []corev1.NodeSelectorRequirement, labels map[string]string) (int, string) {
	first := -1
	for j := range exprs {
		e := &exprs[j]
		v, has := labels[e.Key]
		if !has {
			continue // the node may carry the key or not: labels decide nothing
		}
		if !requirementHolds(e, v) {
			return -1, ""
		}
		if first < 0 {
			first = j
		}
	}
	if first < 0 {
		return -1, ""
	}
	return first, labels[exprs[first].Key]
}

// requirementHolds: a node whose label e.Key is v meets e, as
// k8s.io/component-helpers' node selector matches (a Gt or Lt value, or a
// label, that is not an integer meets nothing).
func requirementHolds(e *corev1.NodeSelectorRequirement, v string) bool {
	switch e.Operator {
	case corev1.NodeSelectorOpIn:
		return slices.Contains(e.Values, v)
	case corev1.NodeSelectorOpNotIn:
		return !slices.Contains(e.Values, v)
	case corev1.NodeSelectorOpExists:
		return true
	case corev1.NodeSelectorOpDoesNotExist:
		return false
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(e.Values) != 1 {
			return false
		}
		label, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false
		}
		bound, err := strconv.ParseInt(e.Values[0], 10, 64)
		if err != nil {
			return false
		}
		if e.Operator == corev1.NodeSelectorOpGt {
			return label > bound
		}
		return label < bound
	}
	return true // an unknown operator: kube-apiserver refuses it; fail closed
}

// onlyLabels: every entry of selector is one of labels.
func onlyLabels(selector map[string]string, labels []nodeLabel) bool {
	matched := 0
	for _, l := range labels {
		if v, ok := selector[l.key]; ok && v == l.value {
			matched++
		}
	}
	return matched == len(selector)
}

// selectsAll: the selector requires every one of labels.
func selectsAll(selector, labels map[string]string) bool {
	for k, v := range labels {
		if selector[k] != v {
			return false
		}
	}
	return true
}

func describeTaint(t corev1.Taint) string {
	if t.Value == "" {
		return fmt.Sprintf("%s:%s", t.Key, t.Effect)
	}
	return fmt.Sprintf("%s=%s:%s", t.Key, t.Value, t.Effect)
}

// ValidateService judges a tenant's Service: externalIPs (CVE-2020-8554)
// unless the tenant allows them, a type it allows, and a LoadBalancer's
// source ranges within the tenant's.
func ValidateService(t *v1alpha1.Tenant, svc *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if len(svc.Spec.ExternalIPs) > 0 && !t.Spec.Services.ExternalIPs {
		errs = append(errs, field.Forbidden(spec.Child("externalIPs"), fmt.Sprintf("tenant %q's Services may not claim external IPs (they can intercept any address's traffic: CVE-2020-8554)", t.Name)))
	}
	typ := svc.Spec.Type
	if typ == "" {
		typ = corev1.ServiceTypeClusterIP
	}
	if !slices.Contains(t.Spec.Services.AllowedTypes, typ) {
		allowed := make([]string, len(t.Spec.Services.AllowedTypes))
		for i, a := range t.Spec.Services.AllowedTypes {
			allowed[i] = string(a)
		}
		errs = append(errs, field.NotSupported(spec.Child("type"), typ, allowed))
	}
	if typ == corev1.ServiceTypeLoadBalancer && slices.Contains(t.Spec.Services.AllowedTypes, typ) {
		ranges := svc.Spec.LoadBalancerSourceRanges
		if len(ranges) == 0 {
			errs = append(errs, field.Required(spec.Child("loadBalancerSourceRanges"), fmt.Sprintf("tenant %q's LoadBalancers must name their source ranges, within %v", t.Name, t.Spec.Services.LoadBalancerSourceRanges)))
		}
		for i, r := range ranges {
			if !within(r, t.Spec.Services.LoadBalancerSourceRanges) {
				errs = append(errs, field.Invalid(spec.Child("loadBalancerSourceRanges").Index(i), r, fmt.Sprintf("not within tenant %q's source ranges %v", t.Name, t.Spec.Services.LoadBalancerSourceRanges)))
			}
		}
	}
	return errs
}

// within: the CIDR r lies inside one of allowed.
func within(r string, allowed []string) bool {
	p, err := netip.ParsePrefix(r)
	if err != nil {
		return false
	}
	for _, a := range allowed {
		ap, err := netip.ParsePrefix(a)
		if err == nil && ap.Bits() <= p.Bits() && ap.Contains(p.Addr()) {
			return true
		}
	}
	return false
}
