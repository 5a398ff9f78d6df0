package source

import (
	"context"
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
)

func TestListObjects(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := appsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "a"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "b"}}
	dyn := dynamicfake.NewSimpleDynamicClient(scheme, pod, dep)
	resources := []schema.GroupVersionResource{{Version: "v1", Resource: "pods"}, {Group: "apps", Version: "v1", Resource: "deployments"}}
	docs, err := ListObjects(context.Background(), dyn, resources)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ apiVersion, kind, ns, name string }{{"v1", "Pod", "a", "p"}, {"apps/v1", "Deployment", "b", "d"}}
	if len(docs) != len(want) {
		t.Fatalf("%d documents, want %d", len(docs), len(want))
	}
	for i, w := range want {
		d := docs[i]
		t.Run(w.kind, func(t *testing.T) {
			if d.APIVersion != w.apiVersion || d.Kind != w.kind || d.Namespace != w.ns || d.Name != w.name || d.Source != "cluster" || d.Item != -1 {
				t.Errorf("document %+v, want %s %s %s/%s from cluster", d, w.apiVersion, w.kind, w.ns, w.name)
			}
			var back map[string]any
			if err := json.Unmarshal(d.JSON, &back); err != nil || back["kind"] != w.kind {
				t.Errorf("JSON %s does not name kind %s (%v)", d.JSON, w.kind, err)
			}
		})
	}
}

func TestAuditedKinds(t *testing.T) {
	if len(AuditedKinds) != len(AuditedResources) {
		t.Errorf("%d kinds for %d resources", len(AuditedKinds), len(AuditedResources))
	}
	for _, gvr := range AuditedResources {
		if AuditedKinds[gvr] == "" {
			t.Errorf("no kind for %s", gvr)
		}
	}
}
