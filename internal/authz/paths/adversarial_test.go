package paths_test

// Red-team review of `kguard authz paths`: each test builds the smallest RBAC
// (and objects) for one escalation idea and asserts what Kubernetes v1.37
// really allows.
//
//   - TestMissed…: a path Kubernetes allows that kguard did not report
//     (fixed since).
//   - TestFalse…: a path kguard reported that Kubernetes does not allow
//     (fixed since).
//   - TestHolds…: an attempt kguard answers correctly, kept where it adds
//     coverage.
//
// The findings not fixed are listed, with their references, under "Limits"
// in docs/paths.md.
//
// Upstream references are to the module cache (`go env GOMODCACHE`), as
// k8s.io/kubernetes@v1.37.2, k8s.io/apiserver@v0.37.2 and
// k8s.io/pod-security-admission@v0.37.2.

import (
	"context"
	"strings"
	"testing"

	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/authz/paths"
	"github.com/kguard/kguard/internal/authz/paths/admitted"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/snapshot"
)

// --- helpers ---------------------------------------------------------------

func readSet(t *testing.T, docs ...string) *policy.Set {
	t.Helper()
	s, err := policy.Read(strings.NewReader(strings.Join(docs, "\n---\n")), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// admitter builds kguard's admission chain of plugins (and the cluster-wide
// Pod Security enforce level) over the set, as `kguard authz paths` does.
func admitter(t *testing.T, s *policy.Set, plugins []string, enforce string) paths.PodAdmitter {
	t.Helper()
	built, err := snapshot.BuildPolicies(snapshot.Config{AdmissionPlugins: plugins, PSS: podsecurity.Config{Enforce: enforce}}, s)
	if err != nil {
		t.Fatal(err)
	}
	return admitted.New(context.Background(), built.Admission, built.Authorizer, s)
}

// pathTo returns subject's path to target (nil when none), with the subject
// given as for --from ("dev", "system:serviceaccount:ci:x", "group:g").
func pathTo(t *testing.T, s *policy.Set, subject string, target paths.Target, a paths.PodAdmitter) *paths.Path {
	t.Helper()
	from, err := paths.ParseSource(subject, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := paths.Find(s, paths.Options{From: from, To: target, Admitter: a})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("warnings: %q", res.Warnings)
	}
	for i := range res.Paths {
		if res.Paths[i].Target == target {
			return &res.Paths[i]
		}
	}
	return nil
}

func render(p *paths.Path) string {
	if p == nil {
		return "no path"
	}
	var out []string
	for _, h := range p.Hops {
		out = append(out, h.Edge+"("+h.Action+")=>"+h.To.String())
	}
	return strings.Join(out, " ")
}

// wantPath fails unless subject reaches target; firstEdge, when given, is
// the edge kind the first hop must be.
func wantPath(t *testing.T, s *policy.Set, subject string, target paths.Target, a paths.PodAdmitter, firstEdge string) {
	t.Helper()
	p := pathTo(t, s, subject, target, a)
	if p == nil {
		t.Fatalf("%s -> %s: kguard reports no path; Kubernetes allows one", subject, target)
	}
	if firstEdge != "" && p.Hops[0].Edge != firstEdge {
		t.Errorf("%s -> %s: first hop %s, want edge %q", subject, target, render(p), firstEdge)
	}
}

func wantNoPath(t *testing.T, s *policy.Set, subject string, target paths.Target, a paths.PodAdmitter) {
	t.Helper()
	if p := pathTo(t, s, subject, target, a); p != nil {
		t.Fatalf("%s -> %s: kguard reports %s; Kubernetes allows no such path", subject, target, render(p))
	}
}

// --- shared objects ----------------------------------------------------------

const clusterAdminRole = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cluster-admin}
rules:
- {apiGroups: ["*"], resources: ["*"], verbs: ["*"]}
- {nonResourceURLs: ["*"], verbs: ["*"]}`

// ci/deployer is cluster-admin: reaching it is reaching cluster-admin.
const deployerIsAdmin = clusterAdminRole + `
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: deployer, namespace: ci}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: deployer-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {kind: ServiceAccount, name: deployer, namespace: ci}`

// devHolds binds the ClusterRole "dev-role" with rules to User dev:
// cluster-wide when ns is "", else by a RoleBinding in ns.
func devHolds(ns, rules string) string {
	role := `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: dev-role}
rules:
` + rules + "\n---\n"
	if ns == "" {
		return role + `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: dev-role}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: dev-role}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: dev}`
	}
	return role + `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dev-role, namespace: ` + ns + `}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: dev-role}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: dev}`
}

var pssOnly = []string{podsecurity.PluginName}

// --- RBAC escalation verbs ---------------------------------------------------

// TestMissedBindByUpdatingClusterRoleBinding: `bind` on cluster-admin with
// `patch` of the existing ClusterRoleBinding cluster-admin (every cluster has
// it) adds dev to its subjects. The update path runs the same check as create
// (kubernetes@v1.37.2 pkg/registry/rbac/clusterrolebinding/policybased/storage.go
// Update: BindingAuthorized, else ConfirmNoEscalation). kguard's bind edge
// requires `create clusterrolebindings`.
func TestMissedBindByUpdatingClusterRoleBinding(t *testing.T) {
	s := readSet(t, clusterAdminRole, `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: cluster-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:masters"}`,
		devHolds("", `- {apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"], verbs: ["bind"], resourceNames: ["cluster-admin"]}
- {apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterrolebindings"], verbs: ["patch"], resourceNames: ["cluster-admin"]}`))
	wantPath(t, s, "dev", paths.ClusterAdmin, nil, "bind")
}

// --- impersonation -------------------------------------------------------------

// TestFalseImpersonateUserNamedLikeServiceAccount: an Impersonate-User header
// of system:serviceaccount:ci:deployer is authorized as `impersonate` on
// serviceaccounts ci/deployer, never on users (k8s.io/apiserver@v0.37.2
// pkg/endpoints/filters/impersonation/impersonation.go
// buildImpersonationRequests, and mode.go authorizeUsername, which rewrites
// the check to Resource "serviceaccounts" in constrained impersonation too).
// A rule on users with that resourceName grants nothing. kguard reports
// impersonate=>ServiceAccount ci/deployer=>cluster-admin.
func TestFalseImpersonateUserNamedLikeServiceAccount(t *testing.T) {
	s := readSet(t, deployerIsAdmin,
		devHolds("", `- {apiGroups: [""], resources: ["users"], verbs: ["impersonate"], resourceNames: ["system:serviceaccount:ci:deployer"]}`))
	wantNoPath(t, s, "dev", paths.ClusterAdmin, nil)
}

// TestFalseImpersonateGroupWithoutUser: Impersonate-Group without
// Impersonate-User is refused ("requested ... without impersonating a user",
// k8s.io/apiserver@v0.37.2 .../impersonation/impersonation.go
// buildImpersonationRequests; constrained_impersonation.go
// processImpersonationHeaders alike). A role that grants only `impersonate` on
// groups (here system:masters) gives nothing without `impersonate` on some
// user or ServiceAccount; dev holds none. kguard reports cluster-admin.
func TestFalseImpersonateGroupWithoutUser(t *testing.T) {
	s := readSet(t,
		devHolds("", `- {apiGroups: [""], resources: ["groups"], verbs: ["impersonate"], resourceNames: ["system:masters"]}`))
	wantNoPath(t, s, "dev", paths.ClusterAdmin, nil)
}

// --- tokens and secrets ----------------------------------------------------------

// TestMissedNamedTokenRequestClusterWide: `create serviceaccounts/token` with
// resourceNames [deployer] from a ClusterRoleBinding mints a token for the
// ServiceAccount deployer of every namespace (the TokenRequest is authorized
// with Namespace ci, Name deployer). kguard follows named ServiceAccounts only
// from RoleBindings (for impersonation this limit is documented; for
// token-request it is not).
func TestMissedNamedTokenRequestClusterWide(t *testing.T) {
	s := readSet(t, deployerIsAdmin,
		devHolds("", `- {apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"], resourceNames: ["deployer"]}`))
	wantPath(t, s, "dev", paths.ClusterAdmin, nil, "token-request")
}

// TestMissedWatchSecrets: `watch` alone reads every secret: a watch without
// resourceVersion (or with sendInitialEvents) starts with a synthetic ADDED
// event, whole object and data included, for each existing object
// (https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-watch;
// GET /api/v1/secrets?watch=1 is authorized as verb watch). kguard's secrets
// edge counts get and list only.
func TestMissedWatchSecrets(t *testing.T) {
	s := readSet(t, devHolds("", `- {apiGroups: [""], resources: ["secrets"], verbs: ["watch"]}`))
	wantPath(t, s, "dev", paths.Secrets, nil, "secrets")
}

// --- workloads, exec and pods ----------------------------------------------------

// TestMissedNamedWorkloadUpdate: `patch` on one named Deployment (a common CI
// grant) rewrites its template: serviceAccountName may name any ServiceAccount
// of the namespace (ServiceAccount admission checks only that it exists).
// kguard's workload-updates edge needs the grant on every name.
func TestMissedNamedWorkloadUpdate(t *testing.T) {
	s := readSet(t, deployerIsAdmin,
		devHolds("ci", `- {apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "patch"], resourceNames: ["web"]}`))
	wantPath(t, s, "dev", paths.ClusterAdmin, nil, "workload-updates")
}

// dbPod is ci/db-0, running as ci/db, which is cluster-admin.
const dbPod = clusterAdminRole + `
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: ci}
spec:
  serviceAccountName: db
  containers: [{name: db, image: postgres:16}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: db-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {kind: ServiceAccount, name: db, namespace: ci}`

// TestMissedNamedExec: `create pods/exec` limited to resourceNames [db-0]
// execs into that pod (the pod's name is in the URL, so the rule matches) and
// reads its token. The input holds the pod. kguard's exec edge needs every name.
func TestMissedNamedExec(t *testing.T) {
	s := readSet(t, dbPod,
		devHolds("ci", `- {apiGroups: [""], resources: ["pods/exec"], verbs: ["create"], resourceNames: ["db-0"]}`))
	wantPath(t, s, "dev", paths.ClusterAdmin, nil, "exec")
}

// TestHoldsNamedExecOtherPod: the same grant on another pod's name reaches
// nothing (the input's only pod is db-0).
func TestHoldsNamedExecOtherPod(t *testing.T) {
	s := readSet(t, dbPod,
		devHolds("ci", `- {apiGroups: [""], resources: ["pods/exec"], verbs: ["create"], resourceNames: ["db-1"]}`))
	wantNoPath(t, s, "dev", paths.ClusterAdmin, nil)
}

// agentPod is a privileged pod in ci whose ServiceAccount holds nothing.
const agentPod = `
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: ci}
spec:
  serviceAccountName: agent
  containers:
  - name: agent
    image: busybox:1.36
    securityContext: {privileged: true}`

// TestMissedExecIntoPrivilegedPod: exec into a privileged container is root on
// its node (nsenter -t 1). kguard's exec edge only reaches the pod's
// ServiceAccount (which holds nothing here), never nodes. Kubernetes v1.37 has
// no admission that stops it by default (DenyEscalatingExec was removed
// upstream; kguard offers it but it is not in this chain).
func TestMissedExecIntoPrivilegedPod(t *testing.T) {
	s := readSet(t, agentPod, devHolds("ci", `- {apiGroups: [""], resources: ["pods/exec"], verbs: ["create"]}`))
	wantPath(t, s, "dev", paths.Nodes, nil, "exec")
}

// TestHoldsExecIntoHostPIDPodNotLogMount: exec into a hostPID pod is node root;
// into a pod that mounts only the node's /var/log, it is not.
func TestHoldsExecIntoHostPIDPodNotLogMount(t *testing.T) {
	exec := devHolds("ci", `- {apiGroups: [""], resources: ["pods/exec"], verbs: ["create"]}`)
	s := readSet(t, `
apiVersion: v1
kind: Pod
metadata: {name: logs, namespace: ci}
spec:
  containers: [{name: c, image: busybox:1.36, volumeMounts: [{name: log, mountPath: /log}]}]
  volumes: [{name: log, hostPath: {path: /var/log}}]`, exec)
	wantNoPath(t, s, "dev", paths.Nodes, nil)
	s = readSet(t, `
apiVersion: v1
kind: Pod
metadata: {name: top, namespace: ci}
spec:
  hostPID: true
  containers: [{name: c, image: busybox:1.36}]`, exec)
	wantPath(t, s, "dev", paths.Nodes, nil, "exec")
}

// --- admission configuration -----------------------------------------------------

// TestMissedMutatingAdmissionPolicy: MutatingAdmissionPolicy is GA and on by
// default since v1.36 (kubernetes@v1.37.2 pkg/features/kube_features.go;
// admissionregistration.k8s.io/v1 served). A policy and its binding rewrite
// every matched object written, as a mutating webhook does: pods made
// privileged or running another image as their ServiceAccount, bindings
// written by administrators given another subject. Only a paramKind is
// authorized (pkg/registry/admissionregistration/mutatingadmissionpolicy/authz.go).
// kguard's webhooks edge rates mutating webhook configurations cluster-admin
// but does not know admission policies.
func TestMissedMutatingAdmissionPolicy(t *testing.T) {
	s := readSet(t, devHolds("", `- {apiGroups: ["admissionregistration.k8s.io"], resources: ["mutatingadmissionpolicies", "mutatingadmissionpolicybindings"], verbs: ["create"]}`))
	wantPath(t, s, "dev", paths.ClusterAdmin, nil, "")
}

// TestMissedNamedWebhookPatch: `patch` on one named mutating webhook
// configuration (an existing injector's) retargets it: clientConfig to one's
// own service and rules to every resource. kguard's webhooks edge needs the
// grant on every name.
func TestMissedNamedWebhookPatch(t *testing.T) {
	s := readSet(t, devHolds("", `- {apiGroups: ["admissionregistration.k8s.io"], resources: ["mutatingwebhookconfigurations"], verbs: ["get", "patch"], resourceNames: ["sidecar-injector"]}`))
	wantPath(t, s, "dev", paths.ClusterAdmin, nil, "webhooks")
}

// --- traffic -------------------------------------------------------------------------

// TestMissedServiceExternalIPs: CVE-2020-8554 is first of all spec.externalIPs:
// whoever may create or update a Service sets any IP as an external IP and
// kube-proxy on every node sends that IP's traffic to the Service. The only
// upstream mitigation, the DenyServiceExternalIPs admission plugin, is off by
// default (kubernetes@v1.37.2 pkg/kubeapiserver/options/plugins.go
// defaultOnPlugins). kguard's traffic target counts services/status only.
func TestMissedServiceExternalIPs(t *testing.T) {
	s := readSet(t, devHolds("ci", `- {apiGroups: [""], resources: ["services"], verbs: ["create"]}`))
	wantPath(t, s, "dev", paths.Traffic, nil, "")
}

// --- certificates ----------------------------------------------------------------------

// TestFalseCSRClientCertForSystemMasters: the default-on
// CertificateSubjectRestriction admission plugin refuses any CSR for the
// kube-apiserver-client signer whose organization is system:masters
// (kubernetes@v1.37.2 plugin/pkg/admission/certificates/subjectrestriction).
// A certificate can name any other user or group, but here no other subject
// holds anything. kguard reports cluster-admin through system:masters.
func TestFalseCSRClientCertForSystemMasters(t *testing.T) {
	s := readSet(t, devHolds("", `- {apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests"], verbs: ["create", "get"]}
- {apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests/approval"], verbs: ["update"]}
- {apiGroups: ["certificates.k8s.io"], resources: ["signers"], verbs: ["approve"], resourceNames: ["kubernetes.io/kube-apiserver-client"]}`))
	wantNoPath(t, s, "dev", paths.ClusterAdmin, nil)
}

// TestHoldsCSRClientCertForAnotherAdminGroup: the same grant does not reach
// the group system:masters bound to cluster-admin; with kubeadm's group
// kubeadm:cluster-admins bound too, it reaches cluster-admin through that.
func TestHoldsCSRClientCertForAnotherAdminGroup(t *testing.T) {
	masters := clusterAdminRole + `
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: cluster-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:masters"}`
	csr := devHolds("", `- {apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests"], verbs: ["create"]}
- {apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests/approval"], verbs: ["update"]}
- {apiGroups: ["certificates.k8s.io"], resources: ["signers"], verbs: ["approve"], resourceNames: ["kubernetes.io/kube-apiserver-client"]}`)
	wantNoPath(t, readSet(t, masters, csr), "dev", paths.ClusterAdmin, nil)
	s := readSet(t, masters, `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: kubeadm:cluster-admins}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "kubeadm:cluster-admins"}`, csr)
	p := pathTo(t, s, "dev", paths.ClusterAdmin, nil)
	if got := render(p); p == nil || p.Hops[0].Edge != "csr" || !strings.Contains(got, `Group "kubeadm:cluster-admins"`) {
		t.Errorf("dev -> cluster-admin: %s, want csr to Group kubeadm:cluster-admins", got)
	}
}

// --- attempts kguard handles ------------------------------------------------------------

// TestHoldsUserSubjectNamedLikeServiceAccount: a binding to User
// system:serviceaccount:ci:bot applies to ServiceAccount ci/bot (RBAC compares
// user names), so minting bot's token reaches its grants.
func TestHoldsUserSubjectNamedLikeServiceAccount(t *testing.T) {
	s := readSet(t, clusterAdminRole, `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bot-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:serviceaccount:ci:bot"}`,
		devHolds("ci", `- {apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"], resourceNames: ["bot"]}`))
	wantPath(t, s, "dev", paths.ClusterAdmin, nil, "token-request")
}

// TestHoldsNamespaceServiceAccountsGroup: a pod run as any ServiceAccount of ci
// is in the group system:serviceaccounts:ci, whose grants (reading ops'
// secrets, among them ops/admin's token) follow.
func TestHoldsNamespaceServiceAccountsGroup(t *testing.T) {
	s := readSet(t, clusterAdminRole, `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ops-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {kind: ServiceAccount, name: admin, namespace: ops}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: secret-reader}
rules:
- {apiGroups: [""], resources: ["secrets"], verbs: ["list"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ci-sas-read-ops, namespace: ops}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secret-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:serviceaccounts:ci"}`,
		devHolds("ci", `- {apiGroups: [""], resources: ["pods"], verbs: ["create"]}`))
	wantPath(t, s, "dev", paths.ClusterAdmin, nil, "workloads")
}

// TestHoldsNamedTokenRequestOtherServiceAccount: a token for another name of
// the namespace does not reach ci/deployer.
func TestHoldsNamedTokenRequestOtherServiceAccount(t *testing.T) {
	s := readSet(t, deployerIsAdmin,
		devHolds("ci", `- {apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"], resourceNames: ["builder"]}`))
	wantNoPath(t, s, "dev", paths.ClusterAdmin, nil)
}

// TestHoldsNamedTokenRequestClusterWideOtherName: a ClusterRoleBinding's token
// grant for the name builder reaches builder in every namespace, never
// ci/deployer.
func TestHoldsNamedTokenRequestClusterWideOtherName(t *testing.T) {
	s := readSet(t, deployerIsAdmin, `
apiVersion: v1
kind: ServiceAccount
metadata: {name: builder, namespace: ci}`,
		devHolds("", `- {apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"], resourceNames: ["builder"]}`))
	wantNoPath(t, s, "dev", paths.ClusterAdmin, nil)
}

// TestHoldsAggregatedRoleInRoleBinding: a RoleBinding to an aggregated
// ClusterRole grants the aggregated rules in its namespace.
func TestHoldsAggregatedRoleInRoleBinding(t *testing.T) {
	s := readSet(t, deployerIsAdmin, `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ci-ops}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {example.com/aggregate-to-ci-ops: "true"}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: ci-ops-tokens
  labels: {example.com/aggregate-to-ci-ops: "true"}
rules:
- {apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dev-ci-ops, namespace: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ci-ops}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: dev}`)
	wantPath(t, s, "dev", paths.ClusterAdmin, nil, "token-request")
}

// TestHoldsImpersonateUserAndSystemMasters: impersonating some user together
// with the group system:masters is cluster-admin (legacy impersonation;
// constrained impersonation refuses system:masters but the legacy mode is
// still tried).
func TestHoldsImpersonateUserAndSystemMasters(t *testing.T) {
	s := readSet(t, devHolds("", `- {apiGroups: [""], resources: ["users"], verbs: ["impersonate"], resourceNames: ["anyone"]}
- {apiGroups: [""], resources: ["groups"], verbs: ["impersonate"], resourceNames: ["system:masters"]}`))
	wantPath(t, s, "dev", paths.ClusterAdmin, nil, "impersonate")
}

// TestHoldsNamespacedImpersonateUsers: users and groups are cluster-scoped in
// the impersonation check (no namespace), so a RoleBinding's grant is nothing.
func TestHoldsNamespacedImpersonateUsers(t *testing.T) {
	s := readSet(t, clusterAdminRole, `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: root-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: root}`,
		devHolds("ci", `- {apiGroups: [""], resources: ["users", "groups"], verbs: ["impersonate"]}`))
	wantNoPath(t, s, "dev", paths.ClusterAdmin, nil)
}

// TestHoldsRestrictedNamespaceRefusesNodeRoot: create pods in a restricted
// namespace is no node root (and no other grant changes that).
func TestHoldsRestrictedNamespaceRefusesNodeRoot(t *testing.T) {
	s := readSet(t, `
apiVersion: v1
kind: Namespace
metadata:
  name: ci
  labels: {pod-security.kubernetes.io/enforce: restricted}`,
		devHolds("ci", `- {apiGroups: [""], resources: ["pods"], verbs: ["create"]}
- {apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list"]}`))
	wantNoPath(t, s, "dev", paths.Nodes, admitter(t, s, pssOnly, ""))
}
