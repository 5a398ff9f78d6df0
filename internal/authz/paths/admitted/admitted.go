// Package admitted answers the paths engine's question — may a subject run
// a pod that is root on its node, in a namespace — with kguard's admission
// chain: the creation of a few probe pods, each node root by itself, is
// admitted as `kguard check` and the webhook would admit it (the mutating
// pass, then the validating pass), requested by the subject. It is the one
// adapter between internal/authz/paths, which does no I/O and knows no
// admission plugin, and internal/admission.
package admitted

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	admissionv1 "k8s.io/api/admission/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	psaapi "k8s.io/pod-security-admission/api"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/podsecuritypolicy"
	"github.com/kguard/kguard/internal/admission/psp"
	"github.com/kguard/kguard/internal/apidefaults"
	"github.com/kguard/kguard/internal/authz/paths"
	"github.com/kguard/kguard/internal/podspec"
	"github.com/kguard/kguard/internal/policy"
)

// Admitter is a paths.PodAdmitter over an admission chain. It is safe for
// concurrent use; answers are cached per subject and namespace.
type Admitter struct {
	ctx   context.Context
	chain *admission.Chain
	authz authorizer.Authorizer // for the evidence of PodSecurityPolicy "use"
	// namespaces are tried for a cluster-wide grant: those the input names,
	// and "default", which every cluster has.
	namespaces []string
	// serviceAccounts are, by namespace, those a probe pod may run as
	// ("default" first): PodSecurityPolicy selects by the pod's one too.
	serviceAccounts map[string][]string
	// labelled are the namespaces whose Pod Security enforce level is a label.
	labelled map[string]bool

	mu    sync.Mutex
	cache map[key]answer
}

var _ paths.PodAdmitter = (*Admitter)(nil)

type key struct {
	s  paths.Subject
	ns string
}

type answer struct {
	ok  bool
	why string
}

// New returns an Admitter judging with chain; az is the chain's authorizer
// (which says who granted "use" on a PodSecurityPolicy), set the input the
// chain was built from (its namespaces and ServiceAccounts).
func New(ctx context.Context, chain *admission.Chain, az authorizer.Authorizer, set *policy.Set) *Admitter {
	a := &Admitter{ctx: ctx, chain: chain, authz: az, serviceAccounts: map[string][]string{}, labelled: map[string]bool{}, cache: map[key]answer{}}
	nss := map[string]bool{metav1.NamespaceDefault: true}
	sas := map[string]map[string]bool{}
	addSA := func(ns, name string) {
		if ns == "" || name == "" {
			return
		}
		nss[ns] = true
		if sas[ns] == nil {
			sas[ns] = map[string]bool{}
		}
		sas[ns][name] = true
	}
	for _, n := range set.Namespaces {
		nss[n.Name] = true
		if _, ok := n.Labels[psaapi.EnforceLevelLabel]; ok {
			a.labelled[n.Name] = true
		}
	}
	for _, sa := range set.ServiceAccounts {
		addSA(sa.Namespace, sa.Name)
	}
	for _, rb := range set.RoleBindings {
		nss[rb.Namespace] = true
		for _, s := range rb.Subjects {
			if s.Kind == rbacv1.ServiceAccountKind && (s.Namespace == "" || s.Namespace == rb.Namespace) {
				addSA(rb.Namespace, s.Name)
			}
		}
	}
	for _, crb := range set.ClusterRoleBindings {
		for _, s := range crb.Subjects {
			if s.Kind == rbacv1.ServiceAccountKind {
				addSA(s.Namespace, s.Name)
			}
		}
	}
	for ns := range nss {
		a.namespaces = append(a.namespaces, ns)
		names := []string{"default"}
		for n := range sas[ns] {
			if n != "default" {
				names = append(names, n)
			}
		}
		sort.Strings(names[1:])
		a.serviceAccounts[ns] = names
	}
	sort.Strings(a.namespaces)
	return a
}

// MayRunPrivileged reports whether s may create, in namespace (every
// namespace the input knows when ""), one of the probe pods, and the
// evidence: the probe and the policies that admit it, or why each probe was
// refused.
func (a *Admitter) MayRunPrivileged(s paths.Subject, namespace string) (bool, string) {
	k := key{s, namespace}
	a.mu.Lock()
	ans, ok := a.cache[k]
	a.mu.Unlock()
	if ok {
		return ans.ok, ans.why
	}
	ans = a.judge(s, namespace)
	a.mu.Lock()
	a.cache[k] = ans
	a.mu.Unlock()
	return ans.ok, ans.why
}

func (a *Admitter) judge(s paths.Subject, namespace string) answer {
	u := userOf(s)
	if namespace != "" {
		return a.inNamespace(u, namespace)
	}
	var first answer
	for i, ns := range a.namespaces {
		ans := a.inNamespace(u, ns)
		if ans.ok {
			return ans
		}
		if i == 0 {
			first = ans
		}
	}
	if len(a.namespaces) > 1 {
		first.why += fmt.Sprintf(" (and refused alike in the %d other namespaces of the input)", len(a.namespaces)-1)
	}
	return first
}

// inNamespace tries each probe as each ServiceAccount the pod may name.
func (a *Admitter) inNamespace(u user.Info, ns string) answer {
	var refused []string
	for _, p := range probes {
		var denial string
		for _, sa := range a.serviceAccounts[ns] {
			resp := a.admit(p, u, ns, sa)
			if resp.Allowed {
				return answer{ok: true, why: a.evidence(p, u, ns, sa, resp)}
			}
			if denial == "" && resp.Result != nil {
				denial = resp.Result.Message
			}
		}
		refused = append(refused, p.what+": "+denial)
	}
	return answer{why: fmt.Sprintf("no pod that is node root is admitted in namespace %q: %s", ns, strings.Join(refused, "; "))}
}

// admit runs the mutating pass, then the validating pass over the mutated
// pod, as kube-apiserver calls kguard's webhooks.
func (a *Admitter) admit(p probe, u user.Info, ns, sa string) *admissionv1.AdmissionResponse {
	w := podspec.PodWorkload(p.pod(ns, sa))
	apidefaults.Pod(w.PodParts()) // what the API server does before admission
	r := &admission.Request{Operation: admissionv1.Create, Workload: w, Resource: "pods", Name: p.podName(), Namespace: ns, User: u, Phase: admission.PhaseMutate}
	resp := a.chain.Admit(a.ctx, r)
	if !resp.Allowed {
		return resp
	}
	r.Phase = admission.PhaseValidate
	validated := a.chain.Admit(a.ctx, r)
	for k, v := range resp.AuditAnnotations {
		if _, ok := validated.AuditAnnotations[k]; !ok {
			if validated.AuditAnnotations == nil {
				validated.AuditAnnotations = map[string]string{}
			}
			validated.AuditAnnotations[k] = v
		}
	}
	return validated
}

// evidence names the probe admitted and what admitted it: the
// PodSecurityPolicy and who may use it, the Pod Security level enforced.
func (a *Admitter) evidence(p probe, u user.Info, ns, sa string, resp *admissionv1.AdmissionResponse) string {
	var by []string
	pol := resp.AuditAnnotations[podsecuritypolicy.AuditKeyValidatePolicy]
	if pol == "" {
		pol = resp.AuditAnnotations[podsecuritypolicy.AuditKeyAdmitPolicy]
	}
	if pol != "" {
		by = append(by, fmt.Sprintf("PodSecurityPolicy %q (%s)", pol, a.useReason(u, ns, sa, pol)))
	}
	if ex := resp.AuditAnnotations[podsecurity.AuditKeyExempt]; ex != "" {
		by = append(by, fmt.Sprintf("exempt from Pod Security (%s)", ex))
	} else if level := resp.AuditAnnotations[podsecurity.AuditKeyEnforcePolicy]; level != "" {
		from := "the cluster default"
		if a.labelled[ns] {
			from = "its label"
		}
		by = append(by, fmt.Sprintf("namespace %q enforces Pod Security %q (%s)", ns, level, from))
	}
	if len(by) == 0 {
		by = append(by, "admission plugins "+strings.Join(a.chain.Plugins(), ",")+" admit it")
	}
	as := ""
	if sa != "default" {
		as = fmt.Sprintf(" running as ServiceAccount %s/%s", ns, sa)
	}
	return fmt.Sprintf("%s%s is admitted: %s", p.what, as, strings.Join(by, ", "))
}

// useReason says who may use the policy: the requesting user, or the pod's
// ServiceAccount, with the authorizer's reason.
func (a *Admitter) useReason(u user.Info, ns, sa, pol string) string {
	for _, who := range []user.Info{u, serviceaccount.UserInfo(ns, sa, "")} {
		for _, g := range psp.UseAPIGroups {
			d, reason, _ := a.authz.Authorize(a.ctx, authorizer.AttributesRecord{
				User: who, Verb: "use", Namespace: ns, APIGroup: g, APIVersion: "*",
				Resource: "podsecuritypolicies", Name: pol, ResourceRequest: true,
			})
			if d == authorizer.DecisionAllow {
				if reason == "" {
					reason = "allowed"
				}
				return fmt.Sprintf("use granted to %s: %s", who.GetName(), reason)
			}
		}
	}
	return "use granted"
}

// userOf is the subject as authenticated: a ServiceAccount with its groups,
// a user in system:authenticated (system:anonymous in system:unauthenticated),
// and a group as a member of it with no grants of its own.
func userOf(s paths.Subject) user.Info {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		u := serviceaccount.UserInfo(s.Namespace, s.Name, "")
		return &user.DefaultInfo{Name: u.GetName(), Groups: append(u.GetGroups(), user.AllAuthenticated)}
	case rbacv1.GroupKind:
		if s.Name == user.AllUnauthenticated {
			return &user.DefaultInfo{Name: user.Anonymous, Groups: []string{user.AllUnauthenticated}}
		}
		groups := []string{s.Name}
		if s.Name != user.AllAuthenticated {
			groups = append(groups, user.AllAuthenticated)
		}
		return &user.DefaultInfo{Name: "kguard:member-of:" + s.Name, Groups: groups}
	}
	if s.Name == user.Anonymous {
		return &user.DefaultInfo{Name: s.Name, Groups: []string{user.AllUnauthenticated}}
	}
	return &user.DefaultInfo{Name: s.Name, Groups: []string{user.AllAuthenticated}}
}
