package source

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A cluster without Gatekeeper's CRDs answers 404 for the group version:
// that is "not served", not an error that fails `kguard audit --kubeconfig`
// (Constraints on by default), unless the Constraints plugin was named,
// which then cannot judge anything (kguard serve stays unready there).
func TestGatekeeperServed(t *testing.T) {
	without := fake.NewClientset()
	with := fake.NewClientset()
	with.Resources = []*metav1.APIResourceList{{GroupVersion: TemplateResource.GroupVersion().String(),
		APIResources: []metav1.APIResource{{Name: "constrainttemplates", Kind: "ConstraintTemplate"}}}}
	if served, err := gatekeeperServed(without, ReadOptions{Gatekeeper: true}); served || err != nil {
		t.Errorf("without the CRD, by default: served %v, err %v; want false, nil", served, err)
	}
	if served, err := gatekeeperServed(without, ReadOptions{Gatekeeper: true, RequireGatekeeper: true}); served || err == nil || !strings.Contains(err.Error(), "constrainttemplates") {
		t.Errorf("without the CRD, Constraints named: served %v, err %v; want an error naming constrainttemplates", served, err)
	}
	for _, required := range []bool{false, true} {
		if served, err := gatekeeperServed(with, ReadOptions{Gatekeeper: true, RequireGatekeeper: required}); !served || err != nil {
			t.Errorf("with the CRD (required %v): served %v, err %v; want true, nil", required, served, err)
		}
	}
}
