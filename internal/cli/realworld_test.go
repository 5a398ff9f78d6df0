package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// realworldDir holds real install bundles of Apache-2.0 projects (see its
// NOTICE) and kguard's outputs on them, frozen as *.golden files.
const realworldDir = "internal/cli/testdata/realworld"

// realworldRuns are the commands whose outputs are frozen: name (the golden
// file, without .golden, relative to realworldDir) and arguments, in which
// "@" stands for realworldDir.
//
// Reviewed when frozen; nothing found obviously wrong. Points a reviewer may
// question, frozen as they are:
//   - flannel v0.28.9 is admitted under --pss baseline, with a warning: its own
//     Namespace kube-flannel is labelled privileged (by design, see check --help).
//   - authz audit does not flag "use" grants on privileged PodSecurityPolicies
//     (flannel v0.17.0's psp.flannel.unprivileged is privileged: true; metallb's
//     speaker policy allows hostNetwork and NET_RAW): both audits find nothing.
var realworldRuns = []struct {
	name string
	args []string
}{
	{"argo-cd/check-baseline", []string{"check", "--pss", "baseline", "-n", "argocd", "@/argo-cd/install.yaml"}},
	{"argo-cd/check-restricted", []string{"check", "--pss", "restricted", "-n", "argocd", "@/argo-cd/install.yaml"}},
	{"argo-cd/authz-audit", []string{"authz", "audit", "-n", "argocd", "-f", "@/argo-cd/install.yaml"}},

	{"ingress-nginx/check-baseline", []string{"check", "--pss", "baseline", "@/ingress-nginx/deploy.yaml"}},
	{"ingress-nginx/check-restricted", []string{"check", "--pss", "restricted", "@/ingress-nginx/deploy.yaml"}},
	{"ingress-nginx/authz-audit", []string{"authz", "audit", "-f", "@/ingress-nginx/deploy.yaml"}},

	{"flannel/v0.17.0-check-baseline", []string{"check", "--pss", "baseline", "@/flannel/kube-flannel-v0.17.0.yml"}},
	{"flannel/v0.17.0-check-restricted", []string{"check", "--pss", "restricted", "@/flannel/kube-flannel-v0.17.0.yml"}},
	{"flannel/v0.17.0-authz-audit", []string{"authz", "audit", "-f", "@/flannel/kube-flannel-v0.17.0.yml"}},
	{"flannel/v0.17.0-psp-migrate", []string{"psp", "migrate", "@/flannel/kube-flannel-v0.17.0.yml", "--workloads", "@/flannel/kube-flannel-v0.17.0.yml"}},
	{"flannel/v0.28.9-check-baseline", []string{"check", "--pss", "baseline", "@/flannel/kube-flannel-v0.28.9.yml"}},
	{"flannel/v0.28.9-check-restricted", []string{"check", "--pss", "restricted", "@/flannel/kube-flannel-v0.28.9.yml"}},
	{"flannel/v0.28.9-authz-audit", []string{"authz", "audit", "-f", "@/flannel/kube-flannel-v0.28.9.yml"}},

	{"metallb/check-baseline", []string{"check", "--pss", "baseline", "@/metallb/metallb.yaml"}},
	{"metallb/check-restricted", []string{"check", "--pss", "restricted", "@/metallb/metallb.yaml"}},
	{"metallb/authz-audit", []string{"authz", "audit", "-f", "@/metallb/metallb.yaml"}},
	{"metallb/psp-migrate", []string{"psp", "migrate", "@/metallb/metallb.yaml", "--workloads", "@/metallb/metallb.yaml"}},

	{"kubernetes/gce-privileged-psp-migrate", []string{"psp", "migrate", "@/kubernetes/gce-privileged-psp.yaml"}},
	{"kubernetes/gce-unprivileged-addon-psp-migrate", []string{"psp", "migrate", "@/kubernetes/gce-unprivileged-addon-psp.yaml"}},
	{"kubernetes/gce-persistent-volume-binder-psp-migrate", []string{"psp", "migrate", "@/kubernetes/gce-persistent-volume-binder-psp.yaml"}},
}

// TestRealworldGolden compares kguard's outputs on real install bundles with
// the frozen ones. -update (or KGUARD_UPDATE_GOLDEN=1) rewrites them (then read
// the diff as a reviewer: a golden file is only as right as the output it froze).
func TestRealworldGolden(t *testing.T) {
	update := *updateGolden || os.Getenv("KGUARD_UPDATE_GOLDEN") == "1"
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, tc := range realworldRuns {
		want[filepath.FromSlash(tc.name+".golden")] = true
		t.Run(tc.name, func(t *testing.T) {
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.Replace(a, "@", realworldDir, 1)
			}
			code, out, errText := run(t, "", args...)
			got := fmt.Sprintf("$ kguard %s\n%s", strings.Join(args, " "), out)
			if errText != "" {
				got += "--- stderr\n" + errText
			}
			got += fmt.Sprintf("--- exit status %d\n", code)
			golden := filepath.Join(root, realworldDir, filepath.FromSlash(tc.name+".golden"))
			if update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			frozen, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./internal/cli/ -update writes it)", err)
			}
			if string(frozen) != got {
				t.Errorf("output differs from %s (go test ./internal/cli/ -update rewrites it):\n%s", golden, lineDiff(string(frozen), got))
			}
		})
	}
	t.Run("no stray golden files", func(t *testing.T) {
		var stray []string
		err := filepath.WalkDir(filepath.Join(root, realworldDir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".golden") {
				return err
			}
			rel, err := filepath.Rel(filepath.Join(root, realworldDir), p)
			if err == nil && !want[rel] {
				stray = append(stray, rel)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(stray)
		if len(stray) > 0 {
			t.Errorf("golden files no run writes (delete them or add their run): %v", stray)
		}
	})
}

// lineDiff lists the lines of want and got that differ, by position.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}
