package tenancy

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/policy"
)

// labelTenants: team-c requires two labels in c-dev; team-d requires none.
const labelTenants = `apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: team-c}
spec:
  namespaces: {names: [c-dev]}
  requiredLabels: {example.com/cost-center: cc-1, team: c}
---
apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: team-d}
spec:
  namespaces: {names: [d-dev]}
`

func labelChain(t testing.TB) *admission.Chain { return chainOf(t, labelTenants, nil) }

// objectReview sends a review of object (and oldObject, for an UPDATE) to
// the mutating pass.
func objectReview(t *testing.T, c *admission.Chain, op, kind, resource, ns, object, old string) *admissionv1.AdmissionResponse {
	t.Helper()
	req := map[string]any{"uid": "1", "kind": map[string]string{"group": "", "version": "v1", "kind": kind},
		"resource": map[string]string{"group": "", "version": "v1", "resource": resource},
		"name":     "x", "namespace": ns, "operation": op, "userInfo": map[string]any{"username": "alice"}, "object": json.RawMessage(object)}
	if old != "" {
		req["oldObject"] = json.RawMessage(old)
	}
	return reviewRequest(t, c, admission.PhaseMutate, req)
}

// labelsAfter is object's labels after resp's patch, as kube-apiserver applies it.
func labelsAfter(t *testing.T, object string, resp *admissionv1.AdmissionResponse) map[string]string {
	t.Helper()
	out := []byte(object)
	if resp.Patch != nil {
		p, err := jsonpatch.DecodePatch(resp.Patch)
		if err != nil {
			t.Fatalf("patch %s: %v", resp.Patch, err)
		}
		if out, err = p.Apply(out); err != nil {
			t.Fatalf("patch %s does not apply: %v", resp.Patch, err)
		}
	}
	var obj struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(out, &obj); err != nil {
		t.Fatal(err)
	}
	return obj.Metadata.Labels
}

func configMap(labels string) string {
	return `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"` + labels + `},"data":{"k":"v"}}`
}

func TestRequiredLabels(t *testing.T) {
	c := labelChain(t)
	required := map[string]string{"example.com/cost-center": "cc-1", "team": "c"}
	withApp := map[string]string{"example.com/cost-center": "cc-1", "team": "c", "app": "web"}
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"app"}]}}`
	for _, tc := range []struct {
		name           string
		op, kind, res  string
		ns             string
		object, old    string
		want           map[string]string // labels after the patch
		wantDenial     string            // "" allowed
		wantNoPatch    bool
		wantWarningHas string
	}{
		{name: "created without labels: all added", op: "CREATE", kind: "ConfigMap", res: "configmaps", ns: "c-dev",
			object: configMap(""), want: required},
		{name: "labels kept, missing added", op: "CREATE", kind: "ConfigMap", res: "configmaps", ns: "c-dev",
			object: configMap(`,"labels":{"app":"web","team":"c"}`), want: withApp},
		{name: "all present: no patch", op: "CREATE", kind: "ConfigMap", res: "configmaps", ns: "c-dev",
			object: configMap(`,"labels":{"team":"c","example.com/cost-center":"cc-1"}`), want: required, wantNoPatch: true},
		{name: "empty labels map", op: "CREATE", kind: "ConfigMap", res: "configmaps", ns: "c-dev",
			object: configMap(`,"labels":{}`), want: required},
		{name: "pod: labels kept, missing added", op: "CREATE", kind: "Pod", res: "pods", ns: "c-dev",
			object: pod, want: withApp},
		{name: "update that removed them: added again", op: "UPDATE", kind: "ConfigMap", res: "configmaps", ns: "c-dev",
			object: configMap(""), old: configMap(`,"labels":{"team":"c","example.com/cost-center":"cc-1"}`), want: required},
		{name: "conflicting value refused", op: "CREATE", kind: "ConfigMap", res: "configmaps", ns: "c-dev",
			object:     configMap(`,"labels":{"team":"b"}`),
			wantDenial: `configmaps "x" is forbidden: tenant "team-c": metadata.labels[team]: Invalid value: "b": tenant "team-c" requires team=c on every object in its namespaces`},
		{name: "update to a conflicting value refused", op: "UPDATE", kind: "ConfigMap", res: "configmaps", ns: "c-dev",
			object: configMap(`,"labels":{"team":"b"}`), old: configMap(`,"labels":{"team":"c"}`),
			wantDenial: `metadata.labels[team]: Invalid value: "b"`},
		{name: "update keeping an older conflicting value: kept, warned", op: "UPDATE", kind: "ConfigMap", res: "configmaps", ns: "c-dev",
			object: configMap(`,"labels":{"team":"b"}`), old: configMap(`,"labels":{"team":"b"}`),
			want: map[string]string{"team": "b", "example.com/cost-center": "cc-1"}, wantWarningHas: `had "b" before the update and keeps it`},
		{name: "non-tenant namespace untouched", op: "CREATE", kind: "ConfigMap", res: "configmaps", ns: "default",
			object: configMap(""), wantNoPatch: true},
		{name: "tenant without required labels untouched", op: "CREATE", kind: "ConfigMap", res: "configmaps", ns: "d-dev",
			object: configMap(""), wantNoPatch: true},
		{name: "undecodable labels denied", op: "CREATE", kind: "ConfigMap", res: "configmaps", ns: "c-dev",
			object:     configMap(`,"labels":{"team":7}`),
			wantDenial: `configmaps "x" is forbidden: tenant "team-c": kguard cannot read the object to give it the tenant's required labels: json: cannot unmarshal number into Go struct field .metadata.labels of type string`},
		{name: "an object that is not an object denied", op: "CREATE", kind: "ConfigMap", res: "configmaps", ns: "c-dev",
			object: `["x"]`, wantDenial: `kguard cannot read the object to give it the tenant's required labels: not a JSON object`},
		{name: "no object denied", op: "CREATE", kind: "ConfigMap", res: "configmaps", ns: "c-dev",
			object: `null`, wantDenial: `the request carries no object`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := objectReview(t, c, tc.op, tc.kind, tc.res, tc.ns, tc.object, tc.old)
			if tc.wantDenial != "" {
				if resp.Allowed {
					t.Fatalf("allowed with patch %s, want %q", resp.Patch, tc.wantDenial)
				}
				if !strings.Contains(resp.Result.Message, tc.wantDenial) {
					t.Fatalf("message %q, want %q", resp.Result.Message, tc.wantDenial)
				}
				return
			}
			if !resp.Allowed {
				t.Fatalf("denied: %s", resp.Result.Message)
			}
			if tc.wantNoPatch && resp.Patch != nil {
				t.Errorf("patched: %s", resp.Patch)
			}
			if got := labelsAfter(t, tc.object, resp); tc.want != nil && !maps.Equal(got, tc.want) {
				t.Errorf("labels %v, want %v (patch %s)", got, tc.want, resp.Patch)
			}
			if tc.wantWarningHas != "" && (len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], tc.wantWarningHas)) {
				t.Errorf("warnings %q, want one with %q", resp.Warnings, tc.wantWarningHas)
			}
		})
	}
}

// A tenant's Deployment gets the labels on itself; its pod template is left
// alone (its pods get them when they are created), and the template
// mutations (seccomp) are in the same patch.
func TestRequiredLabelsDeployment(t *testing.T) {
	withSeccomp := strings.Replace(labelTenants, "  requiredLabels:", "  podSecurity: {seccomp: RuntimeDefault}\n  requiredLabels:", 1)
	set, err := policy.Read(strings.NewReader(withSeccomp), "tenants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := admission.NewChain([]string{PluginName}, admission.Inputs{Policies: set}, nil)
	if err != nil {
		t.Fatal(err)
	}
	deploy := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x","labels":{"app":"web"}},"spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"app"}]}}}}`
	req := map[string]any{"uid": "1", "kind": map[string]string{"group": "apps", "version": "v1", "kind": "Deployment"},
		"resource": map[string]string{"group": "apps", "version": "v1", "resource": "deployments"},
		"name":     "x", "namespace": "c-dev", "operation": "CREATE", "userInfo": map[string]any{"username": "alice"}, "object": json.RawMessage(deploy)}
	body, _ := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
	out, err := c.Review(context.Background(), body, admission.PhaseMutate)
	if err != nil {
		t.Fatal(err)
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(out, &ar); err != nil {
		t.Fatal(err)
	}
	resp := ar.Response
	if !resp.Allowed {
		t.Fatalf("denied: %s", resp.Result.Message)
	}
	if got := labelsAfter(t, deploy, resp); !maps.Equal(got, map[string]string{"example.com/cost-center": "cc-1", "team": "c", "app": "web"}) {
		t.Errorf("labels %v (patch %s)", got, resp.Patch)
	}
	if strings.Contains(string(resp.Patch), "/spec/template/metadata/labels") {
		t.Errorf("the pod template's labels were patched: %s", resp.Patch)
	}
	if !strings.Contains(string(resp.Patch), `"seccompProfile":{"type":"RuntimeDefault"}`) {
		t.Errorf("the template mutation is not in the patch: %s", resp.Patch)
	}
}

// kguard check shows the labels the webhook adds.
func TestRequiredLabelsOffline(t *testing.T) {
	docs, err := manifest.Read(strings.NewReader(configMap("")+"\n---\n"+configMap(`,"labels":{"team":"b"}`)), "objects.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := labelChain(t).AdmitDocuments(context.Background(), docs, "c-dev", &user.DefaultInfo{Name: "alice"})
	if oc := out[0]; oc.Response == nil || !oc.Response.Allowed {
		t.Fatalf("first: %+v", oc)
	} else if got := labelsAfter(t, string(docs[0].JSON), oc.Response); !maps.Equal(got, map[string]string{"example.com/cost-center": "cc-1", "team": "c"}) {
		t.Errorf("labels %v (patch %s)", got, oc.Response.Patch)
	}
	if oc := out[1]; oc.Response == nil || oc.Response.Allowed || oc.DeniedBy != PluginName ||
		!strings.Contains(oc.Response.Result.Message, `metadata.labels[team]: Invalid value: "b"`) {
		t.Errorf("second: %+v", oc)
	}
}
