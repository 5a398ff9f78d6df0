package admission

import (
	"reflect"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	sigsjson "sigs.k8s.io/json"
)

// FuzzPodReviewDecoders: the one-pass read decodes a pod's AdmissionReview
// with go-json-experiment (about twice as fast); whatever it accepts,
// sigs.k8s.io/json's strict decoding — what the two passes use, and
// kube-apiserver's own decoder — accepts without complaint and decodes to
// the same value. Anything else falls back to the two passes.
func FuzzPodReviewDecoders(f *testing.F) {
	for _, seed := range []string{
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"name":"web","namespace":"shop","operation":"CREATE","userInfo":{"username":"alice","groups":["system:authenticated"],"extra":{"a":["b"]}},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","labels":{"a":"b"},"creationTimestamp":null},"spec":{"securityContext":{"runAsNonRoot":true,"runAsUser":1000,"seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"app","image":"app","ports":[{"containerPort":80}],"resources":{"limits":{"cpu":"500m"}},"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}},"livenessProbe":{"httpGet":{"port":"http"}}}],"volumes":[{"name":"v","emptyDir":{}}]}},"oldObject":null,"dryRun":false,"options":{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1"}}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u2","resource":{"version":"v1","resource":"pods"},"operation":"UPDATE","object":{"spec":{}},"oldObject":{"metadata":{"creationTimestamp":"2026-01-01T00:00:00Z","deletionGracePeriodSeconds":30},"spec":{"containers":[]}}}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u3","object":{"spec":{"containers":[{"name":"a","image":"b","env":[{"name":"x","value":"\u00e9\ud83d\ude00"}]}]}}}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u4","object":{"spec":{"priority":1e2,"containers":null}}}}`,
		`{"request":{"Object":{"spec":{}},"object":{"metadata":{"name":"a"}}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast podReview
		if err := jsonv2.Unmarshal(body, &fast, jsonv2.RejectUnknownMembers(true)); err != nil {
			return
		}
		var strict podReview
		strictErrs, err := sigsjson.UnmarshalStrict(body, &strict, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
		if err != nil || len(strictErrs) > 0 {
			t.Fatalf("go-json-experiment accepted what strict decoding refuses (%v, %v): %q", err, strictErrs, body)
		}
		if !reflect.DeepEqual(fast, strict) {
			t.Fatalf("the decoders disagree on %q:\n%#v\n%#v", body, fast, strict)
		}
	})
}
