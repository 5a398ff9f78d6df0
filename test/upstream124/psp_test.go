package upstream124

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1beta1 "k8s.io/api/policy/v1beta1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	api "k8s.io/kubernetes/pkg/apis/core"
	_ "k8s.io/kubernetes/pkg/apis/policy/install" // registers policy/v1beta1 defaults
	rbacvalidation "k8s.io/kubernetes/pkg/registry/rbac/validation"
	"k8s.io/kubernetes/plugin/pkg/admission/security/podsecuritypolicy"
	rbacauthz "k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac"

	"github.com/kguard/kguard/internal/admission/psp"
	"github.com/kguard/kguard/internal/apidefaults"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// The namespace of every pod and grant.
const ns = "ns"

func ptrBool(b bool) *bool { return &b }

// policies are several PodSecurityPolicies at once, so that upstream's and
// kguard's ordering (unchanged pod first, in name order; then the first that
// mutates) is exercised, in policy/v1beta1 as an API server stores them.
func policies() []*policyv1beta1.PodSecurityPolicy {
	base := policyv1beta1.PodSecurityPolicySpec{
		SELinux:            policyv1beta1.SELinuxStrategyOptions{Rule: policyv1beta1.SELinuxStrategyRunAsAny},
		RunAsUser:          policyv1beta1.RunAsUserStrategyOptions{Rule: policyv1beta1.RunAsUserStrategyRunAsAny},
		SupplementalGroups: policyv1beta1.SupplementalGroupsStrategyOptions{Rule: policyv1beta1.SupplementalGroupsStrategyRunAsAny},
		FSGroup:            policyv1beta1.FSGroupStrategyOptions{Rule: policyv1beta1.FSGroupStrategyRunAsAny},
	}
	named := func(name string, annotations map[string]string, spec policyv1beta1.PodSecurityPolicySpec) *policyv1beta1.PodSecurityPolicy {
		return &policyv1beta1.PodSecurityPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}, Spec: spec}
	}
	common := []policyv1beta1.FSType{policyv1beta1.ConfigMap, policyv1beta1.EmptyDir, policyv1beta1.Projected,
		policyv1beta1.Secret, policyv1beta1.DownwardAPI}

	noHostPorts := base
	noHostPorts.Volumes = common
	noHostPorts.HostNetwork = true // but no host port

	hostPorts := base
	hostPorts.Volumes = []policyv1beta1.FSType{policyv1beta1.All}
	hostPorts.HostNetwork = true
	hostPorts.HostPorts = []policyv1beta1.HostPortRange{{Min: 9000, Max: 9049}, {Min: 7500, Max: 7999}}
	hostPorts.AllowPrivilegeEscalation = ptrBool(false)

	hostPathRO := base
	hostPathRO.Volumes = append([]policyv1beta1.FSType{policyv1beta1.HostPath}, common...)
	hostPathRO.AllowedHostPaths = []policyv1beta1.AllowedHostPath{{PathPrefix: "/var", ReadOnly: true}, {PathPrefix: "/etc/ssl"}}

	nonRoot := base
	nonRoot.Volumes = append([]policyv1beta1.FSType{policyv1beta1.HostPath}, common...)
	nonRoot.RunAsUser = policyv1beta1.RunAsUserStrategyOptions{Rule: policyv1beta1.RunAsUserStrategyMustRunAsNonRoot}
	nonRoot.DefaultAddCapabilities = []corev1.Capability{"NET_BIND_SERVICE"}
	nonRoot.AllowedCapabilities = []corev1.Capability{"NET_ADMIN"}
	nonRoot.RequiredDropCapabilities = []corev1.Capability{"SYS_ADMIN"}
	nonRoot.HostNetwork = true
	nonRoot.HostPorts = []policyv1beta1.HostPortRange{{Min: 9050, Max: 9099}}
	nonRoot.DefaultAllowPrivilegeEscalation = ptrBool(false)

	// https://kubernetes.io/docs/concepts/security/pod-security-policy/#example-policies
	restricted := policyv1beta1.PodSecurityPolicySpec{
		Privileged:               false,
		AllowPrivilegeEscalation: ptrBool(false),
		RequiredDropCapabilities: []corev1.Capability{"ALL"},
		Volumes: []policyv1beta1.FSType{policyv1beta1.ConfigMap, policyv1beta1.EmptyDir, policyv1beta1.Projected,
			policyv1beta1.Secret, policyv1beta1.DownwardAPI, policyv1beta1.CSI, policyv1beta1.PersistentVolumeClaim, policyv1beta1.Ephemeral},
		RunAsUser: policyv1beta1.RunAsUserStrategyOptions{Rule: policyv1beta1.RunAsUserStrategyMustRunAsNonRoot},
		SELinux:   policyv1beta1.SELinuxStrategyOptions{Rule: policyv1beta1.SELinuxStrategyRunAsAny},
		SupplementalGroups: policyv1beta1.SupplementalGroupsStrategyOptions{Rule: policyv1beta1.SupplementalGroupsStrategyMustRunAs,
			Ranges: []policyv1beta1.IDRange{{Min: 1, Max: 65535}}},
		FSGroup: policyv1beta1.FSGroupStrategyOptions{Rule: policyv1beta1.FSGroupStrategyMustRunAs,
			Ranges: []policyv1beta1.IDRange{{Min: 1, Max: 65535}}},
	}
	privileged := policyv1beta1.PodSecurityPolicySpec{
		Privileged:               true,
		AllowPrivilegeEscalation: ptrBool(true),
		AllowedCapabilities:      []corev1.Capability{"*"},
		Volumes:                  []policyv1beta1.FSType{policyv1beta1.All},
		HostNetwork:              true,
		HostPorts:                []policyv1beta1.HostPortRange{{Min: 0, Max: 65535}},
		HostIPC:                  true,
		HostPID:                  true,
		RunAsUser:                policyv1beta1.RunAsUserStrategyOptions{Rule: policyv1beta1.RunAsUserStrategyRunAsAny},
		SELinux:                  policyv1beta1.SELinuxStrategyOptions{Rule: policyv1beta1.SELinuxStrategyRunAsAny},
		SupplementalGroups:       policyv1beta1.SupplementalGroupsStrategyOptions{Rule: policyv1beta1.SupplementalGroupsStrategyRunAsAny},
		FSGroup:                  policyv1beta1.FSGroupStrategyOptions{Rule: policyv1beta1.FSGroupStrategyRunAsAny},
	}
	return []*policyv1beta1.PodSecurityPolicy{
		named("restricted", map[string]string{
			"seccomp.security.alpha.kubernetes.io/allowedProfileNames": "docker/default,runtime/default",
			"apparmor.security.beta.kubernetes.io/allowedProfileNames": "runtime/default",
			"seccomp.security.alpha.kubernetes.io/defaultProfileName":  "runtime/default",
			"apparmor.security.beta.kubernetes.io/defaultProfileName":  "runtime/default",
		}, restricted),
		named("privileged", map[string]string{"seccomp.security.alpha.kubernetes.io/allowedProfileNames": "*"}, privileged),
		named("a-no-hostports", nil, noHostPorts),
		named("b-hostports", nil, hostPorts),
		named("c-hostpath-ro", nil, hostPathRO),
		named("d-nonroot-caps", nil, nonRoot),
	}
}

// grants are the RBAC objects granting "use": alice may use the app
// policies, admin all, bob none; every ServiceAccount may use restricted
// (the only one "old" may), "speaker" privileged, "default" c-hostpath-ro
// (which a mirror pod, without ServiceAccount, may then not use).
func grants() ([]*rbacv1.Role, []*rbacv1.RoleBinding, []*rbacv1.ClusterRole, []*rbacv1.ClusterRoleBinding) {
	use := func(group string, names ...string) []rbacv1.PolicyRule {
		return []rbacv1.PolicyRule{{Verbs: []string{"use"}, APIGroups: []string{group}, Resources: []string{"podsecuritypolicies"}, ResourceNames: names}}
	}
	clusterRoles := []*rbacv1.ClusterRole{
		{ObjectMeta: metav1.ObjectMeta{Name: "psp-restricted"}, Rules: use("policy", "restricted")},
		{ObjectMeta: metav1.ObjectMeta{Name: "psp-all"}, Rules: use("extensions")},
		{ObjectMeta: metav1.ObjectMeta{Name: "psp-privileged"}, Rules: use("policy", "privileged")},
	}
	roles := []*rbacv1.Role{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "psp-app"}, Rules: use("policy", "a-no-hostports", "b-hostports", "c-hostpath-ro", "d-nonroot-caps")},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "psp-hostpath"}, Rules: use("policy", "c-hostpath-ro")},
	}
	sa := func(name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}
	}
	usr := func(name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
	}
	grp := func(name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
	}
	clusterBindings := []*rbacv1.ClusterRoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "serviceaccounts-restricted"}, Subjects: []rbacv1.Subject{grp(serviceaccount.AllServiceAccountsGroup)},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "psp-restricted"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "admin-all"}, Subjects: []rbacv1.Subject{usr("admin")},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "psp-all"}},
	}
	bindings := []*rbacv1.RoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "alice"}, Subjects: []rbacv1.Subject{usr("alice")},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "psp-app"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "speaker"}, Subjects: []rbacv1.Subject{sa("speaker")},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "psp-privileged"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default"}, Subjects: []rbacv1.Subject{sa("default")},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "psp-hostpath"}},
	}
	return roles, bindings, clusterRoles, clusterBindings
}

// users request the pods: one with grants, one with none, one who may use every policy.
var users = []user.Info{
	&user.DefaultInfo{Name: "alice", Groups: []string{user.AllAuthenticated}},
	&user.DefaultInfo{Name: "bob", Groups: []string{user.AllAuthenticated}},
	&user.DefaultInfo{Name: "admin", Groups: []string{user.AllAuthenticated}},
}

// pluginInit gives upstream's plugin what kube-apiserver's initializers give it.
type pluginInit struct {
	authz     authorizer.Authorizer
	informers informers.SharedInformerFactory
}

func (i pluginInit) Initialize(p admission.Interface) {
	p.(*podsecuritypolicy.Plugin).SetAuthorizer(i.authz)
	p.(*podsecuritypolicy.Plugin).SetExternalKubeInformerFactory(i.informers)
}

// upstreamPSP is v1.24's PodSecurityPolicy admission plugin over the policies,
// which it lists as the API server stored them (defaulted).
func upstreamPSP(t *testing.T, pols []*policyv1beta1.PodSecurityPolicy, authz authorizer.Authorizer) *podsecuritypolicy.Plugin {
	t.Helper()
	f := informers.NewSharedInformerFactory(fake.NewSimpleClientset(), 0)
	indexer := f.Policy().V1beta1().PodSecurityPolicies().Informer().GetIndexer()
	for _, p := range pols {
		p = p.DeepCopy()
		legacyscheme.Scheme.Default(p)
		if err := indexer.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	plugins := admission.NewPlugins()
	podsecuritypolicy.Register(plugins)
	plugin, err := plugins.InitPlugin(podsecuritypolicy.PluginName, nil, pluginInit{authz, f})
	if err != nil {
		t.Fatal(err)
	}
	return plugin.(*podsecuritypolicy.Plugin)
}

// kguardPolicies are the same policies as kguard reads them (its
// PodSecurityPolicy is policy/v1beta1's, field for field, in JSON).
func kguardPolicies(t *testing.T, pols []*policyv1beta1.PodSecurityPolicy) []*v1alpha1.PodSecurityPolicy {
	t.Helper()
	var out []*v1alpha1.PodSecurityPolicy
	for _, p := range pols {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var k v1alpha1.PodSecurityPolicy
		if err := json.Unmarshal(b, &k); err != nil {
			t.Fatal(err)
		}
		out = append(out, &k)
	}
	return out
}

// verdict is one side's answer on a pod.
type verdict struct {
	allowed bool
	policy  string   // the kubernetes.io/psp annotation, when admitted
	pod     *api.Pod // the admitted pod, internal version
	errs    []string // the field errors of the denial, sorted
	message string
}

// upstreamAdmit is kube-apiserver v1.24 creating p: defaulting, conversion,
// ServiceAccount default (see upstream in defaults_test.go), then the PSP
// plugin's Admit and, as the API server runs it after every mutation, its Validate.
func upstreamAdmit(t *testing.T, plugin *podsecuritypolicy.Plugin, p *corev1.Pod, u user.Info, wantErrs []string) verdict {
	t.Helper()
	pod := upstream(t, p)
	attrs := func() admission.Attributes {
		return admission.NewAttributesRecord(pod, nil, api.Kind("Pod").WithVersion(""), ns, pod.Name,
			api.Resource("pods").WithVersion(""), "", admission.Create, &metav1.CreateOptions{}, false, u)
	}
	ctx := context.Background()
	if err := plugin.Admit(ctx, attrs(), nil); err != nil {
		return verdict{message: err.Error(), errs: upstreamErrs(err.Error(), wantErrs)}
	}
	if err := plugin.Validate(ctx, attrs(), nil); err != nil {
		t.Errorf("upstream's Validate refuses what its Admit admitted: %v", err)
		return verdict{message: err.Error()}
	}
	return verdict{allowed: true, policy: pod.Annotations[v1alpha1.PodAnnotation], pod: pod}
}

// upstreamErrs splits upstream's denial "[e1 e2 ...]" into its field errors.
// Upstream collects the errors of the policies in a map, so their order
// varies from run to run: the errors kguard names (want) are taken out of
// the message wherever they are; anything left over is one more error.
func upstreamErrs(message string, want []string) []string {
	const prefix = "PodSecurityPolicy: unable to admit pod: ["
	i := strings.Index(message, prefix)
	if i < 0 || !strings.HasSuffix(message, "]") {
		return []string{"(unparsed) " + message}
	}
	rest := message[i+len(prefix) : len(message)-1]
	// Longest first: one error may be the start of another ("Valid values
	// are runtime/default" and "... runtime/default,unconfined").
	want = append([]string(nil), want...)
	sort.SliceStable(want, func(i, j int) bool { return len(want[i]) > len(want[j]) })
	var out []string
	for _, w := range want {
		if j := strings.Index(rest, w); j >= 0 {
			out = append(out, w)
			rest = rest[:j] + rest[j+len(w):]
		}
	}
	if rest = strings.TrimSpace(rest); rest != "" {
		out = append(out, "(left over) "+rest)
	}
	sort.Strings(out)
	return out
}

// kguardAdmit is `kguard check` on p: kguard's defaulting, then its PSP engine.
func kguardAdmit(t *testing.T, e *psp.Engine, p *corev1.Pod, u user.Info) verdict {
	t.Helper()
	p = p.DeepCopy()
	apidefaults.Pod(&p.ObjectMeta, &p.Spec)
	r := e.Admit(context.Background(), psp.Attributes{Operation: "CREATE", Pod: p, Namespace: ns, User: u})
	if !r.Allowed {
		v := verdict{message: r.Message}
		for _, err := range r.Errors {
			v.errs = append(v.errs, err.Error())
		}
		sort.Strings(v.errs)
		return v
	}
	var out api.Pod
	if err := legacyscheme.Scheme.Convert(r.Pod, &out, nil); err != nil {
		t.Fatal(err)
	}
	return verdict{allowed: true, policy: out.Annotations[v1alpha1.PodAnnotation], pod: &out}
}

// securePod is randomPod with what PodSecurityPolicy looks at: privileged
// containers, added and dropped capabilities, users, privilege escalation,
// host paths mounted read-only or not, host ports (randomPod's).
func securePod(r *rand.Rand) *corev1.Pod {
	p := randomPod(r)
	pick := func(n int) int { return r.IntN(n) }
	uid := func() *int64 { u := []int64{0, 1000, 65534}[pick(3)]; return &u }
	switch pick(4) {
	case 1:
		p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: uid()}
	case 2:
		p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptrBool(true)}
	}
	paths := []string{"/var", "/var/log", "/etc/ssl/certs", "/etc", "/"}
	if pick(3) == 0 {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "host",
			VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: paths[pick(len(paths))]}}})
	}
	caps := []corev1.Capability{"NET_ADMIN", "NET_BIND_SERVICE", "SYS_ADMIN", "ALL"}
	secure := func(c *corev1.Container) {
		if pick(2) == 0 {
			return
		}
		sc := &corev1.SecurityContext{}
		if pick(4) == 0 {
			sc.Privileged = ptrBool(pick(3) != 0)
		}
		if pick(3) == 0 {
			sc.Capabilities = &corev1.Capabilities{}
			for range 1 + pick(2) {
				sc.Capabilities.Add = append(sc.Capabilities.Add, caps[pick(3)])
			}
		}
		if pick(4) == 0 {
			if sc.Capabilities == nil {
				sc.Capabilities = &corev1.Capabilities{}
			}
			sc.Capabilities.Drop = []corev1.Capability{caps[pick(len(caps))]}
		}
		if pick(3) == 0 {
			sc.RunAsUser = uid()
		}
		if pick(5) == 0 {
			sc.RunAsNonRoot = ptrBool(pick(2) == 0)
		}
		if pick(4) == 0 {
			sc.AllowPrivilegeEscalation = ptrBool(pick(2) == 0)
		}
		c.SecurityContext = sc
	}
	mount := func(c *corev1.Container) {
		for _, v := range p.Spec.Volumes {
			if pick(2) == 0 {
				c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: v.Name, MountPath: "/mnt/" + v.Name, ReadOnly: pick(2) == 0})
			}
		}
	}
	for i := range p.Spec.Containers {
		secure(&p.Spec.Containers[i])
		mount(&p.Spec.Containers[i])
	}
	for i := range p.Spec.InitContainers {
		secure(&p.Spec.InitContainers[i])
		mount(&p.Spec.InitContainers[i])
	}
	return p
}

// TestPSPMatchesUpstream124 admits random undefaulted pods with kguard's
// offline path (defaulting, then its engine) and with kube-apiserver v1.24's
// (defaulting, conversion, ServiceAccount default, then the PodSecurityPolicy
// plugin), under the same policies and RBAC grants, and compares the
// decisions, the policy chosen, the admitted pods and the denials' errors.
//
// kguard words its denials as older API servers did ("unable to validate
// against any pod security policy: [...]" where v1.24 says "PodSecurityPolicy:
// unable to admit pod: [...]"), and says "no providers available to validate
// pod request" when the request may use no policy, where v1.24 lists no
// errors ("[]"): the field errors themselves are compared.
func TestPSPMatchesUpstream124(t *testing.T) {
	pols := policies()
	roles, bindings, clusterRoles, clusterBindings := grants()
	_, static := rbacvalidation.NewTestRuleResolver(roles, bindings, clusterRoles, clusterBindings)
	authz := rbacauthz.New(static, static, static, static)
	plugin := upstreamPSP(t, pols, authz)
	plain, err := psp.NewEngine(kguardPolicies(t, pols), authz)
	if err != nil {
		t.Fatal(err)
	}
	// `kguard check` narrows the policies by the rules granted first.
	narrowed := plain.WithRuleResolver(rulesFor{authz})

	r := rand.New(rand.NewPCG(7, 124))
	const n = 3000
	admitted, byPolicy, disagreements := 0, map[string]int{}, 0
	for i := range n {
		p := securePod(r)
		u := users[r.IntN(len(users))]
		got, problem := compare(t, plugin, plain, narrowed, p, u)
		if problem != "" {
			disagreements++
			if disagreements <= 20 {
				b, _ := json.Marshal(p)
				t.Errorf("pod %d by %s: %s\npod: %s", i, u.GetName(), problem, b)
			}
			continue
		}
		if got.allowed {
			admitted++
			byPolicy[got.policy]++
		}
	}
	if disagreements > 0 {
		t.Errorf("%d of %d pods disagree", disagreements, n)
	}
	t.Logf("%d pods: %d admitted %v, %d denied", n, admitted, byPolicy, n-admitted-disagreements)
	// The generator must exercise both answers and several policies.
	if admitted < n/10 || n-admitted < n/10 || len(byPolicy) < len(pols) {
		t.Errorf("the generator covers too little: %d admitted of %d, by %v", admitted, n, byPolicy)
	}
}

// compare admits p by u with kguard's engine, with and without the rule
// resolver (narrowed, plain), and with upstream's plugin, and says how they
// disagree ("" when they agree).
func compare(t *testing.T, plugin *podsecuritypolicy.Plugin, plain, narrowed *psp.Engine, p *corev1.Pod, u user.Info) (verdict, string) {
	t.Helper()
	got := kguardAdmit(t, narrowed, p, u)
	want := upstreamAdmit(t, plugin, p, u, got.errs)
	problem := ""
	switch plainGot := kguardAdmit(t, plain, p, u); {
	case !reflect.DeepEqual(plainGot, got):
		problem = fmt.Sprintf("kguard's engine decides differently with and without the rule resolver: %+v, %+v", plainGot, got)
	case want.allowed != got.allowed:
		problem = fmt.Sprintf("upstream allowed=%v (%s%s), kguard allowed=%v (%s%s)",
			want.allowed, want.policy, want.message, got.allowed, got.policy, got.message)
	case want.allowed && want.policy != got.policy:
		problem = fmt.Sprintf("upstream chose %q, kguard %q", want.policy, got.policy)
	case want.allowed && !apiequality.Semantic.DeepEqual(want.pod, got.pod):
		problem = fmt.Sprintf("admitted pods differ (- upstream, + kguard):\n%s", diff.ObjectReflectDiff(want.pod, got.pod))
	case !want.allowed && got.message == psp.MessageNoProviders && len(want.errs) != 0:
		problem = fmt.Sprintf("kguard found no usable policy, upstream denied with %q", want.message)
	case !want.allowed && !equalStrings(want.errs, got.errs):
		problem = fmt.Sprintf("denials differ:\nupstream: %s\nkguard:   %s", want.message, got.message)
	}
	return got, problem
}

// rulesFor is upstream v1.24's RBAC rule resolver with today's signature.
type rulesFor struct{ *rbacauthz.RBACAuthorizer }

func (r rulesFor) RulesFor(_ context.Context, u user.Info, namespace string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	return r.RBACAuthorizer.RulesFor(u, namespace)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
