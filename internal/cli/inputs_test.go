package cli

import (
	"strings"
	"testing"
)

// TestRealWorldInputs drives kguard with the shapes of real install bundles:
// JSON streams, bundles of every kind, objects without a namespace, cluster-scoped
// objects with one, and extensions/v1beta1 PodSecurityPolicies.
func TestRealWorldInputs(t *testing.T) {
	const dir = "internal/cli/testdata/inputs/"
	cases := []struct {
		name    string
		args    []string
		code    int
		out     []string // substrings of stdout
		errText []string // substrings of stderr
	}{
		{
			name: "check reads every object of a JSON stream",
			args: []string{"check", "--pss", "baseline", dir + "flannel.json"},
			code: 1,
			out:  []string{dir + "flannel.json:9: DaemonSet kube-system/kube-flannel-ds: DENIED", "0 admitted, 1 denied, 1 not evaluated"},
		},
		{
			name:    "audit reads every object of a JSON stream and skips kinds it does not use",
			args:    []string{"authz", "audit", "-n", "argocd", "-f", dir + "argocd-rbac.json"},
			code:    1,
			out:     []string{"CRITICAL", "ServiceAccount argocd/argocd-application-controller"},
			errText: []string{"note: skipped 2 objects of kinds authz does not use: v1 ConfigMap, apiextensions.k8s.io/v1 CustomResourceDefinition"},
		},
		{
			name:    "trailing garbage after a JSON object names file and line",
			args:    []string{"authz", "audit", "-f", dir + "trailing.json"},
			code:    2,
			errText: []string{dir + "trailing.json:3: invalid JSON after the object on line 1"},
		},
		{
			name:    "audit -n gives namespaceless objects the namespace",
			args:    []string{"authz", "audit", "-n", "argocd", "-f", dir + "argocd-namespaced.yaml"},
			code:    1,
			out:     []string{"RoleBinding argocd/argocd-server"},
			errText: []string{"v1 DaemonSet"},
		},
		{
			name:    "audit without -n refuses namespaceless objects and says how",
			args:    []string{"authz", "audit", "-f", dir + "argocd-namespaced.yaml"},
			code:    2,
			errText: []string{dir + `argocd-namespaced.yaml:1: ServiceAccount "argocd-server" has no metadata.namespace`, "-n NAMESPACE"},
		},
		{
			name: "who-can -n is the namespace of namespaceless objects too",
			args: []string{"authz", "who-can", "get", "secrets", "-n", "argocd", "-f", dir + "argocd-namespaced.yaml"},
			code: 0,
			out:  []string{"User  jane     RoleBinding argocd/argocd-server"},
		},
		{
			name:    "audit with no input has nothing to read",
			args:    []string{"authz", "audit"},
			code:    2,
			errText: []string{"nothing to read"},
		},
		{
			name:    "audit of an empty directory has nothing to read",
			args:    []string{"authz", "audit", "-f", dir + "empty"},
			code:    2,
			errText: []string{"nothing to read: no objects in -f " + dir + "empty"},
		},
		{
			name: "check --policy: extensions/v1beta1 PSP, bound by a namespaceless RoleBinding in -n",
			args: []string{"check", "--policy", dir + "psp", "-n", "apps", dir + "privileged-pod.yaml", dir + "nonroot-pod.yaml"},
			code: 1,
			out: []string{
				"Pod apps/privileged: DENIED: pods \"privileged\" is forbidden: unable to validate against any pod security policy",
				"Pod apps/nonroot: admitted by PodSecurityPolicy restricted",
				"plugins: PodSecurityPolicy,PodSecurity",
			},
		},
		{
			name: "check --policy: cluster-scoped objects with a namespace are accepted with a warning",
			args: []string{"check", "--policy", dir + "psp-with-namespace.yaml", dir + "privileged-pod.yaml", dir + "nonroot-pod.yaml"},
			code: 1,
			out:  []string{"Pod default/privileged: DENIED", "Pod default/nonroot: admitted by PodSecurityPolicy ingress-nginx"},
			errText: []string{
				`warning: ` + dir + `psp-with-namespace.yaml:1: PodSecurityPolicy "ingress-nginx" is cluster-scoped: its metadata.namespace "ingress-nginx" is ignored`,
				`warning: ` + dir + `psp-with-namespace.yaml:17: ClusterRoleBinding "ingress-nginx-psp" is cluster-scoped`,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errText := run(t, "", tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errText)
			}
			for _, want := range tc.out {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			for _, want := range tc.errText {
				if !strings.Contains(errText, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errText)
				}
			}
		})
	}
}
