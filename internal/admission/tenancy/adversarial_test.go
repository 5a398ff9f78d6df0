package tenancy

// An adversarial review of the Tenancy plugin: a tenant's user trying to
// leave its nodes, its seccomp profile, its SELinux level or its Service
// rules, and requests the plugin answers wrongly. Every request goes through
// the webhook's path (an AdmissionReview through admission.Chain.Review, in
// the pass kube-apiserver calls) or kguard check's (Chain.AdmitDocuments).
//
// The tests named TestEscape… and TestRefuses… were the review's findings:
// each failed before the fix that came with it (the comments describe the
// plugin as it was) and holds the right answer now. The tests named
// TestHolds… are attempts the plugin answered correctly, kept as regression
// tests where the other tests of the package do not cover them, with the
// admitted counterparts of the fixed rules.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/manifest"
)

// numericTenant is a third tenant whose nodes are labelled tenant-id=7 (a
// numeric label, which the Gt and Lt operators of node affinity compare).
const numericTenant = `
---
apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: team-n}
spec:
  namespaces: {names: [n-dev]}
  nodes:
    taint: {key: tenant-id, value: "7", effect: NoSchedule}
    labels: {tenant-id: "7"}
`

// podReview sends the admission of a pod (op on subresource sub, "" for
// the pod itself) in namespace ns through c in phase, as kube-apiserver
// sends it: the pod, and on UPDATE the stored pod as oldObject.
func podReview(t *testing.T, c *admission.Chain, phase admission.Phase, op admissionv1.Operation, sub, ns string, obj, old *corev1.Pod) *admissionv1.AdmissionResponse {
	t.Helper()
	encode := func(p *corev1.Pod) json.RawMessage {
		p.Namespace = ns
		raw, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	req := map[string]any{"uid": "1", "kind": map[string]string{"group": "", "version": "v1", "kind": "Pod"},
		"resource": map[string]string{"group": "", "version": "v1", "resource": "pods"},
		"name":     obj.Name, "namespace": ns, "operation": op, "userInfo": map[string]any{"username": "alice"}, "object": encode(obj)}
	if sub != "" {
		req["subResource"] = sub
	}
	if old != nil {
		req["oldObject"] = encode(old)
	}
	return reviewRequest(t, c, phase, req)
}

// wantDenied fails unless resp refuses with a message containing want.
func wantDenied(t *testing.T, what string, resp *admissionv1.AdmissionResponse, want string) {
	t.Helper()
	switch {
	case resp.Allowed:
		t.Errorf("%s: admitted, want refused with %q (patch %s)", what, want, resp.Patch)
	case !strings.Contains(resp.Result.Message, want):
		t.Errorf("%s: refused with %q, want %q", what, resp.Result.Message, want)
	}
}

// wantAllowed fails unless resp admits.
func wantAllowed(t *testing.T, what string, resp *admissionv1.AdmissionResponse) {
	t.Helper()
	if !resp.Allowed {
		t.Errorf("%s: refused: %s", what, resp.Result.Message)
	}
}

// runningPod is a team-a pod as kguard admitted it: on team-a's nodes, at
// its SELinux level, bound to a node.
func runningPod() *corev1.Pod {
	p := pod(corev1.PodSpec{
		NodeName:     "node-a1",
		Tolerations:  []corev1.Toleration{{Key: "kguard.io/tenant", Operator: corev1.TolerationOpEqual, Value: "team-a", Effect: corev1.TaintEffectNoSchedule}},
		NodeSelector: map[string]string{"kguard.io/tenant": "team-a"},
		SecurityContext: &corev1.PodSecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Level: "s0:c1,c2"},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
	})
	p.Name = "web"
	return p
}

// withEphemeral is p with the ephemeral container `kubectl debug` adds.
func withEphemeral(p *corev1.Pod, sc *corev1.SecurityContext) *corev1.Pod {
	q := p.DeepCopy()
	q.Spec.EphemeralContainers = append(q.Spec.EphemeralContainers, corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger", Image: "busybox", SecurityContext: sc}})
	return q
}

// Finding: the plugin does not look at pods/ephemeralcontainers at all
// (Plugin.Handles is true only for subresource ""), although
// deploy/webhooks.yaml sends that subresource to /validate and
// unisolable() and levelsOf() were written to judge spec.ephemeralContainers
// — which only that subresource can change (kube-apiserver refuses
// ephemeral containers on a pod's CREATE and ignores them on its UPDATE).
// So a team-a user granted pods/ephemeralcontainers (`kubectl debug`; not in
// the built-in admin role precisely because admission must cover it,
// kubernetes/kubernetes#109332) adds a privileged container to a pod of a
// tenant isolated by SELinux MCS levels. docs/tenancy.md, checklist row 14:
// privileged pods escape MCS (spc_t) and "the Tenancy plugin refuses them in
// a tenant with seLinux perPod or perTenant". Right answer: refused, as the
// same container in spec.containers is.
func TestEscapePrivilegedEphemeralContainer(t *testing.T) {
	c := chain(t)
	yes := true
	old := runningPod()
	resp := podReview(t, c, admission.PhaseValidate, admissionv1.Update, "ephemeralcontainers", "a-dev",
		withEphemeral(old, &corev1.SecurityContext{Privileged: &yes}), old)
	wantDenied(t, "a privileged ephemeral container in a perPod tenant", resp,
		`spec.ephemeralContainers[0].securityContext.privileged: Forbidden`)
}

// Finding: same hole, for the SELinux level itself. An ephemeral container
// may set securityContext.seLinuxOptions.level; the Pod Security Standards
// (baseline and restricted) leave the level free, so nothing but the Tenancy
// plugin judges it. docs/tenancy.md, "SELinux MCS levels": "a level is
// exactly two distinct categories … ranges (s0-s0:c0.c1023) are refused"
// (a range dominates every pair: it reads every pod's files) and "a pod's
// containers share its one level". Right answer: refused, as levelsOf()
// would for the pod's own containers.
func TestEscapeEphemeralContainerSELinuxLevel(t *testing.T) {
	c := chain(t)
	old := runningPod()
	for _, tc := range []struct{ name, level string }{
		{"the whole category range", "s0-s0:c0.c1023"},
		{"another pair than the pod's", "s0:c3,c4"},
	} {
		resp := podReview(t, c, admission.PhaseValidate, admissionv1.Update, "ephemeralcontainers", "a-dev",
			withEphemeral(old, &corev1.SecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Level: tc.level}}), old)
		wantDenied(t, "an ephemeral container at "+tc.name, resp, `spec.ephemeralContainers[0].securityContext.seLinuxOptions.level`)
	}
}

// Finding: a pod whose every container names a seccomp profile gets none at
// pod level from the plugin (setsSeccomp: "the pod, or every one of its
// containers"); an ephemeral container added later without a profile then
// inherits none, and the kubelet runs it Unconfined (unless every node runs
// --seccomp-default). The plugin, which does not handle the subresource,
// admits it. docs/tenancy.md row 12 (seed 004: "seccomp RuntimeDefault for
// every container"): the plugin gives podSecurity.seccomp to what sets no
// profile. Right answer: the ephemeral container is refused in the
// validating pass (kguard's mutating webhook is not sent the subresource, so
// it cannot be given the profile) — or, equivalently for new pods, the
// plugin sets the pod-level profile whenever the pod level has none, so
// that later containers inherit it. Severity: lower (only at Pod Security
// levels other than restricted, which requires a profile on every container).
func TestEscapeEphemeralContainerWithoutSeccomp(t *testing.T) {
	c := chain(t)
	// The pod as the tenant creates it: a profile on its one container only.
	created := pod(corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "app",
		SecurityContext: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}}}})
	created.Name = "web"
	resp := podReview(t, c, admission.PhaseMutate, admissionv1.Create, "", "a-dev", created.DeepCopy(), nil)
	if !resp.Allowed || strings.Contains(string(resp.Patch), `"seccompProfile"`) {
		t.Fatalf("creation: %+v, patch %s (the plugin gives no pod-level profile to such a pod)", resp.Result, resp.Patch)
	}
	old := runningPod()
	old.Spec.SecurityContext.SeccompProfile = nil
	old.Spec.Containers = created.Spec.Containers
	resp = podReview(t, c, admission.PhaseValidate, admissionv1.Update, "ephemeralcontainers", "a-dev", withEphemeral(old, nil), old)
	wantDenied(t, "an ephemeral container without a seccomp profile in a pod without one", resp, `spec.ephemeralContainers[0]`)
}

// requiredAffinity is a pod spec whose required node affinity is the one
// expression e.
func requiredAffinity(e corev1.NodeSelectorRequirement) corev1.PodSpec {
	return corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{e}}}}}}}
}

// Finding: ix.affinity judges only the In operator; a required node
// affinity term that selects another tenant's nodes with NotIn, Exists, Gt
// or Lt is admitted. docs/tenancy.md row 2: "always refused: … a nodeSelector
// or required affinity selecting another tenant's nodes". Under the
// scheduler's semantics (k8s.io/component-helpers/scheduling/corev1/
// nodeaffinity): `kguard.io/tenant NotIn [team-a]` and `kguard.io/tenant
// Exists` match a node labelled kguard.io/tenant=team-b, `tenant-id Gt 6`
// a node labelled tenant-id=7 (team-n's). Right answer: refused, as
// `kguard.io/tenant In [team-b]` is (the plugin should match each term
// against each other tenant's node labels, not look the values up).
// Severity: the rule is broken, but the pod still does not reach those
// nodes: the injected nodeSelector (ANDed with the affinity) and the other
// tenant's taint both keep it off.
func TestEscapeRequiredAffinityOtherOperators(t *testing.T) {
	c := chainOf(t, tenants+numericTenant, nil)
	for _, tc := range []struct {
		name string
		e    corev1.NodeSelectorRequirement
	}{
		{"NotIn its own value", corev1.NodeSelectorRequirement{Key: "kguard.io/tenant", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"team-a"}}},
		{"Exists", corev1.NodeSelectorRequirement{Key: "kguard.io/tenant", Operator: corev1.NodeSelectorOpExists}},
		{"Gt", corev1.NodeSelectorRequirement{Key: "tenant-id", Operator: corev1.NodeSelectorOpGt, Values: []string{"6"}}},
		{"Lt", corev1.NodeSelectorRequirement{Key: "tenant-id", Operator: corev1.NodeSelectorOpLt, Values: []string{"8"}}},
	} {
		spec := requiredAffinity(tc.e)
		spec.SecurityContext = leveled("s0:c1,c2") // the level kguard's mutating pass gave it
		resp := review(t, c, admission.PhaseValidate, "", "Pod", "pods", "a-dev", pod(spec))
		wantDenied(t, "required node affinity "+tc.name, resp,
			`spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]: Forbidden: selects the nodes of tenant`)
	}
}

// Finding (offline only): a toleration with an empty key and operator Equal
// (or no operator) tolerates every taint of that value, whatever its key
// (core/v1 Toleration.ToleratesTaint: an empty key matches every key), so
// {operator: Equal, value: team-b} tolerates team-b's taint. The plugin
// looks the toleration up by key=value ("=team-b": no tenant) and admits
// it; `kguard check` says the pod is admitted. kube-apiserver's validation
// refuses such a toleration ("operator must be Exists when `key` is
// empty"), so the webhook's answer does not matter in a cluster, but
// FuzzNeverToleratesAnotherTenant's own property is broken by it and an
// offline check must not admit what tolerates another tenant's taint.
// Right answer: refused (an empty key with anything but Exists is invalid;
// fail closed).
func TestEscapeEmptyKeyToleration(t *testing.T) {
	c := chain(t)
	for _, op := range []corev1.TolerationOperator{corev1.TolerationOpEqual, ""} {
		p := pod(corev1.PodSpec{Tolerations: []corev1.Toleration{{Operator: op, Value: "team-b"}}})
		raw, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := manifest.Read(strings.NewReader(string(raw)), "pod.json")
		if err != nil {
			t.Fatal(err)
		}
		out := c.AdmitDocuments(context.Background(), docs, "a-dev", &user.DefaultInfo{Name: "alice"})
		if out[0].Err != nil {
			continue // refused as unreadable: fine
		}
		wantDenied(t, "kguard check of an empty-key toleration with operator "+string(op), out[0].Response, `spec.tolerations[0]`)
	}
}

// Finding (refuses valid pods): in mode require, a pod must carry the
// tenant's toleration written exactly as {key, operator: Equal, value,
// effect} (MatchToleration). A toleration without operator (which "defaults
// to Equal": core/v1 Toleration, and ToleratesTaint treats "" as Equal;
// kube-apiserver does not default the field) or without effect (which
// tolerates every effect of that key=value) tolerates the tenant's taint
// just as well, selects nothing else, and is refused: "tenant team-b's pods
// must tolerate its taint". docs/tenancy.md: require "refuses pods without
// them". Right answer: admitted.
func TestRefusesOwnTolerationWrittenOtherwise(t *testing.T) {
	c := chain(t)
	sel := map[string]string{"kguard.io/tenant": "team-b"}
	for _, tc := range []struct {
		name string
		tol  corev1.Toleration
	}{
		{"no operator", corev1.Toleration{Key: "kguard.io/tenant", Value: "team-b", Effect: corev1.TaintEffectNoSchedule}},
		{"no effect", corev1.Toleration{Key: "kguard.io/tenant", Operator: corev1.TolerationOpEqual, Value: "team-b"}},
	} {
		resp := review(t, c, admission.PhaseValidate, "", "Pod", "pods", "b-prod",
			pod(corev1.PodSpec{NodeSelector: sel, Tolerations: []corev1.Toleration{tc.tol}}))
		wantAllowed(t, "team-b's own toleration with "+tc.name, resp)
	}
}

// Finding (refuses valid updates): the rules judge the whole pod on every
// UPDATE, not what the UPDATE changes. A pod of team-b stored before its
// Tenant said mode require (no toleration, no nodeSelector) can then not be
// updated at all — a label added, or a finalizer removed by a controller
// (the Job controller's batch.kubernetes.io/job-tracking), so such pods
// cannot finish terminating — although kube-apiserver forbids changing
// anything the rules look at on a running pod except adding tolerations.
// The plugin already makes this exception for spec.nodeName ("an UPDATE
// keeps the node the scheduler bound") and for required labels
// (docs/tenancy.md: "except on an UPDATE that keeps the value the object
// already had"); upstream PodSecurity admission lets metadata-only pod
// updates through. Right answer: admitted (judge what the UPDATE adds: new
// tolerations, and the nodeSelector/affinity a gated pod may still gain).
func TestRefusesMetadataUpdateOfStoredPod(t *testing.T) {
	c := chain(t)
	old := pod(corev1.PodSpec{NodeName: "node-b1"})
	old.Name = "job-x"
	old.Finalizers = []string{"batch.kubernetes.io/job-tracking"}
	updated := old.DeepCopy()
	updated.Finalizers = nil
	resp := podReview(t, c, admission.PhaseValidate, admissionv1.Update, "", "b-prod", updated, old)
	wantAllowed(t, "a finalizer removed from a pod stored before mode require", resp)
}

// Finding (offline only): ValidateObject reads the Service with
// encoding/json, which matches member names case-insensitively (with
// Unicode folding: "ſ", U+017F, folds to "s") and keeps the last of
// duplicates; kube-apiserver matches them exactly and drops (or, with
// fieldValidation=Strict, refuses) the unknown one. So in `kguard check`
// the document below is a Service without external IPs, while
// kube-apiserver (kubectl --validate=false, or warn) stores externalIPs
// [198.51.100.7] (CVE-2020-8554). The webhook is not fooled:
// kube-apiserver sends it the object re-encoded. The rest of kguard reads
// objects case-sensitively (sigs.k8s.io/json in readLabels and for pods).
// Right answer: refused (the externalIPs), or the document refused as
// unreadable.
func TestEscapeServiceExternalIPsByCaseFoldedKey(t *testing.T) {
	docs, err := manifest.Read(strings.NewReader(
		"apiVersion: v1\nkind: Service\nmetadata: {name: mitm}\nspec:\n  externalIPs: [198.51.100.7]\n  externalIPſ: []\n  ports: [{port: 80}]\n"), "svc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := chain(t).AdmitDocuments(context.Background(), docs, "a-dev", &user.DefaultInfo{Name: "alice"})
	if out[0].Err != nil {
		return
	}
	wantDenied(t, "kguard check of a Service with externalIPs and externalIPſ", out[0].Response, "spec.externalIPs: Forbidden")
}

// Regression tests: attempts the plugin answers correctly that the other
// tests of the package do not try.

// An UPDATE of a running pod may add tolerations (kube-apiserver allows it):
// one of another tenant's taint, or of every taint, is refused then too.
func TestHoldsTolerationAddedByUpdate(t *testing.T) {
	c := chain(t)
	old := runningPod()
	for _, tol := range []corev1.Toleration{
		{Key: "kguard.io/tenant", Operator: corev1.TolerationOpEqual, Value: "team-b", Effect: corev1.TaintEffectNoSchedule},
		{Key: "kguard.io/tenant", Value: "team-b"}, // no operator (Equal), every effect
		{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	} {
		updated := old.DeepCopy()
		updated.Spec.Tolerations = append(updated.Spec.Tolerations, tol)
		for _, phase := range []admission.Phase{admission.PhaseMutate, admission.PhaseValidate} {
			resp := podReview(t, c, phase, admissionv1.Update, "", "a-dev", updated, old)
			wantDenied(t, "an UPDATE adding a toleration", resp, `spec.tolerations[1]: Forbidden`)
		}
	}
	// The node the scheduler bound stays: an UPDATE is not refused for it.
	updated := old.DeepCopy()
	updated.Labels = map[string]string{"x": "y"}
	wantAllowed(t, "an UPDATE of a bound pod's labels", podReview(t, c, admission.PhaseValidate, admissionv1.Update, "", "a-dev", updated, old))
}

// Tolerations that do not tolerate another tenant's taint are admitted:
// the other effect, and tolerationSeconds (which only delays a NoExecute
// eviction).
func TestHoldsTolerationsOfOtherEffect(t *testing.T) {
	c := chain(t)
	secs := int64(0)
	for _, tol := range []corev1.Toleration{
		{Key: "kguard.io/tenant", Operator: corev1.TolerationOpEqual, Value: "team-b", Effect: corev1.TaintEffectNoExecute},
		{Key: "kguard.io/tenant", Operator: corev1.TolerationOpEqual, Value: "team-b", Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &secs},
		{Key: "kguard.io/Tenant", Operator: corev1.TolerationOpExists}, // keys are case-sensitive
	} {
		resp := review(t, c, admission.PhaseValidate, "", "Pod", "pods", "a-dev", pod(corev1.PodSpec{
			SecurityContext: leveled("s0:c1,c2"), Tolerations: []corev1.Toleration{tol}}))
		wantAllowed(t, "a toleration of no tenant's taint", resp)
	}
}

// A CronJob's template (spec.jobTemplate.spec.template) is injected and
// judged like a Deployment's.
func TestHoldsCronJobTemplate(t *testing.T) {
	c := chain(t)
	cj := &batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}, ObjectMeta: metav1.ObjectMeta{Name: "x"},
		Spec: batchv1.CronJobSpec{Schedule: "* * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "app"}},
				NodeSelector: map[string]string{"kguard.io/tenant": "team-b"}}}}}}}
	resp := review(t, c, admission.PhaseValidate, "batch", "CronJob", "cronjobs", "a-dev", cj)
	wantDenied(t, "a CronJob selecting team-b's nodes", resp, `spec.jobTemplate.spec.template.spec.nodeSelector: Forbidden: selects the nodes of tenant "team-b"`)
	cj.Spec.JobTemplate.Spec.Template.Spec.NodeSelector = nil
	resp = review(t, c, admission.PhaseMutate, "batch", "CronJob", "cronjobs", "a-dev", cj)
	if !resp.Allowed || !strings.Contains(string(resp.Patch), `/spec/jobTemplate/spec/template/spec/tolerations`) {
		t.Errorf("the CronJob's template was not injected: %+v %s", resp.Result, resp.Patch)
	}
}

// Services on UPDATE: external IPs or a type the tenant does not allow
// added to a stored ClusterIP Service are refused; ExternalName too; a
// Service that does not decode is refused.
func TestHoldsServiceUpdatesAndOddInput(t *testing.T) {
	c := chain(t)
	svc := func(spec string) json.RawMessage {
		return json.RawMessage(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"x","namespace":"a-dev"},"spec":` + spec + `}`)
	}
	stored := svc(`{"type":"ClusterIP","ports":[{"port":80}]}`)
	for _, tc := range []struct {
		name, op string
		object   json.RawMessage
		want     string
	}{
		{"externalIPs added", "UPDATE", svc(`{"type":"ClusterIP","ports":[{"port":80}],"externalIPs":["198.51.100.7"]}`), "spec.externalIPs: Forbidden"},
		{"type changed to NodePort", "UPDATE", svc(`{"type":"NodePort","ports":[{"port":80}]}`), `spec.type: Unsupported value: "NodePort"`},
		{"ExternalName", "CREATE", svc(`{"type":"ExternalName","externalName":"example.com"}`), `spec.type: Unsupported value: "ExternalName"`},
		{"LoadBalancer with a range and 0.0.0.0/0", "CREATE", svc(`{"type":"LoadBalancer","ports":[{"port":80}],"loadBalancerSourceRanges":["203.0.113.0/25","0.0.0.0/0"]}`),
			`spec.loadBalancerSourceRanges[1]: Invalid value: "0.0.0.0/0"`},
		{"externalIPs not a list", "CREATE", svc(`{"externalIPs":"198.51.100.7"}`), "the Service does not decode"},
	} {
		req := map[string]any{"uid": "1", "kind": map[string]string{"group": "", "version": "v1", "kind": "Service"},
			"resource": map[string]string{"group": "", "version": "v1", "resource": "services"},
			"name":     "x", "namespace": "a-dev", "operation": tc.op, "userInfo": map[string]any{"username": "alice"}, "object": tc.object}
		if tc.op == "UPDATE" {
			req["oldObject"] = stored
		}
		wantDenied(t, tc.name, reviewRequest(t, c, admission.PhaseValidate, req), tc.want)
	}
}

// A pod review whose object repeats a member (a later empty "tolerations"
// hiding one that tolerates everything) is refused as unreadable, in both
// passes, not admitted with either copy.
func TestHoldsDuplicatedMembersRefused(t *testing.T) {
	c := chain(t)
	object := json.RawMessage(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","namespace":"a-dev"},` +
		`"spec":{"containers":[{"name":"c","image":"app"}],"tolerations":[{"operator":"Exists"}],"tolerations":[]}}`)
	for _, phase := range []admission.Phase{admission.PhaseMutate, admission.PhaseValidate} {
		resp := reviewRequest(t, c, phase, map[string]any{"uid": "1", "kind": map[string]string{"group": "", "version": "v1", "kind": "Pod"},
			"resource": map[string]string{"group": "", "version": "v1", "resource": "pods"},
			"name":     "x", "namespace": "a-dev", "operation": "CREATE", "userInfo": map[string]any{"username": "alice"}, "object": object})
		if resp.Allowed {
			t.Errorf("phase %v: a pod with two tolerations members was admitted", phase)
		}
	}
}

// TestHoldsEphemeralAdmitted: what the fixed rules still admit — `kubectl
// debug` as it is meant (no privilege, the pod's level or none, a seccomp
// profile of its own or the pod's), and an ephemeral container the stored
// pod already holds (added before the rules), which is not judged again.
func TestHoldsEphemeralAdmitted(t *testing.T) {
	c := chain(t)
	old := runningPod() // at s0:c1,c2, RuntimeDefault at pod level
	for _, tc := range []struct {
		name string
		sc   *corev1.SecurityContext
	}{
		{"no security context", nil},
		{"the pod's own level", &corev1.SecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Level: "s0:c1,c2"}}},
		{"its own seccomp profile", &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}},
	} {
		resp := podReview(t, c, admission.PhaseValidate, admissionv1.Update, "ephemeralcontainers", "a-dev", withEphemeral(old, tc.sc), old)
		wantAllowed(t, "an ephemeral container with "+tc.name, resp)
	}
	// Without a pod-level profile: one of its own is enough.
	bare := runningPod()
	bare.Spec.SecurityContext.SeccompProfile = nil
	resp := podReview(t, c, admission.PhaseValidate, admissionv1.Update, "ephemeralcontainers", "a-dev",
		withEphemeral(bare, &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}), bare)
	wantAllowed(t, "an ephemeral container with a profile in a pod without one", resp)
	// A privileged one the stored pod already holds: only the new one is judged.
	yes := true
	held := withEphemeral(old, &corev1.SecurityContext{Privileged: &yes})
	more := held.DeepCopy()
	more.Spec.EphemeralContainers = append(more.Spec.EphemeralContainers, corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "second", Image: "busybox"}})
	wantAllowed(t, "a second, plain ephemeral container beside a held privileged one",
		podReview(t, c, admission.PhaseValidate, admissionv1.Update, "ephemeralcontainers", "a-dev", more, held))
	// At another level than the pod's, in a pod without one: refused.
	nolevel := runningPod()
	nolevel.Spec.SecurityContext.SELinuxOptions = nil
	wantDenied(t, "a level in a pod without one",
		podReview(t, c, admission.PhaseValidate, admissionv1.Update, "ephemeralcontainers", "a-dev",
			withEphemeral(nolevel, &corev1.SecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Level: "s0:c1,c2"}}), nolevel),
		"no level of its own")
}

// TestHoldsAffinityAdmitted: required affinity terms that select no other
// tenant's nodes — the tenant's own label, keys no tenant labels its nodes
// with, another tenant's key excluded (DoesNotExist, NotIn its value, In
// other values, Gt above its value) — are admitted; a term is judged as a
// whole (In and NotIn team-b selects nothing; In team-b with DoesNotExist of
// team-n's key still selects team-b).
func TestHoldsAffinityAdmitted(t *testing.T) {
	c := chainOf(t, tenants+numericTenant, nil)
	req := func(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
	}
	for _, tc := range []struct {
		name  string
		exprs []corev1.NodeSelectorRequirement
		deny  string // "" admitted
	}{
		{"its own value", []corev1.NodeSelectorRequirement{req("kguard.io/tenant", corev1.NodeSelectorOpIn, "team-a")}, ""},
		{"a zone", []corev1.NodeSelectorRequirement{req("topology.kubernetes.io/zone", corev1.NodeSelectorOpIn, "z1")}, ""},
		{"DoesNotExist of team-n's key", []corev1.NodeSelectorRequirement{req("tenant-id", corev1.NodeSelectorOpDoesNotExist)}, ""},
		{"NotIn team-n's value", []corev1.NodeSelectorRequirement{req("tenant-id", corev1.NodeSelectorOpNotIn, "7")}, ""},
		{"Gt team-n's value", []corev1.NodeSelectorRequirement{req("tenant-id", corev1.NodeSelectorOpGt, "7")}, ""},
		{"Gt not a number", []corev1.NodeSelectorRequirement{req("tenant-id", corev1.NodeSelectorOpGt, "x")}, ""},
		{"own value and NotIn the others", []corev1.NodeSelectorRequirement{
			req("kguard.io/tenant", corev1.NodeSelectorOpIn, "team-a"), req("kguard.io/tenant", corev1.NodeSelectorOpNotIn, "team-b")}, ""},
		{"In and NotIn team-b (nothing meets both)", []corev1.NodeSelectorRequirement{
			req("kguard.io/tenant", corev1.NodeSelectorOpIn, "team-b"), req("kguard.io/tenant", corev1.NodeSelectorOpNotIn, "team-b")}, ""},
		{"In team-b, DoesNotExist of team-n's key", []corev1.NodeSelectorRequirement{
			req("tenant-id", corev1.NodeSelectorOpDoesNotExist), req("kguard.io/tenant", corev1.NodeSelectorOpIn, "team-b")},
			`matchExpressions[1]: Forbidden: selects the nodes of tenant "team-b" (kguard.io/tenant=team-b)`},
	} {
		spec := corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: tc.exprs}}}}}}
		spec.SecurityContext = leveled("s0:c1,c2")
		resp := review(t, c, admission.PhaseValidate, "", "Pod", "pods", "a-dev", pod(spec))
		if tc.deny == "" {
			wantAllowed(t, "required node affinity "+tc.name, resp)
		} else {
			wantDenied(t, "required node affinity "+tc.name, resp, tc.deny)
		}
	}
}

// TestHoldsSpecChangeJudged: an UPDATE that changes the spec of a pod
// stored before mode require is judged whole (here: an image changed, and
// the pod lacks the tenant's toleration and nodeSelector).
func TestHoldsSpecChangeJudged(t *testing.T) {
	c := chain(t)
	old := pod(corev1.PodSpec{NodeName: "node-b1"})
	old.Name = "job-x"
	updated := old.DeepCopy()
	updated.Spec.Containers[0].Image = "app:v2"
	wantDenied(t, "an image changed in a pod stored before mode require",
		podReview(t, c, admission.PhaseValidate, admissionv1.Update, "", "b-prod", updated, old), "must tolerate its taint")
}

// TestHoldsWorkloadUpdateOfSameTemplate: a Deployment stored before its
// tenant's mode require (no toleration, no nodeSelector) may still be
// scaled or relabelled — its template's spec unchanged is not judged again,
// in either pass — while an UPDATE that changes the template is judged
// whole and refused.
func TestHoldsWorkloadUpdateOfSameTemplate(t *testing.T) {
	c := chain(t)
	deploy := func(replicas int32, image string) *appsv1.Deployment {
		return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "b-prod"},
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}}}}}
	}
	update := func(obj, old *appsv1.Deployment, phase admission.Phase) *admissionv1.AdmissionResponse {
		raw, _ := json.Marshal(obj)
		oldRaw, _ := json.Marshal(old)
		return reviewRequest(t, c, phase, map[string]any{"uid": "1", "kind": map[string]string{"group": "apps", "version": "v1", "kind": "Deployment"},
			"resource": map[string]string{"group": "apps", "version": "v1", "resource": "deployments"}, "name": "web", "namespace": "b-prod",
			"operation": "UPDATE", "userInfo": map[string]any{"username": "alice"}, "object": json.RawMessage(raw), "oldObject": json.RawMessage(oldRaw)})
	}
	for _, phase := range []admission.Phase{admission.PhaseMutate, admission.PhaseValidate} {
		if r := update(deploy(1, "app"), deploy(3, "app"), phase); !r.Allowed || r.Patch != nil {
			t.Errorf("phase %d: a scale of a Deployment stored before mode require: allowed=%v %q patch %s", phase, r.Allowed, r.Result.Message, r.Patch)
		}
		wantDenied(t, "a new image in a Deployment stored before mode require", update(deploy(3, "app:v2"), deploy(3, "app"), phase), "must tolerate its taint")
	}
}
