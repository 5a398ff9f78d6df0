// Package psp is kguard's PodSecurityPolicy admission engine, with the
// semantics of the Kubernetes v1.24 admission controller: each policy defaults
// (mutates) and validates the pod; a pod is admitted by a policy that the
// requesting user or the pod's ServiceAccount may "use"; policies that admit the
// pod unchanged are preferred, in name order, then the first that admits it
// with changes; an UPDATE may never change the pod.
package psp

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/apidefaults"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// Messages of denials, as the API server words them.
const (
	MessageNoProviders = "no providers available to validate pod request"
	messageNoPolicy    = "unable to validate against any pod security policy: "
)

// UseAPIGroups are the API groups in which RBAC may grant "use" on a policy:
// policy (so that the ClusterRoles written for the built-in PSP keep working),
// extensions (as the built-in also honoured) and kguard.io.
var UseAPIGroups = []string{"policy", "extensions", v1alpha1.GroupName}

// Engine is immutable and safe for concurrent use.
type Engine struct {
	providers []*provider    // by name
	index     map[string]int // name → position in providers
	authz     authorizer.Authorizer
	rules     RuleResolver // optional, see WithRuleResolver
}

// RuleResolver lists the rules an authorizer grants a user in a namespace:
// authorizer.RuleResolver as k8s.io/apiserver declares it today, declared
// here so that the engine also builds against the v1.24 apiserver, whose
// RulesFor took no context (the differential tests in test/upstream124
// link the engine with upstream v1.24's admission plugin).
type RuleResolver interface {
	RulesFor(ctx context.Context, u user.Info, namespace string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error)
}

// WithRuleResolver returns an engine that uses rr — the rules authz grants —
// to narrow selection to the policies the requesting user or the pod's
// ServiceAccount could be granted "use" on, before any pod is copied,
// defaulted or validated; each remaining policy is still decided by authz.
// When a subject's rules grant "use" on every policy and authz allows it one,
// it may use them all: authz must never answer DecisionDeny (kguard's RBAC,
// ABAC, AlwaysAllow and AlwaysDeny chains never do). Decisions are the same
// as without rr; with hundreds of policies they are much cheaper.
func (e *Engine) WithRuleResolver(rr RuleResolver) *Engine {
	c := *e
	c.rules = rr
	return &c
}

// NewEngine builds an engine over valid policies (see the validation
// package); authz decides who may use which policy.
func NewEngine(policies []*v1alpha1.PodSecurityPolicy, authz authorizer.Authorizer) (*Engine, error) {
	if authz == nil {
		return nil, fmt.Errorf("an authorizer is required to select policies")
	}
	e := &Engine{authz: authz}
	seen := map[string]bool{}
	for _, p := range policies {
		if seen[p.Name] {
			return nil, fmt.Errorf("PodSecurityPolicy %q is defined more than once", p.Name)
		}
		seen[p.Name] = true
		if p.Spec.AllowPrivilegeEscalation == nil {
			p = p.DeepCopy()
			v1alpha1.SetDefaults(p)
		}
		e.providers = append(e.providers, newProvider(p))
	}
	sort.Slice(e.providers, func(i, j int) bool { return e.providers[i].psp.Name < e.providers[j].psp.Name })
	e.index = make(map[string]int, len(e.providers))
	for i, p := range e.providers {
		e.index[p.psp.Name] = i
	}
	return e, nil
}

// Attributes describe one pod admission.
type Attributes struct {
	Operation string      // "CREATE" or "UPDATE"
	Pod       *corev1.Pod // not modified
	OldPod    *corev1.Pod // UPDATE only
	Namespace string
	User      user.Info
	// FieldRoot is where the pod sits in the admitted object (nil: the object is
	// the pod; field.NewPath("spec", "template") for a Deployment), so that
	// errors name the object's own fields.
	FieldRoot *field.Path
	// Validate is the validating pass that follows every mutation (upstream's
	// Validate): no policy may change the pod any more, and the policy named in
	// its kubernetes.io/psp annotation is tried first.
	Validate bool
	// ShareUnchanged: when the admitting policy leaves the pod as it is and
	// adds no annotation (Validate, UPDATE), Result.Pod is Pod itself, not
	// a copy. For callers that own Pod and never change it afterwards.
	ShareUnchanged bool
	// Owned: the caller gives Pod up (a copy of its own, as the mutating
	// admission plugins get): Result.Pod may be Pod itself or share memory
	// with it, mutated or not, and Pod must not be used afterwards.
	Owned bool
}

// Result is the decision.
type Result struct {
	Allowed bool
	// Pod is the admitted pod with the policy's defaults applied and the
	// kubernetes.io/psp annotation set (a copy, but see ShareUnchanged); nil
	// when denied.
	Pod *corev1.Pod
	// Policy is the policy that admitted the pod.
	Policy string
	// Errors are the field errors of every policy the request may use, when denied.
	Errors field.ErrorList
	// Message is the denial, worded as the API server's.
	Message string
}

// Admit decides whether the pod may be created (or updated) and how it is defaulted.
func (e *Engine) Admit(ctx context.Context, a Attributes) Result {
	if a.Pod == nil {
		return Result{Message: "no pod to admit"}
	}
	if a.Operation == "UPDATE" && onlyGCFieldsChanged(a.Pod, a.OldPod) {
		// The garbage collector's updates (owner references, finalizers) are
		// not re-evaluated: whoever may update and delete the pod may make them.
		if a.Owned {
			return Result{Allowed: true, Pod: a.Pod}
		}
		return Result{Allowed: true, Pod: a.Pod.DeepCopy()}
	}
	mutationAllowed := a.Operation != "UPDATE" && !a.Validate
	hint := ""
	if !mutationAllowed {
		hint = a.Pod.Annotations[v1alpha1.PodAnnotation]
	}
	if len(e.providers) == 0 {
		return Result{Message: MessageNoProviders}
	}

	// The pod's ServiceAccount may hold the grant too. Without a name, it is
	// the one the ServiceAccount admission plugin sets before PSP runs on
	// CREATE — except on a kubelet's mirror pod, which that plugin leaves
	// without one, and which v1.24 then authorizes for its requester only. On
	// UPDATE that plugin sets nothing ("we only mutate pods during create
	// requests"): a pod without a name is authorized for its requester only.
	var saInfo user.Info
	sa := a.Pod.Spec.ServiceAccountName
	if _, mirror := a.Pod.Annotations[apidefaults.MirrorPodAnnotation]; sa == "" && !mirror && a.Operation != "UPDATE" {
		sa = apidefaults.DefaultServiceAccountName
	}
	if sa != "" {
		saInfo = serviceaccount.UserInfo(a.Namespace, sa, "")
	}
	// Authorization is asked lazily, once per policy: most requests are
	// decided by the first policies that admit the pod.
	order, usesAll := e.narrow(ctx, []user.Info{a.User, saInfo}, a.Namespace)
	if len(order) == 0 {
		return Result{Message: MessageNoProviders}
	}
	if hint != "" {
		order = hintFirst(order, hint)
	}
	authorized := make(map[string]bool, min(len(order), 8))
	mayUse := func(name string) bool {
		if usesAll {
			return true
		}
		ok, known := authorized[name]
		if !known {
			ok = e.mayUse(ctx, a.User, a.Namespace, name) || e.mayUse(ctx, saInfo, a.Namespace, name)
			authorized[name] = ok
		}
		return ok
	}

	var mutating *provider
	var mutatedPod *corev1.Pod
	for _, p := range order {
		if err := ctx.Err(); err != nil {
			return stopped(err)
		}
		if p.refusesUnchanged(a.Pod) {
			continue
		}
		pod := mutableCopy(a.Pod)
		p.mutate(pod)
		if !p.admits(pod) {
			continue
		}
		mutated := changed(a.Pod, pod)
		if (mutated && !mutationAllowed) || !mayUse(p.psp.Name) {
			continue
		}
		if !mutated {
			pod := a.Pod
			if !a.Owned && (!a.ShareUnchanged || mutationAllowed) {
				pod = pod.DeepCopy() // the annotation is set on it
			}
			return e.admitted(a, pod, p.psp.Name)
		}
		if mutating == nil {
			mutating, mutatedPod = p, pod
		}
	}
	if mutating != nil {
		// The result must not share memory with the request's pod, unless
		// the caller gave that up (mutableCopy shares all but what mutate
		// changes).
		if !a.Owned {
			mutatedPod = mutatedPod.DeepCopy()
		}
		return e.admitted(a, mutatedPod, mutating.psp.Name)
	}
	// Denied: now build the field errors of every policy the request may use.
	var errs field.ErrorList
	anyAuthorized := false
	for _, p := range order {
		if err := ctx.Err(); err != nil {
			return stopped(err)
		}
		if mayUse(p.psp.Name) {
			anyAuthorized = true
			pod := mutableCopy(a.Pod)
			p.mutate(pod)
			errs = append(errs, rebase(p.validate(pod), a.FieldRoot)...)
		}
	}
	if !anyAuthorized {
		return Result{Message: MessageNoProviders}
	}
	return Result{Errors: errs, Message: messageNoPolicy + fmt.Sprintf("%v", []*field.Error(errs))}
}

// mutableCopy copies what a provider's mutate may change — annotations, the
// pod and container security contexts, the runtime class — and shares the rest
// of the pod. The security contexts are copied shallowly: mutate only assigns
// their fields (pointers, slices), it never writes through them.
func mutableCopy(in *corev1.Pod) *corev1.Pod {
	out := *in
	if in.Annotations != nil {
		out.Annotations = make(map[string]string, len(in.Annotations)+2)
		for k, v := range in.Annotations {
			out.Annotations[k] = v
		}
	}
	if in.Spec.SecurityContext != nil {
		sc := *in.Spec.SecurityContext
		out.Spec.SecurityContext = &sc
	}
	out.Spec.InitContainers = copyContainers(in.Spec.InitContainers)
	out.Spec.Containers = copyContainers(in.Spec.Containers)
	if in.Spec.EphemeralContainers != nil {
		out.Spec.EphemeralContainers = make([]corev1.EphemeralContainer, len(in.Spec.EphemeralContainers))
		for i := range in.Spec.EphemeralContainers {
			out.Spec.EphemeralContainers[i] = in.Spec.EphemeralContainers[i]
			if sc := in.Spec.EphemeralContainers[i].SecurityContext; sc != nil {
				c := *sc
				out.Spec.EphemeralContainers[i].SecurityContext = &c
			}
		}
	}
	return &out
}

func copyContainers(in []corev1.Container) []corev1.Container {
	if in == nil {
		return nil
	}
	out := make([]corev1.Container, len(in))
	for i := range in {
		out[i] = in[i]
		if sc := in[i].SecurityContext; sc != nil {
			c := *sc
			out[i].SecurityContext = &c
		}
	}
	return out
}

// changed reports whether mutate changed anything (the fields mutableCopy copies).
func changed(a, b *corev1.Pod) bool {
	if !semanticEqual(a.Annotations, b.Annotations) ||
		!semanticEqual(a.Spec.SecurityContext, b.Spec.SecurityContext) ||
		!semanticEqual(a.Spec.RuntimeClassName, b.Spec.RuntimeClassName) ||
		len(a.Spec.Containers) != len(b.Spec.Containers) || len(a.Spec.InitContainers) != len(b.Spec.InitContainers) ||
		len(a.Spec.EphemeralContainers) != len(b.Spec.EphemeralContainers) {
		return true
	}
	for i := range a.Spec.Containers {
		if !semanticEqual(a.Spec.Containers[i].SecurityContext, b.Spec.Containers[i].SecurityContext) {
			return true
		}
	}
	for i := range a.Spec.InitContainers {
		if !semanticEqual(a.Spec.InitContainers[i].SecurityContext, b.Spec.InitContainers[i].SecurityContext) {
			return true
		}
	}
	for i := range a.Spec.EphemeralContainers {
		if !semanticEqual(a.Spec.EphemeralContainers[i].SecurityContext, b.Spec.EphemeralContainers[i].SecurityContext) {
			return true
		}
	}
	return false
}

// semanticEqual is equality.Semantic.DeepEqual, tried with reflect.DeepEqual
// first: values equal for reflect are semantically equal, and reflect is
// several times faster (no visited map for every struct). An unchanged pod, as
// on every validating pass, is then decided without the semantic comparison.
func semanticEqual(a, b any) bool {
	return reflect.DeepEqual(a, b) || equality.Semantic.DeepEqual(a, b)
}

// onlyGCFieldsChanged reports whether an update changes nothing but owner
// references, finalizers and the bookkeeping fields that go with them.
func onlyGCFieldsChanged(pod, old *corev1.Pod) bool {
	if old == nil {
		return false
	}
	c := *pod
	c.OwnerReferences, c.Finalizers, c.ManagedFields, c.SelfLink = old.OwnerReferences, old.Finalizers, old.ManagedFields, old.SelfLink
	return equality.Semantic.DeepEqual(&c, old)
}

func (e *Engine) admitted(a Attributes, pod *corev1.Pod, name string) Result {
	if a.Operation != "UPDATE" && !a.Validate {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[v1alpha1.PodAnnotation] = name
	}
	return Result{Allowed: true, Pod: pod, Policy: name}
}

// narrow returns the policies, by name, that the subjects' rules can grant
// "use" on; usesAll reports that a subject may use every policy (see
// WithRuleResolver). Without a rule resolver, or with incomplete rules, it
// returns every policy, each to be authorized in turn.
// stopped denies a request whose context ended during evaluation: a policy
// walk never outlives the caller's deadline, and never admits unfinished.
func stopped(err error) Result {
	return Result{Message: "evaluation stopped: " + err.Error()}
}

func (e *Engine) narrow(ctx context.Context, subjects []user.Info, namespace string) (_ []*provider, usesAll bool) {
	if e.rules == nil {
		return e.providers, false
	}
	names := map[string]bool{}
	for _, u := range subjects {
		if u == nil {
			continue
		}
		all, granted, ok := e.grantedNames(ctx, u, namespace)
		if !ok {
			return e.providers, false // the rules are not known completely: ask per policy
		}
		if all {
			return e.providers, e.mayUse(ctx, u, namespace, e.providers[0].psp.Name)
		}
		for n := range granted {
			names[n] = true
		}
	}
	// A handful of names, looked up, rather than every policy's name in the set.
	at := make([]int, 0, len(names))
	for n := range names {
		if i, ok := e.index[n]; ok {
			at = append(at, i)
		}
	}
	slices.Sort(at)
	out := make([]*provider, len(at))
	for k, i := range at {
		out[k] = e.providers[i]
	}
	return out, false
}

// hintFirst moves the policy named hint to the front, the others keeping
// their order, in a new slice.
func hintFirst(order []*provider, hint string) []*provider {
	out := make([]*provider, 0, len(order))
	for _, p := range order {
		if p.psp.Name == hint {
			out = append([]*provider{p}, out...)
		} else {
			out = append(out, p)
		}
	}
	return out
}

// grantedNames reads from u's rules in namespace which policies "use" may be
// granted on: all of them, or the names listed. ok is false when the rules
// are incomplete.
func (e *Engine) grantedNames(ctx context.Context, u user.Info, namespace string) (all bool, names map[string]bool, ok bool) {
	rules, _, incomplete, err := e.rules.RulesFor(ctx, u, namespace)
	if incomplete || err != nil {
		return false, nil, false
	}
	names = map[string]bool{}
	for _, r := range rules {
		if !hasAny(r.GetVerbs(), "use") || !hasAny(r.GetResources(), "podsecuritypolicies") || !hasAny(r.GetAPIGroups(), UseAPIGroups...) {
			continue
		}
		if len(r.GetResourceNames()) == 0 {
			return true, nil, true
		}
		for _, n := range r.GetResourceNames() {
			names[n] = true
		}
	}
	return false, names, true
}

// hasAny reports whether list holds "*" or one of want.
func hasAny(list []string, want ...string) bool {
	for _, v := range list {
		if v == "*" {
			return true
		}
		for _, w := range want {
			if v == w {
				return true
			}
		}
	}
	return false
}

// mayUse asks the authorizer whether u may "use" the policy, in any of UseAPIGroups.
func (e *Engine) mayUse(ctx context.Context, u user.Info, namespace, name string) bool {
	if u == nil {
		return false
	}
	for _, g := range UseAPIGroups {
		d, _, _ := e.authz.Authorize(ctx, authorizer.AttributesRecord{
			User: u, Verb: "use", Namespace: namespace, APIGroup: g, APIVersion: "*",
			Resource: "podsecuritypolicies", Name: name, ResourceRequest: true,
		})
		if d == authorizer.DecisionAllow {
			return true
		}
	}
	return false
}

// rebase moves errors from the pod's paths ("spec...", "pod.spec...",
// "pod.metadata...") under root when the pod is a template inside another object.
func rebase(errs field.ErrorList, root *field.Path) field.ErrorList {
	if root == nil {
		return errs
	}
	out := make(field.ErrorList, 0, len(errs))
	prefix := root.String() + "."
	for _, err := range errs {
		c := *err
		f := strings.TrimPrefix(c.Field, "pod.")
		c.Field = prefix + f
		out = append(out, &c)
	}
	return out
}
