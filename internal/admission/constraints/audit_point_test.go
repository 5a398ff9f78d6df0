package constraints

import (
	"context"
	"strings"
	"testing"

	"github.com/kguard/kguard/internal/audit"
	"github.com/kguard/kguard/internal/manifest"
)

// The audit of existing objects (kguard audit, kguard controller) should
// judge them as Gatekeeper's audit does: at the audit.gatekeeper.sh
// enforcement point, with the Config's exclusions for the audit process.
func TestAuditJudgesAtTheAuditPoint(t *testing.T) {
	const pod = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: legacy}
spec:
  containers: [{name: c, image: nginx, securityContext: {privileged: true}}]
`
	const template = "pod-security-policy/privileged-containers/template.yaml"
	const constraint = `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sPSPPrivilegedContainer
metadata: {name: no-privileged}
spec:
  enforcementAction: %s
  match:
    kinds: [{apiGroups: [""], kinds: ["Pod"]}]
`
	scopedAudit := strings.Replace(constraint, "enforcementAction: %s", `enforcementAction: scoped
  scopedEnforcementActions:
    - action: deny
      enforcementPoints: [{name: audit.gatekeeper.sh}]`, 1)
	config := func(process string) string {
		return `apiVersion: config.gatekeeper.sh/v1alpha1
kind: Config
metadata: {name: config, namespace: gatekeeper-system}
spec:
  match:
    - excludedNamespaces: ["legacy"]
      processes: ["` + process + `"]
`
	}
	deny := strings.Replace(constraint, "%s", "deny", 1)
	for name, tc := range map[string]struct {
		inline []string
		want   audit.Status
	}{
		"deny at the audit point only":             {[]string{scopedAudit}, audit.Denied},
		"namespace excluded from audit":            {[]string{deny, config("audit")}, audit.Admitted},
		"namespace excluded from the webhook only": {[]string{deny, config("webhook")}, audit.Denied},
	} {
		t.Run(name, func(t *testing.T) {
			set := read(t, []string{template}, tc.inline...)
			c, _ := chain(t, set, Config{})
			docs, err := manifest.Read(strings.NewReader(pod), "pod.yaml")
			if err != nil {
				t.Fatal(err)
			}
			rs := audit.Run(context.Background(), c, docs, audit.Options{})
			if got := rs.Results[0].Status; got != tc.want {
				t.Errorf("audit status %s (%s), want %s, as Gatekeeper's audit", got, rs.Results[0].Message, tc.want)
			}
		})
	}
}
