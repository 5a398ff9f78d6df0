package upstream124

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	api "k8s.io/kubernetes/pkg/apis/core"
	corevalidation "k8s.io/kubernetes/pkg/apis/core/validation"
	"k8s.io/kubernetes/plugin/pkg/admission/security/podsecuritypolicy"

	"github.com/kguard/kguard/internal/admission/psp"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// v1.24's audit annotation of the policy that validated a pod (admission.go,
// auditKeyPrefix + "/validate-policy").
const upstreamValidateKey = "podsecuritypolicy.policy.k8s.io/validate-policy"

// recording are admission attributes that keep the audit annotations a
// plugin adds (v1.24's attributesRecord keeps them unexported).
type recording struct {
	admission.Attributes
	annotations map[string]string
}

func (r *recording) AddAnnotation(k, v string) error {
	r.annotations[k] = v
	return nil
}

// updateVerdict is one side's answer on an UPDATE.
type updateVerdict struct {
	allowed bool
	policy  string // the policy that validated the pod ("" when the update was not evaluated)
	message string
}

// upstreamUpdate is kube-apiserver v1.24 admitting the UPDATE of old to pod
// (both internal) on subresource: the PSP plugin's Admit (the mutating pass,
// which must neither deny nor change anything on UPDATE) and Validate.
func upstreamUpdate(t *testing.T, plugin *podsecuritypolicy.Plugin, pod, old *api.Pod, subresource string, u user.Info) updateVerdict {
	t.Helper()
	attrs := func() *recording {
		return &recording{Attributes: admission.NewAttributesRecord(pod, old, api.Kind("Pod").WithVersion(""), ns, pod.Name,
			api.Resource("pods").WithVersion(""), subresource, admission.Update, &metav1.UpdateOptions{}, false, u),
			annotations: map[string]string{}}
	}
	before := pod.DeepCopy()
	ctx := context.Background()
	a := attrs()
	if err := plugin.Admit(ctx, a, nil); err != nil {
		t.Errorf("upstream's Admit denied an UPDATE: %v", err)
		return updateVerdict{message: err.Error()}
	}
	if len(a.annotations) != 0 || !apiequality.Semantic.DeepEqual(before, pod) {
		t.Errorf("upstream's Admit acted on an UPDATE: %v", a.annotations)
	}
	a = attrs()
	if err := plugin.Validate(ctx, a, nil); err != nil {
		return updateVerdict{message: err.Error()}
	}
	return updateVerdict{allowed: true, policy: a.annotations[upstreamValidateKey]}
}

// kguardUpdate is kguard's webhook on the UPDATE of old to pod (v1, as
// kube-apiserver sends them in the AdmissionReview's object and oldObject),
// as internal/admission/podsecuritypolicy's plugin asks the engine: the
// validating pass (Validate, ShareUnchanged). The mutating pass is checked by
// the plugin's own tests (it evaluates nothing on UPDATE, as v1.24's Admit).
// Subresources never reach the engine: the plugin Handles none.
func kguardUpdate(e *psp.Engine, pod, old *corev1.Pod, u user.Info) updateVerdict {
	r := e.Admit(context.Background(), psp.Attributes{Operation: "UPDATE", Pod: pod, OldPod: old, Namespace: ns, User: u,
		Validate: true, ShareUnchanged: true})
	if !r.Allowed {
		return updateVerdict{message: r.Message}
	}
	return updateVerdict{allowed: true, policy: r.Policy}
}

// update kinds, for the coverage counts.
const (
	updGC = iota
	updGCAndLabel
	updLabels
	updAnnotation
	updPSPAnnotation
	updSeccompAnnotation
	updImage
	updDeadline
	updTolerations
	updImmutable
	updNothing
	nUpdateKinds
)

var updateKindNames = [nUpdateKinds]string{"gc-only", "gc+label", "labels", "annotation", "kubernetes.io/psp",
	"seccomp annotation", "image", "activeDeadlineSeconds", "tolerations", "immutable field", "no change"}

// randomUpdate changes a copy of old (v1, as stored) as a client's UPDATE
// would; names are the policies of the set, for the kubernetes.io/psp edits.
func (g gen) randomUpdate(old *corev1.Pod, names []string) (*corev1.Pod, int) {
	p := old.DeepCopy()
	setAnnotation := func(k, v string) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[k] = v
	}
	gc := func() {
		switch g.n(4) {
		case 0:
			p.Finalizers = append(p.Finalizers, "example.com/cleanup")
		case 1:
			p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet",
				Name: "rs", UID: "0b5e4c1e-0000-4000-8000-000000000001"})
		case 2:
			p.Finalizers = append(p.Finalizers, "a/b")
			p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "c", UID: "u"})
		default:
			p.ManagedFields = append(p.ManagedFields, metav1.ManagedFieldsEntry{Manager: "gc", Operation: metav1.ManagedFieldsOperationUpdate})
			p.Finalizers = []string{}
		}
	}
	kind := g.n(nUpdateKinds)
	switch kind {
	case updGC:
		gc()
	case updGCAndLabel:
		gc()
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		p.Labels["gc"] = "and-more"
	case updLabels:
		if p.Labels == nil || g.coin() {
			p.Labels = map[string]string{"app": fmt.Sprint(g.n(3))}
		} else {
			p.Labels = nil
		}
	case updAnnotation:
		setAnnotation("example.com/note", fmt.Sprint(g.n(3)))
	case updPSPAnnotation:
		switch g.n(3) {
		case 0:
			delete(p.Annotations, v1alpha1.PodAnnotation)
		case 1:
			setAnnotation(v1alpha1.PodAnnotation, "no-such-policy")
		default:
			setAnnotation(v1alpha1.PodAnnotation, names[g.n(len(names))])
		}
	case updSeccompAnnotation:
		if _, ok := p.Annotations[corev1.SeccompPodAnnotationKey]; ok && g.coin() {
			delete(p.Annotations, corev1.SeccompPodAnnotationKey)
		} else {
			setAnnotation(corev1.SeccompPodAnnotationKey, []string{"runtime/default", "unconfined", "docker/default"}[g.n(3)])
		}
	case updImage:
		p.Spec.Containers[g.n(len(p.Spec.Containers))].Image = []string{"nginx:1.27", "busybox", "nginx"}[g.n(3)]
	case updDeadline:
		d := int64(1 + g.n(100))
		p.Spec.ActiveDeadlineSeconds = &d
	case updTolerations:
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoSchedule})
	case updImmutable:
		c := &p.Spec.Containers[g.n(len(p.Spec.Containers))]
		switch g.n(6) {
		case 0:
			if c.SecurityContext == nil {
				c.SecurityContext = &corev1.SecurityContext{}
			}
			c.SecurityContext.Privileged = ptrBool(true)
		case 1:
			p.Spec.HostNetwork = !p.Spec.HostNetwork
		case 2:
			p.Spec.HostPID = true
		case 3:
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "h",
				VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}})
		case 4:
			p.Spec.ServiceAccountName = []string{"", "speaker", "old"}[g.n(3)]
			p.Spec.DeprecatedServiceAccount = p.Spec.ServiceAccountName
		default:
			if c.SecurityContext != nil {
				c.SecurityContext = nil
			} else {
				uid := int64(0)
				c.SecurityContext = &corev1.SecurityContext{RunAsUser: &uid}
			}
		}
	}
	return p, kind
}

// TestRandomPSPUpdateMatchesUpstream124 creates random pods under random
// policy sets and grants as kube-apiserver v1.24 would (CREATE), then updates
// them at random — owner references and finalizers only, labels,
// annotations (kubernetes.io/psp among them), mutable and immutable spec
// fields — by random requesters, and compares v1.24's PodSecurityPolicy
// plugin (Admit and Validate with the old object) with kguard's validating
// webhook pass: allowed or not and, when allowed, the policy that validated
// the pod. Immutable-field changes are compared too, though kube-apiserver
// refuses them in its own validation before the validating admission.
func TestRandomPSPUpdateMatchesUpstream124(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(24, 3))}
	const sets, podsPerSet, updatesPerPod = 600, 3, 4
	var (
		cases, disagreements, allowed, ignoredGC, invalid int
		byKind                                            [nUpdateKinds][2]int // allowed, denied
		hintChosen, gcWouldDeny                           int
	)
	for set := range sets {
		ps := g.randomPolicySet(t)
		plugin, plain, narrowed, polNames := ps.plugin, ps.plain, ps.narrowed, ps.names
		for range podsPerSet {
			// The stored pod: created (and admitted) by v1.24.
			var created verdict
			var p *corev1.Pod
			for tries := 0; tries < 20 && !created.allowed; tries++ {
				p = g.randomPolicyPod()
				created = upstreamAdmit(t, plugin, p, g.randomRequester(), nil)
			}
			if !created.allowed {
				continue
			}
			var oldV1 corev1.Pod
			if err := legacyscheme.Scheme.Convert(created.pod, &oldV1, nil); err != nil {
				t.Fatal(err)
			}
			for range updatesPerPod {
				newV1, kind := g.randomUpdate(&oldV1, polNames)
				legacyscheme.Scheme.Default(newV1)
				var newInternal, oldInternal api.Pod
				if err := legacyscheme.Scheme.Convert(newV1, &newInternal, nil); err != nil {
					t.Fatal(err)
				}
				if err := legacyscheme.Scheme.Convert(&oldV1, &oldInternal, nil); err != nil {
					t.Fatal(err)
				}
				if len(corevalidation.ValidatePodUpdate(&newInternal, &oldInternal, corevalidation.PodValidationOptions{})) >
					len(corevalidation.ValidatePodUpdate(&oldInternal, &oldInternal, corevalidation.PodValidationOptions{})) {
					invalid++
				}
				u := g.randomRequester()
				cases++
				want := upstreamUpdate(t, plugin, &newInternal, &oldInternal, "", u)
				got := kguardUpdate(narrowed, newV1.DeepCopy(), oldV1.DeepCopy(), u)
				problem := ""
				switch plainGot := kguardUpdate(plain, newV1.DeepCopy(), oldV1.DeepCopy(), u); {
				case plainGot != got:
					problem = fmt.Sprintf("kguard decides differently with and without the rule resolver: %+v, %+v", plainGot, got)
				case want.allowed != got.allowed:
					problem = fmt.Sprintf("upstream allowed=%v (%s%s), kguard allowed=%v (%s%s)",
						want.allowed, want.policy, want.message, got.allowed, got.policy, got.message)
				case want.allowed && want.policy != got.policy:
					problem = fmt.Sprintf("upstream validated with %q, kguard %q", want.policy, got.policy)
				}
				// Every subresource is ignored by v1.24 (shouldIgnore), whatever the pod.
				for _, sub := range []string{"status", "ephemeralcontainers", "resize"} {
					if v := upstreamUpdate(t, plugin, newInternal.DeepCopy(), &oldInternal, sub, u); !v.allowed || v.policy != "" {
						t.Fatalf("upstream evaluated pods/%s: %+v", sub, v)
					}
				}
				if problem != "" {
					disagreements++
					if disagreements <= 10 {
						t.Errorf("set %d, %s update by %s: %s\n%s", set, updateKindNames[kind], u.GetName(), problem,
							ps.describe(newV1))
					}
					continue
				}
				if want.allowed {
					allowed++
					byKind[kind][0]++
					if want.policy == "" {
						ignoredGC++
						// Not evaluated: without the old object, v1.24 would judge it.
						if !upstreamUpdate(t, plugin, newInternal.DeepCopy(), nil, "", u).allowed {
							gcWouldDeny++
						}
					} else if want.policy == newV1.Annotations[v1alpha1.PodAnnotation] {
						hintChosen++
					}
				} else {
					byKind[kind][1]++
				}
			}
		}
	}
	if disagreements > 0 {
		t.Errorf("%d of %d updates disagree", disagreements, cases)
	}
	t.Logf("%d updates (%d refused by v1.24's update validation): %d allowed (%d GC-only, not evaluated, %d of them denied if evaluated; %d by the kubernetes.io/psp policy), %d denied; by kind (allowed, denied):",
		cases, invalid, allowed, ignoredGC, gcWouldDeny, hintChosen, cases-allowed-disagreements)
	for k, n := range byKind {
		t.Logf("  %-22s %v", updateKindNames[k], n)
	}
	// Coverage: every kind of update, allowed and denied ones (but updates
	// that change nothing, or only GC fields, are never evaluated:
	// IsOnlyMutatingGCFields), GC-only ones that would have been denied had
	// they been evaluated.
	for k, n := range byKind {
		if n[0] == 0 || (k != updGC && k != updNothing && n[1] == 0) {
			t.Errorf("the generator covers too little: %s updates allowed, denied: %v", updateKindNames[k], n)
		}
	}
	if gcWouldDeny == 0 || hintChosen == 0 || invalid == 0 || cases-allowed < cases/20 {
		t.Errorf("the generator covers too little: %d GC-only denied if evaluated, %d by the hint, %d invalid, %d of %d allowed", gcWouldDeny, hintChosen, invalid, allowed, cases)
	}
}
