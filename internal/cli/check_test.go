package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckCommand(t *testing.T) {
	fake := "system:serviceaccount:psp-example:fake-user"
	cases := []struct {
		name    string
		args    []string
		code    int
		out     string
		errText string
	}{
		{"walkthrough: no use grant", []string{"check", "--policy", "examples/psp/policies", "--as", fake, "examples/psp/pods/pause.yaml"}, 1,
			`pods "pause" is forbidden: no providers available to validate pod request`, ""},
		{"walkthrough: granted", []string{"check", "--policy", "examples/psp/policies", "--policy", "examples/psp/grant", "--as", fake, "examples/psp/pods/pause.yaml"}, 0,
			"admitted by PodSecurityPolicy example", ""},
		{"walkthrough: privileged denied", []string{"check", "--policy", "examples/psp/policies", "--policy", "examples/psp/grant", "--as", fake, "examples/psp/pods/privileged.yaml"}, 1,
			`pods "privileged" is forbidden: unable to validate against any pod security policy: [spec.containers[0].securityContext.privileged: Invalid value: true: Privileged containers are not allowed]`, ""},
		{"deployment checked through its template", []string{"check", "--policy", "examples/psp/policies", "--policy", "examples/psp/grant", "--as", fake, "-"}, 1,
			"spec.template.spec.containers[0].securityContext.privileged", ""},
		{"pss restricted", []string{"check", "--pss", "restricted", "examples/psp/pods/restricted-ok.yaml"}, 0, "Pod psp-example/hardened: admitted", ""},
		{"not evaluated kinds", []string{"check", "--pss", "restricted", "examples/psp/pods/restricted-ok.yaml"}, 0, "ConfigMap psp-example/app-config: not evaluated (no pod)", ""},
		{"pss denies", []string{"check", "--pss", "baseline:v1.30", "examples/psp/pods/privileged.yaml"}, 1, `violates PodSecurity "baseline:v1.30"`, ""},
		{"pss exempt namespace", []string{"check", "--pss", "restricted", "--pss-exempt-namespace", "psp-example", "examples/psp/pods/privileged.yaml"}, 0, "admitted", ""},
		{"bad pss level", []string{"check", "--pss", "paranoid", "examples/psp/pods"}, 2, "", "--pss"},
		{"unknown plugin", []string{"check", "--enable-admission-plugins", "AlwaysPullImages", "examples/psp/pods"}, 2, "", "unknown admission plugin"},
		{"old workload version", []string{"check", "-"}, 2, "", "use apps/v1"},
		{"invalid psp", []string{"check", "--policy", "-", "examples/psp/pods"}, 2, "", "spec.runAsUser.ranges"},
	}
	stdin := map[string]string{
		"deployment checked through its template": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: psp-example}\nspec:\n  selector: {}\n  template:\n    spec:\n      containers: [{name: c, image: i, securityContext: {privileged: true}}]\n",
		"old workload version":                    "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: d}\n",
		"invalid psp":                             "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: bad}\nspec:\n  seLinux: {rule: RunAsAny}\n  runAsUser: {rule: MustRunAs}\n  supplementalGroups: {rule: RunAsAny}\n  fsGroup: {rule: RunAsAny}\n",
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errText := run(t, stdin[tc.name], tc.args...)
			if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errText, tc.errText) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout %q, stderr %q", code, tc.code, out, errText, tc.out, tc.errText)
			}
		})
	}
}

func TestCheckRestrictedPSPPatch(t *testing.T) {
	grant := "kind: ClusterRole\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: u}\nrules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use]}]\n---\nkind: ClusterRoleBinding\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: u}\nsubjects: [{kind: Group, name: 'system:authenticated'}]\nroleRef: {kind: ClusterRole, name: u, apiGroup: rbac.authorization.k8s.io}\n"
	code, out, errText := run(t, grant, "check", "--policy", "examples/psp/policies/restricted-psp.yaml", "--policy", "-", "-o", "json", "examples/psp/pods/restricted-ok.yaml")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errText)
	}
	var doc struct {
		Results []struct {
			Response *struct {
				Allowed bool   `json:"allowed"`
				Patch   []byte `json:"patch"`
			} `json:"response"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	patch := string(doc.Results[0].Response.Patch)
	for _, want := range []string{`"path":"/metadata/annotations"`, `"kubernetes.io/psp":"restricted"`, `/spec/securityContext/fsGroup`, `/spec/securityContext/supplementalGroups`} {
		if !strings.Contains(patch, want) {
			t.Fatalf("patch lacks %s: %s", want, patch)
		}
	}
}

func TestPSPMigrateCommand(t *testing.T) {
	code, out, errText := run(t, "", "psp", "migrate", "examples/psp/tenant", "--workloads", "examples/psp/pods")
	if code != 0 || !strings.Contains(out, `PodSecurityPolicy tenant → Pod Security Standard "privileged"`) ||
		!strings.Contains(out, "Pod psp-example/hardened (examples/psp/pods/restricted-ok.yaml:1): meets restricted") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errText)
	}
	code, out, _ = run(t, "", "psp", "migrate", "-o", "json", "examples/psp/policies/restricted-psp.yaml")
	if code != 0 || !strings.Contains(out, `"policy": "restricted"`) || !strings.Contains(out, `"check": "seLinuxOptions"`) {
		t.Fatalf("json: exit %d\n%s", code, out)
	}
	if code, _, errText := run(t, "", "psp", "migrate", "examples/rbac"); code != 2 || !strings.Contains(errText, "no PodSecurityPolicy") {
		t.Fatalf("no policies: exit %d %s", code, errText)
	}
}
