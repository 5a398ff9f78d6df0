package cli

import (
	"strings"
	"testing"
)

// The example chain keeps showing its two-hop path, and the flags select
// and refuse as documented.
func TestAuthzPaths(t *testing.T) {
	const chain = "examples/paths/chain.yaml"
	cases := []struct {
		name    string
		args    []string
		code    int
		out     []string // lines of stdout, in order
		errText string
	}{
		{"example chain", []string{"-f", chain, "--from", "dev"}, 1, []string{
			`CRITICAL  User "dev" -> cluster-admin`,
			`  1. create pods in namespace "ci" (RoleBinding ci/dev-edit -> ClusterRole pod-runner) => ServiceAccount ci/deployer`,
			`  2. bind ClusterRole cluster-admin and create clusterrolebindings (ClusterRoleBinding deployer-crb -> ClusterRole crb-maker) => cluster-admin`,
			`1 paths: 1 critical, 0 high, 0 info`}, ""},
		{"to nodes", []string{"-f", chain, "--from", "dev", "--to", "nodes"}, 1, []string{
			`HIGH      User "dev" -> nodes`,
			`  1. create pods (privileged) in namespace "ci" (RoleBinding ci/dev-edit -> ClusterRole pod-runner; a privileged pod is admitted: namespace "ci" enforces Pod Security "privileged:latest" (the cluster default)) => nodes`}, ""},
		{"through a group", []string{"-f", chain, "--from", "alice", "--from-group", "oncall", "--to", "secrets"}, 1, []string{
			`HIGH      User "alice" -> secrets`,
			`  1. create pods/exec in namespace "ops" (RoleBinding ops/oncall-exec -> Role ops/exec; as a member of Group "oncall") => ServiceAccount ops/runner`}, ""},
		{"fail only on critical", []string{"-f", chain, "--from", "group:oncall", "--to", "nodes", "--fail-on", "critical"}, 0, []string{`HIGH      Group "oncall" -> nodes`}, ""},
		{"nobody", []string{"-f", chain, "--from", "system:anonymous"}, 0, []string{"no escalation paths found"}, ""},
		{"default roles alone are quiet", []string{"--default-roles"}, 0, []string{"no escalation paths found"}, ""},
		{"unknown target", []string{"-f", chain, "--to", "root"}, 2, nil, `--to: unknown target "root"`},
		{"groups without user", []string{"-f", chain, "--from-group", "x"}, 2, nil, "--from-group needs --from"},
		{"nothing to read", nil, 2, nil, "nothing to read"},
		{"an empty directory is nothing to read, not no paths", []string{"-f", "internal/cli/testdata/inputs/empty"}, 2, nil, "nothing to read: no objects in -f internal/cli/testdata/inputs/empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errText := run(t, "", append([]string{"authz", "paths"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errText)
			}
			rest := out
			for _, line := range tc.out {
				i := strings.Index(rest, line+"\n")
				if i < 0 {
					t.Fatalf("stdout lacks, in order, %q:\n%s", line, out)
				}
				rest = rest[i+len(line):]
			}
			if tc.errText != "" && !strings.Contains(errText, tc.errText) {
				t.Errorf("stderr %q lacks %q", errText, tc.errText)
			}
		})
	}
}

// Pods reach node root only where kguard's admission chain admits a
// node-root pod of the subject: a restricted namespace, --pss or a
// restricted PodSecurityPolicy keep the grant from nodes, and -v says why.
func TestAuthzPathsAdmission(t *testing.T) {
	const (
		chain      = "examples/paths/chain.yaml"
		restricted = "internal/cli/testdata/paths/ns-ci-restricted.yaml"
		psp        = "internal/cli/testdata/paths/psp-restricted.yaml"
	)
	refusedCI := `NO NODE   User "dev": create pods (privileged) in namespace "ci" (RoleBinding ci/dev-edit -> ClusterRole pod-runner; no pod that is node root is admitted in namespace "ci": a privileged pod: pods "kguard-probe-privileged" is forbidden: `
	cases := []struct {
		name string
		args []string
		want []string // in stdout
		not  []string // not in stdout
	}{
		{"restricted namespace", []string{"-f", chain, "-f", restricted, "-v"},
			[]string{refusedCI + `violates PodSecurity "restricted:latest": privileged`}, []string{`create pods (privileged) in namespace "ci" (RoleBinding ci/dev-edit -> ClusterRole pod-runner; a privileged`}},
		{"counted without -v", []string{"-f", chain, "-f", restricted},
			[]string{"(1 grants to create pods reach no node: admission refuses node-root pods; -v lists them)"}, []string{"NO NODE"}},
		{"--pss restricted", []string{"-f", chain, "--pss", "restricted", "-v"},
			[]string{refusedCI + `violates PodSecurity "restricted:latest"`}, nil},
		{"--pss-exempt-namespace", []string{"-f", chain, "-f", restricted, "--pss-exempt-namespace", "ci"},
			[]string{`a privileged pod is admitted: exempt from Pod Security (namespace)`}, nil},
		{"a restricted PodSecurityPolicy", []string{"-f", chain, "-f", psp, "-v"},
			[]string{refusedCI + "unable to validate against any pod security policy: [spec.containers[0].securityContext.privileged: Invalid value: true: Privileged containers are not allowed]"}, nil},
		{"--enable-admission-plugins without PodSecurityPolicy", []string{"-f", chain, "-f", psp, "--enable-admission-plugins", "PodSecurity"},
			[]string{`a privileged pod is admitted: namespace "ci" enforces Pod Security "privileged:latest" (the cluster default)`}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, out, errText := run(t, "", append([]string{"authz", "paths", "--from", "dev", "--to", "nodes"}, tc.args...)...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s\nstderr:\n%s", w, out, errText)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("stdout has %q:\n%s", n, out)
				}
			}
		})
	}
}
