package analysis

import (
	"strings"
	"testing"

	"github.com/kguard/kguard/internal/authz/defaultroles"
	"github.com/kguard/kguard/internal/policy"
)

func load(t *testing.T, yaml string) *policy.Set {
	t.Helper()
	s, err := policy.Read(strings.NewReader(yaml), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// grant binds one rule to subject (a YAML flow mapping) cluster-wide, or in ns.
func grant(rule, subject, ns string) string {
	role, bind, meta := "ClusterRole", "ClusterRoleBinding", "{name: t}"
	if ns != "" {
		role, bind, meta = "Role", "RoleBinding", "{name: t, namespace: "+ns+"}"
	}
	return "kind: " + role + "\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: " + meta + "\nrules: [" + rule + "]\n---\n" +
		"kind: " + bind + "\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: " + meta + "\nsubjects: [" + subject + "]\n" +
		"roleRef: {kind: " + role + ", name: t, apiGroup: rbac.authorization.k8s.io}\n"
}

const alice = "{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}"

func TestRegistryIsValid(t *testing.T) {
	checks, err := Checks()
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 17 {
		t.Fatalf("%d checks registered, want 17", len(checks))
	}
	saved := registry
	defer func() { registry = saved }()
	registry = append(registry, &Check{ID: "KG001", Title: "x", Help: "y", Evaluate: checks[0].Evaluate})
	if _, err := Checks(); err == nil {
		t.Fatal("a duplicate ID was accepted")
	}
}

func TestChecks(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want string // "ID severity", or "" for no finding
	}{
		{"secrets list cluster-wide", grant(`{apiGroups: [""], resources: [secrets], verbs: [list]}`, alice, ""), "KG001 critical"},
		{"secrets get in a namespace", grant(`{apiGroups: [""], resources: [secrets], verbs: [get]}`, alice, "ns"), "KG001 high"},
		{"secrets by wildcard resource", grant(`{apiGroups: [""], resources: ["*"], verbs: [list]}`, alice, "ns"), "KG001 high,KG009 medium"},
		{"nodes/proxy is cluster-scoped: a RoleBinding cannot grant it", grant(`{apiGroups: [""], resources: [nodes/proxy], verbs: [get]}`, alice, "ns"), ""},
		{"named secret only", grant(`{apiGroups: [""], resources: [secrets], resourceNames: [one], verbs: [get]}`, alice, "ns"), ""},
		{"secrets in another group", grant(`{apiGroups: [apps], resources: [secrets], verbs: [get]}`, alice, "ns"), ""},
		{"escalate clusterroles", grant(`{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [escalate]}`, alice, ""), "KG002 critical"},
		{"bind in a namespace", grant(`{apiGroups: [rbac.authorization.k8s.io], resources: [roles], verbs: [bind]}`, alice, "ns"), "KG003 high"},
		{"bind named roles only", grant(`{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [view]}`, alice, ""), ""},
		{"impersonate serviceaccounts", grant(`{apiGroups: [""], resources: [serviceaccounts], verbs: [impersonate]}`, alice, ""), "KG004 critical"},
		{"impersonate uids", grant(`{apiGroups: [authentication.k8s.io], resources: [uids], verbs: [impersonate]}`, alice, ""), "KG004 critical"},
		{"exec", grant(`{apiGroups: [""], resources: [pods/exec], verbs: [create]}`, alice, "ns"), "KG005 high"},
		{"attach via legacy get", grant(`{apiGroups: [""], resources: [pods/attach], verbs: [get]}`, alice, "ns"), "KG005 high"},
		{"pods/log is not exec", grant(`{apiGroups: [""], resources: [pods/log], verbs: [get]}`, alice, "ns"), ""},
		{"*/exec", grant(`{apiGroups: [""], resources: ["*/exec"], verbs: [create]}`, alice, "ns"), "KG005 high"},
		{"nodes/proxy", grant(`{apiGroups: [""], resources: [nodes/proxy], verbs: [get]}`, alice, ""), "KG006 critical"},
		{"token", grant(`{apiGroups: [""], resources: [serviceaccounts/token], verbs: [create]}`, alice, "ns"), "KG007 high"},
		{"pods in kube-system", grant(`{apiGroups: [""], resources: [pods], verbs: [create]}`, alice, "kube-system"), "KG008 high"},
		{"pods in another namespace", grant(`{apiGroups: [""], resources: [pods], verbs: [create]}`, alice, "apps"), ""},
		{"jobs cluster-wide reach kube-system", grant(`{apiGroups: [batch], resources: [jobs], verbs: [create]}`, alice, ""), "KG008 high"},
		{"wildcard verbs", grant(`{apiGroups: [""], resources: [configmaps], verbs: ["*"]}`, alice, "ns"), "KG009 medium"},
		{"system:authenticated reads pods", grant(`{apiGroups: [""], resources: [pods], verbs: [get]}`, `{kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}`, ""), "KG010 high"},
		{"anonymous reads configmaps", grant(`{apiGroups: [""], resources: [configmaps], verbs: [get]}`, `{kind: Group, name: "system:unauthenticated", apiGroup: rbac.authorization.k8s.io}`, "ns"), "KG010 critical"},
		{"everyone reads /healthz", grant(`{nonResourceURLs: [/healthz], verbs: [get]}`, `{kind: Group, name: "system:unauthenticated", apiGroup: rbac.authorization.k8s.io}`, ""), "KG010 info"},
		{"anonymous with any verb on /healthz", grant(`{nonResourceURLs: [/healthz, /readyz], verbs: ["*"]}`, `{kind: Group, name: "system:unauthenticated", apiGroup: rbac.authorization.k8s.io}`, ""), "KG009 medium,KG010 info"},
		{"a wildcard reaching every secret is rated by it", grant(`{apiGroups: [""], resources: ["*"], verbs: [list]}`, alice, ""), "KG001 critical,KG009 high"},
		{"all serviceaccounts of a namespace", grant(`{apiGroups: [""], resources: [configmaps], verbs: [get]}`, `{kind: Group, name: "system:serviceaccounts:ns", apiGroup: rbac.authorization.k8s.io}`, "ns"), "KG010 high"},
		{"star on star", grant(`{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}`, alice, ""), "KG011 critical"},
		{"star on star in a namespace", grant(`{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}`, alice, "ns"), "KG011 high"},
		{"default ServiceAccount", grant(`{apiGroups: [""], resources: [configmaps], verbs: [get]}`, `{kind: ServiceAccount, name: default, namespace: ns}`, "ns"), "KG012 medium"},
		{"patch deployments cluster-wide", grant(`{apiGroups: [apps], resources: [deployments], verbs: [patch]}`, alice, ""), "KG013 high"},
		{"update cronjobs cluster-wide", grant(`{apiGroups: [batch], resources: [cronjobs], verbs: [update]}`, alice, ""), "KG013 high"},
		{"patch daemonsets in a namespace", grant(`{apiGroups: [apps], resources: [daemonsets], verbs: [patch]}`, alice, "apps"), ""},
		{"ephemeral containers in a namespace", grant(`{apiGroups: [""], resources: [pods/ephemeralcontainers], verbs: [patch]}`, alice, "ns"), "KG014 high"},
		{"ephemeral containers cluster-wide", grant(`{apiGroups: [""], resources: [pods/ephemeralcontainers], verbs: [update]}`, alice, ""), "KG014 critical"},
		{"create mutating webhooks", grant(`{apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [create]}`, alice, ""), "KG015 critical"},
		{"delete validating webhooks", grant(`{apiGroups: [admissionregistration.k8s.io], resources: [validatingwebhookconfigurations], verbs: [delete]}`, alice, ""), "KG015 high"},
		{"read webhooks", grant(`{apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [get, list]}`, alice, ""), ""},
		{"approve client certificates", grant(`{apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]}, {apiGroups: [certificates.k8s.io], resources: [signers], resourceNames: [kubernetes.io/kube-apiserver-client], verbs: [approve]}`, alice, ""), "KG016 critical"},
		{"approve any kubernetes.io signer", grant(`{apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]}, {apiGroups: [certificates.k8s.io], resources: [signers], resourceNames: ["kubernetes.io/*"], verbs: [approve]}`, alice, ""), "KG016 critical"},
		{"approve every signer", grant(`{apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval, signers], verbs: [update, approve]}`, alice, ""), "KG016 critical"},
		{"approve kubelet serving certificates only", grant(`{apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]}, {apiGroups: [certificates.k8s.io], resources: [signers], resourceNames: [kubernetes.io/kubelet-serving], verbs: [approve]}`, alice, ""), ""},
		{"approve without the approval subresource", grant(`{apiGroups: [certificates.k8s.io], resources: [signers], verbs: [approve]}`, alice, ""), ""},
		{"create persistentvolumes", grant(`{apiGroups: [""], resources: [persistentvolumes], verbs: [create]}`, alice, ""), "KG017 high"},
		{"everyone runs self-reviews", grant(`{apiGroups: [authorization.k8s.io], resources: [selfsubjectaccessreviews, selfsubjectrulesreviews], verbs: [create]}`, `{kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}`, ""), "KG010 low"},
		{"anonymous reads health sub-paths", grant(`{nonResourceURLs: [/healthz, "/livez/*", /version/], verbs: [get]}`, `{kind: User, name: "system:anonymous", apiGroup: rbac.authorization.k8s.io}`, ""), "KG010 info"},
		{"anonymous reads metrics", grant(`{nonResourceURLs: [/metrics], verbs: [get]}`, `{kind: Group, name: "system:unauthenticated", apiGroup: rbac.authorization.k8s.io}`, ""), "KG010 medium"},
		{"anonymous reads health and secrets", grant(`{nonResourceURLs: [/healthz], verbs: [get]}, {apiGroups: [""], resources: [secrets], verbs: [list]}`, `{kind: Group, name: "system:unauthenticated", apiGroup: rbac.authorization.k8s.io}`, ""), "KG001 critical,KG010 critical"},
		{"harmless", grant(`{apiGroups: [""], resources: [configmaps], verbs: [get]}`, alice, "ns"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			findings, _, err := Audit(load(t, tc.yaml), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range findings {
				got = append(got, f.ID+" "+f.Severity.String())
			}
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("findings %v, want none", got)
				}
				return
			}
			if strings.Join(got, ",") != tc.want {
				t.Fatalf("findings %v, want exactly [%s]", got, tc.want)
			}
			f := findings[0]
			if f.Binding.Name != "t" || f.Role.Name != "t" || f.Source == "" || f.Message == "" {
				t.Fatalf("finding lacks its chain: %+v", f)
			}
		})
	}
}

func TestAggregatedRoleCounts(t *testing.T) {
	s := load(t, `
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: agg}
aggregationRule: {clusterRoleSelectors: [{matchLabels: {x: "y"}}]}
---
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: part, labels: {x: "y"}}
rules: [{apiGroups: [""], resources: [nodes/proxy], verbs: [get]}]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: b}
subjects: [{kind: User, name: u, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: agg, apiGroup: rbac.authorization.k8s.io}
`)
	findings, _, _ := Audit(s, Options{})
	if len(findings) != 1 || findings[0].ID != "KG006" || findings[0].Role.Name != "agg" {
		t.Fatalf("findings = %+v", findings)
	}
}

func TestDefaultsAndMinSeverity(t *testing.T) {
	defaults, err := defaultroles.Set()
	if err != nil {
		t.Fatal(err)
	}
	findings, _, _ := Audit(defaults, Options{})
	if len(findings) != 0 {
		t.Fatalf("default bindings reported without --include-defaults: %d", len(findings))
	}
	all, _, _ := Audit(defaults, Options{IncludeDefaults: true})
	var sawMasters bool
	for _, f := range all {
		if f.ID == "KG011" && f.Subject.Name == "system:masters" {
			sawMasters = true
		}
	}
	if !sawMasters {
		t.Fatal("the cluster-admin binding of system:masters is not reported with --include-defaults")
	}
	high, _, _ := Audit(defaults, Options{IncludeDefaults: true, MinSeverity: High})
	if len(high) == 0 || len(high) >= len(all) {
		t.Fatalf("min severity high kept %d of %d", len(high), len(all))
	}
	for _, f := range high {
		if f.Severity < High {
			t.Fatalf("kept %s", f.Severity)
		}
	}
	for i := 1; i < len(all); i++ {
		if all[i].Severity > all[i-1].Severity {
			t.Fatal("findings are not sorted by severity")
		}
	}
}

func TestParseSeverity(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Severity
		ok   bool
	}{{"low", Low, true}, {"HIGH", High, true}, {"critical", Critical, true}, {"severe", 0, false}} {
		got, err := ParseSeverity(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSeverity(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// The severity follows what a grant reaches: with the default roles, the
// anonymous group reading /healthz is informational, a secrets reader high.
func TestSeverityFollowsReach(t *testing.T) {
	defaults, err := defaultroles.Set()
	if err != nil {
		t.Fatal(err)
	}
	anonymous := `{kind: Group, name: "system:unauthenticated", apiGroup: rbac.authorization.k8s.io}`
	for _, tc := range []struct {
		name, yaml, subject string
		want                Severity
	}{
		{"anonymous healthz", grant(`{nonResourceURLs: [/healthz], verbs: [get]}`, anonymous, ""), "system:unauthenticated", Info},
		{"secrets reader", grant(`{apiGroups: [""], resources: [secrets], verbs: [get, list]}`, alice, "ns"), "alice", High},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := load(t, tc.yaml)
			set.ClusterRoles = append(set.ClusterRoles, defaults.ClusterRoles...)
			set.ClusterRoleBindings = append(set.ClusterRoleBindings, defaults.ClusterRoleBindings...)
			findings, _, err := Audit(set, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range findings {
				if f.Subject.Name != tc.subject {
					continue
				}
				got = append(got, f.ID+" "+f.Severity.String())
				if f.Severity != tc.want {
					t.Errorf("%s %s: %s, want %s", f.ID, f.Message, f.Severity, tc.want)
				}
			}
			if len(got) == 0 {
				t.Fatalf("no finding for %s", tc.subject)
			}
		})
	}
}
