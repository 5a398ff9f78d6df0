package admission_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/alwayspullimages"
	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/podsecuritypolicy"
)

// The one-pass read of a pod's review answers byte for byte as the usual two
// passes (envelope, then object) do: patches, messages, warnings and audit
// annotations, and the errors of reviews that do not decode.
func TestReviewOnePassAnswersAsTwoPasses(t *testing.T) {
	const (
		restricted = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop"},"spec":{"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},` +
			`"containers":[{"name":"app","image":"app","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`
		bare       = `{"metadata":{"name":"web","annotations":{"a/b":"c"}},"spec":{"volumes":[{"name":"v"}],"initContainers":[{"name":"i","image":"i"}],"containers":[{"name":"app","image":"app"}]}}`
		privileged = `{"metadata":{"name":"web"},"spec":{"hostNetwork":true,"containers":[{"name":"app","image":"app","securityContext":{"privileged":true}}]}}`
		unknown    = `{"metadata":{"name":"web"},"spec":{"futureField":1,"containers":[{"name":"app","image":"app"}]}}`
		duplicate  = `{"metadata":{"name":"web","name":"other"},"spec":{"containers":[{"name":"app","image":"app"}]}}`
		wrongType  = `{"metadata":{"name":"web"},"spec":{"containers":"app"}}`
		deployment = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop"},"spec":{"selector":{"matchLabels":{"a":"b"}},` +
			`"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"app","image":"app","securityContext":{"privileged":true}}]}}}}`
	)
	review := func(resource, op, name, extra, object string) string {
		group := ""
		if resource == "deployments" {
			group = "apps"
		}
		return `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"` + group + `","version":"v1","kind":"Pod"},` +
			`"resource":{"group":"` + group + `","version":"v1","resource":"` + resource + `"},"requestResource":{"group":"` + group + `","version":"v1","resource":"` + resource + `"},` +
			`"name":"` + name + `","namespace":"shop","operation":"` + op + `","userInfo":{"username":"alice","groups":["system:authenticated"]}` + extra +
			`,"object":` + object + `,"dryRun":false,"options":{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1"}}}`
	}
	bodies := map[string]string{
		"restricted":                   review("pods", "CREATE", "web", "", restricted),
		"bare, mutated":                review("pods", "CREATE", "web", "", bare),
		"no name in the request":       review("pods", "CREATE", "", "", bare),
		"privileged":                   review("pods", "CREATE", "web", "", privileged),
		"unknown field":                review("pods", "CREATE", "web", "", unknown),
		"duplicated field":             review("pods", "CREATE", "web", "", duplicate),
		"wrong type":                   review("pods", "CREATE", "web", "", wrongType),
		"not an object":                review("pods", "CREATE", "web", "", `"pod"`),
		"null object":                  review("pods", "CREATE", "web", "", `null`),
		"unknown envelope field":       review("pods", "CREATE", "web", `,"futureRequestField":1`, bare),
		"duplicated envelope field":    review("pods", "CREATE", "web", `,"namespace":"other"`, bare),
		"case of a field":              strings.Replace(review("pods", "CREATE", "web", "", bare), `"object"`, `"Object"`, 1),
		"update":                       review("pods", "UPDATE", "web", `,"oldObject":`+bare, restricted),
		"update, old with unknown":     review("pods", "UPDATE", "web", `,"oldObject":`+unknown, restricted),
		"update, old malformed":        review("pods", "UPDATE", "web", `,"oldObject":`+wrongType, restricted),
		"update without oldObject":     review("pods", "UPDATE", "web", "", restricted),
		"update with a null oldObject": review("pods", "UPDATE", "web", `,"oldObject":null`, restricted),
		"delete":                       review("pods", "DELETE", "web", `,"oldObject":`+bare, `null`),
		"ephemeral containers":         review("pods", "UPDATE", "web", `,"subResource":"ephemeralcontainers","oldObject":`+bare, privileged),
		"status":                       review("pods", "UPDATE", "web", `,"subResource":"status","oldObject":`+bare, privileged),
		"exec":                         review("pods", "CONNECT", "web", `,"subResource":"exec"`, `{"kind":"PodExecOptions","apiVersion":"v1","command":["sh"]}`),
		"deployment":                   review("deployments", "CREATE", "web", "", deployment),
		"pods of another group":        strings.ReplaceAll(review("pods", "CREATE", "web", "", bare), `"group":""`, `"group":"x"`),
		"no uid":                       strings.Replace(review("pods", "CREATE", "web", "", bare), `"uid":"u1",`, ``, 1),
		"wrong kind":                   strings.Replace(review("pods", "CREATE", "web", "", bare), `"AdmissionReview"`, `"AdmissionRevue"`, 1),
		"truncated":                    review("pods", "CREATE", "web", "", bare)[:300],
		// managedFields: checked, not built, by the one-pass read.
		"managedFields":                 review("pods", "CREATE", "web", "", withManagedFields(bare, kubeManagedFields)),
		"managedFields, privileged":     review("pods", "CREATE", "web", "", withManagedFields(privileged, kubeManagedFields)),
		"update of managedFields alone": review("pods", "UPDATE", "web", `,"oldObject":`+withManagedFields(bare, `[]`), withManagedFields(bare, kubeManagedFields)),
		"managedFields, a bad time":     review("pods", "CREATE", "web", "", withManagedFields(bare, `[{"manager":"a","time":"yesterday"}]`)),
		"managedFields, unknown member": review("pods", "CREATE", "web", "", withManagedFields(bare, `[{"manager":"a","futureField":1}]`)),
		"managedFields, not a list":     review("pods", "CREATE", "web", "", withManagedFields(bare, `{"manager":"a"}`)),
		"managedFields, duplicated":     review("pods", "CREATE", "web", "", withManagedFields(bare, `[{"manager":"a","manager":"b"}]`)),
		"managedFields, a wrong type":   review("pods", "CREATE", "web", "", withManagedFields(bare, `[{"operation":1}]`)),
		"old managedFields, a bad time": review("pods", "UPDATE", "web", `,"oldObject":`+withManagedFields(bare, `[{"time":"x"}]`), restricted),
		"managedFields, truncated":      review("pods", "CREATE", "web", "", withManagedFields(bare, `[{"manager":"a"`)),
	}
	// The reviews read in one pass.
	onePass := map[string]bool{"restricted": true, "bare, mutated": true, "no name in the request": true, "privileged": true, "update": true,
		"managedFields": true, "managedFields, privileged": true, "update of managedFields alone": true}
	chains := map[string]*admission.Chain{
		"PSP and PodSecurity":  chainFor(t, podsecuritypolicy.PluginName, podsecurity.PluginName),
		"strict decoding":      chainFor(t, podsecuritypolicy.PluginName, podsecurity.PluginName).WithStrictDecoding(true),
		"PodSecurity then PSP": chainFor(t, podsecurity.PluginName, podsecuritypolicy.PluginName),
		"PodSecurity alone":    chainFor(t, podsecurity.PluginName),
	}
	phases := map[string]admission.Phase{"mutate": admission.PhaseMutate, "validate": admission.PhaseValidate, "both": admission.PhaseBoth}
	for cname, c := range chains {
		for pname, phase := range phases {
			for bname, body := range bodies {
				t.Run(cname+"/"+pname+"/"+bname, func(t *testing.T) {
					before := admission.UnknownFieldObjects.Load()
					want, wantErr := c.ReviewTwoPass(context.Background(), []byte(body), phase)
					twoPassUnknown := admission.UnknownFieldObjects.Load() - before
					got, gotErr := c.Review(context.Background(), []byte(body), phase)
					if onePassUnknown := admission.UnknownFieldObjects.Load() - before - twoPassUnknown; onePassUnknown != twoPassUnknown {
						t.Errorf("UnknownFieldObjects grew by %d, the two passes by %d", onePassUnknown, twoPassUnknown)
					}
					// Without a mutating plugin, the mutating pass does not read the pod at all.
					wantOnePass := onePass[bname] && (phase != admission.PhaseMutate || slices.Contains(c.Plugins(), podsecuritypolicy.PluginName))
					if read := c.ReadsInOnePass([]byte(body), phase); read != wantOnePass {
						t.Errorf("read in one pass: %v, want %v", read, wantOnePass)
					}
					if string(got) != string(want) || errString(gotErr) != errString(wantErr) {
						t.Errorf("one pass:\n%s %v\ntwo passes:\n%s %v", got, gotErr, want, wantErr)
					}
				})
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// kubeManagedFields are managedFields as kube-apiserver writes them: one
// entry per manager, a FieldsV1 tree of the fields each set.
const kubeManagedFields = `[{"manager":"kubectl-create","operation":"Update","apiVersion":"v1","time":"2026-12-01T10:00:00Z","fieldsType":"FieldsV1",` +
	`"fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},"f:name":{}}}}}},` +
	`{"manager":"kubelet","operation":"Update","apiVersion":"v1","time":"2026-12-01T10:00:05+01:00","fieldsType":"FieldsV1","fieldsV1":{"f:status":{"f:phase":{}}},"subresource":"status"}]`

// withManagedFields is a pod's JSON with metadata.managedFields set to mf.
func withManagedFields(pod, mf string) string {
	return strings.Replace(pod, `"metadata":{`, `"metadata":{"managedFields":`+mf+`,`, 1)
}

// managedFields decide nothing: the two passes, which decode them, answer a
// pod's review byte for byte the same with them and without them — every
// chain, every phase, CREATE and UPDATE, an UPDATE of managedFields alone —
// so the one-pass read, which skips them, loses nothing. No patch touches
// them.
func TestManagedFieldsDecideNothing(t *testing.T) {
	pods := map[string]string{
		"restricted": `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","labels":{"app":"web"}},"spec":{"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},` +
			`"containers":[{"name":"app","image":"app","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`,
		"bare":       `{"metadata":{"name":"web","annotations":{"a/b":"c"}},"spec":{"volumes":[{"name":"v"}],"initContainers":[{"name":"i","image":"i"}],"containers":[{"name":"app","image":"app"}]}}`,
		"privileged": `{"metadata":{"name":"web"},"spec":{"hostNetwork":true,"containers":[{"name":"app","image":"app","securityContext":{"privileged":true}}]}}`,
		"host path":  `{"metadata":{"name":"web"},"spec":{"volumes":[{"name":"h","hostPath":{"path":"/"}}],"containers":[{"name":"app","image":"app","securityContext":{"runAsUser":0}}]}}`,
	}
	review := func(op, old, object string) string {
		extra := ""
		if old != "" {
			extra = `,"oldObject":` + old
		}
		return `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},` +
			`"resource":{"group":"","version":"v1","resource":"pods"},"name":"web","namespace":"shop","operation":"` + op + `","userInfo":{"username":"alice","groups":["system:authenticated"]}` +
			extra + `,"object":` + object + `}}`
	}
	chains := map[string]*admission.Chain{
		"PSP and PodSecurity":  chainFor(t, podsecuritypolicy.PluginName, podsecurity.PluginName),
		"strict decoding":      chainFor(t, podsecuritypolicy.PluginName, podsecurity.PluginName).WithStrictDecoding(true),
		"PodSecurity then PSP": chainFor(t, podsecurity.PluginName, podsecuritypolicy.PluginName),
		// Images' pull policy is outside the per-field patch: the
		// whole-object diff makes it.
		"AlwaysPullImages and PSP": chainFor(t, alwayspullimages.PluginName, podsecuritypolicy.PluginName),
	}
	phases := map[string]admission.Phase{"mutate": admission.PhaseMutate, "validate": admission.PhaseValidate, "both": admission.PhaseBoth}
	for pname, pod := range pods {
		with := withManagedFields(pod, kubeManagedFields)
		cases := map[string][2]string{ // without managedFields, with them
			"create":                  {review("CREATE", "", pod), review("CREATE", "", with)},
			"update of them alone":    {review("UPDATE", pod, pod), review("UPDATE", withManagedFields(pod, `[{"manager":"x"}]`), with)},
			"update, old ones differ": {review("UPDATE", pods["bare"], pod), review("UPDATE", withManagedFields(pods["bare"], `[]`), with)},
		}
		for cname, c := range chains {
			for phname, phase := range phases {
				for name, bodies := range cases {
					t.Run(pname+"/"+cname+"/"+phname+"/"+name, func(t *testing.T) {
						want, wantErr := c.ReviewTwoPass(context.Background(), []byte(bodies[0]), phase)
						got, gotErr := c.ReviewTwoPass(context.Background(), []byte(bodies[1]), phase)
						if errString(gotErr) != errString(wantErr) || !sameAnswer(t, bodies[0], want, bodies[1], got) {
							t.Errorf("with managedFields:\n%s %v\nwithout:\n%s %v", got, gotErr, want, wantErr)
						}
						if !c.ReadsInOnePass([]byte(bodies[1]), phase) {
							t.Error("not read in one pass")
						}
						if onePass, err := c.Review(context.Background(), []byte(bodies[1]), phase); errString(err) != errString(gotErr) || !sameAnswer(t, bodies[1], got, bodies[1], onePass) {
							t.Errorf("one pass:\n%s %v\ntwo passes:\n%s %v", onePass, err, got, gotErr)
						}
						if strings.Contains(string(got), "managedFields") {
							t.Errorf("the answer names managedFields: %s", got)
						}
						if phase != admission.PhaseValidate && gotErr == nil {
							keepsManagedFields(t, bodies[1], got)
						}
					})
				}
			}
		}
	}
}

// sameAnswer: two answers are byte for byte the same, or differ only in the
// order of their patch's operations, which make the same object of their
// reviews' objects but for managedFields. (The whole-object diff, which
// AlwaysPullImages' change takes, orders a container's members as
// jsonpatch.CreatePatch walks a map: at random.)
func sameAnswer(t *testing.T, body1 string, answer1 []byte, body2 string, answer2 []byte) bool {
	t.Helper()
	if string(answer1) == string(answer2) {
		return true
	}
	var a1, a2 admissionv1.AdmissionReview
	if json.Unmarshal(answer1, &a1) != nil || json.Unmarshal(answer2, &a2) != nil || a1.Response == nil || a2.Response == nil {
		return false
	}
	after := func(body string, resp *admissionv1.AdmissionResponse) map[string]any {
		var in struct {
			Request struct {
				Object json.RawMessage `json:"object"`
			} `json:"request"`
		}
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Fatal(err)
		}
		m := applied(t, string(in.Request.Object), resp)
		delete(m["metadata"].(map[string]any), "managedFields")
		return m
	}
	if !reflect.DeepEqual(after(body1, a1.Response), after(body2, a2.Response)) {
		return false
	}
	a1.Response.Patch, a2.Response.Patch = nil, nil
	return reflect.DeepEqual(a1, a2)
}
