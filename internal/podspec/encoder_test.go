package podspec

import (
	"encoding/json"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The values a pod's patch holds most have an encoder; the others are left
// to json.Marshal.
func TestEncoderOf(t *testing.T) {
	for _, v := range []any{[]corev1.Toleration{}, &corev1.SELinuxOptions{}, &corev1.PodSecurityContext{}, &corev1.SecurityContext{}, []int64{}, new(int64), new(bool)} {
		if encoderOf(reflect.TypeOf(v)) == nil {
			t.Errorf("%T has no encoder", v)
		}
	}
	type embedded struct{ corev1.Toleration }
	type untagged struct{ A string }
	type option struct {
		A int `json:"a,string"`
	}
	type odd struct {
		A string `json:"a-b"`
	}
	type recursive struct {
		Next *recursive `json:"next"`
	}
	for _, v := range []any{&corev1.Container{} /* quantities */, map[string]any{}, []byte{}, 1.5, embedded{}, untagged{}, option{}, odd{}, recursive{}, json.Number("7"), []json.Number{}} {
		if encoderOf(reflect.TypeOf(v)) != nil {
			t.Errorf("%T has an encoder", v)
		}
	}
}

// FuzzEncoder: the encoders write what json.Marshal writes.
func FuzzEncoder(f *testing.F) {
	for _, s := range []string{
		`[{"key":"kguard.io/tenant","operator":"Equal","value":"a","effect":"NoSchedule"},{"operator":"Exists","tolerationSeconds":-5}]`,
		`{"runAsUser":0,"runAsNonRoot":false,"fsGroup":1,"supplementalGroups":[1,2],"seLinuxOptions":{"user":"<u>","level":"s0:c1,c2"},"sysctls":[{"name":"a","value":"é\u2028"}]}`,
		`{"capabilities":{"add":["NET_ADMIN"],"drop":null},"privileged":true,"seccompProfile":{"type":"Localhost","localhostProfile":"p"},"windowsOptions":{"hostProcess":false}}`,
		`{"level":"\\\"quoted\\\""}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []any{new([]corev1.Toleration), new(*corev1.SELinuxOptions), new(*corev1.PodSecurityContext), new(*corev1.SecurityContext), new([]int64)} {
			if json.Unmarshal(data, v) != nil {
				continue
			}
			val := reflect.ValueOf(v).Elem()
			want, err := json.Marshal(val.Interface())
			if err != nil {
				t.Fatal(err)
			}
			if got, err := marshal(val); err != nil || string(got) != string(want) {
				t.Fatalf("%T: encoder %s (%v), json.Marshal %s", val.Interface(), got, err, want)
			}
		}
	})
}
