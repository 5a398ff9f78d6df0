package podspec

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
)

// podPatch returns the JSON Patch from before to after, operation by changed
// field, when the two pods differ only where admission changes a pod: its
// labels, annotations and namespace, the pod's and each container's security
// context, the runtime class, tolerations and node selector, and volumes (a
// volume with no source becomes an emptyDir). Anything else changed returns ok=false, and the caller diffs the
// whole objects instead. It saves encoding both pods and diffing their JSON
// on every mutated pod.
func podPatch(before, after *corev1.Pod) (ops []jsonpatch.Operation, ok bool) {
	b, a := &before.Spec, &after.Spec
	if len(a.Containers) != len(b.Containers) || len(a.InitContainers) != len(b.InitContainers) ||
		len(a.EphemeralContainers) != len(b.EphemeralContainers) || len(a.Volumes) != len(b.Volumes) {
		return nil, false
	}
	if !sameOutside(before, after) {
		return nil, false
	}

	p := patch{ops: make([]jsonpatch.Operation, 0, 8)} // a mutated pod's patch seldom has more
	// Only when it changed: a string made an interface is an allocation.
	if before.Namespace != after.Namespace {
		p.value("/metadata/namespace", before.Namespace != "", after.Namespace != "", false, after.Namespace)
	}
	p.stringMap("/metadata/labels", before.Labels, after.Labels)
	p.stringMap("/metadata/annotations", before.Annotations, after.Annotations)
	p.stringMap("/spec/nodeSelector", b.NodeSelector, a.NodeSelector)
	if n := len(b.Tolerations); n > 0 && len(a.Tolerations) > n && deepEqual(&b.Tolerations, ptrTo(a.Tolerations[:n:n])) {
		// Tolerations added at the end (Tenancy's, after kube-apiserver's
		// not-ready and unreachable ones): those alone, not the whole list.
		for i := n; i < len(a.Tolerations); i++ {
			p.ops = append(p.ops, jsonpatch.NewOperation("add", "/spec/tolerations/"+strconv.Itoa(i), &a.Tolerations[i]))
		}
	} else if !deepEqual(&b.Tolerations, &a.Tolerations) {
		// The whole list: an index of a toleration added in the middle
		// would shift the others.
		p.value("/spec/tolerations", len(b.Tolerations) > 0, len(a.Tolerations) > 0, false, &a.Tolerations)
	}
	pointer(&p, "/spec/securityContext", b.SecurityContext, a.SecurityContext)
	pointer(&p, "/spec/runtimeClassName", b.RuntimeClassName, a.RuntimeClassName)
	for i := range a.Volumes {
		// deepEqual: where it is stricter than equality.Semantic, diff
		// compares the volumes' JSON and adds nothing when they are the same.
		if !deepEqual(&a.Volumes[i], &b.Volumes[i]) {
			p.diff("/spec/volumes/"+strconv.Itoa(i), &b.Volumes[i], &a.Volumes[i])
		}
	}
	for i := range a.InitContainers {
		pointer(&p, "/spec/initContainers/"+strconv.Itoa(i)+"/securityContext", b.InitContainers[i].SecurityContext, a.InitContainers[i].SecurityContext)
	}
	for i := range a.Containers {
		pointer(&p, "/spec/containers/"+strconv.Itoa(i)+"/securityContext", b.Containers[i].SecurityContext, a.Containers[i].SecurityContext)
	}
	for i := range a.EphemeralContainers {
		pointer(&p, "/spec/ephemeralContainers/"+strconv.Itoa(i)+"/securityContext", b.EphemeralContainers[i].SecurityContext, a.EphemeralContainers[i].SecurityContext)
	}
	return p.ops, true
}

// sameOutside: before and after are equal outside the fields podPatch
// patches. after's fields are set to before's for the comparison and put
// back (a copy of the pod with them replaced was a fifth of the patch's
// allocations).
//
// deepEqual, not equality.Semantic: it is several times faster on a whole
// pod (no visited map for every struct, no reflective calls of the
// Quantity comparison), and where it is stricter (nil against empty, a
// quantity spelled two ways) the caller falls back to the whole-object
// diff, which is exact: the patch's effect is the same either way.
func sameOutside(before, after *corev1.Pod) bool {
	b, a := &before.Spec, &after.Spec
	labels, annotations, namespace := after.Labels, after.Annotations, after.Namespace
	sc, runtimeClass, volumes, tolerations, selector := a.SecurityContext, a.RuntimeClassName, a.Volumes, a.Tolerations, a.NodeSelector
	var stack [8]*corev1.SecurityContext
	contexts := stack[:0]
	swap := func(cs, from []corev1.Container) {
		for i := range cs {
			contexts = append(contexts, cs[i].SecurityContext)
			cs[i].SecurityContext = from[i].SecurityContext
		}
	}
	swap(a.InitContainers, b.InitContainers)
	swap(a.Containers, b.Containers)
	for i := range a.EphemeralContainers {
		contexts = append(contexts, a.EphemeralContainers[i].SecurityContext)
		a.EphemeralContainers[i].SecurityContext = b.EphemeralContainers[i].SecurityContext
	}
	after.Labels, after.Annotations, after.Namespace = before.Labels, before.Annotations, before.Namespace
	a.SecurityContext, a.RuntimeClassName, a.Volumes, a.Tolerations, a.NodeSelector = b.SecurityContext, b.RuntimeClassName, b.Volumes, b.Tolerations, b.NodeSelector

	same := deepEqual(before, after)

	after.Labels, after.Annotations, after.Namespace = labels, annotations, namespace
	a.SecurityContext, a.RuntimeClassName, a.Volumes, a.Tolerations, a.NodeSelector = sc, runtimeClass, volumes, tolerations, selector
	n := 0
	restore := func(cs []corev1.Container) {
		for i := range cs {
			cs[i].SecurityContext = contexts[n]
			n++
		}
	}
	restore(a.InitContainers)
	restore(a.Containers)
	for i := range a.EphemeralContainers {
		a.EphemeralContainers[i].SecurityContext = contexts[n]
		n++
	}
	return same
}

type patch struct{ ops []jsonpatch.Operation }

func ptrTo[T any](v T) *T { return &v }

// value adds, replaces or removes the member at path, present (in the pod's
// JSON, where empty values are omitted) before and after as told.
func (p *patch) value(path string, before, after, equal bool, v any) {
	switch {
	case !before && after:
		p.ops = append(p.ops, jsonpatch.NewOperation("add", path, v))
	case before && !after:
		p.ops = append(p.ops, jsonpatch.NewOperation("remove", path, nil))
	case before && after && !equal:
		p.ops = append(p.ops, jsonpatch.NewOperation("replace", path, v))
	}
}

// pointer patches an optional field (nil is omitted from the JSON); a value
// that changed is diffed member by member, as the whole-object diff does.
func pointer[T any](p *patch, path string, before, after *T) {
	if deepEqual(before, after) {
		return // most often: no plugin changed it; cheaper than their JSON
	}
	if before != nil && after != nil {
		if !p.structDiff(path, reflect.ValueOf(before).Elem(), reflect.ValueOf(after).Elem()) {
			p.diff(path, before, after) // no operations when they are equal
		}
		return
	}
	p.value(path, before != nil, after != nil, true, after)
}

// diff adds the JSON Patch from before to after, two small values, under path.
func (p *patch) diff(path string, before, after any) {
	b, errB := json.Marshal(before)
	a, errA := json.Marshal(after)
	if errB == nil && errA == nil && bytes.Equal(a, b) {
		return // what the API server would store is the same
	}
	if errB == nil && errA == nil && p.diffMembers(path, b, a) {
		return
	}
	ops, err := jsonpatch.CreatePatch(b, a)
	if errB != nil || errA != nil || err != nil {
		p.ops = append(p.ops, jsonpatch.NewOperation("replace", path, after))
		return
	}
	orderOps(ops) // the library walks maps: members come out in random order
	for _, op := range ops {
		op.Path = path + op.Path
		p.ops = append(p.ops, op)
	}
}

// stringMap patches a map of strings at path (labels, annotations, the node
// selector) key by key; an empty map is omitted.
func (p *patch) stringMap(path string, before, after map[string]string) {
	if len(before) == 0 || len(after) == 0 {
		p.value(path, len(before) > 0, len(after) > 0, true, after)
		return
	}
	keys := make([]string, 0, len(after))
	for k := range after {
		keys = append(keys, k)
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		old, had := before[k]
		v, has := after[k]
		p.value(path+"/"+escape(k), had, has, old == v, v)
	}
}

// escape writes a map key as a JSON Pointer token (RFC 6901).
var escape = strings.NewReplacer("~", "~0", "/", "~1").Replace
