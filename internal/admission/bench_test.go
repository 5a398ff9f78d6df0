package admission_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/kguard/kguard/internal/admission"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/user"
	psadmission "k8s.io/pod-security-admission/admission"
	psapi "k8s.io/pod-security-admission/admission/api"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/metrics"
	"k8s.io/pod-security-admission/policy"

	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/podsecuritypolicy"
	"github.com/kguard/kguard/internal/admission/psp"
	"github.com/kguard/kguard/internal/authz/rbac"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/podspec"
	kpolicy "github.com/kguard/kguard/internal/policy"
)

// twentyPolicies: 19 policies the typical pod fails (each forbids something it
// does) and, last by name, one that admits it after defaulting — the worst case
// for selection. Everyone may use every policy.
func twentyPolicies(b testing.TB) *kpolicy.Set {
	var docs []string
	for i := range 19 {
		docs = append(docs, fmt.Sprintf(`apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: p%02d, annotations: {seccomp.security.alpha.kubernetes.io/allowedProfileNames: runtime/default}}
spec:
  runAsUser: {rule: MustRunAs, ranges: [{min: %d, max: %d}]}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: [configMap]
`, i, 2000+i, 2000+i))
	}
	docs = append(docs, `apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: z-restricted, annotations: {seccomp.security.alpha.kubernetes.io/allowedProfileNames: runtime/default}}
spec:
  allowPrivilegeEscalation: false
  requiredDropCapabilities: [ALL]
  volumes: [configMap, emptyDir, projected, secret, downwardAPI, persistentVolumeClaim]
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
  fsGroup: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
`, `kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use]}]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use}
subjects: [{kind: Group, name: "system:authenticated"}]
roleRef: {kind: ClusterRole, name: use, apiGroup: rbac.authorization.k8s.io}`)
	d, err := manifest.Read(strings.NewReader(strings.Join(docs, "\n---\n")), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	s, err := kpolicy.FromDocuments(d)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

const typicalPod = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  securityContext: {seccompProfile: {type: RuntimeDefault}}
  volumes: [{name: config, configMap: {name: web}}, {name: tmp, emptyDir: {}}]
  containers:
  - name: web
    image: registry.example.com/web:1.0
    ports: [{containerPort: 8080}]
    volumeMounts: [{name: config, mountPath: /etc/web}, {name: tmp, mountPath: /tmp}]
  - name: sidecar
    image: registry.example.com/proxy:2.0
`

func chainFor(b testing.TB, plugins ...string) *admission.Chain {
	s := twentyPolicies(b)
	s.Namespaces = []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}}
	authz := rbac.New(s)
	pssConfig := podsecurity.Config{}
	c, err := admission.NewChain(plugins, admission.Inputs{Policies: s, Authorizer: authz, RuleResolver: authz}, map[string]any{podsecurity.PluginName: pssConfig})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func workload(b testing.TB, y string) *podspec.Workload {
	d, err := manifest.Read(strings.NewReader(y), "pod.yaml")
	if err != nil {
		b.Fatal(err)
	}
	w, err := podspec.Decode(&d[0])
	if err != nil {
		b.Fatal(err)
	}
	return w
}

var alice = &user.DefaultInfo{Name: "alice", Groups: []string{"system:authenticated"}}

// One typical pod through 20 PSPs and restricted PSS (target ≤ 20 µs).
func BenchmarkAdmitPod20PSPsRestricted(b *testing.B) {
	c := chainFor(b, podsecuritypolicy.PluginName, podsecurity.PluginName)
	w := workload(b, typicalPod)
	r := c.Admit(context.Background(), &admission.Request{Operation: admissionv1.Create, Workload: w, Resource: "pods", Name: "web", Namespace: "shop", User: alice})
	if !r.Allowed || r.AuditAnnotations[podsecuritypolicy.AuditKeyAdmitPolicy] != "z-restricted" {
		b.Fatalf("benchmark pod not admitted by the last policy: %+v", r)
	}
	b.ReportAllocs()
	for b.Loop() {
		w := workload(b, typicalPod) // fresh: Admit writes the defaults back
		c.Admit(context.Background(), &admission.Request{Operation: admissionv1.Create, Workload: w, Resource: "pods", Name: "web", Namespace: "shop", User: alice})
	}
}

// The decode alone, to subtract from the above.
func BenchmarkDecodePod(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		workload(b, typicalPod)
	}
}

// kguard's PodSecurity path against calling pod-security-admission directly
// on the same pod: the overhead of kguard's wrapping.
func BenchmarkPSS(b *testing.B) {
	ns := []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}}
	pod := workload(b, typicalPod).Pod()
	pod.Spec.SecurityContext.RunAsNonRoot = new(bool)
	*pod.Spec.SecurityContext.RunAsNonRoot = true
	f := false
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: &f, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	}
	ours, err := podsecurity.New(podsecurity.Config{}, ns)
	if err != nil {
		b.Fatal(err)
	}
	evaluator, _ := policy.NewEvaluator(policy.DefaultChecks(), nil)
	direct := &psadmission.Admission{
		Configuration:   &psapi.PodSecurityConfiguration{Defaults: psapi.PodSecurityDefaults{Enforce: "privileged", EnforceVersion: "latest", Audit: "privileged", AuditVersion: "latest", Warn: "privileged", WarnVersion: "latest"}},
		Evaluator:       evaluator,
		Metrics:         nopRecorder{},
		NamespaceGetter: nsGetter{ns[0]},
		PodLister:       nopLister{},
	}
	if err := direct.CompleteConfiguration(); err != nil {
		b.Fatal(err)
	}
	attrs := &api.AttributesRecord{Name: "web", Namespace: "shop", Operation: admissionv1.Create, Username: "alice",
		Kind: schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, Resource: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, Object: pod}
	if r := direct.Validate(context.Background(), attrs); !r.Allowed {
		b.Fatalf("direct: %v", r.Result)
	}
	if r := ours.Evaluate(context.Background(), podsecurity.Request{Operation: admissionv1.Create, Pod: pod, Namespace: "shop", Username: "alice"}); !r.Allowed {
		b.Fatalf("kguard: %v", r.Result)
	}
	b.Run("pod-security-admission", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			direct.Validate(context.Background(), attrs)
		}
	})
	b.Run("kguard", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ours.Evaluate(context.Background(), podsecurity.Request{Operation: admissionv1.Create, Pod: pod, Namespace: "shop", Username: "alice"})
		}
	})
}

// What `kguard check` does per manifest — decode, find the pod, admit it
// through PSP and PSS, compute the patch — over 10,000 manifests (target ≥ 10,000/s).
func BenchmarkCheck10000Manifests(b *testing.B) {
	c := chainFor(b, podsecuritypolicy.PluginName, podsecurity.PluginName)
	var buf bytes.Buffer
	for i := range 10000 {
		switch i % 3 {
		case 0:
			buf.WriteString(strings.Replace(typicalPod, "name: web,", fmt.Sprintf("name: web-%d,", i), 1))
		case 1:
			fmt.Fprintf(&buf, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d-%d, namespace: shop}\nspec:\n  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {labels: {app: d}}\n    spec:\n      securityContext: {seccompProfile: {type: RuntimeDefault}}\n      containers: [{name: c, image: i}]\n", i)
		default:
			fmt.Fprintf(&buf, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c-%d, namespace: shop}\ndata: {k: v}\n", i)
		}
		buf.WriteString("---\n")
	}
	input := buf.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		docs, err := manifest.Read(bytes.NewReader(input), "bench.yaml")
		if err != nil || len(docs) != 10000 {
			b.Fatal(err, len(docs))
		}
		for _, oc := range c.AdmitDocuments(context.Background(), docs, "shop", alice) {
			if oc.Err != nil {
				b.Fatal(oc.Err)
			}
		}
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "manifests/s")
}

type nopRecorder struct{}

func (nopRecorder) RecordEvaluation(metrics.Decision, api.LevelVersion, metrics.Mode, api.Attributes) {
}
func (nopRecorder) RecordExemption(api.Attributes)   {}
func (nopRecorder) RecordError(bool, api.Attributes) {}

type nsGetter struct{ ns *corev1.Namespace }

func (g nsGetter) GetNamespace(context.Context, string) (*corev1.Namespace, error) { return g.ns, nil }

type nopLister struct{}

func (nopLister) ListPods(context.Context, string) ([]*corev1.Pod, error) { return nil, nil }

// The PSP engine alone on a decoded pod: 19 policies that fail it, then the
// one that admits it with defaults.
func BenchmarkPSPEngine20Policies(b *testing.B) {
	s := twentyPolicies(b)
	e, err := psp.NewEngine(s.PodSecurityPolicies, rbac.New(s))
	if err != nil {
		b.Fatal(err)
	}
	pod := workload(b, typicalPod).Pod()
	pod.Namespace = "shop"
	b.ReportAllocs()
	for b.Loop() {
		if r := e.Admit(context.Background(), psp.Attributes{Operation: "CREATE", Pod: pod, Namespace: "shop", User: alice}); !r.Allowed {
			b.Fatal(r.Message)
		}
	}
}

// The DESIGN target: a decoded pod through the PSP engine (20 policies) and
// restricted PSS, without YAML decoding or the JSON Patch.
func BenchmarkEngines20PSPsRestrictedPSS(b *testing.B) {
	for _, tc := range []struct {
		name string
		pod  func(*corev1.Pod)
	}{
		// The 19 policies refuse the pod's emptyDir volume, a field defaulting never writes.
		{"refused-on-volumes", func(*corev1.Pod) {}},
		// Here they refuse its runAsUser, outside their ranges — a field the pod
		// sets but whose container values are what defaulting looks at.
		{"refused-on-user-id", func(p *corev1.Pod) {
			p.Spec.Volumes = p.Spec.Volumes[:1]
			p.Spec.Containers[0].VolumeMounts = p.Spec.Containers[0].VolumeMounts[:1]
			uid, yes := int64(1000), true
			p.Spec.SecurityContext.RunAsUser, p.Spec.SecurityContext.RunAsNonRoot = &uid, &yes
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := twentyPolicies(b)
			ns := []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}}
			e, err := psp.NewEngine(s.PodSecurityPolicies, rbac.New(s))
			if err != nil {
				b.Fatal(err)
			}
			pss, err := podsecurity.New(podsecurity.Config{}, ns)
			if err != nil {
				b.Fatal(err)
			}
			pod := workload(b, typicalPod).Pod()
			pod.Namespace = "shop"
			tc.pod(pod)
			run := func() bool {
				r := e.Admit(context.Background(), psp.Attributes{Operation: "CREATE", Pod: pod, Namespace: "shop", User: alice})
				if !r.Allowed || r.Policy != "z-restricted" {
					b.Fatalf("PSP: %+v", r)
				}
				return pss.Evaluate(context.Background(), podsecurity.Request{Operation: admissionv1.Create, Pod: r.Pod, Namespace: "shop", Username: "alice"}).Allowed
			}
			if !run() {
				b.Fatal("restricted PSS denied the defaulted pod")
			}
			b.ReportAllocs()
			for b.Loop() {
				run()
			}
		})
	}
}
