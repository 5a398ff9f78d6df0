package podspec

import (
	"reflect"
	"unsafe"
)

// deepEqual reports whether *a and *b are equal as reflect.DeepEqual says,
// or stricter (values of kinds an API object does not hold — functions,
// channels, complex numbers, unsafe pointers — are never equal): where it
// says false for equal values, the patch falls back to an exact JSON diff,
// so patches are the same either way.
//
// It is reflect.DeepEqual without the map of visited pointers that guards
// against cycles, which DeepEqual fills for every pointer, slice and map it
// passes and which made up most of its cost on a pod. API objects decoded
// from JSON and copied by DeepCopy are trees; values that share memory are
// compared once, by address.
func deepEqual[T any](a, b *T) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	return comparatorOf(reflect.TypeFor[T]())(unsafe.Pointer(a), unsafe.Pointer(b))
}

// equalValues compares two values of one type: by the type's comparator
// when both are addressable (fields of a struct reached through a
// pointer), by walking them otherwise (a map's values).
func equalValues(a, b reflect.Value) bool {
	if a.CanAddr() && b.CanAddr() {
		return comparatorOf(a.Type())(a.Addr().UnsafePointer(), b.Addr().UnsafePointer())
	}
	return walkEqual(a, b)
}

// walkEqual compares two values of one type by reflection.
func walkEqual(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	case reflect.String:
		return a.String() == b.String()
	case reflect.Pointer:
		if a.UnsafePointer() == b.UnsafePointer() {
			return true
		}
		if a.IsNil() || b.IsNil() {
			return false
		}
		return equalValues(a.Elem(), b.Elem())
	case reflect.Struct:
		for i, n := 0, a.NumField(); i < n; i++ {
			if !equalValues(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		if a.UnsafePointer() == b.UnsafePointer() {
			return true
		}
		fallthrough
	case reflect.Array:
		for i, n := 0, a.Len(); i < n; i++ {
			if !equalValues(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		if a.UnsafePointer() == b.UnsafePointer() {
			return true
		}
		for it := a.MapRange(); it.Next(); {
			v := b.MapIndex(it.Key())
			if !v.IsValid() || !equalValues(it.Value(), v) {
				return false
			}
		}
		return true
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		ea, eb := a.Elem(), b.Elem()
		return ea.Type() == eb.Type() && equalValues(ea, eb)
	}
	return false
}
