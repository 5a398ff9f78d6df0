package admission

import (
	"encoding/json"
	"reflect"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
)

// FuzzPodReviewDecoders: the one-pass read decodes a pod's AdmissionReview
// with go-json-experiment (about twice as fast); whatever it accepts,
// sigs.k8s.io/json's strict decoding — what the two passes use, and
// kube-apiserver's own decoder — accepts without complaint and decodes to
// the same value, but for the pods' managedFields, which the one-pass read
// checks without building (they decide nothing: TestManagedFieldsDecideNothing).
// Anything else falls back to the two passes.
func FuzzPodReviewDecoders(f *testing.F) {
	for _, seed := range []string{
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"name":"web","namespace":"shop","operation":"CREATE","userInfo":{"username":"alice","groups":["system:authenticated"],"extra":{"a":["b"]}},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","labels":{"a":"b"},"creationTimestamp":null},"spec":{"securityContext":{"runAsNonRoot":true,"runAsUser":1000,"seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"app","image":"app","ports":[{"containerPort":80}],"resources":{"limits":{"cpu":"500m"}},"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}},"livenessProbe":{"httpGet":{"port":"http"}}}],"volumes":[{"name":"v","emptyDir":{}}]}},"oldObject":null,"dryRun":false,"options":{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1"}}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u2","resource":{"version":"v1","resource":"pods"},"operation":"UPDATE","object":{"spec":{}},"oldObject":{"metadata":{"creationTimestamp":"2026-01-01T00:00:00Z","deletionGracePeriodSeconds":30},"spec":{"containers":[]}}}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u3","object":{"spec":{"containers":[{"name":"a","image":"b","env":[{"name":"x","value":"\u00e9\ud83d\ude00"}]}]}}}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u4","object":{"spec":{"priority":1e2,"containers":null}}}}`,
		`{"request":{"Object":{"spec":{}},"object":{"metadata":{"name":"a"}}}}`,
		// managedFields as kube-apiserver sends them, and ways to get them wrong.
		`{"request":{"uid":"u5","object":{"metadata":{"name":"a","labels":{"a":"b"},"managedFields":[{"manager":"kubectl","operation":"Update","apiVersion":"v1","time":"2026-12-01T10:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:a":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{}}}}}},{"manager":"kubelet","operation":"Update","apiVersion":"v1","time":"2026-12-01T10:00:01+02:00","fieldsType":"FieldsV1","fieldsV1":{"f:status":{}},"subresource":"status"}]}},"oldObject":{"metadata":{"managedFields":null}}}}`,
		`{"request":{"object":{"metadata":{"managedFields":[]}}}}`,
		`{"request":{"object":{"metadata":{"managedFields":[{"time":"2026-12-01 10:00:00"}]}}}}`,
		`{"request":{"object":{"metadata":{"managedFields":[{"time":null,"fieldsV1":null,"manager":null}]}}}}`,
		`{"request":{"object":{"metadata":{"managedFields":[{"manager":"a","manager":"b"}]}}}}`,
		`{"request":{"object":{"metadata":{"managedFields":[{"Manager":"a","futureField":1}]}}}}`,
		`{"request":{"object":{"metadata":{"managedFields":[null,{"fieldsV1":{"a":{},"a":{}}}],"managedFields":[]}}}}`,
		`{"request":{"object":{"metadata":{"managedFields":{"manager":"a"}}}}}`,
		`{"request":{"object":{"metadata":{"managedFields":[{"\u006danager":"a","fieldsV1":"x","operation":1}]}}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast podReview
		if err := decodePodReview(body, &fast); err != nil {
			return
		}
		var strict strictPodReview
		strictErrs, err := sigsjson.UnmarshalStrict(body, &strict, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
		if err != nil || len(strictErrs) > 0 {
			t.Fatalf("go-json-experiment accepted what strict decoding refuses (%v, %v): %q", err, strictErrs, body)
		}
		if fast.Request != nil && (fast.Request.pod != nil && fast.Request.pod.ManagedFields != nil || fast.Request.oldPod != nil && fast.Request.oldPod.ManagedFields != nil) {
			t.Fatalf("the one-pass read built managedFields: %q", body)
		}
		if got, want := fast.withoutManagedFields(), strict.withoutManagedFields(); !reflect.DeepEqual(got, want) {
			t.Fatalf("the decoders disagree on %q:\n%#v\n%#v", body, got, want)
		}
	})
}

// strictPodReview is podReview as the two passes read it, with
// sigs.k8s.io/json: the pods' managedFields decoded.
type strictPodReview struct {
	metav1.TypeMeta `json:",inline"`
	Request         *struct {
		admissionv1.AdmissionRequest `json:",inline"`
		Object                       *corev1.Pod `json:"object,omitempty"`
		OldObject                    *corev1.Pod `json:"oldObject,omitempty"`
	} `json:"request,omitempty"`
	Response *admissionv1.AdmissionResponse `json:"response,omitempty"`
}

// comparedReview is what the two decoders must agree on.
type comparedReview struct {
	metav1.TypeMeta
	Request           *admissionv1.AdmissionRequest
	Object, OldObject *corev1.Pod
	Response          *admissionv1.AdmissionResponse
}

func (r *podReview) withoutManagedFields() comparedReview {
	out := comparedReview{TypeMeta: r.TypeMeta, Response: r.Response}
	if r.Request != nil {
		out.Request, out.Object, out.OldObject = &r.Request.AdmissionRequest, r.Request.pod, r.Request.oldPod
	}
	return out
}

func (r *strictPodReview) withoutManagedFields() comparedReview {
	out := comparedReview{TypeMeta: r.TypeMeta, Response: r.Response}
	if r.Request != nil {
		out.Request, out.Object, out.OldObject = &r.Request.AdmissionRequest, r.Request.Object, r.Request.OldObject
		for _, p := range []*corev1.Pod{out.Object, out.OldObject} {
			if p != nil {
				p.ManagedFields = nil
			}
		}
	}
	return out
}

// FuzzEncodeAnswer: an answer is written as json.Marshal writes its
// AdmissionReview, whatever the response holds.
func FuzzEncodeAnswer(f *testing.F) {
	f.Add("AdmissionReview", "admission.k8s.io/v1", []byte(`{"uid":"u","allowed":true,"patch":"W10=","patchType":"JSONPatch","auditAnnotations":{"admit-policy":"restricted"},"warnings":["<w>"]}`))
	f.Add("", "", []byte(`{"uid":"u","status":{"status":"Failure","message":"pods \"p\" is forbidden: é","reason":"Forbidden","code":403,"details":{"causes":[{"field":"spec"}]}}}`))
	f.Fuzz(func(t *testing.T, kind, apiVersion string, response []byte) {
		var resp admissionv1.AdmissionResponse
		if json.Unmarshal(response, &resp) != nil {
			return
		}
		tm := metav1.TypeMeta{Kind: kind, APIVersion: apiVersion}
		want, err := json.Marshal(&admissionv1.AdmissionReview{TypeMeta: tm, Response: &resp})
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeAnswer(tm, &resp)
		if err != nil || string(got) != string(want) {
			t.Fatalf("encodeAnswer %s (%v)\njson.Marshal %s", got, err, want)
		}
	})
}
