package tenancy

import (
	"encoding/json"
	"maps"
	"reflect"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// FuzzReadLabels: the patch made for an object readLabels accepts applies
// to it, gives it the added labels among its own, and changes nothing else.
func FuzzReadLabels(f *testing.F) {
	for _, s := range []string{
		configMap(""), configMap(`,"labels":{"app":"web"}`), configMap(`,"labels":{}`), configMap(`,"labels":null`),
		`{"metadata":null}`, `{}`, `null`, `[1]`, `{"metadata":{"labels":{"a":1}}}`, `{"metadata":"x"}`,
		`{"kind":"X","metadata":{"name":"a","labels":{"team":"b","a/b~c":"d"},"annotations":{"x":"y"}},"spec":{"n":1e400}}`,
	} {
		f.Add([]byte(s))
	}
	add := map[string]string{"team": "c", "example.com/cost-center": "cc-1", "x~/y": "z"}
	f.Fuzz(func(t *testing.T, raw []byte) {
		l, err := readLabels(raw)
		if err != nil {
			return
		}
		var before map[string]any
		if json.Unmarshal(raw, &before) != nil {
			return // a number json.Unmarshal reads into a struct, not into any (1e400)
		}
		ops, err := json.Marshal(l.patch(add))
		if err != nil {
			t.Fatal(err)
		}
		p, err := jsonpatch.DecodePatch(ops)
		if err != nil {
			t.Fatalf("patch %s: %v", ops, err)
		}
		out, err := p.Apply(raw)
		if err != nil {
			t.Fatalf("patch %s does not apply to %s: %v", ops, raw, err)
		}
		back, err := readLabels(out)
		if err != nil {
			t.Fatalf("%s patched into %s, which does not read: %v", raw, out, err)
		}
		want := maps.Clone(l.labels())
		if want == nil {
			want = map[string]string{}
		}
		maps.Copy(want, add)
		if !maps.Equal(back.labels(), want) {
			t.Fatalf("labels %v, want %v (patch %s)", back.labels(), want, ops)
		}
		var after map[string]any
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatal(err)
		}
		withoutLabels(before)
		withoutLabels(after)
		if meta, _ := after["metadata"].(map[string]any); len(meta) == 0 && before["metadata"] == nil {
			after["metadata"] = before["metadata"]
			if _, had := before["metadata"]; !had {
				delete(after, "metadata")
			}
		}
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("patch %s changed more than the labels:\n%v\n%v", ops, before, after)
		}
	})
}

func withoutLabels(obj map[string]any) {
	if meta, ok := obj["metadata"].(map[string]any); ok {
		delete(meta, "labels")
	}
}
