package source

import (
	"context"
	"strings"
	"testing"

	apiextfake "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/fake"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

// A template whose constraint CRD cannot be read (forbidden, unreachable)
// must fail the read of its constraints, not leave them out as if the CRD
// did not exist yet: the one-shot read (kguard audit --kubeconfig) would
// report a cluster clean of what they refuse.
func TestWatchConstraintsFailsOnCRDReadError(t *testing.T) {
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{TemplateResource: "ConstraintTemplateList"})
	apiext := apiextfake.NewSimpleClientset()
	apiext.PrependReactor("get", "customresourcedefinitions", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}, "x", nil)
	})
	g := &gatekeeper{dyn: dyn, apiext: apiext, notify: func() {}, constraints: map[string]*kindInformer{},
		dynf: dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)}
	g.templates = g.dynf.ForResource(TemplateResource)
	tmpl := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
		"metadata": map[string]any{"name": "k8srequiredlabels"},
		"spec":     map[string]any{"crd": map[string]any{"spec": map[string]any{"names": map[string]any{"kind": "K8sRequiredLabels"}}}}}}
	if err := g.templates.Informer().GetIndexer().Add(tmpl); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g.started = ctx
	err := g.watchConstraints(ctx, true)
	if err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("watchConstraints: %v, want the CRD's forbidden error (its constraints were silently left out)", err)
	}
}
