package cli

import (
	"strings"
	"testing"
)

func TestAdmissionAuditCommand(t *testing.T) {
	policies := auditObjects + "/policies.yaml"
	list := `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: ok, namespace: ci}
  spec: {containers: [{name: c, image: busybox}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: root, namespace: ci}
  spec: {containers: [{name: c, image: busybox, securityContext: {privileged: true}}]}
`
	tests := []struct {
		name    string
		args    []string
		stdin   string
		code    int
		out     []string // substrings of stdout
		errText string   // substring of stderr
	}{
		{
			name:  "a kind: List dump from standard input",
			args:  []string{"audit", "--policy", policies, "-"},
			stdin: list,
			code:  1,
			out: []string{"ci         2        1\n",
				`ci Pod/root  PodSecurityPolicy: pods "root" is forbidden: unable to validate against any pod security policy: [spec.containers[0].securityContext.privileged: Invalid value: true`,
				"2 objects: 1 violations, 1 admitted"},
		},
		{
			name:  "no violation exits 0",
			args:  []string{"audit", "--policy", policies, "-"},
			stdin: strings.SplitAfter(list, "image: busybox}]}\n")[0],
			code:  0,
			out:   []string{"1 objects: 0 violations, 1 admitted"},
		},
		{
			name:  "Pod Security alone, as --pss sets it",
			args:  []string{"audit", "--pss", "baseline", "-"},
			stdin: list,
			code:  1,
			out:   []string{`ci Pod/root  PodSecurity: pods "root" is forbidden: violates PodSecurity "baseline:latest": privileged`},
		},
		{
			name:    "an unreadable object is bad input",
			args:    []string{"audit", "--pss", "baseline", "-"},
			stdin:   "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ci}\nspec: {containerz: []}\n",
			code:    2,
			out:     []string{"ci Pod/p  ERROR -:1: "},
			errText: "1 object could not be read",
		},
		{
			name:    "no objects",
			args:    []string{"audit", "-"},
			stdin:   "# nothing\n",
			code:    2,
			errText: "nothing to audit",
		},
		{
			name:    "--policy without objects is bad input",
			args:    []string{"audit", "--policy", "internal/cli/testdata/inputs/empty", "internal/cli/testdata/inputs/privileged-pod.yaml"},
			code:    2,
			errText: "nothing to read: no objects in --policy internal/cli/testdata/inputs/empty",
		},
		{
			name:    "--kubeconfig takes no files",
			args:    []string{"audit", "--kubeconfig", "/nonexistent", "x.yaml"},
			code:    2,
			errText: "give no files and no --policy",
		},
		{
			name:    "no input",
			args:    []string{"audit"},
			code:    2,
			errText: "nothing to read",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errText := run(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errText)
			}
			for _, want := range tc.out {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if !strings.Contains(errText, tc.errText) {
				t.Errorf("stderr lacks %q:\n%s", tc.errText, errText)
			}
		})
	}
}
