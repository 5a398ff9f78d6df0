package podspec

import (
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
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

// Replicas returns the replica count of a scalable pod controller
// (Deployment, ReplicaSet, StatefulSet, ReplicationController; unset is
// 1, the API's default), and false for any other object.
func Replicas(obj runtime.Object) (int32, bool) {
	var r *int32
	switch o := obj.(type) {
	case *appsv1.Deployment:
		r = o.Spec.Replicas
	case *appsv1.ReplicaSet:
		r = o.Spec.Replicas
	case *appsv1.StatefulSet:
		r = o.Spec.Replicas
	case *corev1.ReplicationController:
		r = o.Spec.Replicas
	default:
		return 0, false
	}
	if r == nil {
		return 1, true
	}
	return *r, true
}

// Privileged reports whether a container's security context runs it
// privileged.
func Privileged(sc *corev1.SecurityContext) bool {
	return sc != nil && sc.Privileged != nil && *sc.Privileged
}
