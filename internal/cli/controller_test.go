package cli

import (
	"strings"
	"testing"
)

// The controller's bad flags are usage errors, said before any cluster is read.
func TestControllerUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no cluster", want: "--kubeconfig FILE or --in-cluster"},
		{name: "two clusters", args: []string{"--kubeconfig", "x", "--in-cluster"}, want: "exclusive"},
		{name: "no results", args: []string{"--kubeconfig", "x", "--report-max-results", "0"}, want: "--report-max-results 0"},
		{name: "no interval", args: []string{"--kubeconfig", "x", "--audit-interval", "0s"}, want: "must be positive"},
		{name: "no tenant interval", args: []string{"--kubeconfig", "x", "--tenant-interval", "0s"}, want: "--tenant-interval must be positive"},
		{name: "default roles", args: []string{"--kubeconfig", "x", "--default-roles"}, want: "files mode"},
		{name: "unknown plugin", args: []string{"--kubeconfig", "x", "--enable-admission-plugins", "Nope"}, want: "Nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, "", append([]string{"controller", "--metrics-address", "127.0.0.1:0"}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}
