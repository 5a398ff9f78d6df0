// Package podspec finds the pod inside every workload kind — Pod, PodTemplate,
// ReplicationController, ReplicaSet, Deployment, StatefulSet, DaemonSet, Job,
// CronJob — with the JSON path to it, lets admission change that pod and
// writes the change back, as a JSON Patch against the object.
package podspec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kguard/kguard/internal/apidefaults"
	"github.com/kguard/kguard/internal/manifest"
)

// Workload is an object that carries a pod (template).
type Workload struct {
	// Object is the decoded object (*corev1.Pod, *appsv1.Deployment, ...).
	Object runtime.Object
	// Root is the path of the pod inside the object: nil for a Pod,
	// spec.template, spec.jobTemplate.spec.template, or template (PodTemplate).
	Root *field.Path
	// template is the pod template inside Object (nil for a Pod).
	template *corev1.PodTemplateSpec
	original []byte      // Object as JSON before the first SetPod (templates)
	err      error       // from encoding original
	before   *corev1.Pod // a Pod as it was before the first SetPod
}

// kinds maps "apiVersion/kind" to a constructor and the pod template accessor.
var kinds = map[string]kind{
	"v1/Pod":         {func() runtime.Object { return &corev1.Pod{} }, nil, nil},
	"v1/PodTemplate": {func() runtime.Object { return &corev1.PodTemplate{} }, func(o runtime.Object) *corev1.PodTemplateSpec { return &o.(*corev1.PodTemplate).Template }, field.NewPath("template")},
	"v1/ReplicationController": {func() runtime.Object { return &corev1.ReplicationController{} }, func(o runtime.Object) *corev1.PodTemplateSpec {
		rc := o.(*corev1.ReplicationController)
		if rc.Spec.Template == nil {
			rc.Spec.Template = &corev1.PodTemplateSpec{}
		}
		return rc.Spec.Template
	}, field.NewPath("spec", "template")},
	"apps/v1/ReplicaSet":  {func() runtime.Object { return &appsv1.ReplicaSet{} }, func(o runtime.Object) *corev1.PodTemplateSpec { return &o.(*appsv1.ReplicaSet).Spec.Template }, field.NewPath("spec", "template")},
	"apps/v1/Deployment":  {func() runtime.Object { return &appsv1.Deployment{} }, func(o runtime.Object) *corev1.PodTemplateSpec { return &o.(*appsv1.Deployment).Spec.Template }, field.NewPath("spec", "template")},
	"apps/v1/StatefulSet": {func() runtime.Object { return &appsv1.StatefulSet{} }, func(o runtime.Object) *corev1.PodTemplateSpec { return &o.(*appsv1.StatefulSet).Spec.Template }, field.NewPath("spec", "template")},
	"apps/v1/DaemonSet":   {func() runtime.Object { return &appsv1.DaemonSet{} }, func(o runtime.Object) *corev1.PodTemplateSpec { return &o.(*appsv1.DaemonSet).Spec.Template }, field.NewPath("spec", "template")},
	"batch/v1/Job":        {func() runtime.Object { return &batchv1.Job{} }, func(o runtime.Object) *corev1.PodTemplateSpec { return &o.(*batchv1.Job).Spec.Template }, field.NewPath("spec", "template")},
	"batch/v1/CronJob": {func() runtime.Object { return &batchv1.CronJob{} }, func(o runtime.Object) *corev1.PodTemplateSpec {
		return &o.(*batchv1.CronJob).Spec.JobTemplate.Spec.Template
	}, field.NewPath("spec", "jobTemplate", "spec", "template")},
}

// podKinds are the kinds that carry pods, whatever their apiVersion, so that an
// unsupported version of one is an error rather than "no pod".
var podKinds = map[string]bool{"Pod": true, "PodTemplate": true, "ReplicationController": true, "ReplicaSet": true,
	"Deployment": true, "StatefulSet": true, "DaemonSet": true, "Job": true, "CronJob": true}

// HasPod reports whether a document is of a kind that carries a pod.
func HasPod(d *manifest.Document) bool { return podKinds[d.Kind] }

// Decode reads a workload strictly. It returns (nil, nil) for kinds without a
// pod, and an error (file:line) for a pod-carrying kind in an unsupported
// version or a malformed object.
func Decode(d *manifest.Document) (*Workload, error) {
	k, obj, err := newObject(d)
	if obj == nil {
		return nil, err
	}
	if err := d.Decode(obj); err != nil {
		return nil, err
	}
	return k.workload(obj), nil
}

// DecodeLenient reads a workload as webhooks read what kube-apiserver sends:
// fields of a newer Kubernetes that kguard's types do not know are ignored and
// returned (paths such as "spec.containers[0].futureField"); malformed JSON and
// duplicated fields are errors as in Decode.
func DecodeLenient(d *manifest.Document) (*Workload, []string, error) {
	k, obj, err := newObject(d)
	if obj == nil {
		return nil, nil, err
	}
	unknown, err := d.DecodeLenient(obj)
	if err != nil {
		return nil, nil, err
	}
	return k.workload(obj), unknown, nil
}

// PodWorkload is the Workload of a decoded Pod, as Decode returns it for one.
func PodWorkload(pod *corev1.Pod) *Workload { return &Workload{Object: pod} }

type kind struct {
	new      func() runtime.Object
	template func(runtime.Object) *corev1.PodTemplateSpec
	root     *field.Path
}

// newObject returns the kind of d and an empty object of it, or a nil object
// (and an error for a pod-carrying kind in a version kguard does not read).
func newObject(d *manifest.Document) (kind, runtime.Object, error) {
	k, ok := kinds[d.APIVersion+"/"+d.Kind]
	if !ok {
		if podKinds[d.Kind] {
			return k, nil, d.Errorf("%s %s is not supported (use %s)", d.APIVersion, d.Kind, supportedVersion(d.Kind))
		}
		return k, nil, nil
	}
	return k, k.new(), nil
}

func (k kind) workload(obj runtime.Object) *Workload {
	w := &Workload{Object: obj, Root: k.root}
	if k.template != nil {
		w.template = k.template(obj)
	}
	return w
}

func supportedVersion(kind string) string {
	for key := range kinds {
		var gv, k string
		if i := lastSlash(key); i >= 0 {
			gv, k = key[:i], key[i+1:]
		}
		if k == kind {
			return gv
		}
	}
	return ""
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

// Pod returns the pod to admit: the Pod itself (a copy), or a pod made of the
// template's metadata and spec, in the object's namespace.
func (w *Workload) Pod() *corev1.Pod {
	if p, ok := w.Object.(*corev1.Pod); ok {
		pod := p.DeepCopy()
		ApplyDefaults(&pod.Spec)
		return pod
	}
	meta := w.Object.(metav1.Object)
	t := w.template.DeepCopy()
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: t.ObjectMeta, Spec: t.Spec}
	if pod.Namespace == "" {
		pod.Namespace = meta.GetNamespace()
	}
	if pod.Name == "" && pod.GenerateName == "" {
		pod.GenerateName = meta.GetName() + "-"
	}
	ApplyDefaults(&pod.Spec)
	return pod
}

// PodToValidate returns the pod to judge in a validating pass, which never
// patches: a Pod is defaulted and returned itself, not copied (the pod of a
// template is copied, as by Pod). Plugins of that pass never change it.
func (w *Workload) PodToValidate() *corev1.Pod {
	if p, ok := w.Object.(*corev1.Pod); ok {
		ApplyDefaults(&p.Spec)
		return p
	}
	return w.Pod()
}

// PodParts returns the metadata and spec of the pod inside the object (the
// Pod's own, or the template's), to change in place before admission, such as
// the API server's defaulting. Changes made through them before the first
// SetPod are not part of Patch.
func (w *Workload) PodParts() (*metav1.ObjectMeta, *corev1.PodSpec) {
	if p, ok := w.Object.(*corev1.Pod); ok {
		return &p.ObjectMeta, &p.Spec
	}
	return &w.template.ObjectMeta, &w.template.Spec
}

// SetPod writes a changed pod back into the object (metadata labels and
// annotations, and the spec, for templates). The object takes the pod's
// memory, not a copy: the caller must not change pod afterwards (admission
// hands over the pod its plugins returned, and drops it).
func (w *Workload) SetPod(pod *corev1.Pod) {
	if p, ok := w.Object.(*corev1.Pod); ok {
		if w.before == nil {
			// The pod as decoded, for Patch. A shallow copy is enough: the pod
			// is replaced below, never written through.
			before := *p
			w.before = &before
		}
		*p = *pod
		return
	}
	if w.original == nil && w.err == nil {
		// The object as decoded, for Patch; encoded only when it is about to change.
		w.original, w.err = json.Marshal(w.Object)
	}
	w.template.Labels = pod.Labels
	w.template.Annotations = pod.Annotations
	w.template.Spec = pod.Spec
}

// Patch returns the RFC 6902 JSON Patch from the object as decoded to the
// object now (after SetPod), or nil when nothing changed.
func (w *Workload) Patch() ([]byte, error) {
	if w.before != nil {
		if ops, ok := podPatch(w.before, w.Object.(*corev1.Pod)); ok {
			if len(ops) == 0 {
				return nil, nil
			}
			return encodeOps(ops)
		}
		w.original, w.err = json.Marshal(w.before)
	}
	if w.err != nil {
		return nil, fmt.Errorf("encoding the object: %w", w.err)
	}
	if w.original == nil {
		return nil, nil // SetPod was never called: nothing changed
	}
	now, err := json.Marshal(w.Object)
	if err != nil {
		return nil, err
	}
	ops, err := jsonpatch.CreatePatch(w.original, now)
	if err != nil {
		return nil, fmt.Errorf("computing the patch: %w", err)
	}
	if len(ops) == 0 {
		return nil, nil
	}
	orderOps(ops)
	return encodeOps(ops)
}

// orderOps puts the operations of a diff in a stable order: CreatePatch
// walks objects in map order, so the same change would come out in another
// order from run to run. Operations are ordered by their path up to its
// first array index; operations under distinct members touch disjoint parts
// of the object, so reordering them changes nothing. Those under one array
// keep their order (an index may depend on the operations before it),
// unless none of them adds, removes or replaces an element of any array
// (each changes members inside one element): then they are ordered by path.
func orderOps(ops []jsonpatch.Operation) {
	keys := make([]string, len(ops))
	inside := make([]bool, len(ops)) // under one element, no element op
	for i := range ops {
		keys[i], inside[i] = arrayKey(ops[i].Path)
	}
	idx := make([]int, len(ops))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
	for start := 0; start < len(idx); {
		end := start + 1
		for end < len(idx) && keys[idx[end]] == keys[idx[start]] {
			end++
		}
		run := idx[start:end]
		all := true
		for _, i := range run {
			all = all && inside[i]
		}
		if all {
			sort.SliceStable(run, func(a, b int) bool { return ops[run[a]].Path < ops[run[b]].Path })
		} else {
			// Changes inside one element, one after another, touch distinct
			// members of it, which CreatePatch walked in map order: ordered
			// by path among themselves (no element op between them moves it).
			for s := 0; s < len(run); {
				e := s + 1
				if inside[run[s]] {
					el := elementOf(ops[run[s]].Path, keys[run[s]])
					for e < len(run) && inside[run[e]] && elementOf(ops[run[e]].Path, keys[run[e]]) == el {
						e++
					}
					seg := run[s:e]
					sort.SliceStable(seg, func(a, b int) bool { return ops[seg[a]].Path < ops[seg[b]].Path })
				}
				s = e
			}
		}
		start = end
	}
	sorted := make([]jsonpatch.Operation, len(ops))
	for i, j := range idx {
		sorted[i] = ops[j]
	}
	copy(ops, sorted)
}

// arrayKey is path up to its first array index ("-" or digits), and
// whether path goes on past that index into members of the element without
// passing another index (a change inside one element, independent of the
// changes inside the others).
func arrayKey(path string) (string, bool) {
	key, indexes, endsAtIndex := path, 0, false
	for i := 0; i < len(path); {
		j := strings.IndexByte(path[i+1:], '/')
		end := len(path)
		if j >= 0 {
			end = i + 1 + j
		}
		seg := path[i+1 : end]
		isIndex := seg == "-" || (seg != "" && strings.Trim(seg, "0123456789") == "")
		if isIndex {
			if indexes == 0 {
				key = path[:i]
			}
			indexes++
		}
		endsAtIndex = isIndex && end == len(path)
		i = end
	}
	return key, indexes == 1 && !endsAtIndex
}

// elementOf is the element a change inside one (arrayKey's second result)
// is under: path up to the index after key, arrayKey's first result.
func elementOf(path, key string) string {
	rest := path[len(key)+1:] // past key and its '/'
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return path[:len(key)+1+i]
	}
	return path
}

// ApplyDefaults applies the API server's defaulting that admission depends
// on: a volume that names no source is an emptyDir volume.
func ApplyDefaults(spec *corev1.PodSpec) {
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		if (v.VolumeSource == corev1.VolumeSource{}) {
			v.EmptyDir = &corev1.EmptyDirVolumeSource{}
		}
	}
}

// DefaultImageVolumes gives the image volumes of spec that set no pull
// policy the default kube-apiserver gives them before admission
// (SetDefaults_Volume, ImageVolume on by default since v1.33): that of a
// container with the same image. It completes apidefaults.Pod, which must
// build against the Kubernetes v1.24 types too (test/upstream124), where
// image volumes do not exist.
func DefaultImageVolumes(spec *corev1.PodSpec) {
	for i := range spec.Volumes {
		if v := spec.Volumes[i].Image; v != nil && v.PullPolicy == "" {
			v.PullPolicy = apidefaults.PullPolicy(v.Reference)
		}
	}
}

// Template returns the pod template of a decoded pod controller and its path
// in the object (spec.template, ...); ok is false for a Pod or any other kind.
func Template(obj runtime.Object) (t *corev1.PodTemplateSpec, root *field.Path, ok bool) {
	for _, k := range kinds {
		if k.template == nil {
			continue
		}
		if reflect.TypeOf(k.new()) == reflect.TypeOf(obj) {
			return k.template(obj), k.root, true
		}
	}
	return nil, nil, false
}
