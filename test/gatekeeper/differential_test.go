package gatekeeper

import (
	"context"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"testing"

	mutationtypes "github.com/open-policy-agent/gatekeeper/v3/pkg/mutation/types"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/target"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kguard/kguard/internal/constraints"
)

var (
	seed = flag.Uint64("seed", 1, "seed of the random pods")
	pods = flag.Int("pods", 300, "random pods per operation (CREATE as gator reviews objects, UPDATE)")
)

// Gatekeeper's k8scel driver (v3.23.1) does not build against the
// k8s.io/apiserver v0.37 kguard requires (it assigns a runtime.Object to
// admission.VersionedAttributes.VersionedObject, an admission.LazyObject
// since v0.37), and kguard does not build against the v0.36 it pins: the
// comparison is of Rego only, CEL off on both sides.

// TestLibraryRandomPods reviews random pods with kguard and with Gatekeeper,
// at gator's enforcement point, against the library's pod-security-policy
// templates and some general ones with their samples' constraints, and
// requires the same violations (constraint, message) of each pod: objects
// as gator reviews them, and UPDATE requests with an old object.
func TestLibraryRandomPods(t *testing.T) {
	policies := libraryPolicies(t, true)
	ours := kguardSet(t, policies, constraints.Options{NoCEL: true})
	theirs := gatekeeperClient(t, policies, constraints.PointGator)
	n := *pods
	if testing.Short() {
		n = 50
	}
	ctx := context.Background()
	g := podGen{rand.New(rand.NewPCG(*seed, 0x6b6775617264))}

	type tally struct{ reviews, violations, mismatches int }
	var objects, updates tally
	violated := map[string]int{} // by constraint, on Gatekeeper's side
	compare := func(t *testing.T, tl *tally, what string, kg, gk []violation, doc any) {
		t.Helper()
		tl.reviews++
		tl.violations += len(gk)
		for _, v := range gk {
			violated[v.constraint]++
		}
		onlyKguard, onlyGatekeeper := diffViolations(kg, gk)
		if onlyKguard == nil && onlyGatekeeper == nil {
			return
		}
		tl.mismatches++
		b, _ := json.MarshalIndent(doc, "", "  ")
		t.Errorf("%s: kguard and Gatekeeper disagree\nonly kguard:     %v\nonly Gatekeeper: %v\n%s", what, onlyKguard, onlyGatekeeper, b)
	}

	t.Run("objects", func(t *testing.T) {
		for i := range n {
			pod := g.pod(i)
			raw := mustJSON(t, pod)
			r, err := constraints.ReviewObject(raw)
			if err != nil {
				t.Fatal(err)
			}
			kg := kguardViolations(ctx, ours, r, constraints.PointGator)
			gk, err := gatekeeperViolations(ctx, theirs, target.AugmentedUnstructured{
				Object: unstructured.Unstructured{Object: roundTrip(t, raw)},
				Source: mutationtypes.SourceTypeOriginal,
			}, constraints.PointGator)
			if err != nil {
				t.Fatalf("Gatekeeper: %v", err)
			}
			compare(t, &objects, "pod "+r.Request.Name, kg, gk, pod)
		}
	})

	t.Run("updates", func(t *testing.T) {
		for i := range n {
			pod, old := g.pod(i), g.pod(i)
			// An update keeps the name and namespace.
			old["metadata"].(map[string]any)["name"] = pod["metadata"].(map[string]any)["name"]
			if ns, ok := pod["metadata"].(map[string]any)["namespace"]; ok {
				old["metadata"].(map[string]any)["namespace"] = ns
			} else {
				delete(old["metadata"].(map[string]any), "namespace")
			}
			req := updateRequest(t, pod, old)
			kg := kguardViolations(ctx, ours, &constraints.Review{Request: req.DeepCopy()}, constraints.PointGator)
			gk, err := gatekeeperViolations(ctx, theirs, target.AugmentedReview{
				AdmissionRequest: req.DeepCopy(),
				Source:           mutationtypes.SourceTypeOriginal,
			}, constraints.PointGator)
			if err != nil {
				t.Fatalf("Gatekeeper: %v", err)
			}
			compare(t, &updates, "UPDATE of pod "+req.Name, kg, gk, map[string]any{"object": pod, "oldObject": old})
		}
	})

	constraintCount := 0
	for _, c := range ours.Constraints() {
		constraintCount++
		// A constraint no pod violates is one the comparison says little about.
		if name := c.Kind + "/" + c.Name; violated[name] == 0 {
			t.Logf("no random pod violates %s", name)
		}
	}
	t.Logf("%d templates, %d constraints, seed %d", len(policies), constraintCount, *seed)
	t.Logf("objects: %d pods, %d violations compared, %d pods disagree", objects.reviews, objects.violations, objects.mismatches)
	t.Logf("UPDATE:  %d requests, %d violations compared, %d requests disagree", updates.reviews, updates.violations, updates.mismatches)
}

func updateRequest(t *testing.T, obj, old map[string]any) *admissionv1.AdmissionRequest {
	t.Helper()
	meta := obj["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	return &admissionv1.AdmissionRequest{
		UID:       "0b3b5e4e-0000-4000-8000-000000000001",
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Name:      meta["name"].(string),
		Namespace: ns,
		Operation: admissionv1.Update,
		Object:    runtimeRaw(t, obj),
		OldObject: runtimeRaw(t, old),
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// roundTrip decodes JSON as unstructured does (int64 numbers), as gator
// reads an object from a file.
func roundTrip(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	var u unstructured.Unstructured
	if err := u.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	return u.Object
}

func runtimeRaw(t testing.TB, v any) runtime.RawExtension {
	t.Helper()
	return runtime.RawExtension{Raw: mustJSON(t, v)}
}
