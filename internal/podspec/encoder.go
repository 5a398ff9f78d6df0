package podspec

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// encodeFunc appends v's JSON, byte for byte as json.Marshal writes it.
type encodeFunc func(buf []byte, v reflect.Value) []byte

// encoders caches encoderOf: reflect.Type -> encodeFunc (nil: none).
var encoders sync.Map

// encoderOf returns an encoder for the types a pod's patch holds most —
// structs of tagged members (tolerations, security contexts, SELinux
// options), pointers, slices, strings, booleans and integers — which
// writes them without encoding/json's work on every call (a pool, an
// encoder looked up per value, a scan of the output). It is nil for a type
// with anything else in it (maps, interfaces, floats, byte slices, json.Number, embedded
// or untagged members, options but omitempty, its own JSON or text
// marshalling): json.Marshal encodes those.
func encoderOf(t reflect.Type) encodeFunc {
	if e, ok := encoders.Load(t); ok {
		return e.(encodeFunc)
	}
	e := compileEncoder(t, map[reflect.Type]bool{})
	encoders.Store(t, e)
	return e
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	numberType        = reflect.TypeFor[json.Number]()
)

// compileEncoder builds t's encoder; open holds the types being built (a
// recursive type gets none).
func compileEncoder(t reflect.Type, open map[reflect.Type]bool) encodeFunc {
	if open[t] || t == numberType {
		return nil // json.Number is written as a number: encoding/json's own case
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
		return func(buf []byte, v reflect.Value) []byte { return strconv.AppendBool(buf, v.Bool()) }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(buf []byte, v reflect.Value) []byte { return strconv.AppendInt(buf, v.Int(), 10) }
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return func(buf []byte, v reflect.Value) []byte { return strconv.AppendUint(buf, v.Uint(), 10) }
	case reflect.String:
		return func(buf []byte, v reflect.Value) []byte { return appendString(buf, v.String()) }
	case reflect.Pointer:
		elem := compileEncoder(t.Elem(), open)
		if elem == nil {
			return nil
		}
		return func(buf []byte, v reflect.Value) []byte {
			if v.IsNil() {
				return append(buf, "null"...)
			}
			return elem(buf, v.Elem())
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // base64
		}
		elem := compileEncoder(t.Elem(), open)
		if elem == nil {
			return nil
		}
		return func(buf []byte, v reflect.Value) []byte {
			if v.IsNil() {
				return append(buf, "null"...)
			}
			buf = append(buf, '[')
			for i, n := 0, v.Len(); i < n; i++ {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = elem(buf, v.Index(i))
			}
			return append(buf, ']')
		}
	case reflect.Struct:
		return compileStruct(t, open)
	}
	return nil
}

// structMember is one member of a struct's JSON.
type structMember struct {
	index     int
	key       string // `"name":`
	omitEmpty bool
	encode    encodeFunc
}

func compileStruct(t reflect.Type, open map[reflect.Type]bool) encodeFunc {
	var members []structMember
	seen := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous {
			return nil
		}
		if !f.IsExported() || tag == "-" {
			continue // encoding/json leaves them out
		}
		name, opts, _ := strings.Cut(tag, ",")
		if !plainName(name) || seen[name] || (opts != "" && opts != "omitempty") {
			return nil
		}
		seen[name] = true
		e := compileEncoder(f.Type, open)
		if e == nil {
			return nil
		}
		members = append(members, structMember{i, `"` + name + `":`, opts == "omitempty", e})
	}
	return func(buf []byte, v reflect.Value) []byte {
		buf = append(buf, '{')
		first := true
		for _, m := range members {
			fv := v.Field(m.index)
			if m.omitEmpty && omitted(fv) {
				continue
			}
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = append(buf, m.key...)
			buf = m.encode(buf, fv)
		}
		return append(buf, '}')
	}
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

// marshal is json.Marshal(v.Interface()), through v's encoder when it has
// one.
func marshal(v reflect.Value) ([]byte, error) {
	if e := encoderOf(v.Type()); e != nil {
		return e(make([]byte, 0, 64), v), nil
	}
	return json.Marshal(v.Interface())
}
