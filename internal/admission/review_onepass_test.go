package admission_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/kguard/kguard/internal/admission"
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
	}
	// The reviews read in one pass.
	onePass := map[string]bool{"restricted": true, "bare, mutated": true, "no name in the request": true, "privileged": true, "update": true}
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
