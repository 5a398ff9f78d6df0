package jsonwrite

import (
	"encoding/json"
	"reflect"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The values admission answers carry most have an encoder; the others are
// left to json.Marshal.
func TestEncoderOf(t *testing.T) {
	for _, v := range []any{[]corev1.Toleration{}, &corev1.SELinuxOptions{}, &corev1.PodSecurityContext{}, &corev1.SecurityContext{},
		[]int64{}, new(int64), new(bool), struct {
			corev1.Toleration `json:"t"`
		}{}, &admissionv1.AdmissionResponse{}, &metav1.Status{}, []byte{}, map[string]string{}} {
		if encoderOf(reflect.TypeOf(v)) == nil {
			t.Errorf("%T has no encoder", v)
		}
		if pt := reflect.PointerTo(reflect.TypeOf(v)); encoderOf(pt) == nil {
			t.Errorf("%v has no encoder", pt) // encode relies on it
		}
	}
	type embeddedPointer struct{ *corev1.Toleration }
	type untagged struct{ A string }
	type option struct {
		A int `json:"a,string"`
	}
	type odd struct {
		A string `json:"a-b"`
	}
	type clash struct {
		metav1.TypeMeta
		Kind string `json:"kind"`
	}
	type recursive struct {
		Next *recursive `json:"next"`
	}
	type namedBytes []json.Number
	for _, v := range []any{&corev1.Container{} /* quantities */, map[string]any{}, map[string]int{}, 1.5, embeddedPointer{},
		untagged{}, option{}, odd{}, clash{}, recursive{}, json.Number("7"), []json.Number{}, namedBytes{}, &admissionv1.AdmissionRequest{} /* raw objects */} {
		if encoderOf(reflect.TypeOf(v)) != nil {
			t.Errorf("%T has an encoder", v)
		}
		if pt := reflect.PointerTo(reflect.TypeOf(v)); encoderOf(pt) != nil {
			t.Errorf("%v has an encoder", pt) // encode relies on it
		}
	}
}

func TestValueAsJSONMarshal(t *testing.T) {
	pt := admissionv1.PatchTypeJSONPatch
	for _, v := range []any{
		nil, "<é>", Raw(`{"a":1}`), map[string]string{"b": "2", "a": "<1>", "": ""}, map[string]string(nil), map[string]string{},
		json.Number("7"), 1.5, []byte(nil), []byte("\x00\xff"),
		&admissionv1.AdmissionResponse{UID: "u", Allowed: true, Patch: []byte(`[]`), PatchType: &pt, AuditAnnotations: map[string]string{"k": "v"}, Warnings: []string{"w"}},
		&admissionv1.AdmissionResponse{Result: &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status"}, Status: "Failure", Code: 403,
			Details: &metav1.StatusDetails{Name: "p", Causes: []metav1.StatusCause{{Type: "FieldValueInvalid", Field: "spec"}}}}},
	} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Value(nil, v)
		if err != nil || string(got) != string(want) {
			t.Errorf("Value(%#v) = %s (%v), json.Marshal %s", v, got, err, want)
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
		`{"uid":"x","allowed":true,"patch":"W10=","patchType":"JSONPatch","auditAnnotations":{"b":"1","a":"<"},"warnings":["w",""]}`,
		`{"uid":"x","status":{"kind":"Status","metadata":{"resourceVersion":"1"},"status":"Failure","message":"m","reason":"Forbidden","details":{"name":"n","causes":[{"reason":"r","message":"m","field":"f"}],"retryAfterSeconds":1},"code":403}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []any{new([]corev1.Toleration), new(*corev1.SELinuxOptions), new(*corev1.PodSecurityContext), new(*corev1.SecurityContext),
			new([]int64), new(*admissionv1.AdmissionResponse), new(map[string]string)} {
			if json.Unmarshal(data, v) != nil {
				continue
			}
			val := reflect.ValueOf(v).Elem()
			want, err := json.Marshal(val.Interface())
			if err != nil {
				t.Fatal(err)
			}
			if got, err := Reflect(nil, val); err != nil || string(got) != string(want) {
				t.Fatalf("%T: Reflect %s (%v), json.Marshal %s", val.Interface(), got, err, want)
			}
			if got, err := Value(nil, val.Interface()); err != nil || string(got) != string(want) {
				t.Fatalf("%T: Value %s (%v), json.Marshal %s", val.Interface(), got, err, want)
			}
		}
	})
}
