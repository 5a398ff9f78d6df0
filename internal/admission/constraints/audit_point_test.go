package constraints

import (
	"context"
	"strings"
	"testing"

	"github.com/kguard/kguard/internal/audit"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/pkg/apis/wgpolicyk8s/v1alpha2"
)

// legacyPrivilegedPod is the object both audit tests judge.
const legacyPrivilegedPod = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: legacy}
spec:
  containers: [{name: c, image: nginx, securityContext: {privileged: true}}]
`

// The audit of existing objects (kguard audit, kguard controller) should
// judge them as Gatekeeper's audit does: at the audit.gatekeeper.sh
// enforcement point, with the Config's exclusions for the audit process.
func TestAuditJudgesAtTheAuditPoint(t *testing.T) {
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
			docs, err := manifest.Read(strings.NewReader(legacyPrivilegedPod), "pod.yaml")
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

// Gatekeeper's audit lists the violations of warn and dryrun constraints
// too (dryrun exists to see them before enforcing): the audit reports them
// as warnings of an admitted object, dryrun ones marked, and its
// PolicyReport as warn results; the webhook's answer for dryrun stays
// silent (an audit annotation only).
func TestAuditListsWarnAndDryrun(t *testing.T) {
	constraint := func(name, action string) string {
		return `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sPSPPrivilegedContainer
metadata: {name: ` + name + `}
spec:
  enforcementAction: ` + action + `
  match:
    kinds: [{apiGroups: [""], kinds: ["Pod"]}]
`
	}
	set := read(t, []string{"pod-security-policy/privileged-containers/template.yaml"}, constraint("see-first", "dryrun"), constraint("tell", "warn"))
	c, _ := chain(t, set, Config{})
	docs, err := manifest.Read(strings.NewReader(legacyPrivilegedPod), "pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs := audit.Run(context.Background(), c, docs, audit.Options{})
	r := rs.Results[0]
	joined := strings.Join(r.Warnings, "\n")
	if r.Status != audit.Admitted || !strings.Contains(joined, "[see-first] Privileged container is not allowed: c") ||
		!strings.Contains(joined, "(enforcementAction: dryrun)") || !strings.Contains(joined, "[tell] Privileged container is not allowed: c") {
		t.Fatalf("audit result %s, warnings %q: want admitted with the dryrun (marked) and warn violations", r.Status, r.Warnings)
	}
	var warned []string
	for _, rep := range audit.Reports(rs, 100) {
		for _, res := range rep.Results {
			if res.Result == v1alpha2.ResultWarn {
				warned = append(warned, res.Message)
			}
		}
	}
	if w := strings.Join(warned, "\n"); !strings.Contains(w, "[see-first]") || !strings.Contains(w, "[tell]") {
		t.Errorf("PolicyReport warn results %q, want both violations", warned)
	}
	// The webhook (and kguard check) keeps dryrun silent.
	out := c.AdmitDocuments(context.Background(), docs, "default", nil)
	if resp := out[0].Response; resp == nil || !resp.Allowed || strings.Contains(strings.Join(resp.Warnings, "\n"), "see-first") {
		t.Errorf("check: %+v, want admitted with no dryrun warning", resp)
	}
}
