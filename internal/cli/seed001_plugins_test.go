package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/policy"
)

// Pods for the AlwaysPullImages and SecurityContextDeny checks, as the API
// server would hand them to admission (pull policy defaulted).
const (
	seed001Pod = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: plain}
spec: {containers: [{name: app, image: "nginx:1", imagePullPolicy: IfNotPresent}]}
`
	seed001ExemptPod = `apiVersion: v1
kind: Namespace
metadata: {name: exempt, labels: {kguard.io/always-pull-images: "false"}}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: exempt}
spec: {containers: [{name: app, image: "nginx:1", imagePullPolicy: IfNotPresent}]}
`
	seed001RunAsUserPod = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: plain}
spec:
  containers: [{name: app, image: "nginx:1", imagePullPolicy: Always, securityContext: {runAsUser: 1000}}]
`
)

// alwaysPullPatch is the JSON Patch AlwaysPullImages makes of seed001Pod.
const alwaysPullPatch = `[{"op":"replace","path":"/spec/containers/0/imagePullPolicy","value":"Always"}]`

func TestCheckSeed001Plugins(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   string // substring of stdout
	}{
		{"AlwaysPullImages mutates", []string{"check", "--enable-admission-plugins", "PodSecurity,AlwaysPullImages", "-"}, seed001Pod, 0,
			`Pod plain/p: admitted
  mutated: replace /spec/containers/0/imagePullPolicy = "Always"`},
		{"AlwaysPullImages: a namespace labelled false is exempt", []string{"check", "--enable-admission-plugins", "PodSecurity,AlwaysPullImages", "-"}, seed001ExemptPod, 0,
			"Pod exempt/p: admitted\n1 object carries no pod"},
		{"SecurityContextDeny denies with upstream's message", []string{"check", "--enable-admission-plugins", "PodSecurity,AlwaysPullImages,SecurityContextDeny", "-"}, seed001RunAsUserPod, 1,
			`Pod plain/p: DENIED: pods "p" is forbidden: SecurityContext.RunAsUser is forbidden`},
		{"SecurityContextDeny admits a pod without the fields", []string{"check", "--enable-admission-plugins", "PodSecurity,SecurityContextDeny", "-"}, seed001Pod, 0,
			"Pod plain/p: admitted"},
		{"the flag lists the plugins", []string{"check", "--help"}, "", 0,
			"AlwaysPullImages, ClusterImagePolicy, Constraints, DenyEscalatingExec, PodSecurity, PodSecurityPolicy, SecurityContextDeny"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.out) {
				t.Errorf("exit %d (want %d)\nstdout:\n%s\nwant it to contain:\n%s\nstderr:\n%s", code, tc.code, out, tc.out, errOut)
			}
		})
	}
}

// kguard check answers a pod as the webhook's two passes do: the patch of
// /mutate, and the denial of /validate.
func TestCheckSeed001PluginsAsTheWebhook(t *testing.T) {
	code, out, errOut := run(t, seed001Pod, "check", "--enable-admission-plugins", "PodSecurity,AlwaysPullImages", "-o", "json", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var checked struct{ Results []checkResult }
	if err := json.Unmarshal([]byte(out), &checked); err != nil || len(checked.Results) != 1 || checked.Results[0].Response == nil {
		t.Fatalf("reading the check's JSON (%v):\n%s", err, out)
	}
	if got := string(checked.Results[0].Response.Patch); got != alwaysPullPatch {
		t.Errorf("check's patch %s, want %s", got, alwaysPullPatch)
	}

	chain, err := admission.NewChain([]string{"PodSecurity", "AlwaysPullImages"}, admission.Inputs{Policies: &policy.Set{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mutated := seed001Review(t, chain, admission.PhaseMutate, seed001Pod)
	if !mutated.Allowed || string(mutated.Patch) != string(checked.Results[0].Response.Patch) {
		t.Errorf("/mutate: allowed=%v patch %s, want the check's %s", mutated.Allowed, mutated.Patch, checked.Results[0].Response.Patch)
	}
	// A pod that reaches /validate without pulling always (another mutating
	// webhook set it back) is refused with upstream's message.
	validated := seed001Review(t, chain, admission.PhaseValidate, seed001Pod)
	const want = `pods "p" is forbidden: spec.containers[0].imagePullPolicy: Unsupported value: "IfNotPresent": supported values: "Always"`
	if validated.Allowed || validated.Result == nil || validated.Result.Message != want {
		t.Errorf("/validate: allowed=%v result %+v, want %q", validated.Allowed, validated.Result, want)
	}
}

// seed001Review sends the CREATE of podYAML through the chain's pass phase,
// as kube-apiserver would to the webhook.
func seed001Review(t *testing.T, chain *admission.Chain, phase admission.Phase, podYAML string) *admissionv1.AdmissionResponse {
	t.Helper()
	pod, err := yaml.YAMLToJSON([]byte(podYAML))
	if err != nil {
		t.Fatal(err)
	}
	req := &admissionv1.AdmissionRequest{UID: "1", Operation: admissionv1.Create, Name: "p", Namespace: "plain",
		Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}}
	req.Object.Raw = pod
	body, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req})
	if err != nil {
		t.Fatal(err)
	}
	out, err := chain.Review(context.Background(), body, phase)
	if err != nil {
		t.Fatal(err)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(out, &review); err != nil {
		t.Fatal(err)
	}
	return review.Response
}
