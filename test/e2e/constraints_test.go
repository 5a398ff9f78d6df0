//go:build e2e

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const gkLibrary = "../../internal/constraints/testdata/gatekeeper-library/library/"

// Gatekeeper's policies on the real control plane: ConstraintTemplates and
// constraints applied with kubectl, kguard creating each template's
// constraint CRD and writing its status, and kubectl's writes of
// Namespaces, Services, Deployments and pods judged by them — deny, warn,
// dryrun —, a template that does not compile refusing what its constraint
// covers, and seed 004's plain Rego policy from a kube-mgmt ConfigMap.
func TestConstraints(t *testing.T) {
	defer kguardLogs(t)
	const ns = "gk-e2e"
	testNamespace(t, ns)
	mustKubectl(t, "label", "namespace", ns, "owner=e2e")
	cleanup := func(args ...string) {
		t.Cleanup(func() { kubectl(t, append([]string{"delete", "--ignore-not-found", "--wait=false"}, args...)...) })
	}

	// The templates: two from the gatekeeper-library, one that does not compile.
	for _, f := range []string{"general/requiredlabels/template.yaml", "pod-security-policy/privileged-containers/template.yaml"} {
		mustKubectl(t, "apply", "-f", gkLibrary+f)
	}
	cleanup("constrainttemplates.templates.gatekeeper.sh", "k8srequiredlabels", "k8spspprivilegedcontainer", "k8sbroken")
	if out, err := kubectlIn(t, `apiVersion: templates.gatekeeper.sh/v1
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
          msg := no_such_function(input.review.object)
        }
`, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	// kguard creates the constraint CRDs of the compiled templates and
	// reports each template's compilation in its status.
	eventually(t, 60*time.Second, "the constraint CRDs are established", func() (bool, string) {
		out, err := kubectl(t, "wait", "--for=condition=Established", "--timeout=5s",
			"crd/k8srequiredlabels.constraints.gatekeeper.sh", "crd/k8spspprivilegedcontainer.constraints.gatekeeper.sh")
		return err == nil, out
	})
	status := func(name string) (created bool, errs []string) {
		out, err := kubectl(t, "get", "constrainttemplate", name, "-o", "json")
		if err != nil {
			return false, []string{out}
		}
		var ct struct {
			Status struct {
				Created bool `json:"created"`
				ByPod   []struct {
					ID     string `json:"id"`
					Errors []struct {
						Code, Message string
					} `json:"errors"`
				} `json:"byPod"`
			} `json:"status"`
		}
		json.Unmarshal([]byte(out), &ct)
		for _, b := range ct.Status.ByPod {
			if b.ID == "kguard" {
				for _, e := range b.Errors {
					errs = append(errs, e.Code+": "+e.Message)
				}
				return ct.Status.Created, errs
			}
		}
		return ct.Status.Created, []string{"no kguard status"}
	}
	eventually(t, 60*time.Second, "the templates' status", func() (bool, string) {
		c1, e1 := status("k8srequiredlabels")
		c2, e2 := status("k8spspprivilegedcontainer")
		_, e3 := status("k8sbroken")
		ok := c1 && c2 && len(e1) == 0 && len(e2) == 0 && len(e3) == 1 && strings.Contains(e3[0], "ingest_error") && strings.Contains(e3[0], "no_such_function")
		return ok, strings.Join(append(append(e1, e2...), e3...), "; ")
	})
	if out, err := kubectl(t, "get", "crd", "k8sbroken.constraints.gatekeeper.sh"); err == nil {
		t.Errorf("a CRD was created for a template that does not compile:\n%s", out)
	}

	// The constraints, one per enforcement action.
	constraints := `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: ns-must-have-owner
spec:
  match:
    kinds: [{apiGroups: [""], kinds: ["Namespace"]}]
  parameters:
    labels: [{key: owner}]
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: deployments-must-have-team
spec:
  match:
    kinds: [{apiGroups: ["apps"], kinds: ["Deployment"]}]
    namespaces: ["gk-*"]
  parameters:
    labels: [{key: team}]
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: services-should-have-team
spec:
  enforcementAction: warn
  match:
    kinds: [{apiGroups: [""], kinds: ["Service"]}]
    namespaces: ["gk-*"]
  parameters:
    labels: [{key: team}]
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: configmaps-dryrun
spec:
  enforcementAction: dryrun
  match:
    kinds: [{apiGroups: [""], kinds: ["ConfigMap"]}]
    namespaces: ["gk-*"]
  parameters:
    labels: [{key: team}]
`
	if out, err := kubectlIn(t, constraints, "apply", "-f", "-"); err != nil {
		t.Fatalf("creating the constraints: %v\n%s", err, out)
	}
	cleanup("k8srequiredlabels.constraints.gatekeeper.sh", "ns-must-have-owner", "deployments-must-have-team", "services-should-have-team", "configmaps-dryrun")

	// The webhook for every other kind (deploy/constraints/webhook.yaml),
	// for the length of this test.
	ca, err := os.ReadFile(live.env["CA_CERT"])
	if err != nil {
		t.Fatal(err)
	}
	wh, err := kg.webhookConfigurationsOf("../../deploy/constraints/webhook.yaml", ca)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := kubectlIn(t, wh, "apply", "-f", "-"); err != nil {
		t.Fatalf("registering the constraints webhook: %v\n%s", err, out)
	}
	cleanup("validatingwebhookconfiguration", "kguard-constraints")

	// A Namespace without the label is Forbidden with Gatekeeper's message:
	// one line per violation, here of the template's CEL (which Gatekeeper
	// runs first too; both of its validations fail).
	eventually(t, 60*time.Second, "a Namespace without owner is refused", func() (bool, string) {
		out, err := kubectl(t, "create", "namespace", "gk-e2e-unowned")
		return err != nil && strings.Contains(out, "admission webhook \"constraints.kguard.io\" denied the request: [ns-must-have-owner] missing required label, requires all of: owner\n[ns-must-have-owner] regex mismatch"), out
	})
	if out, err := kubectlIn(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: gk-e2e-owned, labels: {owner: e2e}}\n", "apply", "-f", "-"); err != nil {
		t.Errorf("a labelled Namespace: %v\n%s", err, out)
	}
	cleanup("namespace", "gk-e2e-owned")

	// A Deployment (through validate.kguard.io, the pod controllers' webhook).
	deploy := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: gk-e2e%s}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.k8s.io/pause:3.10}]
`
	out, err := kubectlIn(t, strings.Replace(deploy, "%s", "", 1), "apply", "-f", "-")
	if err == nil || !strings.Contains(out, `admission webhook "validate.kguard.io" denied the request: [deployments-must-have-team] missing required label, requires all of: team`) {
		t.Errorf("a Deployment without team: %v\n%s", err, out)
	}
	if out, err := kubectlIn(t, strings.Replace(deploy, "%s", ", labels: {team: a}", 1), "apply", "-f", "-"); err != nil {
		t.Errorf("a Deployment with team: %v\n%s", err, out)
	}

	// warn: created, with kubectl's warning (Services reach kguard through
	// validate.kguard.io).
	out, err = kubectlIn(t, "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: gk-e2e}\nspec: {ports: [{port: 80}]}\n", "apply", "-f", "-")
	if err != nil || !strings.Contains(out, `Warning: [services-should-have-team] missing required label, requires all of: team`) {
		t.Errorf("a Service under a warn constraint: %v\n%s", err, out)
	}
	// dryrun: created, no warning.
	out, err = kubectl(t, "create", "configmap", "-n", ns, "settings", "--from-literal=a=b")
	if err != nil || strings.Contains(out, "Warning") {
		t.Errorf("a ConfigMap under a dryrun constraint: %v\n%s", err, out)
	}

	// A constraint of the template that does not compile: its CRD does not
	// exist, so it cannot be created; the template's error is in its status
	// (checked above) and nothing is admitted by accident: a constraint
	// kind without a template has no CRD to create objects of.
	out, err = kubectlIn(t, "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sBroken\nmetadata: {name: b}\nspec: {}\n", "apply", "-f", "-")
	if err == nil {
		t.Errorf("a constraint of a template that does not compile was created:\n%s", out)
	}

	// A referential template (data.inventory): kguard syncs the Services the
	// template's requires-sync-data names and refuses a second Service with
	// the same selector in a namespace.
	mustKubectl(t, "apply", "-f", gkLibrary+"general/uniqueserviceselector/template.yaml")
	cleanup("constrainttemplates.templates.gatekeeper.sh", "k8suniqueserviceselector")
	eventually(t, 60*time.Second, "the unique-selector CRD", func() (bool, string) {
		out, err := kubectl(t, "wait", "--for=condition=Established", "--timeout=5s", "crd/k8suniqueserviceselector.constraints.gatekeeper.sh")
		return err == nil, out
	})
	if out, err := kubectlIn(t, "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sUniqueServiceSelector\nmetadata: {name: unique-service-selector}\nspec:\n  match:\n    kinds: [{apiGroups: [\"\"], kinds: [\"Service\"]}]\n    namespaces: [\"gk-*\"]\n", "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cleanup("k8suniqueserviceselector.constraints.gatekeeper.sh", "unique-service-selector")
	svc := "apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: gk-e2e, labels: {team: a}}\nspec: {selector: {app: shop}, ports: [{port: 80}]}\n"
	eventually(t, 60*time.Second, "a Service with a selector already taken is refused", func() (bool, string) {
		kubectlIn(t, strings.Replace(svc, "%s", "shop-a", 1), "apply", "-f", "-")
		out, err := kubectlIn(t, strings.Replace(svc, "%s", "shop-b", 1), "create", "--dry-run=server", "-f", "-")
		return err != nil && strings.Contains(out, "[unique-service-selector] same selector as service <shop-a> in namespace <gk-e2e>"), out
	})

	// Seed 004's plain Rego policy, loaded from a kube-mgmt ConfigMap of
	// kguard's namespace: a privileged pod that every other plugin admits
	// (the admin may use the privileged PodSecurityPolicy) is refused.
	if out, err := kubectlIn(t, crd(t, "../../examples/psp/policies/privileged-psp.yaml"), "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cleanup("podsecuritypolicies.kguard.io", "privileged")
	kubectl(t, "create", "namespace", "kguard")
	rego := `apiVersion: v1
kind: ConfigMap
metadata:
  name: seed004-no-privileged
  namespace: kguard
  labels: {openpolicyagent.org/policy: rego}
data:
  main.rego: |
    package kubernetes.admission

    deny[message] {
      input.request.kind.kind == "Pod"
      container := input.request.object.spec.containers[_]
      container.securityContext.privileged
      message := sprintf("privileged container %v is not allowed (seed 004)", [container.name])
    }
`
	if out, err := kubectlIn(t, rego, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cleanup("configmap", "-n", "kguard", "seed004-no-privileged")
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: priv, namespace: gk-e2e, labels: {team: a}}\nspec:\n  containers: [{name: c, image: registry.k8s.io/pause:3.10, securityContext: {privileged: true}}]\n"
	eventually(t, 60*time.Second, "seed 004's policy refuses a privileged pod", func() (bool, string) {
		out, err := kubectlIn(t, pod, "create", "--dry-run=server", "-f", "-")
		return err != nil && strings.Contains(out, "privileged container c is not allowed (seed 004)"), out
	})
	// A ConfigMap whose Rego does not compile is refused, as OPA refuses
	// what kube-mgmt loads: it stops neither the other policies from
	// updating nor the seed 004 rules from refusing.
	broken := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: broken-rego, namespace: kguard, labels: {openpolicyagent.org/policy: rego}}\n" +
		"data:\n  main.rego: |\n    package kubernetes.admission\n    deny[msg] {\n"
	if out, err := kubectlIn(t, broken, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cleanup("configmap", "-n", "kguard", "broken-rego")
	if out, err := kubectlIn(t, strings.Replace(rego, "(seed 004)", "(seed 004, second version)", 1), "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	eventually(t, 60*time.Second, "the seed 004 policy's new version refuses, beside a ConfigMap that does not compile", func() (bool, string) {
		out, err := kubectlIn(t, pod, "create", "--dry-run=server", "-f", "-")
		return err != nil && strings.Contains(out, "privileged container c is not allowed (seed 004, second version)"), out
	})
	eventually(t, 30*time.Second, "kube-mgmt's status annotation on both ConfigMaps", func() (bool, string) {
		bad, _ := kubectl(t, "get", "configmap", "-n", "kguard", "broken-rego", "-o", `jsonpath={.metadata.annotations.openpolicyagent\.org/kube-mgmt-status}`)
		good, _ := kubectl(t, "get", "configmap", "-n", "kguard", "seed004-no-privileged", "-o", `jsonpath={.metadata.annotations.openpolicyagent\.org/kube-mgmt-status}`)
		return strings.HasPrefix(bad, `{"error":{"message":"Rego policy does not compile`) && strings.HasSuffix(bad, `"status":"error"}`) &&
			good == `{"status":"ok"}`, bad + "\n" + good
	})

	// The component that installs all this renders, and the API server
	// accepts it (the caBundle filled in, as an install does).
	overlay := t.TempDir()
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(overlay, filepath.Join(wd, "../../deploy"))
	if err != nil {
		t.Fatal(err)
	}
	kustomization := "resources: [\"" + rel + "\"]\ncomponents: [\"" + rel + "/constraints\"]\n"
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(kustomization), 0o644); err != nil {
		t.Fatal(err)
	}
	rendered, err := kubectl(t, "kustomize", "--load-restrictor", "LoadRestrictionsNone", overlay)
	if err != nil || !strings.Contains(rendered, "--enable-admission-plugins=PodSecurityPolicy,PodSecurity,DenyEscalatingExec,Constraints") ||
		!strings.Contains(rendered, "name: constraints.kguard.io") {
		t.Fatalf("kubectl kustomize with deploy/constraints: %v\n%s", err, rendered)
	}
	manifests := regexp.MustCompile(`caBundle: .*`).ReplaceAllString(rendered, "caBundle: "+base64.StdEncoding.EncodeToString(ca))
	if out, err := kubectlIn(t, manifests, "apply", "--dry-run=server", "-f", "-"); err != nil {
		t.Errorf("the API server refuses deploy/ with deploy/constraints: %v\n%s", err, out)
	}
}
