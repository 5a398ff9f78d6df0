package podspec

import (
	"reflect"
	"sync"
	"unsafe"
)

// equalFunc compares two values of one type, given their addresses.
type equalFunc func(a, b unsafe.Pointer) bool

// comparators caches comparatorOf: reflect.Type -> equalFunc.
var comparators sync.Map

// comparatorOf is t's comparator: equalValues' answers, worked out once
// per type instead of walking reflect.Values on every call. A pod's
// fields are reached through their offsets (the patch compares a whole
// pod, its volumes and security contexts on every mutated pod: by
// reflection that was most of the patch's cost). Maps and interfaces, rare
// in a pod, are left to walkEqual.
func comparatorOf(t reflect.Type) equalFunc {
	if e, ok := comparators.Load(t); ok {
		return e.(equalFunc)
	}
	e := compileEqual(t, map[reflect.Type]bool{})
	comparators.Store(t, e)
	return e
}

// compileEqual builds t's comparator; open holds the types being built (a
// recursive type's comparator finds its own through comparatorOf when
// called).
func compileEqual(t reflect.Type, open map[reflect.Type]bool) equalFunc {
	if open[t] {
		return func(a, b unsafe.Pointer) bool { return comparatorOf(t)(a, b) }
	}
	open[t] = true
	defer delete(open, t)
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		// Equal exactly when their bytes are.
		n := t.Size()
		return func(a, b unsafe.Pointer) bool {
			return unsafe.String((*byte)(a), n) == unsafe.String((*byte)(b), n)
		}
	case reflect.Float32:
		return func(a, b unsafe.Pointer) bool { return *(*float32)(a) == *(*float32)(b) }
	case reflect.Float64:
		return func(a, b unsafe.Pointer) bool { return *(*float64)(a) == *(*float64)(b) }
	case reflect.String:
		return func(a, b unsafe.Pointer) bool { return *(*string)(a) == *(*string)(b) }
	case reflect.Pointer:
		elem := compileEqual(t.Elem(), open)
		return func(a, b unsafe.Pointer) bool {
			pa, pb := *(*unsafe.Pointer)(a), *(*unsafe.Pointer)(b)
			if pa == pb {
				return true
			}
			return pa != nil && pb != nil && elem(pa, pb)
		}
	case reflect.Struct:
		type field struct {
			offset uintptr
			equal  equalFunc
		}
		fields := make([]field, t.NumField())
		for i := range fields {
			f := t.Field(i)
			fields[i] = field{f.Offset, compileEqual(f.Type, open)}
		}
		return func(a, b unsafe.Pointer) bool {
			for _, f := range fields {
				if !f.equal(unsafe.Add(a, f.offset), unsafe.Add(b, f.offset)) {
					return false
				}
			}
			return true
		}
	case reflect.Slice:
		elem, size := compileEqual(t.Elem(), open), t.Elem().Size()
		return func(a, b unsafe.Pointer) bool {
			sa, sb := (*sliceHeader)(a), (*sliceHeader)(b)
			if (sa.data == nil) != (sb.data == nil) || sa.len != sb.len {
				return false
			}
			if sa.data == sb.data {
				return true
			}
			for i := 0; i < sa.len; i++ {
				if !elem(unsafe.Add(sa.data, uintptr(i)*size), unsafe.Add(sb.data, uintptr(i)*size)) {
					return false
				}
			}
			return true
		}
	case reflect.Array:
		elem, size, n := compileEqual(t.Elem(), open), t.Elem().Size(), t.Len()
		return func(a, b unsafe.Pointer) bool {
			for i := 0; i < n; i++ {
				if !elem(unsafe.Add(a, uintptr(i)*size), unsafe.Add(b, uintptr(i)*size)) {
					return false
				}
			}
			return true
		}
	case reflect.Map, reflect.Interface:
		return func(a, b unsafe.Pointer) bool {
			return walkEqual(reflect.NewAt(t, a).Elem(), reflect.NewAt(t, b).Elem())
		}
	}
	return func(a, b unsafe.Pointer) bool { return false } // functions, channels...: as equalValues
}

// sliceHeader is how a slice is laid out in memory.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}
