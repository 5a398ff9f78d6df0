package upstream

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kguard/kguard/internal/apiresources"
)

type cwMapping struct {
	resource   string
	namespaced bool
}

// cwDiscovery reads the resources kube-apiserver v1.37 serves, with their
// plurals and scopes, from k8s.io/kubernetes's discovery documents.
func cwDiscovery(t *testing.T) map[schema.GroupVersionKind]cwMapping {
	t.Helper()
	dir := filepath.Join(moduleDir(t, "k8s.io/kubernetes"), "api", "discovery")
	out := map[schema.GroupVersionKind]cwMapping{}
	var core struct {
		GroupVersion string `json:"groupVersion"`
		Resources    []struct {
			Name, Kind string
			Namespaced bool
		} `json:"resources"`
	}
	readJSON(t, filepath.Join(dir, "api__v1.json"), &core)
	for _, r := range core.Resources {
		if !strings.Contains(r.Name, "/") {
			out[schema.GroupVersionKind{Version: "v1", Kind: r.Kind}] = cwMapping{resource: r.Name, namespaced: r.Namespaced}
		}
	}
	var groups struct {
		Items []struct {
			Metadata struct{ Name string }
			Versions []struct {
				Version   string
				Resources []struct {
					Resource     string
					Scope        string
					ResponseKind struct{ Kind string } `json:"responseKind"`
				}
			}
		}
	}
	readJSON(t, filepath.Join(dir, "aggregated_v2.json"), &groups)
	for _, g := range groups.Items {
		for _, v := range g.Versions {
			for _, r := range v.Resources {
				out[schema.GroupVersionKind{Group: g.Metadata.Name, Version: v.Version, Kind: r.ResponseKind.Kind}] =
					cwMapping{resource: r.Resource, namespaced: r.Scope == "Namespaced"}
			}
		}
	}
	if len(out) < 60 {
		t.Fatalf("only %d resources in kube-apiserver's discovery documents", len(out))
	}
	return out
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// kguard's table of the built-in kinds (apiresources) is kube-apiserver
// v1.37's discovery: every kind it serves, with its plural and scope, and
// nothing else.
func TestBuiltinResourcesAsDiscovery(t *testing.T) {
	served := map[schema.GroupKind]apiresources.Mapping{}
	for gvk, m := range cwDiscovery(t) {
		gk := gvk.GroupKind()
		want := apiresources.Mapping{Resource: m.resource, Namespaced: m.namespaced}
		if old, ok := served[gk]; ok && old != want {
			t.Errorf("%s is served as %+v and %+v", gk, old, want)
		}
		served[gk] = want
		if got, known := apiresources.Lookup(gk); !known || got != want {
			t.Errorf("%s: kguard says %+v (known %v), kube-apiserver serves %+v", gk, got, known, want)
		}
	}
	for gk := range apiresources.Builtin() {
		if _, ok := served[gk]; !ok {
			t.Errorf("%s: in kguard's table, not served by kube-apiserver v1.37", gk)
		}
	}
}
