package tenancy

import (
	"context"

	"encoding/json"
	"github.com/go-logr/logr"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/policy"
)

// Two tenants: team-a on its pool by name (inject), team-b by label with the
// defaults (its own taint kguard.io/tenant=team-b, require mode).
const tenants = `apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: team-a}
spec:
  namespaces: {names: [a-dev]}
  nodes:
    taint: {key: kguard.io/tenant, value: team-a, effect: NoSchedule}
    labels: {kguard.io/tenant: team-a}
    mode: inject
  podSecurity: {level: restricted}
  services:
    allowedTypes: [ClusterIP, LoadBalancer]
    loadBalancerSourceRanges: [203.0.113.0/24]
---
apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: team-b}
spec:
  namespaces:
    selector: {matchLabels: {tenant: team-b}}
  nodes: {mode: require}
  podSecurity: {seLinux: "off"}
---
apiVersion: v1
kind: Namespace
metadata: {name: b-prod, labels: {tenant: team-b}}
`

func chain(t *testing.T) *admission.Chain { return chainOf(t, tenants, nil) }

// chainOf is the plugin alone over the tenants of docs, configured by cfg.
func chainOf(t testing.TB, docs string, cfg any) *admission.Chain {
	t.Helper()
	set, err := policy.Read(strings.NewReader(docs), "tenants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := admission.NewChain([]string{PluginName}, admission.Inputs{Policies: set}, map[string]any{PluginName: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func review(t *testing.T, c *admission.Chain, phase admission.Phase, group, kind, resource, ns string, obj any) *admissionv1.AdmissionResponse {
	t.Helper()
	if p, ok := obj.(*corev1.Pod); ok {
		p.Namespace = ns // as kube-apiserver sends it
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	version := "v1"
	return reviewRequest(t, c, phase, map[string]any{"uid": "1", "kind": map[string]string{"group": group, "version": version, "kind": kind},
		"resource": map[string]string{"group": group, "version": version, "resource": resource},
		"name":     "x", "namespace": ns, "operation": "CREATE", "userInfo": map[string]any{"username": "alice"}, "object": json.RawMessage(raw)})
}

// reviewRequest sends the AdmissionRequest req (as JSON members) through
// c in phase.
func reviewRequest(t *testing.T, c *admission.Chain, phase admission.Phase, req map[string]any) *admissionv1.AdmissionResponse {
	t.Helper()
	body, err := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Review(context.Background(), body, phase)
	if err != nil {
		t.Fatal(err)
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(out, &ar); err != nil {
		t.Fatal(err)
	}
	return ar.Response
}

func pod(spec corev1.PodSpec) *corev1.Pod {
	if len(spec.Containers) == 0 {
		spec.Containers = []corev1.Container{{Name: "c", Image: "app"}}
	}
	return &corev1.Pod{TypeMeta: metaPod, ObjectMeta: metav1.ObjectMeta{Name: "x"}, Spec: spec}
}

var metaPod = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}

func TestInject(t *testing.T) {
	c := chain(t)
	resp := review(t, c, admission.PhaseMutate, "", "Pod", "pods", "a-dev", pod(corev1.PodSpec{}))
	if !resp.Allowed || resp.Patch == nil {
		t.Fatalf("no patch: %+v", resp)
	}
	patch := string(resp.Patch)
	for _, want := range []string{`"path":"/spec/tolerations"`, `"key":"kguard.io/tenant"`, `"value":"team-a"`, `"/spec/nodeSelector"`, `"seccompProfile":{"type":"RuntimeDefault"}`} {
		if !strings.Contains(patch, want) {
			t.Errorf("patch %s lacks %s", patch, want)
		}
	}
	// Not a tenant's namespace: nothing.
	if resp := review(t, c, admission.PhaseMutate, "", "Pod", "pods", "default", pod(corev1.PodSpec{})); resp.Patch != nil {
		t.Errorf("a pod of no tenant was patched: %s", resp.Patch)
	}
}

func TestValidatePods(t *testing.T) {
	c := chain(t)
	yes := true
	own := corev1.Toleration{Key: "kguard.io/tenant", Operator: corev1.TolerationOpEqual, Value: "team-b", Effect: corev1.TaintEffectNoSchedule}
	ownSel := map[string]string{"kguard.io/tenant": "team-b"}
	for _, tc := range []struct {
		name string
		ns   string
		spec corev1.PodSpec
		want string // "" allowed
	}{
		{"team-b with its toleration and selector", "b-prod", corev1.PodSpec{Tolerations: []corev1.Toleration{own}, NodeSelector: ownSel}, ""},
		{"require mode: no toleration", "b-prod", corev1.PodSpec{NodeSelector: ownSel},
			`tenant "team-b": spec.tolerations: Required value: tenant "team-b"'s pods must tolerate its taint kguard.io/tenant=team-b:NoSchedule`},
		{"require mode: no selector", "b-prod", corev1.PodSpec{Tolerations: []corev1.Toleration{own}},
			`spec.nodeSelector[kguard.io/tenant]: Required value`},
		{"another tenant's taint", "b-prod", corev1.PodSpec{NodeSelector: ownSel, Tolerations: []corev1.Toleration{own,
			{Key: "kguard.io/tenant", Operator: corev1.TolerationOpEqual, Value: "team-a", Effect: corev1.TaintEffectNoSchedule}}},
			`spec.tolerations[1]: Forbidden: tolerates the taint of tenant "team-a" (kguard.io/tenant=team-a:NoSchedule)`},
		{"every value of the key", "a-dev", corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "kguard.io/tenant", Operator: corev1.TolerationOpExists}}},
			`spec.tolerations[0]: Forbidden: tolerates the taint of tenant "team-b"`},
		{"wildcard toleration", "a-dev", corev1.PodSpec{Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
			`spec.tolerations[0]: Forbidden: tolerates every taint`},
		{"another tenant's nodes by selector", "a-dev", corev1.PodSpec{NodeSelector: map[string]string{"kguard.io/tenant": "team-b"}},
			`spec.nodeSelector: Forbidden: selects the nodes of tenant "team-b"`},
		{"another tenant's nodes by affinity", "a-dev", corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kguard.io/tenant", Operator: corev1.NodeSelectorOpIn, Values: []string{"team-b"}}}}}}}}},
			`spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]: Forbidden: selects the nodes of tenant "team-b"`},
		{"a node by name", "a-dev", corev1.PodSpec{NodeName: "node-1"}, `spec.nodeName: Forbidden`},
		{"inject mode: nothing needed", "a-dev", corev1.PodSpec{SecurityContext: leveled("s0:c1,c2")}, ""},
		{"no SELinux level under MCS isolation", "a-dev", corev1.PodSpec{},
			`spec.securityContext.seLinuxOptions.level: Required value: tenant "team-a"'s pods get an SELinux MCS level from kguard's mutating webhook (seLinux: perPod)`},
		{"privileged under MCS isolation", "a-dev", corev1.PodSpec{Containers: []corev1.Container{{Name: "c", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}},
			`spec.containers[0].securityContext.privileged: Forbidden: tenant "team-a" isolates its pods with SELinux MCS levels (seLinux: perPod); a privileged container runs unconfined by SELinux`},
		{"privileged init container under MCS isolation", "a-dev", corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}},
			`spec.initContainers[0].securityContext.privileged: Forbidden`},
		{"hostPID under MCS isolation", "a-dev", corev1.PodSpec{HostPID: true},
			`spec.hostPID: Forbidden: tenant "team-a" isolates its pods with SELinux MCS levels (seLinux: perPod); a pod in the host's PID namespace`},
		{"privileged and hostPID with seLinux off", "b-prod", corev1.PodSpec{HostPID: true, Tolerations: []corev1.Toleration{own}, NodeSelector: ownSel,
			Containers: []corev1.Container{{Name: "c", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}}, ""},
		{"no tenant", "default", corev1.PodSpec{NodeName: "n", Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}, ""},
	} {
		resp := review(t, c, admission.PhaseValidate, "", "Pod", "pods", tc.ns, pod(tc.spec))
		switch {
		case tc.want == "" && !resp.Allowed:
			t.Errorf("%s: refused: %s", tc.name, resp.Result.Message)
		case tc.want != "" && resp.Allowed:
			t.Errorf("%s: allowed", tc.name)
		case tc.want != "" && !strings.Contains(resp.Result.Message, tc.want):
			t.Errorf("%s: %q, want it to contain %q", tc.name, resp.Result.Message, tc.want)
		case tc.want != "" && !strings.HasPrefix(resp.Result.Message, `pods "x" is forbidden: tenant "`):
			t.Errorf("%s: %q does not name the pod and the tenant", tc.name, resp.Result.Message)
		}
	}
}

func TestWorkloadTemplate(t *testing.T) {
	c := chain(t)
	deploy := map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "x"},
		"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]string{"a": "b"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]string{"a": "b"}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "app"}},
					"tolerations": []any{map[string]any{"operator": "Exists"}}}}}}
	resp := review(t, c, admission.PhaseValidate, "apps", "Deployment", "deployments", "a-dev", deploy)
	if resp.Allowed || !strings.Contains(resp.Result.Message, `spec.template.spec.tolerations[0]: Forbidden: tolerates every taint`) {
		t.Errorf("a Deployment tolerating everything: %+v", resp.Result)
	}
	delete(deploy["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any), "tolerations")
	resp = review(t, c, admission.PhaseMutate, "apps", "Deployment", "deployments", "a-dev", deploy)
	if !resp.Allowed || !strings.Contains(string(resp.Patch), `/spec/template/spec/tolerations`) {
		t.Errorf("the template was not injected: %+v %s", resp.Result, resp.Patch)
	}
}

func TestServices(t *testing.T) {
	c := chain(t)
	svc := func(typ corev1.ServiceType, ips, ranges []string) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "x"},
			"spec": map[string]any{"type": typ, "ports": []any{map[string]any{"port": 80}}, "externalIPs": ips, "loadBalancerSourceRanges": ranges}}
	}
	for _, tc := range []struct {
		name, ns string
		obj      map[string]any
		want     string
	}{
		{"ClusterIP", "a-dev", svc("", nil, nil), ""},
		{"externalIPs", "a-dev", svc("", []string{"198.51.100.7"}, nil), `services "x" is forbidden: tenant "team-a": spec.externalIPs: Forbidden`},
		{"NodePort", "b-prod", svc(corev1.ServiceTypeNodePort, nil, nil), `spec.type: Unsupported value: "NodePort": supported values: "ClusterIP"`},
		{"LoadBalancer without ranges", "a-dev", svc(corev1.ServiceTypeLoadBalancer, nil, nil), `spec.loadBalancerSourceRanges: Required value`},
		{"LoadBalancer outside the ranges", "a-dev", svc(corev1.ServiceTypeLoadBalancer, nil, []string{"0.0.0.0/0"}), `spec.loadBalancerSourceRanges[0]: Invalid value: "0.0.0.0/0"`},
		{"LoadBalancer within the ranges", "a-dev", svc(corev1.ServiceTypeLoadBalancer, nil, []string{"203.0.113.128/25"}), ""},
		{"no tenant", "default", svc(corev1.ServiceTypeNodePort, []string{"198.51.100.7"}, nil), ""},
	} {
		resp := review(t, c, admission.PhaseValidate, "", "Service", "services", tc.ns, tc.obj)
		switch {
		case tc.want == "" && !resp.Allowed:
			t.Errorf("%s: refused: %s", tc.name, resp.Result.Message)
		case tc.want != "" && (resp.Allowed || !strings.Contains(resp.Result.Message, tc.want)):
			t.Errorf("%s: %+v, want %q", tc.name, resp.Result, tc.want)
		}
	}
}

// FuzzNeverToleratesAnotherTenant: whatever tolerations a team-a pod has,
// one that tolerates team-b's taint is never admitted.
func FuzzNeverToleratesAnotherTenant(f *testing.F) {
	f.Add("kguard.io/tenant", "Exists", "", "")
	f.Add("kguard.io/tenant", "Equal", "team-b", "NoSchedule")
	f.Add("", "Exists", "", "NoSchedule")
	f.Add("kguard.io/tenant", "Gt", "1", "")
	set, err := policy.Read(strings.NewReader(tenants), "tenants.yaml")
	if err != nil {
		f.Fatal(err)
	}
	ix, err := NewIndex(set.Tenants, set.Namespaces)
	if err != nil {
		f.Fatal(err)
	}
	a, b := ix.TenantOf("a-dev"), ix.TenantOf("b-prod")
	if a == nil || b == nil || a.Name != "team-a" || b.Name != "team-b" {
		f.Fatalf("tenants of the example namespaces: %v, %v", a, b)
	}
	bTaint := taint(b)
	f.Fuzz(func(t *testing.T, key, op, value, effect string) {
		tol := corev1.Toleration{Key: key, Operator: corev1.TolerationOperator(op), Value: value, Effect: corev1.TaintEffect(effect)}
		spec := corev1.PodSpec{Tolerations: []corev1.Toleration{tol}}
		ix.Inject(a, &spec)
		errs := ix.ValidatePod(a, &spec, field.NewPath("spec"), true)
		if tol.ToleratesTaint(klogBackground(), &bTaint, true) && len(errs) == 0 {
			t.Fatalf("admitted a team-a pod tolerating team-b's taint: %+v", tol)
		}
	})
}

func klogBackground() logr.Logger { return logr.Discard() }

// Offline (kguard check) the plugin runs once: its mutating call must
// refuse what the validating pass refuses.
func TestOfflineRefuses(t *testing.T) {
	c := chain(t)
	p := pod(corev1.PodSpec{Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}})
	resp := review(t, c, admission.PhaseBoth, "", "Pod", "pods", "a-dev", p)
	if resp.Allowed || !strings.Contains(resp.Result.Message, "tolerates every taint") {
		t.Errorf("offline: %+v", resp.Result)
	}
	resp = review(t, c, admission.PhaseMutate, "", "Pod", "pods", "a-dev", p)
	if resp.Allowed {
		t.Error("the mutating pass admitted a pod tolerating every taint")
	}
}
