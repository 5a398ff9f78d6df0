package audit_test

import (
	"fmt"
	"testing"

	"github.com/kguard/kguard/internal/audit"
)

// TestReportOrderIsTheInputsNot: objects of the same kind and name in two
// API groups (a Gateway of gateway.networking.k8s.io and one of
// networking.istio.io, both matched by constraints) make the same report
// whatever order they are added in — the controller adds them in the
// informers' order, which changes from one audit to the next, and a report
// in another order is written again — and a cap keeps the same one.
func TestReportOrderIsTheInputsNot(t *testing.T) {
	a := audit.Result{Object: audit.Object{APIVersion: "gateway.networking.k8s.io/v1", Kind: "Gateway", Namespace: "a", Name: "main", UID: "u1"}, Status: audit.Admitted}
	b := audit.Result{Object: audit.Object{APIVersion: "networking.istio.io/v1", Kind: "Gateway", Namespace: "a", Name: "main", UID: "u2"}, Status: audit.Admitted}
	for _, limit := range []int{0, 1} {
		ab := audit.Reports(results(a, b), limit)
		ba := audit.Reports(results(b, a), limit)
		if got, want := fmt.Sprintf("%+v", ba[0].Results), fmt.Sprintf("%+v", ab[0].Results); got != want {
			t.Errorf("cap %d: added in the other order, the results are\n%s\nnot\n%s", limit, got, want)
		}
	}
}
