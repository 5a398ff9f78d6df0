package apiresources

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// test/upstream checks the built-in table against kube-apiserver's
// discovery; here, the kinds kguard knows from its CRDs and the guesses for
// the others.
func TestLookup(t *testing.T) {
	for _, c := range []struct {
		gk    schema.GroupKind
		want  Mapping
		known bool
	}{
		{schema.GroupKind{Group: "node.k8s.io", Kind: "RuntimeClass"}, Mapping{"runtimeclasses", false}, true},
		{schema.GroupKind{Kind: "Endpoints"}, Mapping{"endpoints", true}, true},
		{schema.GroupKind{Group: "policy.sigstore.dev", Kind: "ClusterImagePolicy"}, Mapping{"clusterimagepolicies", false}, true},
		{schema.GroupKind{Group: "constraints.gatekeeper.sh", Kind: "K8sRequiredLabels"}, Mapping{"k8srequiredlabels", false}, true},
		{schema.GroupKind{Group: "example.com", Kind: "Widget"}, Mapping{"widgets", true}, false},
		{schema.GroupKind{Group: "cert-manager.io", Kind: "ClusterIssuer"}, Mapping{"clusterissuers", false}, false},
	} {
		got, known := Lookup(c.gk)
		if got != c.want || known != c.known {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v, %v", c.gk, got, known, c.want, c.known)
		}
	}
}
