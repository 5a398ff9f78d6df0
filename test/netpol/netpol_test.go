package netpol

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kguard/kguard/internal/tenant"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1/tenantvalidation"
)

// pod is a pod of the model cluster, with one IPv4 and one IPv6 address.
type pod struct {
	ns     string
	labels map[string]string
	ip4    string
	ip6    string
}

// world is a cluster: its Namespaces, Tenants and pods.
type world struct {
	namespaces []*corev1.Namespace
	tenants    []*v1alpha1.Tenant
	pods       []pod
}

func namespace(name string, kv ...string) *corev1.Namespace {
	l := map[string]string{corev1.LabelMetadataName: name}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
}

func (w *world) nsLabels(name string) map[string]string {
	for _, ns := range w.namespaces {
		if ns.Name == name {
			return ns.Labels
		}
	}
	return map[string]string{corev1.LabelMetadataName: name}
}

// policies renders every tenant (defaulted and validated, as kguard's
// sources do) and returns its NetworkPolicies and warnings.
func (w *world) policies(t *testing.T) ([]*networkingv1.NetworkPolicy, []string) {
	t.Helper()
	for _, x := range w.tenants {
		v1alpha1.SetTenantDefaults(x)
		if errs := tenantvalidation.ValidateTenant(x); len(errs) > 0 {
			t.Fatalf("tenant %q invalid: %v", x.Name, errs.ToAggregate())
		}
	}
	if errs := tenantvalidation.ValidateTenants(w.tenants, w.namespaces); len(errs) > 0 {
		t.Fatalf("tenants invalid: %v", errs.ToAggregate())
	}
	r, err := tenant.RenderAll(w.tenants, w.namespaces)
	if err != nil {
		t.Fatal(err)
	}
	var out []*networkingv1.NetworkPolicy
	for _, u := range r.Objects {
		if u.GetKind() != "NetworkPolicy" {
			continue
		}
		np := &networkingv1.NetworkPolicy{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, np); err != nil {
			t.Fatal(err)
		}
		out = append(out, np)
	}
	return out, r.Warnings
}

// --- the oracle: what docs/tenancy.md promises, from the Tenant specs ---

func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		panic(err)
	}
	return s.Matches(labels.Set(l))
}

// tenantOf is the tenant a namespace belongs to, or nil.
func (w *world) tenantOf(ns string) *v1alpha1.Tenant {
	for _, t := range w.tenants {
		if w.owns(t, ns) {
			return t
		}
	}
	return nil
}

func (w *world) owns(t *v1alpha1.Tenant, ns string) bool {
	for _, n := range t.Spec.Namespaces.Names {
		if n == ns {
			return true
		}
	}
	return t.Spec.Namespaces.Selector != nil && selects(t.Spec.Namespaces.Selector, w.nsLabels(ns))
}

func (w *world) tenantNamed(name string) *v1alpha1.Tenant {
	for _, t := range w.tenants {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func inCIDRs(ip string, cidrs []string) bool {
	a := netip.MustParseAddr(ip)
	for _, c := range cidrs {
		p := netip.MustParsePrefix(c)
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// want says whether src (a pod, or nil and srcIP an outside address) may
// reach dst (a pod, or nil and dstIP an outside address).
func (w *world) want(src *pod, srcIP string, dst *pod, dstIP string) bool {
	if src != nil {
		if t := w.tenantOf(src.ns); t != nil && inCIDRs(dstIP, t.Spec.Network.BlockedEgressCIDRs) {
			return false
		}
	}
	if dst == nil {
		return true
	}
	t := w.tenantOf(dst.ns)
	if t == nil {
		return true // no policy outside tenants
	}
	if src != nil && w.owns(t, src.ns) {
		return true
	}
	for _, p := range t.Spec.Network.IngressFrom {
		switch {
		case p.Tenant != "":
			if o := w.tenantNamed(p.Tenant); o != nil && src != nil && w.owns(o, src.ns) {
				return true
			}
		case p.NamespaceSelector != nil:
			if src != nil && selects(p.NamespaceSelector, w.nsLabels(src.ns)) {
				return true
			}
		case p.CIDR != "":
			if inCIDRs(srcIP, []string{p.CIDR}) {
				return true
			}
		}
	}
	return false
}

// --- the evaluator ---

func peer(p *pod, ip string, w *world) *matcher.TrafficPeer {
	if p == nil {
		return &matcher.TrafficPeer{IP: ip}
	}
	return &matcher.TrafficPeer{IP: ip, Internal: &matcher.InternalPeer{
		PodLabels: p.labels, Namespace: p.ns, NamespaceLabels: w.nsLabels(p.ns),
	}}
}

func allowed(pol *matcher.Policy, w *world, src *pod, srcIP string, dst *pod, dstIP string, port int) bool {
	r := pol.IsTrafficAllowed(&matcher.Traffic{
		Source: peer(src, srcIP, w), Destination: peer(dst, dstIP, w),
		ResolvedPort: port, Protocol: corev1.ProtocolTCP,
	})
	return r.Ingress.IsAllowed() && r.Egress.IsAllowed()
}

type counts struct{ allowed, denied int }

// check compares the evaluator with the oracle on every pair of pods (both
// families) and from every pod to, and from every outside address to every
// pod.
func check(t *testing.T, w *world, outside []string) counts {
	t.Helper()
	nps, _ := w.policies(t)
	pol := matcher.BuildNetworkPolicies(true, nps)
	var c counts
	var wrong []string
	try := func(src *pod, srcIP string, dst *pod, dstIP string) {
		got := allowed(pol, w, src, srcIP, dst, dstIP, 8080)
		if got {
			c.allowed++
		} else {
			c.denied++
		}
		if want := w.want(src, srcIP, dst, dstIP); got != want {
			wrong = append(wrong, fmt.Sprintf("%s -> %s: got allowed=%v, want %v", name(src, srcIP), name(dst, dstIP), got, want))
		}
	}
	for i := range w.pods {
		s := &w.pods[i]
		for j := range w.pods {
			d := &w.pods[j]
			try(s, s.ip4, d, d.ip4)
			try(s, s.ip6, d, d.ip6)
		}
		for _, ip := range outside {
			sip := s.ip4
			if strings.Contains(ip, ":") {
				sip = s.ip6
			}
			try(s, sip, nil, ip)
			try(nil, ip, s, sip)
		}
	}
	if len(wrong) > 0 {
		sort.Strings(wrong)
		if len(wrong) > 20 {
			wrong = append(wrong[:20], fmt.Sprintf("... and %d more", len(wrong)-20))
		}
		t.Errorf("%d wrong answers:\n%s", len(wrong), strings.Join(wrong, "\n"))
	}
	return c
}

func name(p *pod, ip string) string {
	if p == nil {
		return ip
	}
	return fmt.Sprintf("%s/%v(%s)", p.ns, p.labels, ip)
}

func addPods(w *world, rng *rand.Rand, perNS int) {
	keys := []string{"app", "tier", "role"}
	vals := []string{"web", "db", "api", "x"}
	n := 0
	for _, ns := range w.namespaces {
		for range perNS {
			n++
			l := map[string]string{}
			for _, k := range keys {
				if rng.IntN(2) == 0 {
					l[k] = vals[rng.IntN(len(vals))]
				}
			}
			w.pods = append(w.pods, pod{ns: ns.Name, labels: l,
				ip4: fmt.Sprintf("10.244.%d.%d", n/200, n%200+1),
				ip6: fmt.Sprintf("fd00:10:244::%x", n)})
		}
	}
}

// outside are addresses outside the cluster: the metadata services, a
// load balancer's, the Internet.
var outside = []string{
	"169.254.169.254", "169.254.0.1", "203.0.113.7", "198.51.100.1", "8.8.8.8",
	"fd00:ec2::254", "fd00:ec2::253", "2001:db8:1::7", "2001:db8:2::1", "2606:4700::1111",
}

func tn(name string, spec v1alpha1.TenantSpec) *v1alpha1.Tenant {
	return &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

func sel(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

// tabled is a fixed cluster exercising each kind of peer.
func tabled() *world {
	return &world{
		namespaces: []*corev1.Namespace{
			namespace("kube-system"), namespace("default"), namespace("monitoring", "monitoring", "true"),
			namespace("ingress", "edge", "true"),
			namespace("a1"), namespace("a2"),
			namespace("b1", "team", "b"), namespace("b2", "team", "b"),
			namespace("c1"), namespace("c2", "team", "c"),
			namespace("d1"), namespace("e1"),
		},
		tenants: []*v1alpha1.Tenant{
			tn("a", v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Names: []string{"a1", "a2"}}}),
			tn("b", v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Selector: sel("team", "b")},
				Network: v1alpha1.TenantNetwork{IngressFrom: []v1alpha1.TenantIngressPeer{{Tenant: "c"}}}}),
			tn("c", v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Names: []string{"c1"}, Selector: sel("team", "c")},
				Network: v1alpha1.TenantNetwork{BlockedEgressCIDRs: []string{"169.254.0.0/16", "fd00:ec2::254/128", "8.8.8.0/24"}}}),
			tn("d", v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Names: []string{"d1"}},
				Network: v1alpha1.TenantNetwork{IngressFrom: []v1alpha1.TenantIngressPeer{
					{Tenant: "a"}, {NamespaceSelector: sel("monitoring", "true")}, {CIDR: "203.0.113.0/24"}, {CIDR: "2001:db8:1::/48"},
				}}}),
			tn("e", v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Names: []string{"e1"}},
				Network: v1alpha1.TenantNetwork{IngressFrom: []v1alpha1.TenantIngressPeer{{Tenant: "ghost"}, {NamespaceSelector: sel("edge", "true")}}}}),
		},
	}
}

func TestTabled(t *testing.T) {
	w := tabled()
	addPods(w, rand.New(rand.NewPCG(1, 2)), 2)
	c := check(t, w, outside)
	t.Logf("tabled: %d allowed, %d denied", c.allowed, c.denied)
	_, warnings := w.policies(t)
	if len(warnings) != 1 || !strings.Contains(warnings[0], `"ghost"`) {
		t.Errorf("warnings = %q, want one about the unknown tenant ghost", warnings)
	}
}

// TestSpotChecks states the promises of docs/tenancy.md case by case, so a
// wrong oracle cannot hide a wrong rendering.
func TestSpotChecks(t *testing.T) {
	w := tabled()
	mk := func(ns string, i int) *pod {
		return &pod{ns: ns, labels: map[string]string{"app": "web"}, ip4: fmt.Sprintf("10.0.0.%d", i), ip6: fmt.Sprintf("fd00::%d", i)}
	}
	a1, a2, b1, b2, c1, c2, d1, e1 := mk("a1", 1), mk("a2", 2), mk("b1", 3), mk("b2", 4), mk("c1", 5), mk("c2", 6), mk("d1", 7), mk("e1", 8)
	ks, mon, def, ing := mk("kube-system", 9), mk("monitoring", 10), mk("default", 11), mk("ingress", 12)
	nps, _ := w.policies(t)
	pol := matcher.BuildNetworkPolicies(true, nps)
	for _, c := range []struct {
		what     string
		src, dst *pod
		srcIP    string // outside source, when src is nil
		dstIP    string // outside destination, when dst is nil
		want     bool
	}{
		{"within a tenant (names)", a1, a2, "", "", true},
		{"within a tenant (selector)", b1, b2, "", "", true},
		{"within a tenant (names and selector)", c1, c2, "", "", true},
		{"tenant to tenant", a1, b1, "", "", false},
		{"tenant to tenant, reverse", b1, a1, "", "", false},
		{"b admits c", c2, b1, "", "", true},
		{"c does not admit b", b1, c1, "", "", false},
		{"d admits a", a2, d1, "", "", true},
		{"d admits monitoring", mon, d1, "", "", true},
		{"a does not admit monitoring", mon, a1, "", "", false},
		{"kube-system to tenant", ks, a1, "", "", false},
		{"default to tenant", def, b1, "", "", false},
		{"e admits ingress ns", ing, e1, "", "", true},
		{"unknown tenant admits nothing", a1, e1, "", "", false},
		{"tenant to kube-system (DNS)", a1, ks, "", "", true},
		{"tenant to other tenant's pod when admitted", c1, b2, "", "", true},
		{"d admits its CIDR", nil, d1, "203.0.113.9", "", true},
		{"d admits its IPv6 CIDR", nil, d1, "2001:db8:1::9", "", true},
		{"a admits no outside address", nil, a1, "203.0.113.9", "", false},
		{"egress to IMDS v4", a1, nil, "", "169.254.169.254", false},
		{"egress to IMDS v6", a1, nil, "", "fd00:ec2::254", false},
		{"egress to the Internet v4", a1, nil, "", "1.1.1.1", true},
		{"egress to the Internet v6", a1, nil, "", "2606:4700::1111", true},
		{"c blocks 8.8.8.0/24", c1, nil, "", "8.8.8.8", false},
		{"kube-system to IMDS (not a tenant)", ks, nil, "", "169.254.169.254", true},
	} {
		for _, v6 := range []bool{false, true} {
			srcIP, dstIP := c.srcIP, c.dstIP
			if c.src != nil {
				srcIP = c.src.ip4
				if v6 {
					srcIP = c.src.ip6
				}
			}
			if c.dst != nil {
				dstIP = c.dst.ip4
				if v6 {
					dstIP = c.dst.ip6
				}
			}
			if (c.src == nil || c.dst == nil) && strings.Contains(srcIP+dstIP, ":") != v6 {
				continue // an outside address has one family
			}
			if got := allowed(pol, w, c.src, srcIP, c.dst, dstIP, 53); got != c.want {
				t.Errorf("%s (%s -> %s): allowed=%v, want %v", c.what, srcIP, dstIP, got, c.want)
			}
		}
	}
}

// randomWorld makes tenants that own named namespaces and/or select by the
// label team, admitting at random other tenants (some unknown), selectors
// and CIDRs. Invalid combinations (overlaps) are dropped tenant by tenant.
func randomWorld(rng *rand.Rand) *world {
	w := &world{namespaces: []*corev1.Namespace{
		namespace("kube-system"), namespace("default"), namespace("monitoring", "monitoring", "true"),
	}}
	nt := 2 + rng.IntN(4)
	for i := range nt {
		name := fmt.Sprintf("t%d", i)
		spec := v1alpha1.TenantSpec{}
		if rng.IntN(3) != 0 {
			for j := range 1 + rng.IntN(2) {
				ns := fmt.Sprintf("%s-n%d", name, j)
				spec.Namespaces.Names = append(spec.Namespaces.Names, ns)
				w.namespaces = append(w.namespaces, namespace(ns, "env", []string{"dev", "prod"}[rng.IntN(2)]))
			}
		}
		if len(spec.Namespaces.Names) == 0 || rng.IntN(2) == 0 {
			spec.Namespaces.Selector = sel("team", name)
			for j := range 1 + rng.IntN(2) {
				w.namespaces = append(w.namespaces, namespace(fmt.Sprintf("%s-s%d", name, j), "team", name, "env", []string{"dev", "prod"}[rng.IntN(2)]))
			}
		}
		for range rng.IntN(3) {
			switch rng.IntN(4) {
			case 0:
				spec.Network.IngressFrom = append(spec.Network.IngressFrom, v1alpha1.TenantIngressPeer{Tenant: fmt.Sprintf("t%d", rng.IntN(nt+1))})
			case 1:
				spec.Network.IngressFrom = append(spec.Network.IngressFrom, v1alpha1.TenantIngressPeer{NamespaceSelector: sel("monitoring", "true")})
			case 2:
				spec.Network.IngressFrom = append(spec.Network.IngressFrom, v1alpha1.TenantIngressPeer{NamespaceSelector: sel("env", "prod")})
			case 3:
				spec.Network.IngressFrom = append(spec.Network.IngressFrom, v1alpha1.TenantIngressPeer{CIDR: []string{"203.0.113.0/24", "2001:db8:1::/48", "198.51.100.1/32"}[rng.IntN(3)]})
			}
		}
		switch rng.IntN(4) {
		case 0:
			spec.Network.BlockedEgressCIDRs = []string{"169.254.169.254/32", "fd00:ec2::/32", "8.8.8.8/32"}
		case 1:
			spec.Network.BlockedEgressCIDRs = []string{"::/0"} // IPv6 egress blocked whole
		}
		w.tenants = append(w.tenants, tn(name, spec))
	}
	return w
}

func TestRandom(t *testing.T) {
	var total counts
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 7))
		w := randomWorld(rng)
		addPods(w, rng, 2)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			c := check(t, w, outside)
			total.allowed += c.allowed
			total.denied += c.denied
		})
	}
	t.Logf("random: %d allowed, %d denied", total.allowed, total.denied)
}
