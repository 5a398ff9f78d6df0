package main

import (
	"encoding/base64"
	"fmt"
	"testing"
)

func TestCheckPins(t *testing.T) {
	pins := []string{"r/a@sha256:1", "r/b@sha256:2"}
	answer := func(patch string) []byte {
		return []byte(fmt.Sprintf(`{"response":{"uid":"u","allowed":true,"patchType":"JSONPatch","patch":%q}}`,
			base64.StdEncoding.EncodeToString([]byte(patch))))
	}
	for _, c := range []struct {
		name string
		body []byte
		want string
	}{
		{"both pinned", answer(`[{"op":"replace","path":"/spec/containers/1/image","value":"r/b@sha256:2"},{"op":"replace","path":"/spec/containers/0/image","value":"r/a@sha256:1"}]`), ""},
		{"no patch", []byte(`{"response":{"uid":"u","allowed":true}}`), "missing-patch"},
		{"one missing", answer(`[{"op":"replace","path":"/spec/containers/0/image","value":"r/a@sha256:1"}]`), "wrong-patch"},
		{"wrong digest", answer(`[{"op":"replace","path":"/spec/containers/0/image","value":"r/a@sha256:1"},{"op":"replace","path":"/spec/containers/1/image","value":"r/b@sha256:3"}]`), "wrong-patch"},
		{"other op", answer(`[{"op":"replace","path":"/spec/containers/0/image","value":"r/a@sha256:1"},{"op":"replace","path":"/spec/containers/1/image","value":"r/b@sha256:2"},{"op":"add","path":"/metadata/labels","value":{}}]`), "wrong-patch"},
		{"twice", answer(`[{"op":"replace","path":"/spec/containers/0/image","value":"r/a@sha256:1"},{"op":"replace","path":"/spec/containers/0/image","value":"r/a@sha256:1"}]`), "wrong-patch"},
		{"not JSON", answer(`nope`), "wrong-patch"},
	} {
		if got, detail := checkPins(c.body, pins); got != c.want {
			t.Errorf("%s: got %q (%s), want %q", c.name, got, detail, c.want)
		}
	}
}
