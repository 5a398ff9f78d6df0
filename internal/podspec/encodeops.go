package podspec

import (
	"encoding/json"
	"reflect"
	"slices"

	"gomodules.xyz/jsonpatch/v2"
)

// encodeOps writes a JSON Patch exactly as json.Marshal(ops) does, without
// going through Operation's MarshalJSON (which marshals each operation again
// as a struct and has encoding/json re-validate and compact its output: a
// sixth of a mutated pod's answer).
func encodeOps(ops []jsonpatch.Operation) ([]byte, error) {
	buf := make([]byte, 0, 64*len(ops)+2)
	buf = append(buf, '[')
	for i := range ops {
		op := &ops[i]
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"op":`...)
		buf = appendString(buf, op.Operation)
		buf = append(buf, `,"path":`...)
		buf = appendString(buf, op.Path)
		switch {
		case op.Value != nil:
			buf = append(buf, `,"value":`...)
			var err error
			if buf, err = appendValue(buf, op.Value); err != nil {
				return nil, err
			}
		case op.Operation == "add" || op.Operation == "replace":
			buf = append(buf, `,"value":null`...)
		}
		buf = append(buf, '}')
	}
	return append(buf, ']'), nil
}

// appendValue appends v as json.Marshal writes it: the values a pod's
// patch holds most (JSON already encoded, strings, labels and annotations)
// directly, others through their encoder (encoderOf) or json.Marshal.
func appendValue(buf []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case rawJSON:
		return append(buf, v...), nil
	case string:
		return appendString(buf, v), nil
	case map[string]string:
		if v == nil {
			return append(buf, "null"...), nil
		}
		var stack [8]string
		keys := stack[:0]
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys) // encoding/json writes a map's members in key order
		buf = append(buf, '{')
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, k)
			buf = append(buf, ':')
			buf = appendString(buf, v[k])
		}
		return append(buf, '}'), nil
	}
	if e := encoderOf(reflect.TypeOf(v)); e != nil {
		return e(buf, reflect.ValueOf(v)), nil
	}
	b, err := json.Marshal(v)
	return append(buf, b...), err
}

// rawJSON is a value encoding/json wrote (compact, HTML escaped): encodeOps
// writes it as it is; json.Marshal writes it as the same bytes too.
type rawJSON []byte

// MarshalJSON returns the JSON itself.
func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

// appendString appends s as encoding/json writes it: printable ASCII as is,
// anything it escapes (quotes, backslashes, control characters, <, > and &,
// non-ASCII) through encoding/json itself.
func appendString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}
