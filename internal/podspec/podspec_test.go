package podspec

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kguard/kguard/internal/manifest"
)

func doc(t *testing.T, y string) *manifest.Document {
	t.Helper()
	docs, err := manifest.Read(strings.NewReader(y), "w.yaml")
	if err != nil || len(docs) != 1 {
		t.Fatal(err, len(docs))
	}
	return &docs[0]
}

const spec = "{containers: [{name: c, image: i}]}"

func TestKinds(t *testing.T) {
	cases := []struct {
		kind, apiVersion, body, root, patchPath string
	}{
		{"Pod", "v1", "spec: " + spec, "", "/spec/containers/0/securityContext"},
		{"PodTemplate", "v1", "template: {spec: " + spec + "}", "template", "/template/spec/containers/0/securityContext"},
		{"ReplicationController", "v1", "spec: {template: {spec: " + spec + "}}", "spec.template", "/spec/template/spec/containers/0/securityContext"},
		{"ReplicaSet", "apps/v1", "spec: {selector: {}, template: {spec: " + spec + "}}", "spec.template", "/spec/template/spec/containers/0/securityContext"},
		{"Deployment", "apps/v1", "spec: {selector: {}, template: {spec: " + spec + "}}", "spec.template", "/spec/template/spec/containers/0/securityContext"},
		{"StatefulSet", "apps/v1", "spec: {selector: {}, template: {spec: " + spec + "}}", "spec.template", "/spec/template/spec/containers/0/securityContext"},
		{"DaemonSet", "apps/v1", "spec: {selector: {}, template: {spec: " + spec + "}}", "spec.template", "/spec/template/spec/containers/0/securityContext"},
		{"Job", "batch/v1", "spec: {template: {spec: " + spec + "}}", "spec.template", "/spec/template/spec/containers/0/securityContext"},
		{"CronJob", "batch/v1", "spec: {schedule: '* * * * *', jobTemplate: {spec: {template: {spec: " + spec + "}}}}", "spec.jobTemplate.spec.template", "/spec/jobTemplate/spec/template/spec/containers/0/securityContext"},
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			d := doc(t, "apiVersion: "+tc.apiVersion+"\nkind: "+tc.kind+"\nmetadata: {name: w, namespace: ns}\n"+tc.body+"\n")
			if !HasPod(d) {
				t.Fatal("HasPod = false")
			}
			w, err := Decode(d)
			if err != nil || w == nil {
				t.Fatal(err)
			}
			root := ""
			if w.Root != nil {
				root = w.Root.String()
			}
			if root != tc.root {
				t.Fatalf("root = %q, want %q", root, tc.root)
			}
			pod := w.Pod()
			if pod.Namespace != "ns" || len(pod.Spec.Containers) != 1 || pod.Spec.Containers[0].Name != "c" {
				t.Fatalf("pod = %+v", pod)
			}
			if p, _ := w.Patch(); p != nil {
				t.Fatalf("patch before any change: %s", p)
			}
			t2 := true
			pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsNonRoot: &t2}
			pod.Annotations = map[string]string{"kubernetes.io/psp": "p"}
			w.SetPod(pod)
			patch, err := w.Patch()
			if err != nil {
				t.Fatal(err)
			}
			var ops []struct{ Op, Path string }
			if err := json.Unmarshal(patch, &ops); err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, o := range ops {
				paths = append(paths, o.Op+" "+o.Path)
			}
			if !strings.Contains(strings.Join(paths, ","), "add "+tc.patchPath) {
				t.Fatalf("patch %s lacks add %s", patch, tc.patchPath)
			}
		})
	}
}

func TestDecodeErrorsAndOtherKinds(t *testing.T) {
	if w, err := Decode(doc(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")); w != nil || err != nil {
		t.Fatalf("ConfigMap: %v %v", w, err)
	}
	_, err := Decode(doc(t, "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: d}\n"))
	if err == nil || !strings.Contains(err.Error(), "use apps/v1") || !strings.Contains(err.Error(), "w.yaml:1") {
		t.Fatalf("old version: %v", err)
	}
	_, err = Decode(doc(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containerz: []}\n"))
	if err == nil || !strings.Contains(err.Error(), "containerz") {
		t.Fatalf("unknown field: %v", err)
	}
}
