package migrate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kguard/kguard/internal/policy"
)

// planFile plans the one policy of a testdata file.
func planFile(t *testing.T, name string) *PolicyPlan {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := policy.Read(f, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.PodSecurityPolicies) != 1 {
		t.Fatalf("%s: %d policies, want 1", name, len(s.PodSecurityPolicies))
	}
	pl, err := NewPlanner("latest")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pl.PlanPolicy(context.Background(), s.PodSecurityPolicies[0])
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

func TestPlanPolicyLevels(t *testing.T) {
	tests := []struct {
		file  string
		level string
		// because are checks of the next stricter level the plan must name.
		because []string
	}{
		{file: "restricted-selinux.yaml", level: "restricted"},
		// The documentation's restricted policy leaves SELinux at RunAsAny.
		{file: "restricted-docs.yaml", level: "privileged", because: []string{"seLinuxOptions"}},
		{file: "restricted-hostpath.yaml", level: "privileged", because: []string{"hostPath volumes", "hostPort"}},
		{file: "net-admin.yaml", level: "privileged", because: []string{"non-default capabilities"}},
		{file: "somaxconn.yaml", level: "privileged", because: []string{"forbidden sysctls"}},
		{file: "net-glob.yaml", level: "privileged", because: []string{"forbidden sysctls"}},
		{file: "baseline-docs.yaml", level: "privileged", because: []string{"seccompProfile"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			plan := planFile(t, tt.file)
			if plan.Level != tt.level {
				t.Fatalf("graded %s, want %s:\n%s", plan.Level, tt.level, plan.Summary())
			}
			got := strings.Join(plan.Because, "\n")
			for _, want := range tt.because {
				if !strings.Contains(got, want) {
					t.Errorf("the controls that forced %s lack %q: %q", plan.Level, want, plan.Because)
				}
			}
			if len(tt.because) > 0 && !strings.Contains(plan.Summary(), "apart from") {
				t.Errorf("the summary does not name what forced %s:\n%s", plan.Level, plan.Summary())
			}
		})
	}
}

func TestPlanPolicyDefaults(t *testing.T) {
	tests := []struct {
		file      string
		want, not []string
	}{
		{
			file: "baseline-docs.yaml",
			want: []string{
				// The fields, which manifests must set: the annotations the
				// engine writes are non-functional (seccomp) or deprecated
				// (AppArmor) on kube-apiserver v1.37.
				`/spec/containers/0/securityContext/appArmorProfile/type "RuntimeDefault"`,
				`/spec/securityContext/seccompProfile/type "Unconfined"`,
				"container_t",
			},
			not: []string{"seccomp.security.alpha.kubernetes.io", "container.apparmor.security.beta.kubernetes.io"},
		},
		{
			// No seccomp defaultProfileName: a pod that sets
			// securityContext.seccompProfile gets the annotation mirrored,
			// which is not a default of the policy.
			file: "restricted-selinux.yaml",
			want: []string{`/spec/containers/0/securityContext/appArmorProfile/type "RuntimeDefault"`, "runAsNonRoot"},
			not:  []string{"seccomp.security.alpha.kubernetes.io", "container.apparmor.security.beta.kubernetes.io"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			plan := planFile(t, tt.file)
			got := strings.Join(plan.Defaults, "\n")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("defaults lack %s:\n%s", w, got)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("defaults list %s:\n%s", n, got)
				}
			}
		})
	}
}
