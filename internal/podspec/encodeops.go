package podspec

import (
	"encoding/json"

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
			v, err := json.Marshal(op.Value)
			if err != nil {
				return nil, err
			}
			buf = append(buf, `,"value":`...)
			buf = append(buf, v...)
		case op.Operation == "add" || op.Operation == "replace":
			buf = append(buf, `,"value":null`...)
		}
		buf = append(buf, '}')
	}
	return append(buf, ']'), nil
}

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
