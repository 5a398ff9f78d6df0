package constraints

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/policy"
)

const library = "../../constraints/testdata/gatekeeper-library/library"

// read reads files of the gatekeeper-library and inline YAML into one
// policy set.
func read(t *testing.T, files []string, inline ...string) *policy.Set {
	t.Helper()
	var docs []manifest.Document
	for _, f := range files {
		d, err := manifest.ReadFile(filepath.Join(library, f))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d...)
	}
	for i, y := range inline {
		d, err := manifest.Read(strings.NewReader(y), "inline"+string(rune('0'+i)))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d...)
	}
	set, err := policy.FromDocuments(docs)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func chain(t *testing.T, set *policy.Set, cfg Config) (*admission.Chain, *Plugin) {
	t.Helper()
	c, err := admission.NewChain([]string{PluginName}, admission.Inputs{Policies: set}, map[string]any{PluginName: cfg})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, p
}

// review sends an AdmissionReview of object (JSON) through the validating
// pass, as kube-apiserver does.
func review(t *testing.T, c *admission.Chain, op admissionv1.Operation, group, version, kind, resource, namespace, object string) *admissionv1.AdmissionResponse {
	t.Helper()
	var meta struct {
		Metadata struct{ Name string } `json:"metadata"`
	}
	_ = json.Unmarshal([]byte(object), &meta)
	req := map[string]any{
		"uid":       "u-1",
		"kind":      map[string]string{"group": group, "version": version, "kind": kind},
		"resource":  map[string]string{"group": group, "version": version, "resource": resource},
		"name":      meta.Metadata.Name,
		"namespace": namespace,
		"operation": string(op),
		"userInfo":  map[string]any{"username": "alice"},
		"object":    json.RawMessage(object),
	}
	switch op {
	case admissionv1.Update:
		req["oldObject"] = json.RawMessage(object)
	case admissionv1.Delete: // the object deleted, as kube-apiserver sends it
		req["oldObject"], req["object"] = json.RawMessage(object), nil
	}
	body, err := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Review(context.Background(), body, admission.PhaseValidate)
	if err != nil {
		t.Fatal(err)
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(out, &ar); err != nil {
		t.Fatal(err)
	}
	return ar.Response
}

const privilegedPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"team-a"},
 "spec":{"containers":[{"name":"nginx","image":"nginx","securityContext":{"privileged":true}}]}}`

const plainPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"team-a"},
 "spec":{"containers":[{"name":"nginx","image":"nginx"}]}}`

func TestDenyMessageShape(t *testing.T) {
	for _, cel := range []bool{true, false} {
		set := read(t, []string{"pod-security-policy/privileged-containers/template.yaml",
			"pod-security-policy/privileged-containers/samples/psp-privileged-container/constraint.yaml"})
		c, _ := chain(t, set, Config{NoCEL: !cel})
		resp := review(t, c, admissionv1.Create, "", "v1", "Pod", "pods", "team-a", privilegedPod)
		if resp.Allowed {
			t.Fatalf("cel=%v: a privileged pod was allowed", cel)
		}
		// Gatekeeper's shape: "[constraint] message", no "pods ... is forbidden:" prefix.
		want := "[psp-privileged-container] Privileged container is not allowed: nginx, securityContext"
		if !strings.HasPrefix(resp.Result.Message, want) || resp.Result.Code != 403 {
			t.Errorf("cel=%v: %d %q, want 403 starting %q", cel, resp.Result.Code, resp.Result.Message, want)
		}
		if resp := review(t, c, admissionv1.Create, "", "v1", "Pod", "pods", "team-a", plainPod); !resp.Allowed {
			t.Errorf("cel=%v: a plain pod was refused: %s", cel, resp.Result.Message)
		}
		// An UPDATE of a privileged pod is let through by the template (its
		// containers are immutable).
		if resp := review(t, c, admissionv1.Update, "", "v1", "Pod", "pods", "team-a", privilegedPod); !resp.Allowed {
			t.Errorf("cel=%v: the UPDATE was refused: %s", cel, resp.Result.Message)
		}
	}
}

const labelsConstraint = `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: ns-must-have-owner
spec:
  enforcementAction: %s
  match:
    kinds:
      - apiGroups: [""]
        kinds: ["Namespace"]
  parameters:
    labels:
      - key: owner
`

const namespaceObject = `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-b"}}`

func TestEnforcementActions(t *testing.T) {
	for _, tc := range []struct {
		action          string
		allowed         bool
		warnings, audit bool
	}{{"deny", false, false, false}, {"warn", true, true, false}, {"dryrun", true, false, true}} {
		set := read(t, []string{"general/requiredlabels/template.yaml"}, strings.Replace(labelsConstraint, "%s", tc.action, 1))
		c, _ := chain(t, set, Config{NoCEL: true})
		resp := review(t, c, admissionv1.Create, "", "v1", "Namespace", "namespaces", "", namespaceObject)
		if resp.Allowed != tc.allowed {
			t.Errorf("%s: allowed=%v", tc.action, resp.Allowed)
		}
		const msg = "[ns-must-have-owner] you must provide labels: {\"owner\"}"
		switch {
		case !tc.allowed && resp.Result.Message != msg:
			t.Errorf("%s: message %q, want %q", tc.action, resp.Result.Message, msg)
		case tc.warnings && (len(resp.Warnings) != 1 || resp.Warnings[0] != msg):
			t.Errorf("%s: warnings %q, want [%q]", tc.action, resp.Warnings, msg)
		case !tc.warnings && len(resp.Warnings) > 0:
			t.Errorf("%s: warnings %q, want none", tc.action, resp.Warnings)
		case tc.audit && resp.AuditAnnotations[AuditKeyDryrun] != msg:
			t.Errorf("%s: audit annotations %v", tc.action, resp.AuditAnnotations)
		case !tc.audit && len(resp.AuditAnnotations) > 0:
			t.Errorf("%s: audit annotations %v, want none", tc.action, resp.AuditAnnotations)
		}
		labelled := `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-b","labels":{"owner":"me"}}}`
		if resp := review(t, c, admissionv1.Create, "", "v1", "Namespace", "namespaces", "", labelled); !resp.Allowed || len(resp.Warnings) > 0 {
			t.Errorf("%s: a labelled namespace: %+v", tc.action, resp)
		}
	}
}

const brokenTemplate = `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sbroken
spec:
  crd:
    spec:
      names:
        kind: K8sBroken
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sbroken
        violation[{"msg": msg}] {
          msg := undefined_function(input.review.object)
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sBroken
metadata:
  name: no-services
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: ["Service"]
`

const service = `{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"team-a"},"spec":{"ports":[{"port":80}]}}`

// A template that does not compile never admits what its constraints
// match; the rest is judged as usual.
func TestBrokenTemplateFailsClosed(t *testing.T) {
	set := read(t, []string{"pod-security-policy/privileged-containers/template.yaml",
		"pod-security-policy/privileged-containers/samples/psp-privileged-container/constraint.yaml"}, brokenTemplate)
	c, p := chain(t, set, Config{})
	resp := review(t, c, admissionv1.Create, "", "v1", "Service", "services", "team-a", service)
	if resp.Allowed || !strings.Contains(resp.Result.Message, `[no-services] K8sBroken "no-services" cannot be evaluated: its ConstraintTemplate does not compile`) ||
		!strings.Contains(resp.Result.Message, "undefined_function") {
		t.Errorf("a Service under a broken template: %+v", resp.Result)
	}
	if resp := review(t, c, admissionv1.Create, "", "v1", "Pod", "pods", "team-a", plainPod); !resp.Allowed {
		t.Errorf("a pod the broken constraint does not match was refused: %s", resp.Result.Message)
	}
	var broken int
	for _, ts := range p.Templates() {
		if ts.Err != nil {
			broken++
			if ts.Name != "k8sbroken" || !strings.Contains(ts.Err.Error(), "undefined_function") {
				t.Errorf("status of %s: %v", ts.Name, ts.Err)
			}
		}
	}
	if broken != 1 || len(p.Templates()) != 2 {
		t.Errorf("template statuses %+v, want one broken of two", p.Templates())
	}
}

// A constraint whose parameters the template's schema refuses is never
// evaluated leniently: it refuses what it matches, naming the field.
func TestBadParametersFailClosed(t *testing.T) {
	bad := strings.Replace(strings.Replace(labelsConstraint, "%s", "deny", 1), "      - key: owner\n", "      - key: 42\n", 1)
	set := read(t, []string{"general/requiredlabels/template.yaml"}, bad)
	c, _ := chain(t, set, Config{})
	resp := review(t, c, admissionv1.Create, "", "v1", "Namespace", "namespaces", "", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x","labels":{"owner":"me"}}}`)
	if resp.Allowed || !strings.Contains(resp.Result.Message, "spec.parameters.labels[0].key") {
		t.Errorf("bad parameters: %+v", resp.Result)
	}
}

// A reviewed object that does not decode is refused, not let through.
func TestMalformedObjectFailsClosed(t *testing.T) {
	set := read(t, []string{"general/requiredlabels/template.yaml"}, strings.Replace(labelsConstraint, "%s", "deny", 1))
	c, _ := chain(t, set, Config{})
	resp := review(t, c, admissionv1.Create, "", "v1", "Namespace", "namespaces", "", `{"apiVersion":"v1","kind":"Namespace","metadata":"x"}`)
	if resp.Allowed {
		t.Fatal("a malformed Namespace was allowed")
	}
}

// Seed 004's plain Rego policy, as kube-mgmt loads it from a labelled ConfigMap.
const seed004 = `apiVersion: v1
kind: ConfigMap
metadata:
  name: no-privileged
  namespace: opa
  labels:
    openpolicyagent.org/policy: rego
data:
  main.rego: |
    package kubernetes.admission

    deny[message] {
      input.request.kind.kind == "Pod"
      container := input.request.object.spec.containers[_]
      container.securityContext.privileged
      message := sprintf("privileged container %v is not allowed", [container.name])
    }

    warn[message] {
      input.request.kind.kind == "Pod"
      not input.request.object.metadata.labels.app
      message := "pods should have an app label"
    }
`

func TestPlainRego(t *testing.T) {
	set := read(t, nil, seed004)
	if len(set.RegoModules) != 1 {
		t.Fatalf("%d Rego modules read", len(set.RegoModules))
	}
	c, _ := chain(t, set, Config{})
	resp := review(t, c, admissionv1.Create, "", "v1", "Pod", "pods", "team-a", privilegedPod)
	if resp.Allowed || resp.Result.Message != "privileged container nginx is not allowed" {
		t.Errorf("privileged pod: %+v", resp.Result)
	}
	resp = review(t, c, admissionv1.Create, "", "v1", "Pod", "pods", "team-a", plainPod)
	if !resp.Allowed || len(resp.Warnings) != 1 || resp.Warnings[0] != "pods should have an app label" {
		t.Errorf("plain pod: allowed=%v warnings=%q", resp.Allowed, resp.Warnings)
	}
}

// An evaluation error of a Rego policy refuses the request.
func TestPlainRegoErrorFailsClosed(t *testing.T) {
	dir := t.TempDir()
	mod := `package kubernetes.admission
import rego.v1
decision := 1 if true
decision := 2 if true
deny contains "never" if decision == 3
`
	if err := os.WriteFile(filepath.Join(dir, "conflict.rego"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := policy.Load([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := chain(t, set, Config{})
	resp := review(t, c, admissionv1.Create, "", "v1", "Pod", "pods", "team-a", plainPod)
	if resp.Allowed || !strings.Contains(resp.Result.Message, "Rego policy evaluation failed") {
		t.Errorf("an evaluation error: %+v", resp.Result)
	}
}

// A Gatekeeper Config's excludedNamespaces (for the webhook) are not judged.
func TestConfigExcludedNamespaces(t *testing.T) {
	cfg := `apiVersion: config.gatekeeper.sh/v1alpha1
kind: Config
metadata:
  name: config
  namespace: gatekeeper-system
spec:
  match:
    - excludedNamespaces: ["team-*"]
      processes: ["webhook"]
`
	set := read(t, []string{"pod-security-policy/privileged-containers/template.yaml",
		"pod-security-policy/privileged-containers/samples/psp-privileged-container/constraint.yaml"}, cfg)
	c, _ := chain(t, set, Config{})
	if resp := review(t, c, admissionv1.Create, "", "v1", "Pod", "pods", "team-a", privilegedPod); !resp.Allowed {
		t.Errorf("a pod in an excluded namespace was refused: %s", resp.Result.Message)
	}
	other := strings.ReplaceAll(privilegedPod, "team-a", "prod")
	if resp := review(t, c, admissionv1.Create, "", "v1", "Pod", "pods", "prod", other); resp.Allowed {
		t.Error("a privileged pod in another namespace was allowed")
	}
}

// namespaceSelector reads the Namespace of the snapshot.
func TestNamespaceSelector(t *testing.T) {
	constraint := `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sPSPPrivilegedContainer
metadata:
  name: prod-only
spec:
  match:
    kinds: [{apiGroups: [""], kinds: ["Pod"]}]
    namespaceSelector:
      matchLabels: {env: prod}
---
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
  labels: {env: prod}
---
apiVersion: v1
kind: Namespace
metadata:
  name: team-b
  labels: {env: dev}
`
	set := read(t, []string{"pod-security-policy/privileged-containers/template.yaml"}, constraint)
	c, _ := chain(t, set, Config{})
	if resp := review(t, c, admissionv1.Create, "", "v1", "Pod", "pods", "team-a", privilegedPod); resp.Allowed {
		t.Error("prod: a privileged pod was allowed")
	}
	dev := strings.ReplaceAll(privilegedPod, "team-a", "team-b")
	if resp := review(t, c, admissionv1.Create, "", "v1", "Pod", "pods", "team-b", dev); !resp.Allowed {
		t.Errorf("dev: refused: %s", resp.Result.Message)
	}
	// A namespace kguard does not know cannot be matched: refused, as
	// Gatekeeper refuses when it cannot read the namespace.
	unknown := strings.ReplaceAll(privilegedPod, "team-a", "team-c")
	if resp := review(t, c, admissionv1.Create, "", "v1", "Pod", "pods", "team-c", unknown); resp.Allowed {
		t.Error("unknown namespace: allowed")
	}
}

// The audit of a cluster lists the kinds the chain judges: those of the
// constraints' spec.match.kinds (a broken constraint's too: it refuses what
// it matches), every kind for a constraint without kinds or with plain
// Rego policies, none without constraints.
func TestJudgesKind(t *testing.T) {
	pod := schema.GroupKind{Kind: "Pod"}
	ingress := schema.GroupKind{Group: "networking.k8s.io", Kind: "Ingress"}
	service := schema.GroupKind{Kind: "Service"}
	configMap := schema.GroupKind{Kind: "ConfigMap"}
	for name, tc := range map[string]struct {
		set  *policy.Set
		want map[schema.GroupKind]bool
	}{
		"no constraints": {read(t, []string{"pod-security-policy/privileged-containers/template.yaml"}),
			map[schema.GroupKind]bool{pod: false, ingress: false}},
		"Ingress only": {read(t, []string{"general/httpsonly/template.yaml", "general/httpsonly/samples/ingress-https-only/constraint.yaml"}),
			map[schema.GroupKind]bool{pod: false, ingress: true, {Group: "extensions", Kind: "Ingress"}: true, {Group: "networking.k8s.io", Kind: "IngressClass"}: false,
				// some kind of a group whose kinds discovery could not read
				{Group: "networking.k8s.io", Kind: "*"}: true, {Group: "apps", Kind: "*"}: false}},
		"broken template's constraint": {read(t, []string{"pod-security-policy/privileged-containers/template.yaml"}, brokenTemplate),
			map[schema.GroupKind]bool{service: true, pod: false, configMap: false}},
		"no kinds": {read(t, []string{"general/requiredlabels/template.yaml"}, `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata: {name: everything}
spec:
  parameters: {labels: [{key: owner}]}
`), map[schema.GroupKind]bool{pod: true, configMap: true, ingress: true, {Group: "metrics.k8s.io", Kind: "*"}: true}},
		"plain Rego": {read(t, nil, seed004), map[schema.GroupKind]bool{pod: true, configMap: true}},
	} {
		t.Run(name, func(t *testing.T) {
			c, p := chain(t, tc.set, Config{})
			for gk, want := range tc.want {
				if got := p.JudgesKind(gk); got != want {
					t.Errorf("plugin JudgesKind(%v) = %v, want %v", gk, got, want)
				}
				if got := c.JudgesKind(gk); got != want {
					t.Errorf("chain JudgesKind(%v) = %v, want %v", gk, got, want)
				}
			}
		})
	}
}

// A Gatekeeper Config exempts namespaces from Gatekeeper's constraints
// only: plain Rego policies still judge them, as OPA with kube-mgmt, which
// knows no Gatekeeper Config, does.
func TestConfigExcludedNamespacesNotForPlainRego(t *testing.T) {
	cfg := `apiVersion: config.gatekeeper.sh/v1alpha1
kind: Config
metadata:
  name: config
  namespace: gatekeeper-system
spec:
  match:
    - excludedNamespaces: ["team-*"]
      processes: ["*"]
`
	c, _ := chain(t, read(t, nil, seed004, cfg), Config{})
	resp := review(t, c, admissionv1.Create, "", "v1", "Pod", "pods", "team-a", privilegedPod)
	if resp.Allowed || resp.Result.Message != "privileged container nginx is not allowed" {
		t.Errorf("a privileged pod in a namespace the Config excludes: allowed=%v %+v", resp.Allowed, resp.Result)
	}
}

// Plain Rego reads the AdmissionReview as the API server sent it: the
// UPDATE of a Namespace carries its name in request.namespace.
func TestPlainRegoNamespaceInput(t *testing.T) {
	cm := `apiVersion: v1
kind: ConfigMap
metadata:
  name: ns
  namespace: opa
  labels:
    openpolicyagent.org/policy: rego
data:
  ns.rego: |
    package kubernetes.admission
    import rego.v1
    deny contains "prod is frozen" if input.request.namespace == "prod"
`
	c, _ := chain(t, read(t, nil, cm), Config{})
	ns := `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}}`
	resp := review(t, c, admissionv1.Update, "", "v1", "Namespace", "namespaces", "prod", ns)
	if resp.Allowed || resp.Result.Message != "prod is frozen" {
		t.Errorf("UPDATE of Namespace prod: allowed=%v %+v", resp.Allowed, resp.Result)
	}
}

// A DELETE is judged as Gatekeeper's webhook judges it when registered for
// deletes: the object deleted (the old object) is the object reviewed; by
// constraints and by plain Rego policies alike (which see the request as
// sent: object null).
func TestDeleteJudgesTheOldObject(t *testing.T) {
	const noDelete = `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8snodelete}
spec:
  crd: {spec: {names: {kind: K8sNoDelete}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package k8snodelete
      violation[{"msg": msg}] {
        input.review.operation == "DELETE"
        input.review.object.metadata.labels.protected == "true"
        msg := sprintf("%v is protected", [input.review.object.metadata.name])
      }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sNoDelete
metadata: {name: protected}
spec:
  match: {kinds: [{apiGroups: [""], kinds: [Service]}]}
`
	c, _ := chain(t, read(t, nil, noDelete), Config{})
	protected := strings.Replace(service, `"name":"web",`, `"name":"web","labels":{"protected":"true"},`, 1)
	if resp := review(t, c, admissionv1.Delete, "", "v1", "Service", "services", "team-a", protected); resp.Allowed || resp.Result.Message != "[protected] web is protected" {
		t.Errorf("DELETE of a protected Service: allowed=%v %+v", resp.Allowed, resp.Result)
	}
	if resp := review(t, c, admissionv1.Delete, "", "v1", "Service", "services", "team-a", service); !resp.Allowed {
		t.Errorf("DELETE of another Service refused: %+v", resp.Result)
	}
	// A DELETE without the old object cannot be judged: refused.
	body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-2","kind":{"group":"","version":"v1","kind":"Service"},
	 "resource":{"group":"","version":"v1","resource":"services"},"name":"web","namespace":"team-a","operation":"DELETE","userInfo":{"username":"alice"}}}`
	out, err := c.Review(context.Background(), []byte(body), admission.PhaseValidate)
	if err != nil {
		t.Fatal(err)
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(out, &ar); err != nil {
		t.Fatal(err)
	}
	if ar.Response.Allowed || !strings.Contains(ar.Response.Result.Message, "a DELETE without oldObject cannot be judged") {
		t.Errorf("DELETE without oldObject: %+v", ar.Response)
	}

	rego := `apiVersion: v1
kind: ConfigMap
metadata: {name: no-delete, namespace: kguard, labels: {openpolicyagent.org/policy: rego}}
data:
  main.rego: |
    package kubernetes.admission
    deny contains "deleting a protected object" if {
      input.request.operation == "DELETE"
      input.request.object == null
      input.request.oldObject.metadata.labels.protected == "true"
    }
`
	c, _ = chain(t, read(t, nil, rego), Config{})
	if resp := review(t, c, admissionv1.Delete, "", "v1", "Service", "services", "team-a", protected); resp.Allowed || resp.Result.Message != "deleting a protected object" {
		t.Errorf("plain Rego, DELETE of a protected Service: allowed=%v %+v", resp.Allowed, resp.Result)
	}
}
