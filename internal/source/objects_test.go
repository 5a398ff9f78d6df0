package source

import (
	"context"
	"encoding/json"
	"errors"
	"k8s.io/client-go/discovery"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
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

// JudgedResources lists, beyond AuditedResources, the listable resources of
// the kinds judges accepts, each once in its group's preferred version, and
// hands the groups discovery failed on back as discovery's error.
func TestJudgedResources(t *testing.T) {
	disco := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}
	list := []string{"get", "list", "watch"}
	disco.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: list},
			{Name: "pods/status", Kind: "Pod", Namespaced: true, Verbs: list},
			{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: list},
			{Name: "bindings", Kind: "Binding", Namespaced: true, Verbs: []string{"create"}},
		}},
		{GroupVersion: "networking.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "ingresses", Kind: "Ingress", Namespaced: true, Verbs: list},
			{Name: "ingressclasses", Kind: "IngressClass", Verbs: list},
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "deployments", Kind: "Deployment", Namespaced: true, Verbs: list},
		}},
	}
	for name, tc := range map[string]struct {
		judges func(schema.GroupKind) bool
		want   []schema.GroupVersionResource
	}{
		"nothing": {func(schema.GroupKind) bool { return false }, nil},
		"every kind": {func(schema.GroupKind) bool { return true }, []schema.GroupVersionResource{
			{Version: "v1", Resource: "configmaps"},
			{Group: "networking.k8s.io", Version: "v1", Resource: "ingressclasses"},
			{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"},
		}},
		"Ingress": {func(gk schema.GroupKind) bool {
			return gk == schema.GroupKind{Group: "networking.k8s.io", Kind: "Ingress"}
		},
			[]schema.GroupVersionResource{{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}}},
		"Ingress of another group": {func(gk schema.GroupKind) bool { return gk == schema.GroupKind{Group: "extensions", Kind: "Ingress"} }, nil},
	} {
		t.Run(name, func(t *testing.T) {
			got, kinds, err := JudgedResources(disco, tc.judges)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("resources %v, want %v", got, tc.want)
			}
			for _, gvr := range got {
				if kinds[gvr] == "" {
					t.Errorf("no kind for %v", gvr)
				}
			}
		})
	}
}

// failingDiscovery serves disco's groups and one more, metrics.k8s.io,
// whose resources do not read (an aggregated API whose server is down).
type failingDiscovery struct{ *fakediscovery.FakeDiscovery }

var metricsGV = schema.GroupVersion{Group: "metrics.k8s.io", Version: "v1beta1"}

func (d failingDiscovery) ServerGroups() (*metav1.APIGroupList, error) {
	groups, err := d.FakeDiscovery.ServerGroups()
	if err != nil {
		return nil, err
	}
	v := metav1.GroupVersionForDiscovery{GroupVersion: metricsGV.String(), Version: metricsGV.Version}
	groups.Groups = append(groups.Groups, metav1.APIGroup{Name: metricsGV.Group, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v})
	return groups, nil
}

func (d failingDiscovery) ServerGroupsWithContext(context.Context) (*metav1.APIGroupList, error) {
	return d.ServerGroups()
}

func (d failingDiscovery) ServerResourcesForGroupVersionWithContext(_ context.Context, gv string) (*metav1.APIResourceList, error) {
	return d.ServerResourcesForGroupVersion(gv)
}

func (d failingDiscovery) ServerResourcesForGroupVersion(gv string) (*metav1.APIResourceList, error) {
	if gv == metricsGV.String() {
		return nil, errors.New("the server is currently unable to handle the request")
	}
	return d.FakeDiscovery.ServerResourcesForGroupVersion(gv)
}

// A group discovery cannot read is only a warning when no constraint may
// match its kinds; when one may, its objects cannot be audited and that is
// an error, not an audit that passes without them.
func TestJudgedResourcesGroupFailed(t *testing.T) {
	disco := failingDiscovery{&fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}}
	disco.Resources = []*metav1.APIResourceList{{GroupVersion: "networking.k8s.io/v1", APIResources: []metav1.APIResource{
		{Name: "ingresses", Kind: "Ingress", Namespaced: true, Verbs: []string{"list"}},
	}}}
	ingress := func(gk schema.GroupKind) bool {
		return gk.Group == "networking.k8s.io" && (gk.Kind == "Ingress" || gk.Kind == "*")
	}
	got, _, err := JudgedResources(disco, ingress)
	if !discovery.IsGroupDiscoveryFailedError(err) {
		t.Fatalf("err %v, want discovery's group failure alone (a warning)", err)
	}
	if len(got) != 1 || got[0].Resource != "ingresses" {
		t.Errorf("resources %v, want ingresses", got)
	}
	every := func(schema.GroupKind) bool { return true }
	got, _, err = JudgedResources(disco, every)
	if err == nil || discovery.IsGroupDiscoveryFailedError(err) || !strings.Contains(err.Error(), "metrics.k8s.io/v1beta1") {
		t.Fatalf("err %v, want an error naming metrics.k8s.io/v1beta1 that is not discovery's (a failure)", err)
	}
	var groups *discovery.ErrGroupDiscoveryFailed
	if !errors.As(err, &groups) || len(got) != 1 {
		t.Errorf("err %v wraps discovery's: %v; resources %v, want ingresses all the same (kguard controller audits them)", err, groups != nil, got)
	}
}
