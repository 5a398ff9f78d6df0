package admission_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"gomodules.xyz/jsonpatch/v2"
	jsonpatch4 "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/tenancy"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/policy"
)

// labeller is an ObjectMutator that labels every object stamped=yes, and
// refuses one labelled stamped=no.
type labeller struct{}

func (labeller) Handles(op admissionv1.Operation, sub string) bool {
	return op == admissionv1.Create && sub == ""
}

// MutatesObject: every object but those of the namespace "unlabelled".
func (labeller) MutatesObject(req *admissionv1.AdmissionRequest) bool {
	return req.Namespace != "unlabelled"
}

func (labeller) MutateObject(_ context.Context, r *admission.ObjectRequest) admission.Decision {
	var obj struct {
		Metadata *struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(r.Request.Object.Raw, &obj); err != nil {
		return admission.Decision{Denied: true, Reason: "does not decode"}
	}
	d := admission.Decision{Warnings: []string{"labeller looked"}}
	switch {
	case obj.Metadata == nil:
		d.Patch = []jsonpatch.Operation{jsonpatch.NewOperation("add", "/metadata", map[string]any{"labels": map[string]string{"stamped": "yes"}})}
	case obj.Metadata.Labels["stamped"] == "no":
		d.Denied, d.Reason = true, `metadata.labels[stamped]: Invalid value: "no"`
	case obj.Metadata.Labels == nil:
		d.Patch = []jsonpatch.Operation{jsonpatch.NewOperation("add", "/metadata/labels", map[string]string{"stamped": "yes"})}
	default:
		d.Patch = []jsonpatch.Operation{jsonpatch.NewOperation("add", "/metadata/labels/stamped", "yes")}
	}
	return d
}

// annotator is a pod Mutator that annotates pods annotated=yes, and checks
// that it sees the labeller's label.
type annotator struct{}

func (annotator) Handles(op admissionv1.Operation, sub string) bool { return sub == "" }

func (annotator) Mutate(_ context.Context, r *admission.Request, pod *corev1.Pod) admission.Decision {
	if pod.Labels["stamped"] != "yes" && r.Namespace != "unlabelled" {
		return admission.Decision{Denied: true, Reason: "the pod mutator did not see the object mutator's label"}
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations["annotated"] = "yes"
	return admission.Decision{Pod: pod}
}

func init() {
	admission.Register("TestLabeller", func(admission.Inputs) (admission.Plugin, error) { return labeller{}, nil })
	admission.Register("TestAnnotator", func(admission.Inputs) (admission.Plugin, error) { return annotator{}, nil })
}

const (
	rawPod       = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns","labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"app"}]}}`
	rawConfigMap = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"ns"},"data":{"k":"v"}}`
)

func objectReview(t *testing.T, c *admission.Chain, phase admission.Phase, kind, resource, object string) *admissionv1.AdmissionResponse {
	t.Helper()
	body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"` + kind +
		`"},"resource":{"group":"","version":"v1","resource":"` + resource + `"},"name":"x","namespace":"ns","operation":"CREATE","userInfo":{"username":"alice"},"object":` + object + `}}`
	out, err := c.Review(context.Background(), []byte(body), phase)
	if err != nil {
		t.Fatal(err)
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(out, &ar); err != nil {
		t.Fatal(err)
	}
	return ar.Response
}

// applied is object after resp's patch, as kube-apiserver applies it.
func applied(t *testing.T, object string, resp *admissionv1.AdmissionResponse) map[string]any {
	t.Helper()
	out := []byte(object)
	if resp.Patch != nil {
		p, err := jsonpatch4.DecodePatch(resp.Patch)
		if err != nil {
			t.Fatalf("patch %s: %v", resp.Patch, err)
		}
		if out, err = p.Apply(out); err != nil {
			t.Fatalf("patch %s does not apply: %v", resp.Patch, err)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func meta(m map[string]any, key string) map[string]any {
	v, _ := m["metadata"].(map[string]any)[key].(map[string]any)
	return v
}

func TestObjectMutatorComposesWithPodMutators(t *testing.T) {
	c, err := admission.NewChain([]string{"TestLabeller", "TestAnnotator"}, admission.Inputs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, kind, resource, object string
		wantAnnotated                bool
	}{
		{"pod: one patch of both", "Pod", "pods", rawPod, true},
		{"configmap: the object mutator alone", "ConfigMap", "configmaps", rawConfigMap, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := objectReview(t, c, admission.PhaseMutate, tc.kind, tc.resource, tc.object)
			if !resp.Allowed {
				t.Fatalf("denied: %v", resp.Result.Message)
			}
			if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
				t.Fatalf("patch type %v, want JSONPatch", resp.PatchType)
			}
			got := applied(t, tc.object, resp)
			if meta(got, "labels")["stamped"] != "yes" {
				t.Errorf("no label after %s", resp.Patch)
			}
			if tc.kind == "Pod" && meta(got, "labels")["app"] != "web" {
				t.Errorf("the pod's own label was lost: %s", resp.Patch)
			}
			if a := meta(got, "annotations")["annotated"] == "yes"; a != tc.wantAnnotated {
				t.Errorf("annotated %v, want %v, after %s", a, tc.wantAnnotated, resp.Patch)
			}
			if len(resp.Warnings) != 1 || resp.Warnings[0] != "labeller looked" {
				t.Errorf("warnings %q", resp.Warnings)
			}
			// The validating pass does not mutate.
			if v := objectReview(t, c, admission.PhaseValidate, tc.kind, tc.resource, tc.object); v.Patch != nil {
				t.Errorf("validating pass patched: %s", v.Patch)
			}
		})
	}
}

func TestObjectMutatorDenies(t *testing.T) {
	c, err := admission.NewChain([]string{"TestLabeller", "TestAnnotator"}, admission.Inputs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pod := strings.Replace(rawPod, `"app":"web"`, `"stamped":"no"`, 1)
	resp := objectReview(t, c, admission.PhaseMutate, "Pod", "pods", pod)
	if resp.Allowed || resp.Result.Code != 403 || resp.Result.Message != `pods "x" is forbidden: metadata.labels[stamped]: Invalid value: "no"` {
		t.Fatalf("got %+v", resp.Result)
	}
	if resp.Patch != nil || len(resp.Warnings) != 1 {
		t.Errorf("denial carries patch %s, warnings %q", resp.Patch, resp.Warnings)
	}
}

// kguard check answers as the webhook: the same label, the same annotation.
func TestObjectMutatorOffline(t *testing.T) {
	c, err := admission.NewChain([]string{"TestLabeller", "TestAnnotator"}, admission.Inputs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := manifest.Read(strings.NewReader(rawPod+"\n---\n"+rawConfigMap), "objects.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := c.AdmitDocuments(context.Background(), docs, "default", &user.DefaultInfo{Name: "alice"})
	for i, want := range []bool{true, false} {
		oc := out[i]
		if oc.Err != nil || oc.Response == nil || !oc.Response.Allowed {
			t.Fatalf("%s: %+v", docs[i].Kind, oc)
		}
		got := applied(t, string(docs[i].JSON), oc.Response)
		if meta(got, "labels")["stamped"] != "yes" {
			t.Errorf("%s: no label after %s", docs[i].Kind, oc.Response.Patch)
		}
		if a := meta(got, "annotations")["annotated"] == "yes"; a != want {
			t.Errorf("%s: annotated %v after %s", docs[i].Kind, a, oc.Response.Patch)
		}
	}
}

// With an ObjectMutator (Tenancy's required labels), a pod's review read in
// one pass answers byte for byte as the two passes do: the mutator's patch,
// a diff against the pod encoded again, is the one against the raw pod.
func TestObjectMutatorOnePassAnswersAsTwoPasses(t *testing.T) {
	set, err := policy.Read(strings.NewReader(`apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: shop}
spec:
  namespaces: {names: [shop]}
  nodes: {mode: require}
  # No MCS levels: each pass would hand out the next one.
  podSecurity: {seLinux: "off"}
  requiredLabels: {example.com/cost-center: cc-1, team: shop}
`), "tenants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := admission.NewChain([]string{tenancy.PluginName}, admission.Inputs{Policies: set}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The pod carries its tenant's toleration and nodeSelector (mode
	// require): only its seccomp profile is added besides the labels.
	pod := func(labels string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop"` + labels + `},"spec":{` +
			`"tolerations":[{"key":"kguard.io/tenant","operator":"Equal","value":"shop","effect":"NoSchedule"}],"nodeSelector":{"kguard.io/tenant":"shop"},` +
			`"containers":[{"name":"app","image":"app"}]}}`
	}
	review := func(ns, op, extra, object string) string {
		return `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},` +
			`"resource":{"group":"","version":"v1","resource":"pods"},"name":"web","namespace":"` + ns + `","operation":"` + op + `","userInfo":{"username":"alice"}` + extra +
			`,"object":` + object + `}}`
	}
	for name, body := range map[string]string{
		"no labels":            review("shop", "CREATE", "", pod("")),
		"empty labels":         review("shop", "CREATE", "", pod(`,"labels":{}`)),
		"some labels":          review("shop", "CREATE", "", pod(`,"labels":{"app":"web","team":"shop"}`)),
		"conflicting label":    review("shop", "CREATE", "", pod(`,"labels":{"team":"other"}`)),
		"update that removed":  review("shop", "UPDATE", `,"oldObject":`+pod(`,"labels":{"team":"shop"}`), pod("")),
		"update keeping other": review("shop", "UPDATE", `,"oldObject":`+pod(`,"labels":{"team":"other"}`), pod(`,"labels":{"team":"other"}`)),
		"not a tenant's":       review("default", "CREATE", "", pod("")),
		"an escaped label key": review("shop", "CREATE", "", pod(`,"labels":{"a/b~c":"d"}`)),
		// The one-pass read skips managedFields; the mutator sees them again.
		"managedFields":              review("shop", "CREATE", "", withManagedFields(pod(""), kubeManagedFields)),
		"managedFields, some labels": review("shop", "CREATE", "", withManagedFields(pod(`,"labels":{"app":"web"}`), kubeManagedFields)),
		"managedFields, update":      review("shop", "UPDATE", `,"oldObject":`+withManagedFields(pod(`,"labels":{"team":"shop"}`), `[{"manager":"x"}]`), withManagedFields(pod(""), kubeManagedFields)),
	} {
		t.Run(name, func(t *testing.T) {
			if !c.ReadsInOnePass([]byte(body), admission.PhaseMutate) {
				t.Fatal("not read in one pass")
			}
			want, wantErr := c.ReviewTwoPass(context.Background(), []byte(body), admission.PhaseMutate)
			got, gotErr := c.Review(context.Background(), []byte(body), admission.PhaseMutate)
			if string(got) != string(want) || errString(gotErr) != errString(wantErr) {
				t.Errorf("one pass:\n%s %v\ntwo passes:\n%s %v", got, gotErr, want, wantErr)
			}
			keepsManagedFields(t, body, got)
		})
	}
}

// keepsManagedFields: the answer's patch, applied to the review's object as
// kube-apiserver applies it, leaves its managedFields as they were.
func keepsManagedFields(t *testing.T, body string, answer []byte) {
	t.Helper()
	var in struct {
		Request struct {
			Object json.RawMessage `json:"object"`
		} `json:"request"`
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(answer, &out); err != nil || out.Response == nil {
		t.Fatalf("answer %s: %v", answer, err)
	}
	if strings.Contains(string(out.Response.Patch), "managedFields") {
		t.Errorf("the patch touches managedFields: %s", out.Response.Patch)
	}
	if !out.Response.Allowed {
		return
	}
	before := applied(t, string(in.Request.Object), &admissionv1.AdmissionResponse{})
	after := applied(t, string(in.Request.Object), out.Response)
	if !reflect.DeepEqual(before["metadata"].(map[string]any)["managedFields"], after["metadata"].(map[string]any)["managedFields"]) {
		t.Errorf("managedFields changed by %s", out.Response.Patch)
	}
}

// An object no ObjectMutator wants is not shown to them: a pod goes
// straight to the pod plugins.
func TestObjectMutatorNotWanted(t *testing.T) {
	c, err := admission.NewChain([]string{"TestLabeller", "TestAnnotator"}, admission.Inputs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},`+
		`"resource":{"group":"","version":"v1","resource":"pods"},"name":"x","namespace":"unlabelled","operation":"CREATE","userInfo":{"username":"alice"},"object":POD}}`, "POD", rawPod, 1)
	out, err := c.Review(context.Background(), []byte(body), admission.PhaseMutate)
	if err != nil {
		t.Fatal(err)
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(out, &ar); err != nil {
		t.Fatal(err)
	}
	resp := ar.Response
	if !resp.Allowed || len(resp.Warnings) != 0 {
		t.Fatalf("%+v (the labeller was asked: %q)", resp.Result, resp.Warnings)
	}
	got := applied(t, rawPod, resp)
	if meta(got, "labels")["stamped"] == "yes" || meta(got, "annotations")["annotated"] != "yes" {
		t.Errorf("patch %s: want the pod plugin's alone", resp.Patch)
	}
}
