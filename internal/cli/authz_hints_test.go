package cli

import (
	"strings"
	"testing"
)

// TestAuthzHints covers the messages a newcomer meets with real install
// bundles' RBAC: inputs in testdata/authz.
func TestAuthzHints(t *testing.T) {
	const bundle = "internal/cli/testdata/authz/bundle.yaml"
	cases := []struct {
		name    string
		args    []string
		code    int
		out     []string // substrings of stdout
		errText []string // substrings of stderr
		notErr  []string // must not be in stderr
	}{
		{
			name:    "a missing default role says how to add it",
			args:    []string{"authz", "can-i", "create", "tokenreviews.authentication.k8s.io", "--as", "system:serviceaccount:kube-system:metrics-server", "-f", bundle},
			code:    1,
			errText: []string{`ClusterRoleBinding "metrics-server:system:auth-delegator" grants nothing: clusterrole.rbac.authorization.k8s.io "system:auth-delegator" not found (a Kubernetes default role: add --default-roles)`},
			notErr:  []string{`"system:not-a-default" not found (a Kubernetes default role`},
		},
		{
			name:   "with --default-roles the role is there",
			args:   []string{"authz", "can-i", "create", "tokenreviews.authentication.k8s.io", "--as", "system:serviceaccount:kube-system:metrics-server", "-f", bundle, "--default-roles"},
			out:    []string{"yes"},
			notErr: []string{"system:auth-delegator"},
		},
		{
			name: "can-i --reason names bindings and ServiceAccounts namespace/name, as audit does",
			args: []string{"authz", "can-i", "get", "secrets", "-n", "metallb-system", "--as", "system:serviceaccount:metallb-system:controller", "-f", bundle, "--reason"},
			out:  []string{`yes - RBAC: allowed by RoleBinding "metallb-system/controller" of Role "controller" to ServiceAccount "metallb-system/controller"`},
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
			for _, want := range tc.errText {
				if !strings.Contains(errText, want) {
					fail("stderr lacks " + want)
				}
			}
			for _, unwanted := range tc.notErr {
				if strings.Contains(errText, unwanted) {
					fail("stderr has " + unwanted)
				}
			}
		})
	}
}
