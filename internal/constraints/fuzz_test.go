package constraints

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/yaml"

	gk "github.com/kguard/kguard/pkg/apis/gatekeeper"
)

// libraryDir is the gatekeeper-library kguard vendors as test data.
var libraryDir = filepath.Join("testdata", "gatekeeper-library", "library")

// libraryJSON reads a YAML file of the library (path relative to
// libraryDir) as JSON.
func libraryJSON(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(libraryDir, path))
	if err != nil {
		tb.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return j
}

// FuzzCompileTemplate: any template JSON compiles or is refused with an
// error matching ErrCompile; nothing panics.
func FuzzCompileTemplate(f *testing.F) {
	f.Add(libraryJSON(f, "pod-security-policy/privileged-containers/template.yaml"))
	f.Add(libraryJSON(f, "general/uniqueingresshost/template.yaml"))
	f.Add([]byte(`{"metadata":{"name":"k"},"spec":{"crd":{"spec":{"names":{"kind":"K"}}},"targets":[{"target":"admission.k8s.gatekeeper.sh","rego":"package k\nviolation[{\"msg\":\"x\"}] { true }"}]}}`))
	f.Add([]byte(`{"metadata":{"name":"k"},"spec":{"crd":{"spec":{"names":{"kind":"K"}}},"targets":[{"target":"admission.k8s.gatekeeper.sh","code":[{"engine":"K8sNativeValidation","source":{"validations":[{"expression":"1"}]}}]}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ct gk.ConstraintTemplate
		if json.Unmarshal(raw, &ct) != nil {
			return
		}
		for _, opts := range []Options{{}, {NoCEL: true}} {
			tmpl, err := CompileTemplate(&ct, opts)
			if (tmpl == nil) == (err == nil) {
				t.Fatalf("CompileTemplate: template %v, error %v", tmpl, err)
			}
		}
	})
}

// FuzzLoadConstraint: any constraint JSON of a library template's kind
// loads or is refused; a loaded one reviews a pod without panicking, and
// LoadBroken either loads or refuses it too.
func FuzzLoadConstraint(f *testing.F) {
	var ct gk.ConstraintTemplate
	if err := json.Unmarshal(libraryJSON(f, "general/requiredlabels/template.yaml"), &ct); err != nil {
		f.Fatal(err)
	}
	f.Add(libraryJSON(f, "general/requiredlabels/samples/all-must-have-owner/constraint.yaml"))
	f.Add([]byte(`{"apiVersion":"constraints.gatekeeper.sh/v1beta1","kind":"K8sRequiredLabels","metadata":{"name":"x"},"spec":{"enforcementAction":"scoped","scopedEnforcementActions":[{"action":"warn","enforcementPoints":[{"name":"*"}]}],"match":{"namespaces":["kube-*"],"name":"*x*"}}}`))
	pod := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"kube-x","labels":{"owner":"a"}},"spec":{}}`)
	for _, opts := range []Options{{}, {NoCEL: true}} {
		tmpl, err := CompileTemplate(&ct, opts)
		if err != nil {
			f.Fatal(err)
		}
		f.Fuzz(func(t *testing.T, raw []byte) {
			c, err := LoadConstraint(tmpl, raw)
			if err == nil {
				set, err := NewSet(context.Background(), []*Template{tmpl}, []*Constraint{c}, nil)
				if err != nil {
					t.Fatal(err)
				}
				r, err := ReviewObject(pod)
				if err != nil {
					t.Fatal(err)
				}
				set.Review(context.Background(), r, PointWebhook)
			}
			if b, err := LoadBroken(raw, os.ErrInvalid); (b == nil) == (err == nil) {
				t.Fatalf("LoadBroken: %v, %v", b, err)
			}
		})
		break // one template suffices; the seed corpus runs once per target
	}
}

// FuzzRegoReview: input.review, however it is built, is Gatekeeper's
// encoding/json round trip of the AdmissionRequest, for any object and old
// object that decode.
func FuzzRegoReview(f *testing.F) {
	for _, seed := range [][2]string{
		{`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-0","creationTimestamp":"2026-01-05T00:00:00Z"},"spec":{"z":-10}}`, ""},
		{`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"z":-0,"s":"a\\\"-0"}}`, `{"kind":"Pod","x":[-0.0,1e21,0.1]}`},
		{`{"kind":"Pod","a":{"b":[true,null,"\u00e9"]},"n":9007199254740993}`, `[1]`},
		{`{"kind":"Pod","a":"-0","b":"\\","c":-0e-1}`, ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, obj, old string) {
		req := &admissionv1.AdmissionRequest{Operation: admissionv1.Update, Name: "p", Namespace: "ns"}
		req.Kind.Version, req.Kind.Kind = "v1", "Pod"
		if obj != "" {
			req.Object.Raw = []byte(obj)
		}
		if old != "" {
			req.OldObject.Raw = []byte(old)
		}
		want, err := regoReviewRoundTrip(&Review{Request: req})
		if err != nil {
			return // not JSON: encoding the request fails for Gatekeeper too
		}
		got, err := regoReview(&Review{Request: req})
		if err != nil {
			t.Fatalf("round trip %v, but regoReview: %v", want, err)
		}
		if got.Compare(want) != 0 || got.String() != want.String() {
			t.Fatalf("got  %v\nwant %v", got, want)
		}
	})
}
