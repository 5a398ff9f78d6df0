package audit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/podsecuritypolicy"
	"github.com/kguard/kguard/internal/audit"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/snapshot"
)

// policies: one restricted PodSecurityPolicy that only the ServiceAccount
// ServiceAccounts ci:builder and strict:builder may use, and the namespace
// "strict" labelled to enforce the restricted Pod Security Standard.
const policies = `apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: restricted}
spec:
  privileged: false
  runAsUser: {rule: RunAsAny}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: ['*']
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: use-restricted}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use], resourceNames: [restricted]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: builder, namespace: ci}
subjects: [{kind: ServiceAccount, name: builder, namespace: ci}]
roleRef: {kind: ClusterRole, name: use-restricted, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: builder, namespace: strict}
subjects: [{kind: ServiceAccount, name: builder, namespace: strict}]
roleRef: {kind: ClusterRole, name: use-restricted, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: v1
kind: Namespace
metadata: {name: strict, labels: {pod-security.kubernetes.io/enforce: restricted}}
`

// newChain builds PodSecurityPolicy then PodSecurity over policies, as `kguard audit` would.
func newChain(t testing.TB) *admission.Chain {
	t.Helper()
	set, err := policy.Read(strings.NewReader(policies), "policies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	built, err := snapshot.BuildPolicies(snapshot.Config{AdmissionPlugins: []string{podsecuritypolicy.PluginName, podsecurity.PluginName}}, set)
	if err != nil {
		t.Fatal(err)
	}
	return built.Admission
}

func read(t testing.TB, yaml string) []manifest.Document {
	t.Helper()
	docs, err := manifest.Read(strings.NewReader(yaml), "objects.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

const pod = `apiVersion: v1
kind: Pod
metadata: {name: NAME, namespace: NS%s}
spec:
  serviceAccountName: SA
  containers: [{name: c, image: busybox}]
`

func podYAML(name, ns, sa, owner string) string {
	y := strings.NewReplacer("NAME", name, "NS", ns, "SA", sa).Replace(pod)
	return strings.Replace(y, "%s", owner, 1)
}

// The pods of a controller are created by kube-controller-manager's
// controller, and PodSecurityPolicy asks "use" of that user and of the
// pod's ServiceAccount: where a privileged policy is granted to the
// ServiceAccounts of kube-system (as GKE's and many guides' setups did), a
// Deployment's privileged pods are admitted in the cluster while the same
// bare Pod is not; the audit says what the cluster does. A static pod's
// mirror is created by its node's kubelet (system:nodes).
func TestRunControllersCreatePods(t *testing.T) {
	set, err := policy.Read(strings.NewReader(`apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: privileged}
spec:
  privileged: true
  hostNetwork: true
  runAsUser: {rule: RunAsAny}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: ['*']
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: use-privileged}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use], resourceNames: [privileged]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: kube-system-privileged}
subjects: [{kind: Group, name: "system:serviceaccounts:kube-system", apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: use-privileged, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: nodes-privileged}
subjects: [{kind: Group, name: "system:nodes", apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: use-privileged, apiGroup: rbac.authorization.k8s.io}
`), "policies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	built, err := snapshot.BuildPolicies(snapshot.Config{AdmissionPlugins: []string{podsecuritypolicy.PluginName}}, set)
	if err != nil {
		t.Fatal(err)
	}
	const privileged = `
    spec:
      containers: [{name: c, image: nginx, securityContext: {privileged: true}}]
`
	objects := `apiVersion: apps/v1
kind: Deployment
metadata: {name: agent, namespace: ops}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}` + privileged + `---
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: ops}
spec:
  template:
    metadata: {labels: {app: once}}` + strings.Replace(privileged, "containers:", "restartPolicy: Never\n      containers:", 1) + `---
apiVersion: v1
kind: Pod
metadata: {name: agent-x-1, namespace: ops, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: agent-x, uid: rs-x, controller: true}]}
spec:
  containers: [{name: c, image: nginx, securityContext: {privileged: true}}]
---
apiVersion: v1
kind: Pod
metadata: {name: bare, namespace: ops}
spec:
  containers: [{name: c, image: nginx, securityContext: {privileged: true}}]
---
apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver-cp-1
  namespace: ops
  annotations: {kubernetes.io/config.mirror: 5f1c, kubernetes.io/config.source: file}
  ownerReferences: [{apiVersion: v1, kind: Node, name: cp-1, uid: n-1, controller: true}]
spec:
  nodeName: cp-1
  hostNetwork: true
  containers: [{name: c, image: registry.k8s.io/kube-apiserver:v1.24.0, securityContext: {privileged: true}}]
`
	rs := audit.Run(context.Background(), built.Admission, read(t, objects), audit.Options{})
	want := []struct {
		name     string
		status   audit.Status
		reviewer string
	}{
		{"agent", audit.Admitted, "system:serviceaccount:kube-system:replicaset-controller"},
		{"once", audit.Admitted, "system:serviceaccount:kube-system:job-controller"},
		{"agent-x-1", audit.Admitted, "system:serviceaccount:kube-system:replicaset-controller"},
		{"bare", audit.Denied, "system:serviceaccount:ops:default"},
		{"kube-apiserver-cp-1", audit.Admitted, "system:node:cp-1"},
	}
	if len(rs.Results) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(rs.Results), len(want), rs.Results)
	}
	for i, w := range want {
		r := rs.Results[i]
		if r.Name != w.name || r.Status != w.status || r.Reviewer != w.reviewer {
			t.Errorf("result %d = {%s %s reviewer %q} (%s%s), want {%s %s reviewer %q}", i, r.Name, r.Status, r.Reviewer, r.Message, r.Error, w.name, w.status, w.reviewer)
		}
	}
}

func TestRun(t *testing.T) {
	ctrl := func(kind, name, uid string) string {
		return ", ownerReferences: [{apiVersion: apps/v1, kind: " + kind + ", name: " + name + ", uid: " + uid + ", controller: true}]"
	}
	deployment := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ci, uid: d-1}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: builder
      containers: [{name: c, image: nginx}]
`
	replicaSet := `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-1, namespace: ci, uid: rs-1, ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d-1, controller: true}]}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: builder
      containers: [{name: c, image: nginx}]
`
	type want struct {
		name     string
		status   audit.Status
		reviewer string
		plugin   string
		owner    string // owner's name when Owned
	}
	tests := []struct {
		name    string
		objects []string
		want    []want
	}{
		{
			name:    "a pod is reviewed as its ServiceAccount",
			objects: []string{podYAML("p", "ci", "builder", "")},
			want:    []want{{name: "p", status: audit.Admitted, reviewer: "system:serviceaccount:ci:builder"}},
		},
		{
			name:    "a pod whose ServiceAccount may use no policy is denied by PodSecurityPolicy",
			objects: []string{podYAML("p", "ci", "", "")},
			want:    []want{{name: "p", status: audit.Denied, reviewer: "system:serviceaccount:ci:default", plugin: podsecuritypolicy.PluginName}},
		},
		{
			name:    "a pod the namespace's Pod Security label refuses is denied by PodSecurity",
			objects: []string{podYAML("p", "strict", "builder", "")},
			want:    []want{{name: "p", status: audit.Denied, reviewer: "system:serviceaccount:strict:builder", plugin: podsecurity.PluginName}},
		},
		{
			name:    "pods and ReplicaSets are reported through the Deployment that owns them",
			objects: []string{deployment, replicaSet, podYAML("web-1-a", "ci", "builder", ctrl("ReplicaSet", "web-1", "rs-1"))},
			want: []want{
				{name: "web", status: audit.Admitted, reviewer: "system:serviceaccount:kube-system:replicaset-controller"},
				{name: "web-1", status: audit.Owned, owner: "web"},
				{name: "web-1-a", status: audit.Owned, owner: "web"},
			},
		},
		{
			name:    "a pod whose owner is not in the input is reviewed as a pod its controller creates",
			objects: []string{podYAML("web-2-a", "ci", "builder", ctrl("ReplicaSet", "web-2", "rs-2"))},
			want:    []want{{name: "web-2-a", status: audit.Admitted, reviewer: "system:serviceaccount:kube-system:replicaset-controller"}},
		},
		{
			name:    "an owner of the same name but another UID does not stand for the pod",
			objects: []string{replicaSet, podYAML("web-1-b", "ci", "", ctrl("ReplicaSet", "web-1", "rs-old"))},
			want: []want{
				{name: "web-1", status: audit.Admitted, reviewer: "system:serviceaccount:kube-system:replicaset-controller"},
				{name: "web-1-b", status: audit.Denied, reviewer: "system:serviceaccount:kube-system:replicaset-controller", plugin: podsecuritypolicy.PluginName},
			},
		},
		{
			name: "kinds no enabled plugin judges are skipped",
			objects: []string{"apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: ci}\nspec: {ports: [{port: 80}]}\n",
				"apiVersion: v1\nkind: Namespace\nmetadata: {name: ci}\n"},
			want: []want{{name: "s", status: audit.Skipped}, {name: "ci", status: audit.Skipped}},
		},
		{
			name:    "an unreadable pod is reported, not judged",
			objects: []string{"apiVersion: v1\nkind: Pod\nmetadata: {name: bad, namespace: ci}\nspec: {containerz: []}\n"},
			want:    []want{{name: "bad", status: audit.Unreadable}},
		},
	}
	chain := newChain(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := audit.Run(context.Background(), chain, read(t, strings.Join(tc.objects, "---\n")), audit.Options{})
			if len(rs.Results) != len(tc.want) {
				t.Fatalf("%d results, want %d: %+v", len(rs.Results), len(tc.want), rs.Results)
			}
			for i, w := range tc.want {
				r := rs.Results[i]
				owner := ""
				if r.Owner != nil {
					owner = r.Owner.Name
				}
				if r.Name != w.name || r.Status != w.status || r.Reviewer != w.reviewer || r.Plugin != w.plugin || owner != w.owner {
					t.Errorf("result %d = {%s %s reviewer %q plugin %q owner %q} (%s%s), want {%s %s reviewer %q plugin %q owner %q}",
						i, r.Name, r.Status, r.Reviewer, r.Plugin, owner, r.Message, r.Error, w.name, w.status, w.reviewer, w.plugin, w.owner)
				}
			}
		})
	}
}

func TestPatches(t *testing.T) {
	chain := newChain(t)
	docs := read(t, podYAML("p", "ci", "builder", ""))
	for _, tc := range []struct {
		name    string
		patches bool
	}{{"without -v no JSON Patch is written", false}, {"with Patches the mutations are listed", true}} {
		t.Run(tc.name, func(t *testing.T) {
			r := audit.Run(t.Context(), chain, docs, audit.Options{Patches: tc.patches}).Results[0]
			if r.Status != audit.Admitted || (r.Patch != nil) != tc.patches {
				t.Errorf("status %s, patch %s; want admitted, a patch: %v", r.Status, r.Patch, tc.patches)
			}
		})
	}
}

// panicky panics reviewing a pod named boom.
type panicky struct{}

func (panicky) Handles(admissionv1.Operation, string) bool { return true }

func (panicky) Validate(_ context.Context, r *admission.Request, _ *corev1.Pod) admission.Decision {
	if r.Name == "boom" {
		panic("boom")
	}
	return admission.Decision{}
}

func init() {
	admission.Register("TestPanicky", func(admission.Inputs) (admission.Plugin, error) { return panicky{}, nil })
}

// TestPanicIsTheObjectsError: a chain that panics on one object makes that
// object an error of the audit (never admitted), and the audit of the
// others goes on — in order, one at a time or on every core.
func TestPanicIsTheObjectsError(t *testing.T) {
	built, err := snapshot.BuildPolicies(snapshot.Config{AdmissionPlugins: []string{"TestPanicky"}}, &policy.Set{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{3, 40} { // below and above parallel.Do's inline threshold
		var objs []string
		for i := range n {
			name := fmt.Sprintf("p%d", i)
			if i == n/2 {
				name = "boom"
			}
			objs = append(objs, podYAML(name, "default", "default", ""))
		}
		rs := audit.Run(context.Background(), built.Admission, read(t, strings.Join(objs, "---\n")), audit.Options{})
		for i, r := range rs.Results {
			switch {
			case r.Name == "boom" && (r.Status != audit.Unreadable || !strings.Contains(r.Error, "internal error while judging it") || !strings.Contains(r.Error, "boom")):
				t.Errorf("%d objects: boom: %s %q, want unreadable with the panic", n, r.Status, r.Error)
			case r.Name != "boom" && r.Status != audit.Admitted:
				t.Errorf("%d objects: object %d (%s): %s %q, want admitted", n, i, r.Name, r.Status, r.Error)
			}
		}
		if rs.Total.Unreadable != 1 || len(rs.Results) != n {
			t.Errorf("%d objects: %d results, %d unreadable, want %d and 1", n, len(rs.Results), rs.Total.Unreadable, n)
		}
	}
}

// panickyObjects panics judging any object named boom (an ObjectValidator:
// it is asked about objects without a pod too).
type panickyObjects struct{}

func (panickyObjects) Handles(admissionv1.Operation, string) bool { return true }

func (panickyObjects) ValidateObject(_ context.Context, r *admission.ObjectRequest) admission.Decision {
	if r.Request.Name == "boom" {
		panic("boom")
	}
	return admission.Decision{}
}

func init() {
	admission.Register("TestPanickyObjects", func(admission.Inputs) (admission.Plugin, error) { return panickyObjects{}, nil })
}

// TestPanicOfAClusterScopedObject: a cluster-scoped object whose review
// panics is an error of the cluster scope (the ClusterPolicyReport), not of
// the default namespace, which it is not in.
func TestPanicOfAClusterScopedObject(t *testing.T) {
	built, err := snapshot.BuildPolicies(snapshot.Config{AdmissionPlugins: []string{"TestPanickyObjects"}}, &policy.Set{})
	if err != nil {
		t.Fatal(err)
	}
	docs := read(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: boom}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: fine}\n")
	rs := audit.Run(t.Context(), built.Admission, docs, audit.Options{})
	for _, r := range rs.Results {
		if r.Namespace != "" {
			t.Errorf("Namespace %s (%s): in namespace %q, want cluster-scoped", r.Name, r.Status, r.Namespace)
		}
	}
	reps := audit.Reports(rs, 0)
	if len(reps) != 1 || reps[0].Kind != "ClusterPolicyReport" || reps[0].Summary.Error != 1 {
		t.Errorf("reports %+v, want one ClusterPolicyReport with the error", reps)
	}
}
