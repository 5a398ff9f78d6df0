package alwayspullimages

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/podspec"
	"github.com/kguard/kguard/internal/policy"
)

// Namespaces of the snapshot: "exempt" opts out, "labelled-true" and "plain"
// do not; "unknown" is not in the snapshot.
const namespaces = `apiVersion: v1
kind: Namespace
metadata: {name: exempt, labels: {kguard.io/always-pull-images: "false"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: labelled-true, labels: {kguard.io/always-pull-images: "true"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain}
`

func newTestPlugin(t *testing.T) *plugin {
	t.Helper()
	s, err := policy.Read(strings.NewReader(namespaces), "namespaces.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPlugin(admission.Inputs{Policies: s})
	if err != nil {
		t.Fatal(err)
	}
	return p.(*plugin)
}

func decodePod(t *testing.T, podYAML string) *corev1.Pod {
	t.Helper()
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict([]byte(podYAML), &pod); err != nil {
		t.Fatal(err)
	}
	return &pod
}

// Pods as the API server hands them to admission: pull policies defaulted.
const (
	threeKinds = `metadata: {name: p}
spec:
  initContainers: [{name: init, image: busybox:1, imagePullPolicy: IfNotPresent}]
  containers: [{name: app, image: nginx:1, imagePullPolicy: Never}, {name: side, image: envoy:1, imagePullPolicy: Always}]
  ephemeralContainers: [{name: debug, image: busybox:1, imagePullPolicy: IfNotPresent}]
  volumes: [{name: data, image: {reference: "data:1", pullPolicy: IfNotPresent}}, {name: tmp, emptyDir: {}}]`
	oneImage = `metadata: {name: p}
spec: {containers: [{name: app, image: nginx:1, imagePullPolicy: IfNotPresent}, {name: side, image: envoy:1, imagePullPolicy: IfNotPresent}]}`
	newImage = `metadata: {name: p}
spec: {containers: [{name: app, image: nginx:2, imagePullPolicy: IfNotPresent}, {name: side, image: envoy:1, imagePullPolicy: IfNotPresent}]}`
	swappedImage = `metadata: {name: p}
spec: {containers: [{name: app, image: envoy:1, imagePullPolicy: IfNotPresent}, {name: side, image: nginx:1, imagePullPolicy: IfNotPresent}]}`
	oneContainer = `metadata: {name: p}
spec: {containers: [{name: app, image: nginx:1, imagePullPolicy: IfNotPresent}]}`
	allAlways = `metadata: {name: p}
spec:
  initContainers: [{name: init, image: busybox:1, imagePullPolicy: Always}]
  containers: [{name: app, image: nginx:1, imagePullPolicy: Always}]
  volumes: [{name: data, image: {reference: "data:1", pullPolicy: Always}}]`
)

// pullPolicies lists a pod's container pull policies (init, regular,
// ephemeral) and then its image volumes'.
func pullPolicies(pod *corev1.Pod) []string {
	var out []string
	visitContainers(&pod.Spec, nil, func(c *corev1.Container, _ *field.Path) { out = append(out, string(c.ImagePullPolicy)) })
	for _, v := range pod.Spec.Volumes {
		if v.Image != nil {
			out = append(out, "volume:"+string(v.Image.PullPolicy))
		}
	}
	return out
}

func TestMutate(t *testing.T) {
	p := newTestPlugin(t)
	unchanged := func(pod string) []string { return pullPolicies(decodePod(t, pod)) }
	cases := []struct {
		name      string
		op        admissionv1.Operation
		namespace string
		pod, old  string // old: "" for no old pod
		want      []string
	}{
		{"create: every container and image volume pulls always", admissionv1.Create, "plain", threeKinds, "",
			[]string{"Always", "Always", "Always", "Always", "volume:Always"}},
		{"create in a namespace unknown to the snapshot (not exempt)", admissionv1.Create, "unknown", threeKinds, "",
			[]string{"Always", "Always", "Always", "Always", "volume:Always"}},
		{"create in a namespace labelled other than false", admissionv1.Create, "labelled-true", oneImage, "",
			[]string{"Always", "Always"}},
		{"create in an exempt namespace", admissionv1.Create, "exempt", threeKinds, "", unchanged(threeKinds)},
		{"update without a new image", admissionv1.Update, "plain", oneImage, oneImage, unchanged(oneImage)},
		{"update moving images between containers brings none new", admissionv1.Update, "plain", swappedImage, oneImage, unchanged(swappedImage)},
		{"update with a new image: every container, not only the changed one", admissionv1.Update, "plain", newImage, oneImage,
			[]string{"Always", "Always"}},
		{"update without the old pod counts as new images", admissionv1.Update, "plain", oneImage, "", []string{"Always", "Always"}},
		{"update with a new image in an exempt namespace", admissionv1.Update, "exempt", newImage, oneImage, unchanged(newImage)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := decodePod(t, tc.pod)
			r := &admission.Request{Operation: tc.op, Namespace: tc.namespace, Workload: &podspec.Workload{Object: pod}}
			if tc.old != "" {
				r.OldPod = decodePod(t, tc.old)
			}
			d := p.Mutate(context.Background(), r, pod.DeepCopy())
			if d.Denied {
				t.Fatalf("denied: %s", d.Reason)
			}
			got := pod
			if d.Pod != nil {
				got = d.Pod
			}
			if g := pullPolicies(got); strings.Join(g, ",") != strings.Join(tc.want, ",") {
				t.Errorf("pull policies %v, want %v", g, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	p := newTestPlugin(t)
	deployment := field.NewPath("spec", "template")
	cases := []struct {
		name      string
		op        admissionv1.Operation
		namespace string
		root      *field.Path
		pod, old  string
		want      string // the denial's reason; "" allows
	}{
		{"every container pulls always", admissionv1.Create, "plain", nil, allAlways, "", ""},
		{"one container does not", admissionv1.Create, "plain", nil, oneContainer, "",
			`spec.containers[0].imagePullPolicy: Unsupported value: "IfNotPresent": supported values: "Always"`},
		{"every offender named, in upstream's order", admissionv1.Create, "unknown", nil, threeKinds, "",
			`spec.initContainers[0].imagePullPolicy: Unsupported value: "IfNotPresent": supported values: "Always", ` +
				`spec.containers[0].imagePullPolicy: Unsupported value: "Never": supported values: "Always", ` +
				`spec.ephemeralContainers[0].imagePullPolicy: Unsupported value: "IfNotPresent": supported values: "Always", ` +
				`spec.volumes[0].image.pullPolicy: Unsupported value: "IfNotPresent": supported values: "Always"`},
		{"a pod template is named inside its object", admissionv1.Create, "plain", deployment, newImage, "",
			`spec.template.spec.containers[0].imagePullPolicy: Unsupported value: "IfNotPresent": supported values: "Always", ` +
				`spec.template.spec.containers[1].imagePullPolicy: Unsupported value: "IfNotPresent": supported values: "Always"`},
		{"exempt namespace", admissionv1.Create, "exempt", nil, threeKinds, "", ""},
		{"update without a new image", admissionv1.Update, "plain", nil, oneImage, oneImage, ""},
		{"update with a new image", admissionv1.Update, "plain", nil, newImage, oneImage,
			`spec.containers[0].imagePullPolicy: Unsupported value: "IfNotPresent": supported values: "Always", ` +
				`spec.containers[1].imagePullPolicy: Unsupported value: "IfNotPresent": supported values: "Always"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := decodePod(t, tc.pod)
			r := &admission.Request{Operation: tc.op, Namespace: tc.namespace, Workload: &podspec.Workload{Object: pod, Root: tc.root}}
			if tc.old != "" {
				r.OldPod = decodePod(t, tc.old)
			}
			d := p.Validate(context.Background(), r, pod)
			if d.Denied != (tc.want != "") || d.Reason != tc.want {
				t.Errorf("denied=%v reason:\n%s\nwant:\n%s", d.Denied, d.Reason, tc.want)
			}
			if d.Pod != nil {
				t.Error("Validate returned a pod")
			}
		})
	}
}

func TestHandles(t *testing.T) {
	p := newTestPlugin(t)
	cases := []struct {
		name        string
		op          admissionv1.Operation
		subresource string
		want        bool
	}{
		{"create", admissionv1.Create, "", true},
		{"update", admissionv1.Update, "", true},
		{"delete", admissionv1.Delete, "", false},
		{"connect", admissionv1.Connect, "", false},
		{"ephemeralcontainers, ignored as upstream ignores subresources", admissionv1.Update, "ephemeralcontainers", false},
		{"status", admissionv1.Update, "status", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Handles(tc.op, tc.subresource); got != tc.want {
				t.Errorf("Handles(%s, %q) = %v, want %v", tc.op, tc.subresource, got, tc.want)
			}
		})
	}
}

func TestConfigRefused(t *testing.T) {
	if _, err := newPlugin(admission.Inputs{Policies: &policy.Set{}, Config: struct{}{}}); err == nil {
		t.Fatal("a configuration was accepted")
	}
}

// The webhook passes: /mutate patches the pull policies of a created pod,
// /validate refuses one that another mutating webhook set back, and
// pods/ephemeralcontainers (kubectl debug) is let through as upstream does.
func TestReview(t *testing.T) {
	s, err := policy.Read(strings.NewReader(namespaces), "namespaces.yaml")
	if err != nil {
		t.Fatal(err)
	}
	chain, err := admission.NewChain([]string{PluginName}, admission.Inputs{Policies: s}, nil)
	if err != nil {
		t.Fatal(err)
	}
	podJSON := func(policy string) []byte {
		b, err := yaml.YAMLToJSON([]byte(`{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: plain},
spec: {containers: [{name: app, image: "nginx:1", imagePullPolicy: ` + policy + `}]}}`))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name        string
		op          admissionv1.Operation
		subresource string
		phase       admission.Phase
		policy      string
		allowed     bool
		patch       string // substring of the patch; "" for none
		message     string // substring of a denial
	}{
		{"mutate create", admissionv1.Create, "", admission.PhaseMutate, "IfNotPresent", true,
			`{"op":"replace","path":"/spec/containers/0/imagePullPolicy","value":"Always"}`, ""},
		{"validate create", admissionv1.Create, "", admission.PhaseValidate, "IfNotPresent", false, "",
			`pods "p" is forbidden: spec.containers[0].imagePullPolicy: Unsupported value: "IfNotPresent": supported values: "Always"`},
		{"validate create pulling always", admissionv1.Create, "", admission.PhaseValidate, "Always", true, "", ""},
		{"mutate ephemeralcontainers", admissionv1.Update, "ephemeralcontainers", admission.PhaseMutate, "IfNotPresent", true, "", ""},
		{"validate ephemeralcontainers", admissionv1.Update, "ephemeralcontainers", admission.PhaseValidate, "IfNotPresent", true, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := &admissionv1.AdmissionRequest{UID: "1", Operation: tc.op, SubResource: tc.subresource, Name: "p", Namespace: "plain",
				Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}}
			req.Object.Raw = podJSON(tc.policy)
			if tc.op == admissionv1.Update {
				req.OldObject.Raw = podJSON("IfNotPresent")
			}
			body, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req})
			if err != nil {
				t.Fatal(err)
			}
			out, err := chain.Review(context.Background(), body, tc.phase)
			if err != nil {
				t.Fatal(err)
			}
			var review admissionv1.AdmissionReview
			if err := json.Unmarshal(out, &review); err != nil {
				t.Fatal(err)
			}
			resp := review.Response
			if resp.Allowed != tc.allowed {
				t.Fatalf("allowed=%v, want %v (%+v)", resp.Allowed, tc.allowed, resp.Result)
			}
			if tc.patch == "" && resp.Patch != nil || !strings.Contains(string(resp.Patch), tc.patch) {
				t.Errorf("patch %s, want %s", resp.Patch, tc.patch)
			}
			if tc.message != "" && (resp.Result == nil || !strings.Contains(resp.Result.Message, tc.message)) {
				t.Errorf("result %+v, want message %q", resp.Result, tc.message)
			}
		})
	}
}
