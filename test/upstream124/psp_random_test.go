package upstream124

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1beta1 "k8s.io/api/policy/v1beta1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	"k8s.io/kubernetes/pkg/apis/policy"
	policyvalidation "k8s.io/kubernetes/pkg/apis/policy/validation"
	rbacvalidation "k8s.io/kubernetes/pkg/registry/rbac/validation"
	upstreampsp "k8s.io/kubernetes/pkg/security/podsecuritypolicy"
	"k8s.io/kubernetes/plugin/pkg/admission/security/podsecuritypolicy"
	rbacauthz "k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac"

	"github.com/kguard/kguard/internal/admission/psp"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
	kguardvalidation "github.com/kguard/kguard/pkg/apis/kguard/v1alpha1/validation"
)

// gen draws the random policies, grants and pods.
type gen struct{ r *rand.Rand }

func (g gen) n(n int) int    { return g.r.IntN(n) }
func (g gen) coin() bool     { return g.r.IntN(2) == 0 }
func (g gen) one(n int) bool { return g.r.IntN(n) == 0 } // with probability 1/n
func (g gen) optBool() *bool { // nil, true or false
	switch g.n(3) {
	case 0:
		return nil
	case 1:
		return ptrBool(true)
	}
	return ptrBool(false)
}

// subset is each of from with probability 1/2, in from's order.
func subset[T any](g gen, from []T) []T {
	var out []T
	for _, x := range from {
		if g.coin() {
			out = append(out, x)
		}
	}
	return out
}

// idRanges are 1–2 ranges, now and then an invalid one (min > max).
func (g gen) idRanges() []policyv1beta1.IDRange {
	all := []policyv1beta1.IDRange{{Min: 0, Max: 0}, {Min: 1, Max: 999}, {Min: 1000, Max: 1000},
		{Min: 1000, Max: 65535}, {Min: 65534, Max: 65534}, {Min: 1, Max: 65535}}
	var out []policyv1beta1.IDRange
	for range 1 + g.n(2) {
		out = append(out, all[g.n(len(all))])
	}
	if g.one(30) {
		out = append(out, policyv1beta1.IDRange{Min: 10, Max: 5})
	}
	return out
}

// ranged is a rule of rules, with ranges for the ranged ones (and, now and
// then, for the others or none at all, which validation refuses).
func (g gen) ranged(rules []string, ranged map[string]bool) (string, []policyv1beta1.IDRange) {
	rule := rules[g.n(len(rules))]
	switch {
	case ranged[rule] && !g.one(25), !ranged[rule] && g.one(25):
		return rule, g.idRanges()
	}
	return rule, nil
}

// randomPolicy is a PodSecurityPolicy in policy/v1beta1, as a user writes it
// (undefaulted), which the API server may or may not accept.
func (g gen) randomPolicy(name string) *policyv1beta1.PodSecurityPolicy {
	p := &policyv1beta1.PodSecurityPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}}
	s := &p.Spec
	// A loose policy allows most of what the pods ask for, a strict one
	// little: both kinds admit some pods and deny others.
	loose := g.coin()
	strict := func(n int) bool { // a restriction, with probability about 1/n (less when loose)
		if loose {
			n *= 4
		}
		return g.one(n)
	}
	s.Privileged = !strict(2)
	s.HostNetwork, s.HostPID, s.HostIPC = !strict(2), !strict(2), !strict(2)
	ports := []policyv1beta1.HostPortRange{{Min: 9000, Max: 9049}, {Min: 9050, Max: 9099}, {Min: 0, Max: 65535},
		{Min: 7000, Max: 7999}, {Min: 9020, Max: 9020}}
	if !strict(2) {
		s.HostPorts = []policyv1beta1.HostPortRange{{Min: 9000, Max: 9099}}
	}
	for range g.n(3) {
		s.HostPorts = append(s.HostPorts, ports[g.n(len(ports))])
	}
	if g.one(40) {
		s.HostPorts = append(s.HostPorts, policyv1beta1.HostPortRange{Min: 9100, Max: 9000})
	}
	if !strict(2) {
		s.Volumes = []policyv1beta1.FSType{policyv1beta1.All}
	} else {
		s.Volumes = subset(g, []policyv1beta1.FSType{policyv1beta1.HostPath, policyv1beta1.Secret, policyv1beta1.ConfigMap,
			policyv1beta1.EmptyDir, policyv1beta1.Projected, policyv1beta1.DownwardAPI, policyv1beta1.PersistentVolumeClaim,
			policyv1beta1.CSI, policyv1beta1.Ephemeral})
		if g.one(10) {
			s.Volumes = append(s.Volumes, policyv1beta1.All)
		}
		if g.one(40) {
			s.Volumes = append(s.Volumes, "floppy")
		}
	}
	if g.coin() {
		s.AllowedHostPaths = subset(g, []policyv1beta1.AllowedHostPath{{PathPrefix: "/var", ReadOnly: true},
			{PathPrefix: "/etc/ssl"}, {PathPrefix: "/var/log"}, {PathPrefix: "/"}, {PathPrefix: "/etc", ReadOnly: true},
			{PathPrefix: "/var/lo"}})
		if g.one(30) {
			s.AllowedHostPaths = append(s.AllowedHostPaths, policyv1beta1.AllowedHostPath{PathPrefix: "/var/../etc"})
		}
	}
	caps := []corev1.Capability{"NET_ADMIN", "NET_BIND_SERVICE", "SYS_ADMIN", "CHOWN"}
	s.AllowedCapabilities = subset(g, caps)
	if !strict(3) {
		s.AllowedCapabilities = append(s.AllowedCapabilities, "*")
	}
	if g.coin() {
		s.DefaultAddCapabilities = subset(g, caps)
	}
	if g.coin() {
		s.RequiredDropCapabilities = subset(g, append([]corev1.Capability{"ALL"}, caps...))
	}
	rule, ranges := "RunAsAny", []policyv1beta1.IDRange(nil)
	if strict(2) {
		rule, ranges = g.ranged([]string{"MustRunAs", "MustRunAsNonRoot", "RunAsAny"}, map[string]bool{"MustRunAs": true})
	}
	s.RunAsUser = policyv1beta1.RunAsUserStrategyOptions{Rule: policyv1beta1.RunAsUserStrategy(rule), Ranges: ranges}
	if strict(2) {
		rule, ranges := g.ranged([]string{"MustRunAs", "MayRunAs", "RunAsAny"}, map[string]bool{"MustRunAs": true, "MayRunAs": true})
		s.RunAsGroup = &policyv1beta1.RunAsGroupStrategyOptions{Rule: policyv1beta1.RunAsGroupStrategy(rule), Ranges: ranges}
	}
	// MustRunAs without ranges is valid for these two (the strategy then
	// uses the namespace's annotation, which kguard refuses: see
	// TestRandomPSPValidationMatchesUpstream124).
	groups := map[string]bool{"MustRunAs": true, "MayRunAs": true}
	rule, ranges = "RunAsAny", nil
	if strict(2) {
		rule, ranges = g.ranged([]string{"MustRunAs", "MayRunAs", "RunAsAny"}, groups)
	}
	s.SupplementalGroups = policyv1beta1.SupplementalGroupsStrategyOptions{Rule: policyv1beta1.SupplementalGroupsStrategyType(rule), Ranges: ranges}
	rule, ranges = "RunAsAny", nil
	if strict(2) {
		rule, ranges = g.ranged([]string{"MustRunAs", "MayRunAs", "RunAsAny"}, groups)
	}
	s.FSGroup = policyv1beta1.FSGroupStrategyOptions{Rule: policyv1beta1.FSGroupStrategyType(rule), Ranges: ranges}
	if strict(3) {
		s.SELinux = policyv1beta1.SELinuxStrategyOptions{Rule: policyv1beta1.SELinuxStrategyMustRunAs,
			SELinuxOptions: &corev1.SELinuxOptions{Level: []string{"s0:c1,c2", "s0"}[g.n(2)]}}
		if g.one(10) {
			s.SELinux.SELinuxOptions.Type = "container_t"
		}
	} else {
		s.SELinux = policyv1beta1.SELinuxStrategyOptions{Rule: policyv1beta1.SELinuxStrategyRunAsAny}
	}
	s.ReadOnlyRootFilesystem = strict(4)
	s.AllowPrivilegeEscalation, s.DefaultAllowPrivilegeEscalation = g.optBool(), g.optBool()
	switch g.n(4) {
	case 1:
		s.AllowedProcMountTypes = []corev1.ProcMountType{corev1.DefaultProcMount}
	case 2:
		s.AllowedProcMountTypes = []corev1.ProcMountType{corev1.DefaultProcMount, corev1.UnmaskedProcMount}
	}
	sysctls := []string{"kernel.msg*", "net.core.somaxconn", "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "*"}
	if g.one(3) {
		s.AllowedUnsafeSysctls = subset(g, sysctls)
	}
	if g.one(3) {
		s.ForbiddenSysctls = subset(g, sysctls)
	}
	a := map[string]string{}
	seccomps := []string{"*", "runtime/default", "docker/default,runtime/default", "localhost/profile.json", "unconfined", "runtime/default,unconfined"}
	if !strict(2) {
		a["seccomp.security.alpha.kubernetes.io/allowedProfileNames"] = "*"
	} else if g.coin() {
		a["seccomp.security.alpha.kubernetes.io/allowedProfileNames"] = seccomps[g.n(len(seccomps))]
	}
	if g.one(3) {
		a["seccomp.security.alpha.kubernetes.io/defaultProfileName"] = []string{"runtime/default", "docker/default", "unconfined"}[g.n(3)]
	}
	apparmors := []string{"runtime/default", "runtime/default,localhost/foo", "localhost/foo", "unconfined"}
	if strict(3) {
		a["apparmor.security.beta.kubernetes.io/allowedProfileNames"] = apparmors[g.n(len(apparmors))]
	}
	if strict(3) {
		a["apparmor.security.beta.kubernetes.io/defaultProfileName"] = apparmors[g.n(len(apparmors))]
	}
	if len(a) != 0 {
		p.Annotations = a
	}
	return p
}

// upstreamValid is what kube-apiserver v1.24 makes of a created policy:
// defaulted, converted, validated (nil when it refuses it).
func upstreamValid(t *testing.T, p *policyv1beta1.PodSecurityPolicy) (*policyv1beta1.PodSecurityPolicy, field.ErrorList) {
	t.Helper()
	p = p.DeepCopy()
	legacyscheme.Scheme.Default(p)
	var internal policy.PodSecurityPolicy
	if err := legacyscheme.Scheme.Convert(p, &internal, nil); err != nil {
		t.Fatal(err)
	}
	return p, policyvalidation.ValidatePodSecurityPolicy(&internal)
}

// randomGrants give "use" on each policy (or on all) to users,
// ServiceAccounts and groups, through Roles and ClusterRoles bound in the
// pods' namespace, cluster-wide, or in another namespace (which grants nothing here).
func (g gen) randomGrants(names []string) ([]*rbacv1.Role, []*rbacv1.RoleBinding, []*rbacv1.ClusterRole, []*rbacv1.ClusterRoleBinding) {
	var (
		roles           []*rbacv1.Role
		bindings        []*rbacv1.RoleBinding
		clusterRoles    []*rbacv1.ClusterRole
		clusterBindings []*rbacv1.ClusterRoleBinding
	)
	subjects := []rbacv1.Subject{
		{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"},
		{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "bob"},
		{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "speaker"},
		{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "default"},
		{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "old"},
		{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: serviceaccount.AllServiceAccountsGroup},
		{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: serviceaccount.MakeNamespaceGroupName(ns)},
		{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: user.AllAuthenticated},
	}
	grant := func(i int, resourceNames ...string) {
		rules := []rbacv1.PolicyRule{{Verbs: []string{"use"}, APIGroups: []string{[]string{"policy", "extensions", "*"}[g.n(3)]},
			Resources: []string{"podsecuritypolicies"}, ResourceNames: resourceNames}}
		subject := subjects[g.n(len(subjects))]
		if g.one(8) { // a bigger grant that includes "use"
			rules[0].Verbs = []string{"get", "list", "use"}
		}
		name := fmt.Sprintf("g%d", i)
		switch g.n(4) {
		case 0: // a Role in the pods' namespace
			roles = append(roles, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules})
			bindings = append(bindings, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Subjects: []rbacv1.Subject{subject}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}})
		case 1: // a ClusterRole bound in the pods' namespace
			clusterRoles = append(clusterRoles, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules})
			bindings = append(bindings, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Subjects: []rbacv1.Subject{subject}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}})
		case 2: // a ClusterRole bound cluster-wide
			clusterRoles = append(clusterRoles, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules})
			clusterBindings = append(clusterBindings, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
				Subjects: []rbacv1.Subject{subject}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}})
		default: // a Role in another namespace: no use here
			roles = append(roles, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: name}, Rules: rules})
			bindings = append(bindings, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: name},
				Subjects: []rbacv1.Subject{subject}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}})
		}
	}
	i := 0
	for _, name := range names {
		for range 1 + g.n(2) {
			grant(i, name)
			i++
		}
	}
	if g.one(5) {
		grant(i) // every policy
	}
	return roles, bindings, clusterRoles, clusterBindings
}

// randomRequester is the user creating the pod.
func (g gen) randomRequester() user.Info {
	return []user.Info{
		&user.DefaultInfo{Name: "alice", Groups: []string{user.AllAuthenticated}},
		&user.DefaultInfo{Name: "bob", Groups: []string{user.AllAuthenticated}},
		serviceaccount.UserInfo(ns, "deployer", ""),
	}[g.n(3)]
}

// randomPolicyPod is securePod with more of what the random policies look
// at: host namespaces, groups, SELinux, read-only root filesystems, proc
// mounts, sysctls, seccomp and AppArmor annotations, volume types.
func (g gen) randomPolicyPod() *corev1.Pod {
	p := securePod(g.r)
	id := func() *int64 { u := []int64{0, 5, 1000, 65534, 70000}[g.n(5)]; return &u }
	p.Spec.HostPID, p.Spec.HostIPC = g.one(6), g.one(6)
	if g.coin() {
		if p.Spec.SecurityContext == nil {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{}
		}
		sc := p.Spec.SecurityContext
		if g.one(3) {
			sc.RunAsGroup = id()
		}
		if g.one(3) {
			sc.FSGroup = id()
		}
		if g.one(3) {
			sc.SupplementalGroups = []int64{*id()}
		}
		if g.one(4) {
			sc.SELinuxOptions = &corev1.SELinuxOptions{Level: []string{"s0:c1,c2", "s0:c3"}[g.n(2)]}
		}
		if g.one(4) {
			for _, s := range subset(g, []string{"kernel.shm_rmid_forced", "net.core.somaxconn", "kernel.msgmax", "net.ipv4.ip_local_port_range"}) {
				sc.Sysctls = append(sc.Sysctls, corev1.Sysctl{Name: s, Value: "1"})
			}
		}
	}
	each := func(c *corev1.Container) {
		if !g.one(3) {
			return
		}
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		sc := c.SecurityContext
		if g.one(3) {
			sc.RunAsGroup = id()
		}
		if g.one(3) {
			sc.ReadOnlyRootFilesystem = ptrBool(g.coin())
		}
		if g.one(5) {
			pm := []corev1.ProcMountType{corev1.DefaultProcMount, corev1.UnmaskedProcMount}[g.n(2)]
			sc.ProcMount = &pm
		}
		if g.one(5) {
			sc.SELinuxOptions = &corev1.SELinuxOptions{Level: "s0:c1,c2"}
		}
	}
	for i := range p.Spec.Containers {
		each(&p.Spec.Containers[i])
	}
	for i := range p.Spec.InitContainers {
		each(&p.Spec.InitContainers[i])
	}
	if g.one(4) {
		extra := []corev1.VolumeSource{
			{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}},
			{CSI: &corev1.CSIVolumeSource{Driver: "csi.example.com"}},
			{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log/pods"}},
			{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lock"}},
		}
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "x", VolumeSource: extra[g.n(len(extra))]})
	}
	profiles := []string{"runtime/default", "docker/default", "unconfined", "localhost/profile.json"}
	set := func(k, v string) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[k] = v
	}
	if g.one(4) {
		set(corev1.SeccompPodAnnotationKey, profiles[g.n(len(profiles))])
	}
	if g.one(6) {
		set(corev1.SeccompContainerAnnotationKeyPrefix+p.Spec.Containers[0].Name, profiles[g.n(len(profiles))])
	}
	if g.one(5) {
		set("container.apparmor.security.beta.kubernetes.io/"+p.Spec.Containers[0].Name,
			[]string{"runtime/default", "localhost/foo", "unconfined"}[g.n(3)])
	}
	return p
}

// TestRandomPSPMatchesUpstream124 is TestPSPMatchesUpstream124 on random
// policy sets (1–4 policies the v1.24 API server's validation accepts),
// random "use" grants and random pods by random requesters.
func TestRandomPSPMatchesUpstream124(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(24, 1))}
	const sets, podsPerSet = 2000, 4
	cases, admitted, mutated, refused, disagreements := 0, 0, 0, 0, 0
	chosen := map[int]int{} // admitted pods by the chosen policy's place in its set
	for set := range sets {
		ps := g.randomPolicySet(t)
		refused += ps.refused
		for range podsPerSet {
			p, u := g.randomPolicyPod(), g.randomRequester()
			cases++
			got, problem := compare(t, ps.plugin, ps.plain, ps.narrowed, p, u)
			if problem != "" {
				disagreements++
				if disagreements <= 10 {
					t.Errorf("set %d, pod by %s: %s\n%s", set, u.GetName(), problem, ps.describe(p))
				}
				continue
			}
			if got.allowed {
				admitted++
				if !apiequality.Semantic.DeepEqual(kguard(t, p).Spec, got.pod.Spec) {
					mutated++
				}
				chosen[sort.SearchStrings(sortedNames(ps.names), got.policy)]++
			}
		}
	}
	if disagreements > 0 {
		t.Errorf("%d of %d cases disagree", disagreements, cases)
	}
	t.Logf("%d policy sets (%d generated policies refused by v1.24's validation), %d cases: %d admitted (%d with a spec the policy changed; by the chosen policy's place in its set: %v), %d denied",
		sets, refused, cases, admitted, mutated, chosen, cases-admitted-disagreements)
	if admitted < cases/10 || cases-admitted < cases/10 || len(chosen) < 3 || mutated < admitted/10 || refused == 0 {
		t.Errorf("the generator covers too little: %d admitted of %d, by place %v, %d policies refused", admitted, cases, chosen, refused)
	}
}

// policySet is one to four random policies valid to both v1.24 and kguard,
// random grants to use them, and v1.24's plugin and kguard's engine (plain,
// and with the rule resolver: narrowed) over them.
type policySet struct {
	pols            []*policyv1beta1.PodSecurityPolicy
	names           []string
	roles           []*rbacv1.Role
	bindings        []*rbacv1.RoleBinding
	clusterRoles    []*rbacv1.ClusterRole
	clusterBindings []*rbacv1.ClusterRoleBinding
	plugin          *podsecuritypolicy.Plugin
	plain, narrowed *psp.Engine
	refused         int // generated policies v1.24's validation refused
}

func (g gen) randomPolicySet(t *testing.T) policySet {
	t.Helper()
	var s policySet
	names := []string{"a", "b", "c", "d"}
	g.r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	for _, name := range names[:1+g.n(4)] {
		for {
			p := g.randomPolicy(name)
			if _, errs := upstreamValid(t, p); len(errs) != 0 {
				s.refused++
				continue
			}
			if len(kguardValidate(t, p)) != 0 {
				continue // refused by kguard on load: see TestRandomPSPValidationMatchesUpstream124
			}
			s.pols = append(s.pols, p)
			s.names = append(s.names, p.Name)
			break
		}
	}
	s.roles, s.bindings, s.clusterRoles, s.clusterBindings = g.randomGrants(s.names)
	_, static := rbacvalidation.NewTestRuleResolver(s.roles, s.bindings, s.clusterRoles, s.clusterBindings)
	authz := rbacauthz.New(static, static, static, static)
	s.plugin = upstreamPSP(t, s.pols, authz)
	var err error
	if s.plain, err = psp.NewEngine(kguardPolicies(t, s.pols), authz); err != nil {
		t.Fatal(err)
	}
	s.narrowed = s.plain.WithRuleResolver(rulesFor{authz})
	return s
}

// describe is a case of the set, for a disagreement.
func (s policySet) describe(p *corev1.Pod) string {
	return describeCase(s.pols, s.roles, s.bindings, s.clusterRoles, s.clusterBindings, p)
}

// TestRandomPSPValidationMatchesUpstream124: kguard's policy validation
// accepts a random policy exactly when v1.24's does and, as documented in
// kguard's validation package, upstream could also build its strategies
// (upstream skips such a policy on every request; kguard refuses it on load).
func TestRandomPSPValidationMatchesUpstream124(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(24, 2))}
	const n = 5000
	accepted, stricter, problems := 0, 0, 0
	for i := range n {
		p := g.randomPolicy("p")
		defaulted, upErrs := upstreamValid(t, p)
		kgErrs := kguardValidate(t, p)
		_, buildErr := upstreampsp.NewSimpleProvider(defaulted, ns, upstreampsp.NewSimpleStrategyFactory())
		want := len(upErrs) == 0 && buildErr == nil
		if got := len(kgErrs) == 0; got != want {
			problems++
			if problems <= 10 {
				b, _ := json.Marshal(defaulted)
				t.Errorf("policy %d: kguard accepts=%v, upstream validation: %v, upstream strategies: %v, kguard: %v\n%s",
					i, got, upErrs.ToAggregate(), buildErr, kgErrs.ToAggregate(), b)
			}
			continue
		}
		if want {
			accepted++
		} else if len(upErrs) == 0 {
			stricter++
		}
	}
	t.Logf("%d policies: %d accepted, %d valid upstream but without buildable strategies, %d refused", n, accepted, stricter, n-accepted-stricter-problems)
	if accepted < n/4 || n-accepted < n/10 {
		t.Errorf("the generator covers too little: %d of %d accepted", accepted, n)
	}
}

// kguardValidate is kguard loading p: its defaults, then its validation.
func kguardValidate(t *testing.T, p *policyv1beta1.PodSecurityPolicy) field.ErrorList {
	t.Helper()
	k := kguardPolicies(t, []*policyv1beta1.PodSecurityPolicy{p})[0]
	v1alpha1.SetDefaults(k)
	return kguardvalidation.Validate(k)
}

func sortedNames(names []string) []string {
	out := append([]string(nil), names...)
	sort.Strings(out)
	return out
}

// describeCase prints a case in full: the policies, the grants, the pod.
func describeCase(pols []*policyv1beta1.PodSecurityPolicy, roles []*rbacv1.Role, bindings []*rbacv1.RoleBinding,
	clusterRoles []*rbacv1.ClusterRole, clusterBindings []*rbacv1.ClusterRoleBinding, p *corev1.Pod) string {
	var b strings.Builder
	for _, x := range []any{pols, roles, bindings, clusterRoles, clusterBindings, p} {
		j, _ := json.Marshal(x)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}
