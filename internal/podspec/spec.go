package podspec

import (
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// SpecOf returns the pod spec inside a decoded pod-carrying object (a Pod's
// own, or its template's), or nil for an object that carries none.
func SpecOf(obj runtime.Object) *corev1.PodSpec {
	if p, ok := obj.(*corev1.Pod); ok {
		return &p.Spec
	}
	t := reflect.TypeOf(obj)
	for _, k := range kinds {
		if k.template != nil && reflect.TypeOf(k.new()) == t {
			return &k.template(obj).Spec
		}
	}
	return nil
}
