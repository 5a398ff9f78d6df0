package podspec

import (
	"encoding/json"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// FuzzStructDiff: on any two security contexts (a pod's or a container's),
// structDiff gives the operations the diff of their JSON gives, byte for
// byte.
func FuzzStructDiff(f *testing.F) {
	for _, s := range [][2]string{
		{`{"runAsNonRoot":true,"runAsUser":1000}`, `{"runAsNonRoot":true,"runAsUser":1000,"fsGroup":1,"supplementalGroups":[1],"seLinuxOptions":{"level":"s0:c1,c2"}}`},
		{`{"seLinuxOptions":{"user":"u","level":"s0"}}`, `{"seLinuxOptions":{"user":"u","role":"r"},"seccompProfile":{"type":"RuntimeDefault"}}`},
		{`{"sysctls":[{"name":"a","value":"1"}],"windowsOptions":{"runAsUserName":"<x>"}}`, `{"sysctls":[{"name":"a","value":"2"},{"name":"b","value":"é"}]}`},
		{`{"capabilities":{"drop":["ALL"]},"privileged":false}`, `{"capabilities":{"add":["NET_ADMIN"],"drop":["ALL"]},"privileged":true,"procMount":"Default"}`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, before, after []byte) {
		check := func(b, a any) {
			var viaJSON, viaFields patch
			viaJSON.diff("/x", b, a)
			if !viaFields.structDiff("/x", reflect.ValueOf(b).Elem(), reflect.ValueOf(a).Elem()) {
				t.Fatalf("structDiff refused %T", b)
			}
			want, err := encodeOps(viaJSON.ops)
			if err != nil {
				t.Fatal(err)
			}
			got, err := encodeOps(viaFields.ops)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("%s -> %s\nstructDiff: %s\nJSON diff:  %s", before, after, got, want)
			}
		}
		var pb, pa corev1.PodSecurityContext
		if json.Unmarshal(before, &pb) == nil && json.Unmarshal(after, &pa) == nil {
			check(&pb, &pa)
		}
		var cb, ca corev1.SecurityContext
		if json.Unmarshal(before, &cb) == nil && json.Unmarshal(after, &ca) == nil {
			check(&cb, &ca)
		}
	})
}

// structDiff takes the security contexts, and leaves to the JSON diff any
// struct whose JSON is not one omitempty member of its own name per field.
func TestMembersOf(t *testing.T) {
	type always struct {
		A string `json:"a"`
	}
	type slash struct {
		A string `json:"a/b,omitempty"`
	}
	type hidden struct {
		a string
	}
	repeated := reflect.StructOf([]reflect.StructField{
		{Name: "A", Type: reflect.TypeFor[string](), Tag: `json:"a,omitempty"`},
		{Name: "B", Type: reflect.TypeFor[string](), Tag: `json:"a,omitempty"`},
	})
	if _, ok := membersOf(repeated); ok {
		t.Error("membersOf took a struct with a member name twice")
	}
	for _, tc := range []struct {
		v    any
		want bool
	}{
		{corev1.PodSecurityContext{}, true}, {corev1.SecurityContext{}, true}, {corev1.SELinuxOptions{}, true},
		{always{}, false}, {slash{}, false}, {hidden{}, false}, {"", false},
	} {
		if _, ok := membersOf(reflect.TypeOf(tc.v)); ok != tc.want {
			t.Errorf("membersOf(%T) ok = %v, want %v", tc.v, ok, tc.want)
		}
	}
}
