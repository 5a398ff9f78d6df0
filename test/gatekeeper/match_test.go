package gatekeeper

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	mutationtypes "github.com/open-policy-agent/gatekeeper/v3/pkg/mutation/types"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/target"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kguard/kguard/internal/constraints"
	gk "github.com/kguard/kguard/pkg/apis/gatekeeper"
)

// matchTemplate is a template whose violation always fires: a constraint of
// its kind reports "hit" on every review it matches, so which constraints
// report is exactly which constraints match.
const matchTemplate = `{"apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate", "metadata": {"name": "k8smatchtest"},
	"spec": {"crd": {"spec": {"names": {"kind": "K8sMatchTest"}}},
	"targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": "package k8smatchtest\nviolation[{\"msg\": \"hit\"}] {\n  true\n}\n"}]}}`

// matchTable are spec.match cases written out: each criterion alone, its
// edges (empty lists, "*", each glob form, each selector operator) and some
// combinations; "" is a constraint without spec.match.
var matchTable = map[string]string{
	"none":              ``,
	"empty":             `{}`,
	"kinds-star":        `{"kinds": [{"apiGroups": ["*"], "kinds": ["*"]}]}`,
	"kinds-pod":         `{"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}`,
	"kinds-apps-star":   `{"kinds": [{"apiGroups": ["apps"], "kinds": ["*"]}]}`,
	"kinds-star-ns":     `{"kinds": [{"apiGroups": ["*"], "kinds": ["Namespace"]}]}`,
	"kinds-no-groups":   `{"kinds": [{"kinds": ["Deployment"]}]}`,
	"kinds-no-kinds":    `{"kinds": [{"apiGroups": ["rbac.authorization.k8s.io"]}]}`,
	"kinds-empty-entry": `{"kinds": [{}]}`,
	"kinds-empty-lists": `{"kinds": [{"apiGroups": [], "kinds": []}]}`,
	"kinds-empty":       `{"kinds": []}`,
	"kinds-two":         `{"kinds": [{"apiGroups": [""], "kinds": ["Namespace"]}, {"apiGroups": ["apps"], "kinds": ["Deployment"]}]}`,
	"kinds-crossed":     `{"kinds": [{"apiGroups": ["apps"], "kinds": ["Pod"]}]}`,
	"kinds-multi":       `{"kinds": [{"apiGroups": ["", "apps"], "kinds": ["ConfigMap", "Deployment"]}]}`,
	"scope-namespaced":  `{"scope": "Namespaced"}`,
	"scope-cluster":     `{"scope": "Cluster"}`,
	"scope-star":        `{"scope": "*"}`,
	"ns-exact":          `{"namespaces": ["default"]}`,
	"ns-prefix":         `{"namespaces": ["kube-*"]}`,
	"ns-suffix":         `{"namespaces": ["*-system"]}`,
	"ns-both":           `{"namespaces": ["*sys*"]}`,
	"ns-two":            `{"namespaces": ["default", "team-*"]}`,
	"ns-none":           `{"namespaces": []}`,
	"excl-exact":        `{"excludedNamespaces": ["default"]}`,
	"excl-prefix":       `{"excludedNamespaces": ["kube-*"]}`,
	"excl-suffix":       `{"excludedNamespaces": ["*-system"]}`,
	"excl-both":         `{"excludedNamespaces": ["*ub*"]}`,
	"ns-and-excl":       `{"namespaces": ["*-system"], "excludedNamespaces": ["kube-*"]}`,
	"labels-empty":      `{"labelSelector": {}}`,
	"labels-eq":         `{"labelSelector": {"matchLabels": {"app": "web"}}}`,
	"labels-in":         `{"labelSelector": {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]}}`,
	"labels-notin":      `{"labelSelector": {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}}`,
	"labels-exists":     `{"labelSelector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}}`,
	"labels-notexists":  `{"labelSelector": {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}}`,
	"labels-both":       `{"labelSelector": {"matchLabels": {"app": "api"}, "matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["b"]}]}}`,
	"nssel-empty":       `{"namespaceSelector": {}}`,
	"nssel-eq":          `{"namespaceSelector": {"matchLabels": {"env": "prod"}}}`,
	"nssel-notin":       `{"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}}`,
	"nssel-name":        `{"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "Exists"}]}}`,
	"nssel-notexists":   `{"namespaceSelector": {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}}`,
	"name-exact":        `{"name": "nginx"}`,
	"name-prefix":       `{"name": "web-*"}`,
	"name-suffix":       `{"name": "*-1"}`,
	"name-both":         `{"name": "*prox*"}`,
	"name-colon":        `{"name": "system:*"}`,
	"name-empty":        `{"name": ""}`,
	"source-all":        `{"source": "All"}`,
	"source-original":   `{"source": "Original"}`,
	"source-generated":  `{"source": "Generated"}`,
	"cluster-nssel":     `{"scope": "Cluster", "namespaceSelector": {"matchLabels": {"tier": "system"}}}`,
	"namespaced-ns":     `{"scope": "Namespaced", "namespaces": ["kube-system", "default"]}`,
	"labels-novalue":    `{"labelSelector": {"matchLabels": {"app": ""}}}`,
	"nssel-nolabels":    `{"namespaceSelector": {"matchLabels": {}}}`,
	// Not here: null values (`"match": null`, `{"kinds": null}`,
	// `{"labelSelector": null}`), which gator refuses and kguard reads as
	// absent, as Gatekeeper in a cluster does: kube-apiserver prunes such
	// nulls from a constraint before anything reads it.
	"ns-kind": `{"kinds": [{"apiGroups": [""], "kinds": ["Namespace"]}], "excludedNamespaces": ["kube-*"], "labelSelector": {"matchLabels": {"env": "prod"}}}`,

	// Values at the edge of what the constraint's schema takes: both must
	// refuse the constraint, or both take it and agree on what it matches.
	"edge-ns-star":        `{"namespaces": ["*"]}`,
	"edge-excl-star":      `{"excludedNamespaces": ["*"]}`,
	"edge-name-star":      `{"name": "*"}`,
	"edge-name-stars":     `{"name": "**"}`,
	"edge-name-dash":      `{"name": "web-"}`,
	"edge-ns-dash-prefix": `{"namespaces": ["-system"]}`,
	"edge-ns-empty":       `{"namespaces": [""]}`,
	"edge-ns-underscore":  `{"namespaces": ["kube_system"]}`,
	"edge-ns-upper":       `{"namespaces": ["Default"]}`,
	"edge-name-dot":       `{"name": "web.1"}`,
	"edge-scope-lower":    `{"scope": "cluster"}`,
	"edge-scope-other":    `{"scope": "All"}`,
	"edge-source-lower":   `{"source": "generated"}`,
	"edge-labels-op":      `{"labelSelector": {"matchExpressions": [{"key": "app", "operator": "Equals", "values": ["web"]}]}}`,
	"edge-labels-novals":  `{"labelSelector": {"matchExpressions": [{"key": "app", "operator": "In"}]}}`,
	"edge-labels-vals":    `{"labelSelector": {"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["web"]}]}}`,
	"edge-labels-key":     `{"labelSelector": {"matchLabels": {"bad key": "x"}}}`,
	"edge-nssel-op":       `{"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "Gt", "values": ["1"]}]}}`,
	"edge-unknown-field":  `{"namespace": ["default"]}`,
}

// matchNamespaces are the Namespaces the namespaced objects are in, with
// their labels.
var matchNamespaces = []struct {
	name   string
	labels map[string]string
}{
	{"default", map[string]string{"kubernetes.io/metadata.name": "default"}},
	{"kube-system", map[string]string{"kubernetes.io/metadata.name": "kube-system", "tier": "system"}},
	{"prod-system", map[string]string{"env": "prod", "tier": "system"}},
	{"team-a", map[string]string{"env": "dev", "team": "a"}},
	{"kube-public", nil},
}

// matchLabelPool is the labels selectors and objects draw from.
var matchLabelPool = map[string][]string{
	"app":  {"web", "api"},
	"env":  {"prod", "dev"},
	"tier": {"system", "frontend"},
	"team": {"a", "b"},
}

// TestMatchAsGatekeeper holds kguard's spec.match to Gatekeeper's target
// matcher: constraints of one template that always fires, with tabled and
// random matches, must be accepted or refused alike, and then report (or
// fail to match, an autoreject) on the same reviews: random Pods,
// ConfigMaps, Deployments, Namespaces and ClusterRoles as CREATE, UPDATE
// and DELETE admission requests at the webhook (with the object's
// Namespace, as Gatekeeper's webhook gives it), as gator reviews objects
// (no Namespace), as the audit reviews them (with their Namespace), as
// generated objects (source Generated), and, Namespaces synced, as gator's
// objects and CREATE requests that leave the Namespace to the synced data.
// -seed picks other random constraints and objects.
func TestMatchAsGatekeeper(t *testing.T) {
	ctx := context.Background()
	nConstraints, nObjects := 300, 80
	if testing.Short() {
		nConstraints, nObjects = 60, 20
	}
	g := matchGen{rand.New(rand.NewPCG(*seed, 0x6d61746368))}

	var ct gk.ConstraintTemplate
	if err := json.Unmarshal([]byte(matchTemplate), &ct); err != nil {
		t.Fatal(err)
	}
	ours, err := constraints.CompileTemplate(&ct, constraints.Options{NoCEL: true})
	if err != nil {
		t.Fatalf("kguard: %v", err)
	}
	gkTmpl, err := gatekeeperTemplate(gatekeeperScheme(t), []byte(matchTemplate))
	if err != nil {
		t.Fatal(err)
	}
	theirs := newGatekeeperClient(t, constraints.PointWebhook, constraints.PointGator, constraints.PointAudit)
	if _, err := theirs.AddTemplate(ctx, gkTmpl); err != nil {
		t.Fatalf("Gatekeeper: %v", err)
	}

	// The constraints, by name: the table's, then random ones.
	matches := map[string]string{}
	var names []string
	for name, m := range matchTable {
		matches[name] = m
		names = append(names, name)
	}
	slices.Sort(names)
	for i := range nConstraints {
		name := fmt.Sprintf("random-%03d", i)
		matches[name] = string(mustJSON(t, g.match()))
		names = append(names, name)
	}
	var loaded []*constraints.Constraint
	refused := 0
	// Both must accept or refuse each constraint; the reviews hold those
	// both accept.
	var loadDiffs []string
	for _, name := range names {
		spec := `{}`
		if m := matches[name]; m != "" {
			spec = `{"match": ` + m + `}`
		}
		raw := []byte(`{"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sMatchTest", "metadata": {"name": "` + name + `"}, "spec": ` + spec + `}`)
		c, ourErr := constraints.LoadConstraint(ours, raw)
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, theirErr := theirs.AddConstraint(ctx, u)
		switch {
		case (ourErr == nil) != (theirErr == nil):
			loadDiffs = append(loadDiffs, fmt.Sprintf("constraint %s, match %s: Gatekeeper's error %v, kguard's %v", name, matches[name], theirErr, ourErr))
			if theirErr == nil {
				if _, err := theirs.RemoveConstraint(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
		case ourErr != nil:
			refused++
		default:
			loaded = append(loaded, c)
		}
	}
	t.Run("load", func(t *testing.T) {
		for _, d := range loadDiffs {
			t.Error(d)
		}
		if refused == 0 || len(loaded) == 0 {
			t.Errorf("%d constraints refused by both, %d loaded by both: want some of each", refused, len(loaded))
		}
	})
	set, err := constraints.NewSet(ctx, []*constraints.Template{ours}, loaded, nil)
	if err != nil {
		t.Fatal(err)
	}

	namespaces := map[string]*corev1.Namespace{}
	for _, ns := range matchNamespaces {
		namespaces[ns.name] = &corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns.name, Labels: ns.labels},
		}
	}

	t.Run("review", func(t *testing.T) {
		type tally struct{ reviews, hits, errors, mismatches int }
		tallies := map[string]*tally{}
		hitBy := map[string]int{} // constraint: reviews it reports on, Gatekeeper's side
		shown := 0
		compare := func(mode string, kg, theirs []violation, doc any) {
			tl := tallies[mode]
			if tl == nil {
				tl = &tally{}
				tallies[mode] = tl
			}
			tl.reviews++
			ko, kmsg := matchOutcomes(kg)
			to, tmsg := matchOutcomes(theirs)
			for c, o := range to {
				if o == "hit" {
					tl.hits++
					hitBy[c]++
				} else {
					tl.errors++
				}
			}
			var diffs []string
			for _, c := range names {
				c = "K8sMatchTest/" + c
				if ko[c] != to[c] {
					short := strings.TrimPrefix(c, "K8sMatchTest/")
					diffs = append(diffs, fmt.Sprintf("%s %s\n    kguard:     %s\n    Gatekeeper: %s", short, matches[short], orNone(kmsg[c]), orNone(tmsg[c])))
				}
			}
			if len(diffs) == 0 {
				return
			}
			tl.mismatches++
			if shown++; shown > 20 {
				return
			}
			b, _ := json.Marshal(doc)
			t.Errorf("%s: kguard and Gatekeeper disagree on %d constraints\n  %s\n  review: %s", mode, len(diffs), strings.Join(diffs, "\n  "), b)
		}

		review := func(set *constraints.Set, mode string, r *constraints.Review, obj any, point string, doc any) {
			t.Helper()
			kg := kguardViolations(ctx, set, r, point)
			gkv, err := gatekeeperViolations(ctx, theirs, obj, point)
			if err != nil {
				t.Fatalf("%s: Gatekeeper: %v", mode, err)
			}
			compare(mode, kg, gkv, doc)
		}

		var objs []matchObject
		for i := range nObjects {
			o := g.object(i)
			objs = append(objs, o)
			old := g.relabeled(o)
			var ns *corev1.Namespace
			if o.namespace != "" {
				ns = namespaces[o.namespace]
			}
			doc := func(op string, withNS bool) map[string]any {
				d := map[string]any{"operation": op, "object": o.obj}
				switch op {
				case "UPDATE":
					d["oldObject"] = old
				case "DELETE":
					d = map[string]any{"operation": op, "oldObject": o.obj}
				}
				if withNS && ns != nil {
					d["namespace"] = ns
				}
				return d
			}

			// The webhook: an admission request and the Namespace of a
			// namespaced object.
			for _, op := range []admissionv1.Operation{admissionv1.Create, admissionv1.Update, admissionv1.Delete} {
				if op != admissionv1.Create && o.generated {
					continue // a name not yet generated is a CREATE's only
				}
				req := o.request(t, op, old)
				review(set, "webhook "+string(op), &constraints.Review{Request: req.DeepCopy(), Namespace: ns},
					target.AugmentedReview{AdmissionRequest: req.DeepCopy(), Namespace: ns,
						Source: mutationtypes.SourceTypeOriginal, IsAdmission: true},
					constraints.PointWebhook, doc(string(op), true))
			}

			raw := mustJSON(t, o.obj)
			object := func() unstructured.Unstructured {
				return unstructured.Unstructured{Object: roundTrip(t, raw)}
			}
			reviewObject := func(ns *corev1.Namespace) *constraints.Review {
				r, err := constraints.ReviewObject(raw)
				if err != nil {
					t.Fatal(err)
				}
				r.Namespace = ns
				return r
			}

			// gator: the object alone.
			review(set, "gator", reviewObject(nil), target.AugmentedUnstructured{Object: object(), Source: mutationtypes.SourceTypeOriginal},
				constraints.PointGator, doc("", false))

			// The audit: the object and its Namespace.
			review(set, "audit", reviewObject(ns), target.AugmentedUnstructured{Object: object(), Namespace: ns, Source: mutationtypes.SourceTypeOriginal},
				constraints.PointAudit, doc("", true))

			// A generated object, as the webhook reviews a workload's expansion.
			r := reviewObject(ns)
			r.Request.Operation = admissionv1.Create
			r.Generated = true
			review(set, "generated", r, target.AugmentedUnstructured{Object: object(), Namespace: ns,
				Operation: admissionv1.Create, Source: mutationtypes.SourceTypeGenerated},
				constraints.PointWebhook, doc("generated", true))
		}

		// Namespaces synced into data.inventory (all but kube-public): a
		// review that does not carry its Namespace takes it from there, in
		// Gatekeeper's target (its namespace cache, by the request's
		// namespace) as in kguard's Set. gator's reviews, and CREATE
		// requests without their Namespace.
		inv := constraints.Inventory{}
		for _, ns := range matchNamespaces {
			if ns.name == "kube-public" {
				continue
			}
			obj := roundTrip(t, mustJSON(t, namespaces[ns.name]))
			if err := inv.Add(obj); err != nil {
				t.Fatal(err)
			}
			if _, err := theirs.AddData(ctx, &unstructured.Unstructured{Object: roundTrip(t, mustJSON(t, namespaces[ns.name]))}); err != nil {
				t.Fatalf("Gatekeeper: %v", err)
			}
		}
		synced, err := constraints.NewSet(ctx, []*constraints.Template{ours}, loaded, inv)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			raw := mustJSON(t, o.obj)
			r, err := constraints.ReviewObject(raw)
			if err != nil {
				t.Fatal(err)
			}
			review(synced, "gator synced", r, target.AugmentedUnstructured{Object: unstructured.Unstructured{Object: roundTrip(t, raw)},
				Source: mutationtypes.SourceTypeOriginal}, constraints.PointGator, map[string]any{"object": o.obj})
			req := o.request(t, admissionv1.Create, nil)
			review(synced, "webhook synced", &constraints.Review{Request: req.DeepCopy()},
				target.AugmentedReview{AdmissionRequest: req.DeepCopy(), Source: mutationtypes.SourceTypeOriginal, IsAdmission: true},
				constraints.PointWebhook, map[string]any{"operation": "CREATE", "object": o.obj, "requestNamespace": o.namespace})
		}

		modes := make([]string, 0, len(tallies))
		for m := range tallies {
			modes = append(modes, m)
		}
		sort.Strings(modes)
		total := tally{}
		for _, m := range modes {
			tl := tallies[m]
			t.Logf("%-14s %4d reviews, %5d hits, %4d match errors, %d reviews disagree", m, tl.reviews, tl.hits, tl.errors, tl.mismatches)
			total.hits += tl.hits
			total.errors += tl.errors
		}
		never := 0
		for _, c := range loaded {
			if hitBy["K8sMatchTest/"+c.Name] == 0 {
				never++
			}
		}
		t.Logf("%d constraints (%d tabled), %d refused by both, %d loaded, %d never match; seed %d", len(names), len(matchTable), refused, len(loaded), never, *seed)
		// The reviews exercise every outcome: matches, non-matches and errors.
		if total.hits == 0 || total.errors == 0 || never == 0 || never == len(loaded) {
			t.Errorf("%d hits, %d match errors, %d of %d constraints never match: want some of each", total.hits, total.errors, never, len(loaded))
		}
	})
}

// matchOutcomes is what each constraint reported: "hit" when it matched,
// "error" when matching failed (Gatekeeper's autoreject; the two engines
// word the error differently), and the messages.
func matchOutcomes(vs []violation) (outcomes, msgs map[string]string) {
	outcomes, msgs = map[string]string{}, map[string]string{}
	for _, v := range vs {
		o := "hit"
		if v.msg != "hit" {
			o = "error"
		}
		if prev, ok := outcomes[v.constraint]; ok {
			o = prev + " + " + o
			msgs[v.constraint] += " + " + v.msg
		} else {
			msgs[v.constraint] = v.msg
		}
		outcomes[v.constraint] = o
	}
	return outcomes, msgs
}

func orNone(s string) string {
	if s == "" {
		return "(no match)"
	}
	return s
}

type matchGen struct{ r *rand.Rand }

func (g matchGen) chance(p float64) bool { return g.r.Float64() < p }

func pick[T any](g matchGen, xs []T) T { return xs[g.r.IntN(len(xs))] }

// some is 1 to n distinct elements of xs.
func some[T any](g matchGen, xs []T, n int) []T {
	perm := g.r.Perm(len(xs))
	k := 1 + g.r.IntN(min(n, len(xs)))
	out := make([]T, k)
	for i := range k {
		out[i] = xs[perm[i]]
	}
	return out
}

var (
	matchGroups = []string{"", "apps", "rbac.authorization.k8s.io", "batch", "*"}
	matchKinds  = []string{"Pod", "ConfigMap", "Deployment", "Namespace", "ClusterRole", "Job", "*"}
	nsGlobs     = []string{"default", "kube-system", "team-a", "kube-*", "team-*", "*-system", "*-a", "*sys*", "*ube*", "prod-system", "absent"}
	nameGlobs   = []string{"nginx", "web-*", "*-1", "*prox*", "kube-*", "system:*", "*:view", "admin", "*-system", "kube-system", "web-1"}
	labelKeys   = []string{"app", "env", "tier", "team"}
)

// match is a random spec.match.
func (g matchGen) match() map[string]any {
	m := map[string]any{}
	if g.chance(0.5) {
		var kinds []any
		for range 1 + g.r.IntN(2) {
			k := map[string]any{}
			if !g.chance(0.1) {
				k["apiGroups"] = some(g, matchGroups, 2)
			}
			if !g.chance(0.1) {
				k["kinds"] = some(g, matchKinds, 3)
			}
			kinds = append(kinds, k)
		}
		m["kinds"] = kinds
	}
	if g.chance(0.3) {
		m["scope"] = pick(g, []string{"Namespaced", "Cluster", "*"})
	}
	if g.chance(0.3) {
		m["namespaces"] = some(g, nsGlobs, 2)
	}
	if g.chance(0.3) {
		m["excludedNamespaces"] = some(g, nsGlobs, 2)
	}
	if g.chance(0.3) {
		m["labelSelector"] = g.selector(false)
	}
	if g.chance(0.3) {
		m["namespaceSelector"] = g.selector(true)
	}
	if g.chance(0.2) {
		m["name"] = pick(g, nameGlobs)
	}
	if g.chance(0.15) {
		m["source"] = pick(g, []string{"All", "Original", "Generated"})
	}
	return m
}

// selector is a random label selector; of a Namespace's labels when ns.
func (g matchGen) selector(ns bool) map[string]any {
	keys := labelKeys
	if ns {
		keys = append(slices.Clone(keys), "kubernetes.io/metadata.name")
	}
	values := func(key string) []string {
		if key == "kubernetes.io/metadata.name" {
			return []string{"default", "kube-system", "kube-public"}
		}
		return matchLabelPool[key]
	}
	sel := map[string]any{}
	if g.chance(0.5) {
		labels := map[string]any{}
		for _, k := range some(g, keys, 2) {
			labels[k] = pick(g, values(k))
		}
		sel["matchLabels"] = labels
	}
	if g.chance(0.6) {
		var exprs []any
		for _, k := range some(g, keys, 2) {
			e := map[string]any{"key": k}
			switch op := pick(g, []string{"In", "NotIn", "Exists", "DoesNotExist"}); op {
			case "In", "NotIn":
				e["operator"] = op
				e["values"] = some(g, values(k), 2)
			default:
				e["operator"] = op
			}
			exprs = append(exprs, e)
		}
		sel["matchExpressions"] = exprs
	}
	return sel // possibly {}: every object
}

// matchObject is a random object under review.
type matchObject struct {
	obj       map[string]any
	gvk       metav1.GroupVersionKind
	resource  string
	namespace string // the Namespace of a namespaced object ("" for others)
	generated bool   // only a generateName (a CREATE's)
}

func (g matchGen) labels() map[string]any {
	if g.chance(0.25) {
		return nil
	}
	out := map[string]any{}
	for _, k := range labelKeys {
		if g.chance(0.45) {
			out[k] = pick(g, matchLabelPool[k])
		}
	}
	return out
}

// object is a random Pod, ConfigMap, Deployment, Namespace or ClusterRole.
func (g matchGen) object(i int) matchObject {
	type kind struct {
		gvk        metav1.GroupVersionKind
		resource   string
		namespaced bool
		names      []string
	}
	kinds := []kind{
		{metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, "pods", true, []string{"nginx", "web-1", "kube-proxy-x2x9k", "api-7d4b9", "my-system"}},
		{metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, "configmaps", true, []string{"kube-root-ca.crt", "web-config", "settings-1", "nginx"}},
		{metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, "deployments", true, []string{"web", "web-1", "coredns", "proxy"}},
		{metav1.GroupVersionKind{Version: "v1", Kind: "Namespace"}, "namespaces", false, []string{"default", "kube-system", "prod-system", "team-a", "kube-public", "scratch"}},
		{metav1.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, "clusterroles", false, []string{"admin", "system:controller:web-1", "aggregate:view", "kube-system-reader"}},
	}
	k := pick(g, kinds)
	o := matchObject{gvk: k.gvk, resource: k.resource}
	meta := map[string]any{}
	if k.namespaced {
		o.namespace = matchNamespaces[g.r.IntN(len(matchNamespaces))].name
		// Most objects name their namespace; some leave it to the request.
		if !g.chance(0.15) {
			meta["namespace"] = o.namespace
		}
	}
	switch {
	case k.gvk.Kind != "Namespace" && g.chance(0.15):
		o.generated = true
		meta["generateName"] = pick(g, []string{"web-", "kube-proxy-", "system:"})
	default:
		meta["name"] = pick(g, k.names)
		if g.chance(0.1) {
			meta["generateName"] = pick(g, []string{"web-", "kube-proxy-"})
		}
	}
	if l := g.labels(); l != nil {
		meta["labels"] = l
	}
	meta["uid"] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	apiVersion := k.gvk.Version
	if k.gvk.Group != "" {
		apiVersion = k.gvk.Group + "/" + apiVersion
	}
	o.obj = map[string]any{"apiVersion": apiVersion, "kind": k.gvk.Kind, "metadata": meta}
	switch k.gvk.Kind {
	case "Pod":
		o.obj["spec"] = map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx"}}}
	case "ConfigMap":
		o.obj["data"] = map[string]any{"k": "v"}
	}
	return o
}

// relabeled is o as it was before an update: the same object with other
// random labels.
func (g matchGen) relabeled(o matchObject) map[string]any {
	b, _ := json.Marshal(o.obj)
	var old map[string]any
	_ = json.Unmarshal(b, &old)
	meta := old["metadata"].(map[string]any)
	delete(meta, "labels")
	if l := g.labels(); l != nil {
		meta["labels"] = l
	}
	return old
}

// request is the admission request of an operation on o: CREATE carries the
// object, UPDATE the object and old, DELETE the object as its oldObject.
func (o matchObject) request(t *testing.T, op admissionv1.Operation, old map[string]any) *admissionv1.AdmissionRequest {
	t.Helper()
	name, _ := o.obj["metadata"].(map[string]any)["name"].(string)
	req := &admissionv1.AdmissionRequest{
		UID:       "0b3b5e4e-0000-4000-8000-000000000003",
		Kind:      o.gvk,
		Resource:  metav1.GroupVersionResource{Group: o.gvk.Group, Version: o.gvk.Version, Resource: o.resource},
		Name:      name,
		Namespace: o.namespace,
		Operation: op,
	}
	req.UserInfo.Username = "alice"
	switch op {
	case admissionv1.Create:
		req.Object = runtimeRaw(t, o.obj)
	case admissionv1.Update:
		req.Object, req.OldObject = runtimeRaw(t, o.obj), runtimeRaw(t, old)
	case admissionv1.Delete:
		req.OldObject = runtimeRaw(t, o.obj)
	}
	return req
}
