package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
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
		{"walkthrough: no use grant", []string{"check", "--policy", "internal/cli/testdata/examples/psp/policies", "--as", fake, "internal/cli/testdata/examples/psp/pods/pause.yaml"}, 1,
			`pods "pause" is forbidden: no providers available to validate pod request`, ""},
		{"walkthrough: granted", []string{"check", "--policy", "internal/cli/testdata/examples/psp/policies", "--policy", "internal/cli/testdata/examples/psp/grant", "--as", fake, "internal/cli/testdata/examples/psp/pods/pause.yaml"}, 0,
			"admitted by PodSecurityPolicy example", ""},
		{"walkthrough: privileged denied", []string{"check", "--policy", "internal/cli/testdata/examples/psp/policies", "--policy", "internal/cli/testdata/examples/psp/grant", "--as", fake, "internal/cli/testdata/examples/psp/pods/privileged.yaml"}, 1,
			`pods "privileged" is forbidden: unable to validate against any pod security policy: [spec.containers[0].securityContext.privileged: Invalid value: true: Privileged containers are not allowed]`, ""},
		{"deployment checked through its template", []string{"check", "--policy", "internal/cli/testdata/examples/psp/policies", "--policy", "internal/cli/testdata/examples/psp/grant", "--as", fake, "-"}, 1,
			"spec.template.spec.containers[0].securityContext.privileged", ""},
		{"pss restricted", []string{"check", "--pss", "restricted", "internal/cli/testdata/examples/psp/pods/restricted-ok.yaml"}, 0, "Pod psp-example/hardened: admitted", ""},
		{"not evaluated kinds", []string{"check", "--pss", "restricted", "--show-skipped", "internal/cli/testdata/examples/psp/pods/restricted-ok.yaml"}, 0, "ConfigMap psp-example/app-config: not evaluated (no pod)", ""},
		{"pss denies", []string{"check", "--pss", "baseline:v1.30", "internal/cli/testdata/examples/psp/pods/privileged.yaml"}, 1, `violates PodSecurity "baseline:v1.30"`, ""},
		{"pss exempt namespace", []string{"check", "--pss", "restricted", "--pss-exempt-namespace", "psp-example", "internal/cli/testdata/examples/psp/pods/privileged.yaml"}, 0, "admitted", ""},
		{"bad pss level", []string{"check", "--pss", "paranoid", "internal/cli/testdata/examples/psp/pods"}, 2, "", "--pss"},
		{"unknown plugin", []string{"check", "--enable-admission-plugins", "NoSuchPlugin", "internal/cli/testdata/examples/psp/pods"}, 2, "", "unknown admission plugin"},
		{"old workload version", []string{"check", "-"}, 2, "ERROR -:1 Deployment d: extensions/v1beta1 Deployment is not supported (use apps/v1)", "1 object could not be read"},
		{"invalid psp", []string{"check", "--policy", "-", "internal/cli/testdata/examples/psp/pods"}, 2, "", "spec.runAsUser.ranges"},
		{"tenant's required labels added", []string{"check", "--policy", "internal/cli/testdata/check/tenant-labels.yaml", "-"}, 0,
			"ConfigMap c-dev/settings: admitted\n  mutated: add /metadata/labels = {\"example.com/cost-center\":\"cc-1\",\"team\":\"c\"}", ""},
		{"tenant's required label with another value", []string{"check", "--policy", "internal/cli/testdata/check/tenant-labels.yaml", "-"}, 1,
			`configmaps "settings" is forbidden: tenant "team-c": metadata.labels[team]: Invalid value: "b"`, ""},
	}
	stdin := map[string]string{
		"deployment checked through its template":    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: psp-example}\nspec:\n  selector: {}\n  template:\n    spec:\n      containers: [{name: c, image: i, securityContext: {privileged: true}}]\n",
		"old workload version":                       "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: d}\n",
		"tenant's required labels added":             "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: c-dev}\n",
		"tenant's required label with another value": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: c-dev, labels: {team: b}}\n",
		"invalid psp": "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: bad}\nspec:\n  seLinux: {rule: RunAsAny}\n  runAsUser: {rule: MustRunAs}\n  supplementalGroups: {rule: RunAsAny}\n  fsGroup: {rule: RunAsAny}\n",
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

// TestCheckInstallBundles covers what a newcomer meets running check on real
// install bundles (flannel, PSP-era charts): inputs in testdata/check.
func TestCheckInstallBundles(t *testing.T) {
	const dir = "internal/cli/testdata/check/"
	cases := []struct {
		name    string
		args    []string
		code    int
		out     []string // substrings of stdout
		notOut  []string // must not be in stdout
		errText string   // substring of stderr
		errOnce string   // must be in stderr exactly once
	}{
		{
			name:   "objects without a pod are counted, not listed",
			args:   []string{"check", "--pss", "baseline", dir + "flannel.yaml"},
			out:    []string{"3 objects carry no pod and were not evaluated; --show-skipped lists them", "1 admitted, 0 denied, 3 not evaluated"},
			notOut: []string{"not evaluated (no pod)"},
		},
		{
			name:   "--show-skipped lists them",
			args:   []string{"check", "--pss", "baseline", "--show-skipped", dir + "flannel.yaml"},
			out:    []string{dir + "flannel.yaml:10: ServiceAccount kube-flannel/flannel: not evaluated (no pod)", "Namespace kube-flannel: not evaluated (no pod)"},
			notOut: []string{"--show-skipped lists them"},
		},
		{
			name: "-f is the positional argument, repeatable",
			args: []string{"check", "--pss", "baseline", "-f", dir + "flannel.yaml", "--filename", dir + "pod.yaml"},
			out:  []string{"DaemonSet kube-flannel/kube-flannel-ds: admitted", "Pod apps/app: admitted", "2 admitted"},
		},
		{
			name:    "no manifests at all",
			args:    []string{"check", "--pss", "baseline"},
			code:    2,
			errText: "nothing to read: give the manifests",
		},
		{
			name:    "a directory without objects",
			args:    []string{"check", "internal/cli/testdata/inputs/empty"},
			code:    2,
			errText: "nothing to read: no objects in internal/cli/testdata/inputs/empty",
			notOut:  []string{"admitted"},
		},
		{
			name:    "--policy without objects is bad input, not an empty policy set",
			args:    []string{"check", "--policy", "internal/cli/testdata/inputs/empty", "internal/cli/testdata/inputs/privileged-pod.yaml"},
			code:    2,
			errText: "nothing to read: no objects in --policy internal/cli/testdata/inputs/empty",
			notOut:  []string{"admitted"},
		},
		{
			name:    "--pss with plugins that leave PodSecurity out is a conflict, not ignored",
			args:    []string{"check", "--pss", "restricted", "--enable-admission-plugins", "Constraints", "internal/cli/testdata/inputs/privileged-pod.yaml"},
			code:    2,
			errText: "--pss and --pss-exempt-* configure the PodSecurity plugin, which --enable-admission-plugins Constraints leaves out",
			notOut:  []string{"admitted"},
		},
		{
			name: "the bundle's own Namespace gives its Pod Security labels",
			args: []string{"check", "--pss", "baseline", dir + "flannel.yaml"},
			out:  []string{"DaemonSet kube-flannel/kube-flannel-ds: admitted", `warning: would violate PodSecurity "baseline:latest"`},
		},
		{
			name: "a --policy Namespace wins over the bundle's",
			args: []string{"check", "--pss", "privileged", "--policy", dir + "baseline-namespace.yaml", dir + "flannel.yaml"},
			code: 1,
			out:  []string{`DaemonSet kube-flannel/kube-flannel-ds: DENIED: daemonsets.apps "kube-flannel-ds" is forbidden: violates PodSecurity "baseline:latest"`},
		},
		{
			name: "PSP mutations are printed one operation a line",
			args: []string{"check", "--policy", dir + "psp.yaml", dir + "pod.yaml"},
			out: []string{"Pod apps/app: admitted by PodSecurityPolicy uid1000\n",
				"  mutated: add /spec/containers/0/securityContext = {\"runAsUser\":1000}\n",
				"  mutated: add /metadata/annotations = {\"kubernetes.io/psp\":\"uid1000\"}\n"},
		},
		{
			name: "no providers says how to name who may use a policy",
			args: []string{"check", "--policy", dir + "psp-only.yaml", "--as", "jane", dir + "pod.yaml"},
			code: 1,
			out:  []string{"no providers available to validate pod request", "hint:", "(jane; set it with --as and --as-group)", "spec.serviceAccountName", "in namespace apps"},
		},
		{
			name: "no providers for a Deployment's pods names the controller that creates them",
			args: []string{"check", "--policy", dir + "psp-only.yaml", "--as", "jane", dir + "deployment.yaml"},
			code: 1,
			out: []string{"no providers available to validate pod request", "hint:",
				"the controller that creates a Deployment's pods (system:serviceaccount:kube-system:replicaset-controller)", "in namespace apps"},
		},
		{
			name:    "a bad --pss level is reported once",
			args:    []string{"check", "--pss", "strict", dir + "pod.yaml"},
			code:    2,
			errOnce: `unknown level "strict"`,
		},
		{
			name:    "a bad --pss version is reported once",
			args:    []string{"check", "--pss", "baseline:1.30", dir + "pod.yaml"},
			code:    2,
			errOnce: `unknown version "1.30"`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errText := run(t, "", tc.args...)
			fail := func(why string) {
				t.Helper()
				t.Fatalf("%s\nexit %d (want %d)\nstdout: %s\nstderr: %s", why, code, tc.code, out, errText)
			}
			if code != tc.code {
				fail("wrong exit status")
			}
			for _, want := range tc.out {
				if !strings.Contains(out, want) {
					fail("stdout lacks " + want)
				}
			}
			for _, unwanted := range tc.notOut {
				if strings.Contains(out, unwanted) {
					fail("stdout has " + unwanted)
				}
			}
			if !strings.Contains(errText, tc.errText) {
				fail("stderr lacks " + tc.errText)
			}
			if tc.errOnce != "" && strings.Count(errText, tc.errOnce) != 1 {
				fail("stderr does not say " + tc.errOnce + " exactly once")
			}
		})
	}
}

func TestCheckRestrictedPSPPatch(t *testing.T) {
	grant := "kind: ClusterRole\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: u}\nrules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use]}]\n---\nkind: ClusterRoleBinding\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: u}\nsubjects: [{kind: Group, name: 'system:authenticated'}]\nroleRef: {kind: ClusterRole, name: u, apiGroup: rbac.authorization.k8s.io}\n"
	code, out, errText := run(t, grant, "check", "--policy", "internal/cli/testdata/examples/psp/policies/restricted-psp.yaml", "--policy", "-", "-o", "json", "internal/cli/testdata/examples/psp/pods/restricted-ok.yaml")
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
	code, out, errText := run(t, "", "psp", "migrate", "internal/cli/testdata/examples/psp/tenant", "--workloads", "internal/cli/testdata/examples/psp/pods")
	if code != 0 || !strings.Contains(out, `PodSecurityPolicy tenant → Pod Security Standard "privileged"`) ||
		!strings.Contains(out, "Pod psp-example/hardened (internal/cli/testdata/examples/psp/pods/restricted-ok.yaml:1): meets restricted") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errText)
	}
	code, out, _ = run(t, "", "psp", "migrate", "-o", "json", "internal/cli/testdata/examples/psp/policies/restricted-psp.yaml")
	if code != 0 || !strings.Contains(out, `"policy": "restricted"`) || !strings.Contains(out, `"check": "seLinuxOptions"`) {
		t.Fatalf("json: exit %d\n%s", code, out)
	}
	if code, _, errText := run(t, "", "psp", "migrate", "internal/cli/testdata/examples/rbac"); code != 2 || !strings.Contains(errText, "no PodSecurityPolicy") {
		t.Fatalf("no policies: exit %d %s", code, errText)
	}
	// Workloads asked for and none graded is said, not a report without them.
	const restricted = "internal/cli/testdata/examples/psp/policies/restricted-psp.yaml"
	if code, out, errText := run(t, "", "psp", "migrate", restricted, "--workloads", "internal/cli/testdata/inputs/empty"); code != 2 ||
		!strings.Contains(errText, "nothing to read: no objects in --workloads internal/cli/testdata/inputs/empty") {
		t.Fatalf("--workloads without objects: exit %d\n%s\n%s", code, out, errText)
	}
	policyAndPod, err := os.ReadFile(filepath.Join("testdata", "examples", "psp", "policies", "restricted-psp.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pod := "\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec: {containers: [{name: c, image: busybox}]}\n"
	if code, out, errText := run(t, string(policyAndPod)+pod, "psp", "migrate", "-", "--workloads", "-"); code != 2 ||
		!strings.Contains(errText, "stdin") {
		t.Fatalf("- twice: exit %d\n%s\n%s", code, out, errText)
	}
}

// One object kguard cannot read (cert-manager v0.6.0's apps/v1beta1
// Deployment) is an error for that object: the rest is judged all the same,
// and the exit status is 2 even when something is also denied.
func TestCheckUnreadableObject(t *testing.T) {
	const file = "internal/cli/testdata/check/unreadable.yaml"
	t.Run("text", func(t *testing.T) {
		code, out, errText := run(t, "", "check", "--pss", "baseline", file)
		for _, want := range []string{
			"ERROR " + file + ":1 Deployment cert-manager/cert-manager: apps/v1beta1 Deployment is not supported (use apps/v1)\n",
			file + ":19: Pod cert-manager/debug: DENIED: ",
			"0 admitted, 1 denied, 1 unreadable, 0 not evaluated",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("stdout lacks %q", want)
			}
		}
		if code != 2 || !strings.Contains(errText, "1 object could not be read") {
			t.Errorf("exit %d (want 2), stderr %q", code, errText)
		}
		if t.Failed() {
			t.Logf("stdout:\n%s", out)
		}
	})
	t.Run("json", func(t *testing.T) {
		code, out, errText := run(t, "", "check", "--pss", "baseline", "-o", "json", file)
		if code != 2 {
			t.Fatalf("exit %d (want 2)\n%s\n%s", code, out, errText)
		}
		var doc struct {
			Results []struct {
				Kind      string `json:"kind"`
				Evaluated bool   `json:"evaluated"`
				Error     string `json:"error"`
				Response  *struct {
					Allowed bool `json:"allowed"`
				} `json:"response"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Results) != 2 {
			t.Fatalf("%d results, want 2: %s", len(doc.Results), out)
		}
		if d := doc.Results[0]; d.Kind != "Deployment" || d.Evaluated || d.Response != nil || !strings.Contains(d.Error, "use apps/v1") {
			t.Errorf("deployment: %+v", d)
		}
		if p := doc.Results[1]; p.Kind != "Pod" || !p.Evaluated || p.Error != "" || p.Response == nil || p.Response.Allowed {
			t.Errorf("pod: %+v", p)
		}
	})
	t.Run("sarif", func(t *testing.T) {
		code, out, _ := run(t, "", "check", "--pss", "baseline", "-o", "sarif", file)
		if code != 2 {
			t.Fatalf("exit %d (want 2)\n%s", code, out)
		}
		for _, want := range []string{`"ruleId": "kguard.check.unreadable"`, `"ruleId": "kguard.check.denied"`, "Deployment cert-manager: apps/v1beta1 Deployment is not supported"} {
			if !strings.Contains(out, want) {
				t.Errorf("sarif lacks %s:\n%s", want, out)
			}
		}
	})
	t.Run("psp migrate --workloads", func(t *testing.T) {
		code, out, errText := run(t, "", "psp", "migrate", "internal/cli/testdata/examples/psp/policies/restricted-psp.yaml", "--workloads", file)
		if code != 2 || !strings.Contains(out, "ERROR Deployment cert-manager/cert-manager ("+file+":1): apps/v1beta1 Deployment is not supported") ||
			!strings.Contains(out, "Pod cert-manager/debug ("+file+":19): meets privileged") {
			t.Fatalf("exit %d (want 2)\n%s\n%s", code, out, errText)
		}
	})
}
