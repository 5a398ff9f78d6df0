package tenancy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kguard/kguard/internal/admission"
	_ "github.com/kguard/kguard/internal/admission/podsecurity"       // registers PodSecurity
	_ "github.com/kguard/kguard/internal/admission/podsecuritypolicy" // registers PodSecurityPolicy
	"github.com/kguard/kguard/internal/authz/rbac"
	"github.com/kguard/kguard/internal/mcs"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// thousandTenants indexes 1,000 defaulted tenants, team-N of namespace ns-N,
// and returns the spec of a two-container pod.
func thousandTenants(b *testing.B) (*Index, corev1.PodSpec) {
	var tenants []*v1alpha1.Tenant
	for i := 0; i < 1000; i++ {
		tenants = append(tenants, &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("team-%d", i)},
			Spec: v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Names: []string{fmt.Sprintf("ns-%d", i)}}}})
	}
	return checkedIndex(b, tenants), corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}, {Name: "proxy", Image: "proxy"}},
		Tolerations: []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}}
}

// BenchmarkTenancy1000: what the Tenancy rules cost a pod of one tenant
// with 1,000 tenants loaded (injection and validation, as the mutating
// pass runs them).
func BenchmarkTenancy1000(b *testing.B) {
	ix, base := thousandTenants(b)
	path := field.NewPath("spec")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := ix.TenantOf("ns-500")
		spec := base
		spec.Tolerations = append([]corev1.Toleration(nil), base.Tolerations...)
		ix.Inject(t, &spec)
		if errs := ix.ValidatePod(t, &spec, path, true); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkPodAdmission: what the Tenancy plugin adds to a pod admission
// (the mutating pass of the webhook, from the AdmissionReview's bytes to
// the answer's) with 1,000 tenants loaded, side by side with the same chain
// without it: deploy/'s PodSecurityPolicy (restricted, so that the pod is
// decoded and patched in both) and PodSecurity (restricted). perPod: the
// tenant isolates its pods with SELinux MCS levels, 10,000 pairs already
// handed out; seLinuxOff: another tenant, without levels; perPodAsSent:
// perPod with the pod as kube-apiserver sends it (defaulted, its token
// volume and tolerations, managedFields; as BenchmarkPSPRound in
// internal/server). Paired: every iteration reviews the pod with both
// chains, in alternating order, and times each call; ns-added/op is the difference
// (run after run on this VM, wall-clock ns/op of separate benchmarks
// drifted by more than the plugin costs), cpu-ns-added/op the difference
// in the thread's CPU time (the collector's background work, on other
// threads, is not in it). ns/op is both calls and the bookkeeping.
func BenchmarkPodAdmission(b *testing.B) {
	var docs strings.Builder
	for i := 0; i < 1000; i++ {
		podSecurity := ""
		if i == 501 {
			podSecurity = "  podSecurity: {seLinux: \"off\"}\n"
		}
		fmt.Fprintf(&docs, "apiVersion: kguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: team-%d}\nspec:\n  namespaces: {names: [ns-%d]}\n%s---\n", i, i, podSecurity)
	}
	// The namespaces' Pod Security label, as the reconciler renders it, and
	// a PodSecurityPolicy everyone may use (deploy/'s default chain).
	docs.WriteString(`apiVersion: v1
kind: Namespace
metadata: {name: ns-500, labels: {pod-security.kubernetes.io/enforce: restricted}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns-501, labels: {pod-security.kubernetes.io/enforce: restricted}}
---
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: restricted, annotations: {seccomp.security.alpha.kubernetes.io/allowedProfileNames: runtime/default, seccomp.security.alpha.kubernetes.io/defaultProfileName: runtime/default}}
spec:
  allowPrivilegeEscalation: false
  requiredDropCapabilities: [ALL]
  volumes: [configMap, emptyDir, projected, secret, downwardAPI, persistentVolumeClaim]
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
  fsGroup: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
---
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: psp-restricted}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use], resourceNames: [restricted]}]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: psp-restricted}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: psp-restricted}
subjects: [{kind: Group, apiGroup: rbac.authorization.k8s.io, name: "system:authenticated"}]
`)
	set, err := policy.Read(strings.NewReader(docs.String()), "tenants.yaml")
	if err != nil {
		b.Fatal(err)
	}
	no := false
	yes := true
	uid := int64(1000)
	reviewOf := func(namespace string) []byte {
		p := &corev1.Pod{TypeMeta: metaPod, ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: namespace},
			Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid},
				Containers: []corev1.Container{{Name: "app", Image: "app", SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no,
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}}}}}
		raw, _ := json.Marshal(p)
		body, _ := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": map[string]any{
			"uid": "1", "kind": map[string]string{"version": "v1", "kind": "Pod"}, "resource": map[string]string{"version": "v1", "resource": "pods"},
			"name": "web-1", "namespace": namespace, "operation": "CREATE", "userInfo": map[string]any{"username": "alice", "groups": []string{"system:authenticated"}}, "object": json.RawMessage(raw)}})
		return body
	}
	// The same, as kube-apiserver sends a created pod: defaulted, with the
	// ServiceAccount token volume, kube-apiserver's not-ready and
	// unreachable tolerations, managedFields, a real uid.
	asSent, err := os.ReadFile("../testdata/pod-as-sent.json")
	if err != nil {
		b.Fatal(err)
	}
	asSentReviewOf := func(namespace string) []byte {
		pod := bytes.ReplaceAll(bytes.TrimSpace(asSent), []byte(`"namespace":"bench"`), []byte(`"namespace":"`+namespace+`"`))
		body, _ := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": map[string]any{
			"uid": "0b3c6f53-5a4f-4e7e-9d2a-8f0c0f8b7a11", "kind": map[string]string{"version": "v1", "kind": "Pod"}, "resource": map[string]string{"version": "v1", "resource": "pods"},
			"requestKind": map[string]string{"version": "v1", "kind": "Pod"}, "requestResource": map[string]string{"version": "v1", "resource": "pods"},
			"name": "r1-kguard-psp-s0", "namespace": namespace, "operation": "CREATE", "userInfo": map[string]any{"username": "alice", "groups": []string{"system:authenticated"}},
			"object": json.RawMessage(pod), "oldObject": nil, "dryRun": false,
			"options": map[string]any{"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "benche2e"}}})
		return body
	}
	levels := mcs.NewOffline()
	const running = 10000
	keys := make([]string, running)
	for i := range keys {
		keys[i] = fmt.Sprint("ns/old-", i)
		if _, err := levels.Assign(context.Background(), keys[i], false); err != nil {
			b.Fatal(err)
		}
	}
	authz := rbac.New(set)
	chain := func(plugins ...string) *admission.Chain {
		c, err := admission.NewChain(plugins, admission.Inputs{Policies: set, Authorizer: authz, RuleResolver: authz}, map[string]any{PluginName: Config{Levels: levels}})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	without, with := chain("PodSecurityPolicy", "PodSecurity"), chain(PluginName, "PodSecurityPolicy", "PodSecurity")
	for _, tc := range []struct {
		name, namespace string
		leveled         bool
		body            []byte
	}{{"perPod", "ns-500", true, reviewOf("ns-500")}, {"seLinuxOff", "ns-501", false, reviewOf("ns-501")}, {"perPodAsSent", "ns-500", true, asSentReviewOf("ns-500")}} {
		body := tc.body
		b.Run(tc.name, func(b *testing.B) {
			// The thread's CPU time too: on this VM another process's load
			// makes a call wait for a core, which its CPU time does not
			// count. (Each sub-benchmark runs on a goroutine of its own.)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var cpuWith, cpuWithout, spentWith, spentWithout time.Duration
			review := func(c *admission.Chain) []byte {
				cpu0 := threadCPU(b)
				start := time.Now()
				out, err := c.Review(context.Background(), body, admission.PhaseMutate)
				took, cpu := time.Since(start), threadCPU(b)-cpu0
				if c == with {
					spentWith, cpuWith = spentWith+took, cpuWith+cpu
				} else {
					spentWithout, cpuWithout = spentWithout+took, cpuWithout+cpu
				}
				if err != nil || !bytes.Contains(out, []byte(`"allowed":true`)) {
					b.Fatalf("%v %s", err, out)
				}
				return out
			}
			admitted := make([]mcs.Pair, 0, 1000)
			var patch []byte
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Each in turn first, so that neither always finds the
				// other's garbage or warm caches.
				var out []byte
				if i%2 == 0 {
					review(without)
					out = review(with)
				} else {
					out = review(with)
					review(without)
				}
				if !tc.leveled {
					continue
				}
				// The informer's reports, as in BenchmarkTenancyMutate1000:
				// the admitted pods seen running and as many old ones gone,
				// once per 1,000 pods and outside the two measured calls;
				// without them every pod's reservation would stay and the
				// allocator fill up.
				admitted = append(admitted, levelIn(b, out, &patch))
				if len(admitted) == 1000 {
					for j, pair := range admitted {
						levels.Observe(keys[(i-j)%len(keys)], []mcs.Pair{pair})
						levels.Forget(keys[(i-j+1)%len(keys)])
					}
					admitted = admitted[:0]
				}
			}
			n := float64(b.N)
			b.ReportMetric(float64(spentWithout.Nanoseconds())/n, "ns-without/op")
			b.ReportMetric(float64(spentWith.Nanoseconds())/n, "ns-with/op")
			b.ReportMetric(float64((spentWith-spentWithout).Nanoseconds())/n, "ns-added/op")
			b.ReportMetric(float64((cpuWith-cpuWithout).Nanoseconds())/n, "cpu-ns-added/op")
		})
	}
}

// threadCPU is the CPU time of the calling thread (locked to it).
func threadCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

// levelIn is the SELinux level in a mutating answer's patch, found
// without decoding the review (buf is the caller's, reused): the
// benchmark's own bookkeeping should leave as little garbage as it can for
// the measured calls' collector to pay for.
func levelIn(b *testing.B, answer []byte, buf *[]byte) mcs.Pair {
	_, rest, ok := bytes.Cut(answer, []byte(`"patch":"`))
	encoded, _, ok2 := bytes.Cut(rest, []byte(`"`))
	if !ok || !ok2 {
		b.Fatalf("no patch in %s", answer)
	}
	patch, err := base64.StdEncoding.AppendDecode((*buf)[:0], encoded)
	if err != nil {
		b.Fatal(err)
	}
	*buf = patch
	_, level, ok := bytes.Cut(patch, []byte(`"s0:c`))
	if !ok {
		b.Fatalf("no level in the patch %s", patch)
	}
	level, _, _ = bytes.Cut(level, []byte(`"`))
	pair, err := mcs.ParseLevel("s0:c" + string(level))
	if err != nil {
		b.Fatal(err)
	}
	return pair
}

// BenchmarkTenancyMutate1000: the plugin's whole mutating call on a new pod
// of one tenant with 1,000 tenants loaded (perPod): injection, the rules
// and the SELinux MCS level from an allocator that knows 10,000 running
// pods (the informer's reports, each admitted pod seen running and an old
// one gone, are made outside the timer).
func BenchmarkTenancyMutate1000(b *testing.B) {
	ix, base := thousandTenants(b)
	levels := mcs.NewOffline()
	const running = 10000
	for i := 0; i < running; i++ {
		if _, err := levels.Assign(context.Background(), fmt.Sprint("ns/old-", i), false); err != nil {
			b.Fatal(err)
		}
	}
	keys := make([]string, running)
	for i := range keys {
		keys[i] = fmt.Sprint("ns/old-", i)
	}
	p := &Plugin{ix: ix, levels: levels}
	r := &admission.Request{Operation: admissionv1.Create, Resource: "pods", Namespace: "ns-500"}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	admitted := make([]string, 0, 1000) // their levels
	for i := 0; i < b.N; i++ {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns-500"}, Spec: base}
		pod.Spec.Tolerations = append([]corev1.Toleration(nil), base.Tolerations...)
		d := p.Mutate(ctx, r, pod)
		if d.Denied || d.Pod == nil {
			b.Fatal(d.Reason)
		}
		admitted = append(admitted, d.Pod.Spec.SecurityContext.SELinuxOptions.Level)
		if len(admitted) == cap(admitted) {
			// Every 1,000 pods, outside the timer (stopping it stops the
			// world to read the memory statistics: once per 1,000 pods
			// that is noise), what the informer reports meanwhile: the
			// pods seen running, as many old ones gone.
			b.StopTimer()
			for j, level := range admitted {
				pair, err := mcs.ParseLevel(level)
				if err != nil {
					b.Fatal(err)
				}
				levels.Observe(keys[(i-j)%len(keys)], []mcs.Pair{pair})
				levels.Forget(keys[(i-j+1)%len(keys)])
			}
			admitted = admitted[:0]
			b.StartTimer()
		}
	}
}
