package podspec

import (
	"bytes"
	"encoding/json"
	"testing"

	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/kguard/kguard/internal/jsonwrite"
)

func TestEncodeOpsAsJSONMarshal(t *testing.T) {
	for _, ops := range [][]jsonpatch.Operation{
		nil,
		{},
		{{Operation: "add", Path: "/metadata/labels/team~1a", Value: "x"}},
		{{Operation: "remove", Path: "/spec/tolerations"}, {Operation: "add", Path: "/a"}, {Operation: "replace", Path: "/b"}},
		{{Operation: "add", Path: "/spec/tolerations", Value: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpEqual, Value: "<v&>"}}}},
		{{Operation: "add", Path: "/metadata/annotations/é\"<\\>", Value: map[string]any{"a": json.RawMessage(` { "b" : 1 } `)}}},
		{{Operation: "test", Path: "/x", Value: 0}},
		{{Operation: "add", Path: "/spec/nodeSelector", Value: map[string]string{"b": "2", "a": "<1>", "é": "\u2028", "": ""}}},
		{{Operation: "add", Path: "/a", Value: map[string]string{}}, {Operation: "add", Path: "/b", Value: map[string]string(nil)}},
		{{Operation: "add", Path: "/n", Value: json.Number("7")}, {Operation: "add", Path: "/u", Value: new(int64)}},
		{{Operation: "add", Path: "/a", Value: jsonwrite.Raw(`{"level":"s0:c1,c2"}`)}, {Operation: "replace", Path: "/b", Value: "x\"y"}},
	} {
		want, err := json.Marshal(ops)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeOps(ops)
		if err != nil {
			t.Fatal(err)
		}
		if ops == nil {
			want = []byte("[]") // Patch never encodes a nil list
		}
		if !bytes.Equal(got, want) {
			t.Errorf("encodeOps:\n%s\njson.Marshal:\n%s", got, want)
		}
	}
}

func FuzzEncodeOps(f *testing.F) {
	f.Add("add", "/a/b", `{"x":[1,"<"]}`)
	f.Add("remove", "/é", ``)
	f.Add("add", "/spec/nodeSelector", `{"k":"v","a":"<&>","b":"\u00e9"}`)
	f.Fuzz(func(t *testing.T, op, path, value string) {
		var v any
		if json.Unmarshal([]byte(value), &v) != nil {
			v = nil
		}
		ops := []jsonpatch.Operation{{Operation: op, Path: path, Value: v}}
		var labels map[string]string // the fast path for labels and node selectors
		if json.Unmarshal([]byte(value), &labels) == nil {
			ops = append(ops, jsonpatch.Operation{Operation: op, Path: path, Value: labels})
		}
		want, err := json.Marshal(ops)
		if err != nil {
			return
		}
		got, err := encodeOps(ops)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("encodeOps %s (%v), json.Marshal %s", got, err, want)
		}
	})
}
