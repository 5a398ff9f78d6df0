package admission

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	sigsjson "sigs.k8s.io/json"
)

const kubeManagedFields = `[{"manager":"kubectl-create","operation":"Update","apiVersion":"v1","time":"2026-12-01T10:00:00Z","fieldsType":"FieldsV1",` +
	`"fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},"f:name":{}}}}}},` +
	`{"manager":"kubelet","operation":"Update","apiVersion":"v1","time":"2026-12-01T10:00:05+01:00","fieldsType":"FieldsV1","fieldsV1":{"f:status":{"f:phase":{}}},"subresource":"status"}]`

func managedFieldsReview(object, old string) string {
	return `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},` +
		`"resource":{"group":"","version":"v1","resource":"pods"},"name":"web","namespace":"shop","operation":"UPDATE","userInfo":{"username":"alice"},` +
		`"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","labels":{"app":"web"},"managedFields":` + object + `},"spec":{"containers":[{"name":"app","image":"app"}]}},` +
		`"oldObject":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","managedFields":` + old + `},"spec":{"containers":[{"name":"app","image":"app"}]}}}}`
}

// The one-pass read takes managedFields as kube-apiserver writes them
// without building them, and leaves anything else to the two passes.
func TestDecodePodReviewManagedFields(t *testing.T) {
	for _, tc := range []struct {
		name, managedFields string
		read                bool
	}{
		{"as kube-apiserver sends them", kubeManagedFields, true},
		{"null", `null`, true},
		{"empty", `[]`, true},
		{"an empty entry", `[{}]`, true},
		{"an escaped member name", `[{"\u006danager":"a"}]`, true},
		{"fieldsV1 of any kind", `[{"fieldsV1":"x"},{"fieldsV1":null},{"fieldsV1":[1]}]`, true},
		{"a time that is not RFC 3339", `[{"time":"2026-12-01 10:00:00"}]`, false},
		{"a null time", `[{"time":null}]`, false},
		{"a number for a string", `[{"operation":1}]`, false},
		{"an unknown member", `[{"manager":"a","futureField":1}]`, false},
		{"a member's case", `[{"Manager":"a"}]`, false},
		{"a duplicated member", `[{"manager":"a","manager":"b"}]`, false},
		{"a duplicated name in fieldsV1", `[{"fieldsV1":{"f:a":{},"f:a":{}}}]`, false},
		{"a null entry", `[null]`, false},
		{"not a list", `{"manager":"a"}`, false},
		{"a string", `"x"`, false},
		{"malformed", `[{"manager":"a",}]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(managedFieldsReview(tc.managedFields, tc.managedFields))
			var review podReview
			err := decodePodReview(body, &review)
			if read := err == nil; read != tc.read {
				t.Fatalf("read: %v (%v), want %v", read, err, tc.read)
			}
			if err != nil {
				return
			}
			if review.Request.pod.ManagedFields != nil || review.Request.oldPod.ManagedFields != nil {
				t.Error("managedFields were built")
			}
			if review.Request.pod.Name != "web" || review.Request.pod.Labels["app"] != "web" || review.Request.oldPod.Namespace != "shop" {
				t.Errorf("the rest of the metadata was lost: %+v, %+v", review.Request.pod.ObjectMeta, review.Request.oldPod.ObjectMeta)
			}
			var strict strictPodReview
			if errs, err := sigsjson.UnmarshalStrict(body, &strict, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields); err != nil || len(errs) > 0 {
				t.Errorf("strict decoding refuses it: %v %v", err, errs)
			}
		})
	}
}

// The pods withRawPods encodes for the ObjectMutators are those the two
// passes would have decoded, managedFields included.
func TestWithRawPodsKeepsManagedFields(t *testing.T) {
	for name, mf := range map[string]string{"kube-apiserver's": kubeManagedFields, "null": `null`, "empty": `[]`} {
		t.Run(name, func(t *testing.T) {
			body := []byte(managedFieldsReview(mf, strings.Replace(mf, "kubelet", "other", 1)))
			var review podReview
			if err := decodePodReview(body, &review); err != nil {
				t.Fatal(err)
			}
			got, err := withRawPods(&review.Request.AdmissionRequest, review.Request)
			if err != nil {
				t.Fatal(err)
			}
			var strict strictPodReview
			if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &strict); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name string
				raw  []byte
				pod  *corev1.Pod
			}{{"object", got.Object.Raw, strict.Request.Object}, {"oldObject", got.OldObject.Raw, strict.Request.OldObject}} {
				want, err := json.Marshal(c.pod)
				if err != nil {
					t.Fatal(err)
				}
				if string(c.raw) != string(want) {
					t.Errorf("%s:\n%s\nwant\n%s", c.name, c.raw, want)
				}
			}
			if review.Request.pod.ManagedFields != nil || review.Request.oldPod.ManagedFields != nil {
				t.Error("withRawPods changed the pods read")
			}
		})
	}
}
