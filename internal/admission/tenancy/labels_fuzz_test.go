package tenancy

import (
	"bytes"
	"encoding/json"
	"maps"
	"testing"
)

// FuzzReadLabels: an object readLabels accepts is written back with the
// added labels among its own (the added ones winning) and every other
// member of the object and of its metadata as it came.
func FuzzReadLabels(f *testing.F) {
	for _, s := range []string{
		configMap(""), configMap(`,"labels":{"app":"web"}`), configMap(`,"labels":{}`), configMap(`,"labels":null`),
		`{"metadata":null}`, `{}`, `null`, `[1]`, `{"metadata":{"labels":{"a":1}}}`, `{"metadata":"x"}`,
		`{"kind":"X","metadata":{"name":"a","labels":{"team":"b"},"annotations":{"x":"y"}},"spec":{"n":1e400}}`,
	} {
		f.Add([]byte(s))
	}
	add := map[string]string{"team": "c", "example.com/cost-center": "cc-1"}
	f.Fuzz(func(t *testing.T, raw []byte) {
		l, err := readLabels(raw)
		if err != nil {
			return
		}
		out, err := l.with(add)
		if err != nil {
			t.Fatalf("with: %v", err)
		}
		back, err := readLabels(out)
		if err != nil {
			t.Fatalf("%s written back as %s, which does not read: %v", raw, out, err)
		}
		want := maps.Clone(l.Labels)
		if want == nil {
			want = map[string]string{}
		}
		maps.Copy(want, add)
		if !maps.Equal(back.Labels, want) {
			t.Fatalf("labels %v, want %v", back.Labels, want)
		}
		same := func(what string, a, b map[string][]byte, except string) {
			for k, v := range a {
				var cv, cb bytes.Buffer
				_ = json.Compact(&cv, v) // encoding/json compacts what it keeps
				_ = json.Compact(&cb, b[k])
				if k != except && !bytes.Equal(cv.Bytes(), cb.Bytes()) {
					t.Fatalf("%s member %q changed: %s to %s", what, k, v, b[k])
				}
			}
		}
		same("object", raws(l.object), raws(back.object), "metadata")
		same("metadata", raws(l.metadata), raws(back.metadata), "labels")
		if len(back.object) != len(l.object)+boolInt(l.object["metadata"] == nil) {
			t.Fatalf("object members %d, had %d", len(back.object), len(l.object))
		}
	})
}

func raws[V ~[]byte](m map[string]V) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
