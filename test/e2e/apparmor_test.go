//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// A policy's default AppArmor profile is set as the annotation (v1.24) and as
// the appArmorProfile field: kube-apiserver >= 1.30 then has nothing to sync
// and prints no "deprecated since v1.30" warning for an annotation the user
// never wrote, and both say the same.
func TestAppArmorDefaultWithoutDeprecationWarning(t *testing.T) {
	defer kguardLogs(t)
	policy := strings.Replace(crd(t, "../../examples/psp/policies/restricted-psp.yaml"), "name: restricted", "name: e2e-apparmor", 1)
	if out, err := kubectlIn(t, policy, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "podsecuritypolicies.kguard.io", "e2e-apparmor", "--ignore-not-found") })
	ns := "e2e-apparmor"
	testNamespace(t, ns)
	mustKubectl(t, "create", "serviceaccount", "-n", ns, "deployer")
	mustKubectl(t, "create", "rolebinding", "-n", ns, "deployer-edit", "--clusterrole=edit", "--serviceaccount="+ns+":deployer")
	grant := `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: use-e2e-apparmor, namespace: ` + ns + `}
rules: [{apiGroups: [kguard.io], resources: [podsecuritypolicies], resourceNames: [e2e-apparmor], verbs: [use]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: use-e2e-apparmor, namespace: ` + ns + `}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: use-e2e-apparmor}
subjects: [{kind: ServiceAccount, name: deployer, namespace: ` + ns + `}]
`
	if out, err := kubectlIn(t, grant, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"securityContext":{"runAsUser":1000,"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},` +
		`"containers":[{"name":"c","image":"k8s.gcr.io/pause","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`
	var out string
	eventually(t, 30*time.Second, "the pod is admitted under the policy", func() (bool, string) {
		var err error
		out, err = kubectlIn(t, pod, "-n", ns, "--as=system:serviceaccount:"+ns+":deployer", "create", "-f", "-")
		return err == nil, out
	})
	if strings.Contains(out, "deprecated") {
		t.Errorf("kubectl printed a deprecation warning:\n%s", out)
	}
	got := mustKubectl(t, "-n", ns, "get", "pod", "web", "-o",
		`jsonpath={.metadata.annotations.kubernetes\.io/psp} {.metadata.annotations.container\.apparmor\.security\.beta\.kubernetes\.io/c} {.spec.containers[0].securityContext.appArmorProfile.type}`)
	if got != "e2e-apparmor runtime/default RuntimeDefault" {
		t.Errorf("policy, annotation and field = %q, want \"e2e-apparmor runtime/default RuntimeDefault\"", got)
	}
}
