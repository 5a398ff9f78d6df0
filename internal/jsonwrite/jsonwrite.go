// Package jsonwrite writes JSON byte for byte as encoding/json's Marshal
// does, faster for the values admission answers carry most: JSON already
// encoded, strings, maps of strings, and the types built of structs of
// tagged members, pointers, slices, strings, booleans, integers and bytes
// (tolerations, security contexts, an AdmissionResponse), through an
// encoder built once per type instead of encoding/json's work on every
// call (a pool, an encoder looked up per value, a scan of the output). The
// encoders read values through their addresses and the offsets of their
// fields (package unsafe), as encoding/json's own reflection does for it.
// Anything else goes through encoding/json itself. The fuzz tests hold it to
// json.Marshal's bytes.
package jsonwrite

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// Raw is JSON encoding/json wrote (compact, HTML escaped): written as it
// is; json.Marshal writes it as the same bytes too.
type Raw []byte

// MarshalJSON returns the JSON itself.
func (r Raw) MarshalJSON() ([]byte, error) { return r, nil }

// Value appends v as json.Marshal(v) writes it.
func Value(buf []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case Raw:
		return append(buf, v...), nil
	case string:
		return String(buf, v), nil
	case map[string]string:
		return stringMap(buf, v), nil
	}
	if v != nil {
		if buf, ok := encode(buf, reflect.ValueOf(v)); ok {
			return buf, nil
		}
	}
	b, err := json.Marshal(v)
	return append(buf, b...), err
}

// Reflect appends v as json.Marshal(v.Interface()) writes it.
func Reflect(buf []byte, v reflect.Value) ([]byte, error) {
	if buf, ok := encode(buf, v); ok {
		return buf, nil
	}
	b, err := json.Marshal(v.Interface())
	return append(buf, b...), err
}

// encode appends v through its type's encoder; ok is false when it has
// none. The encoders read a value at its address: a pointer's is the value
// it points to; a value that has none (held by an interface) is copied.
func encode(buf []byte, v reflect.Value) (_ []byte, ok bool) {
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer:
		// Its target's encoder, without taking the pointer's own address
		// (which would put the pointer on the heap). The pointer's type has
		// an encoder exactly when its target's has: compile checks both T
		// and *T for marshalling methods, and **T has none.
		e := encoderOf(t.Elem())
		if e == nil {
			return buf, false
		}
		if v.IsNil() {
			return append(buf, "null"...), true
		}
		return e(buf, v.UnsafePointer()), true
	case v.CanAddr():
		if e := encoderOf(t); e != nil {
			return e(buf, v.Addr().UnsafePointer()), true
		}
		return buf, false
	}
	e := encoderOf(t)
	if e == nil {
		return buf, false
	}
	c := reflect.New(t)
	c.Elem().Set(v)
	return e(buf, c.UnsafePointer()), true
}

// String appends s as encoding/json writes it: printable ASCII as is,
// anything it escapes (quotes, backslashes, control characters, <, > and &,
// non-ASCII) through encoding/json itself.
func String(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if escaped[s[i]] {
			b, _ := json.Marshal(s) // a string always encodes
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// escaped marks the bytes encoding/json does not write as they are.
var escaped = func() (t [256]bool) {
	for c := range t {
		t[c] = c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&'
	}
	return t
}()

// stringMap writes a map of strings: its members in key order.
func stringMap(buf []byte, m map[string]string) []byte {
	if m == nil {
		return append(buf, "null"...)
	}
	var stack [8]string
	keys := stack[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf = append(buf, '{')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = String(buf, k)
		buf = append(buf, ':')
		buf = String(buf, m[k])
	}
	return append(buf, '}')
}

// encodeFunc appends the JSON of the value at p. Encoders reach a
// struct's members, a slice's elements and a pointer's target through their
// addresses (unsafe.Add of the offsets the type gives), not through
// reflect.Values: that was most of the time spent writing a toleration.
type encodeFunc func(buf []byte, p unsafe.Pointer) []byte

// encoders caches encoderOf: reflect.Type -> encodeFunc (nil: none).
var encoders sync.Map

// encoderOf returns t's encoder, or nil for a type with anything in it but
// structs of tagged members (or embedded untagged structs, whose members
// are promoted), pointers, slices, strings, booleans, integers, byte
// slices and maps of strings: maps of other kinds, interfaces, floats,
// json.Number, members with options but omitempty, types with their own
// JSON or text marshalling.
func encoderOf(t reflect.Type) encodeFunc {
	if e, ok := encoders.Load(t); ok {
		return e.(encodeFunc)
	}
	e := compile(t, map[reflect.Type]bool{})
	encoders.Store(t, e)
	return e
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	numberType        = reflect.TypeFor[json.Number]()
	stringMapType     = reflect.TypeFor[map[string]string]()
)

// compile builds t's encoder; open holds the types being built (a
// recursive type gets none).
func compile(t reflect.Type, open map[reflect.Type]bool) encodeFunc {
	if open[t] || t == numberType { // json.Number: a number, encoding/json's own case
		return nil
	}
	for _, m := range []reflect.Type{marshalerType, textMarshalerType} {
		if t.Implements(m) || reflect.PointerTo(t).Implements(m) {
			return nil
		}
	}
	open[t] = true
	defer delete(open, t)
	switch t.Kind() {
	case reflect.Bool:
		return func(buf []byte, p unsafe.Pointer) []byte { return strconv.AppendBool(buf, *(*bool)(p)) }
	case reflect.Int:
		return func(buf []byte, p unsafe.Pointer) []byte { return strconv.AppendInt(buf, int64(*(*int)(p)), 10) }
	case reflect.Int8:
		return func(buf []byte, p unsafe.Pointer) []byte { return strconv.AppendInt(buf, int64(*(*int8)(p)), 10) }
	case reflect.Int16:
		return func(buf []byte, p unsafe.Pointer) []byte { return strconv.AppendInt(buf, int64(*(*int16)(p)), 10) }
	case reflect.Int32:
		return func(buf []byte, p unsafe.Pointer) []byte { return strconv.AppendInt(buf, int64(*(*int32)(p)), 10) }
	case reflect.Int64:
		return func(buf []byte, p unsafe.Pointer) []byte { return strconv.AppendInt(buf, *(*int64)(p), 10) }
	case reflect.Uint:
		return func(buf []byte, p unsafe.Pointer) []byte { return strconv.AppendUint(buf, uint64(*(*uint)(p)), 10) }
	case reflect.Uint16:
		return func(buf []byte, p unsafe.Pointer) []byte { return strconv.AppendUint(buf, uint64(*(*uint16)(p)), 10) }
	case reflect.Uint32:
		return func(buf []byte, p unsafe.Pointer) []byte { return strconv.AppendUint(buf, uint64(*(*uint32)(p)), 10) }
	case reflect.Uint64:
		return func(buf []byte, p unsafe.Pointer) []byte { return strconv.AppendUint(buf, *(*uint64)(p), 10) }
	case reflect.String:
		return func(buf []byte, p unsafe.Pointer) []byte { return String(buf, *(*string)(p)) }
	case reflect.Map:
		if t != stringMapType {
			return nil
		}
		return func(buf []byte, p unsafe.Pointer) []byte { return stringMap(buf, *(*map[string]string)(p)) }
	case reflect.Pointer:
		elem := compile(t.Elem(), open)
		if elem == nil {
			return nil
		}
		return func(buf []byte, p unsafe.Pointer) []byte {
			target := *(*unsafe.Pointer)(p)
			if target == nil {
				return append(buf, "null"...)
			}
			return elem(buf, target)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			if t.Elem() != reflect.TypeFor[uint8]() {
				return nil // a named byte type: left to encoding/json
			}
			return func(buf []byte, p unsafe.Pointer) []byte {
				b := *(*[]byte)(p)
				if b == nil {
					return append(buf, "null"...)
				}
				buf = append(buf, '"')
				buf = base64.StdEncoding.AppendEncode(buf, b)
				return append(buf, '"')
			}
		}
		elem := compile(t.Elem(), open)
		if elem == nil {
			return nil
		}
		size := t.Elem().Size()
		return func(buf []byte, p unsafe.Pointer) []byte {
			h := (*sliceHeader)(p)
			if h.data == nil {
				return append(buf, "null"...)
			}
			buf = append(buf, '[')
			for i := 0; i < h.len; i++ {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = elem(buf, unsafe.Add(h.data, uintptr(i)*size))
			}
			return append(buf, ']')
		}
	case reflect.Struct:
		members, ok := structMembers(t, 0, open, map[string]bool{})
		if !ok {
			return nil
		}
		return func(buf []byte, p unsafe.Pointer) []byte {
			buf = append(buf, '{')
			first := true
			for i := range members {
				m := &members[i]
				at := unsafe.Add(p, m.offset)
				if m.empty != nil && m.empty(at) {
					continue
				}
				if !first {
					buf = append(buf, ',')
				}
				first = false
				buf = append(buf, m.key...)
				buf = m.encode(buf, at)
			}
			return append(buf, '}')
		}
	}
	return nil
}

// sliceHeader is how a slice is laid out in memory.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// emptyOf tells whether encoding/json leaves a value of t out as an
// omitempty member, for the kinds this package encodes (structs never are).
func emptyOf(t reflect.Type) func(p unsafe.Pointer) bool {
	switch t.Kind() {
	case reflect.Bool:
		return func(p unsafe.Pointer) bool { return !*(*bool)(p) }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n := t.Size()
		return func(p unsafe.Pointer) bool {
			for _, b := range unsafe.Slice((*byte)(p), n) {
				if b != 0 {
					return false
				}
			}
			return true
		}
	case reflect.String:
		return func(p unsafe.Pointer) bool { return len(*(*string)(p)) == 0 }
	case reflect.Map:
		return func(p unsafe.Pointer) bool { return len(*(*map[string]string)(p)) == 0 } // stringMapType only
	case reflect.Pointer:
		return func(p unsafe.Pointer) bool { return *(*unsafe.Pointer)(p) == nil }
	case reflect.Slice:
		return func(p unsafe.Pointer) bool { return (*sliceHeader)(p).len == 0 }
	}
	return func(unsafe.Pointer) bool { return false }
}

// member is one member of a struct's JSON.
type member struct {
	offset uintptr                     // of the field in the struct, through embedded structs
	key    string                      // `"name":`
	empty  func(p unsafe.Pointer) bool // omitempty: whether it is left out; nil: never
	encode encodeFunc
}

// structMembers lists t's members in encoding/json's order (fields in
// order, an untagged embedded struct's in its place; a tagged one is a
// member like any other), at index path; ok is false for anything this
// package leaves to encoding/json.
func structMembers(t reflect.Type, base uintptr, open map[reflect.Type]bool, seen map[string]bool) (ms []member, ok bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		offset := base + f.Offset
		if name, _, _ := strings.Cut(tag, ","); f.Anonymous && name == "" {
			if f.Type.Kind() != reflect.Struct || !f.IsExported() {
				return nil, false
			}
			// Promoted, as encoding/json does with an untagged embedded
			// struct (",inline" is not an option it knows).
			sub, ok := structMembers(f.Type, offset, open, seen)
			if !ok {
				return nil, false
			}
			ms = append(ms, sub...)
			continue
		}
		if !f.IsExported() {
			continue // encoding/json leaves them out
		}
		name, omitEmpty, ok := Member(f)
		if !ok || seen[name] {
			return nil, false
		}
		seen[name] = true
		e := compile(f.Type, open)
		if e == nil {
			return nil, false
		}
		var empty func(unsafe.Pointer) bool
		if omitEmpty {
			empty = emptyOf(f.Type)
		}
		ms = append(ms, member{offset, `"` + name + `":`, empty, e})
	}
	return ms, true
}

// Member is the JSON member an exported struct field that is not promoted
// makes, as encoding/json names it: its tag's name, and whether it is
// omitempty; ok is false for anything this package leaves to encoding/json
// (no name, a name of anything but letters and digits, "-", options but
// omitempty).
func Member(f reflect.StructField) (name string, omitEmpty, ok bool) {
	name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
	if !plainName(name) || (opts != "" && opts != "omitempty") {
		return "", false, false
	}
	return name, opts == "omitempty", true
}

// plainName: a member name encoding/json writes as it is (letters and
// digits; anything else is left to it).
func plainName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Omitted: encoding/json leaves v out as an omitempty member.
func Omitted(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}
