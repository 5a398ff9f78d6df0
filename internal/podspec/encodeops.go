package podspec

import (
	"gomodules.xyz/jsonpatch/v2"

	"github.com/kguard/kguard/internal/jsonwrite"
)

// encodeOps writes a JSON Patch exactly as json.Marshal(ops) does, without
// going through Operation's MarshalJSON (which marshals each operation again
// as a struct and has encoding/json re-validate and compact its output: a
// sixth of a mutated pod's answer).
func encodeOps(ops []jsonpatch.Operation) ([]byte, error) {
	buf := make([]byte, 0, 128*len(ops)+2) // an operation of a pod's patch is about 100 bytes
	buf = append(buf, '[')
	for i := range ops {
		op := &ops[i]
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"op":`...)
		buf = jsonwrite.String(buf, op.Operation)
		buf = append(buf, `,"path":`...)
		buf = jsonwrite.String(buf, op.Path)
		switch {
		case op.Value != nil:
			buf = append(buf, `,"value":`...)
			var err error
			if buf, err = jsonwrite.Value(buf, op.Value); err != nil {
				return nil, err
			}
		case op.Operation == "add" || op.Operation == "replace":
			buf = append(buf, `,"value":null`...)
		}
		buf = append(buf, '}')
	}
	return append(buf, ']'), nil
}
