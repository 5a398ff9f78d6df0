package audit_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/podsecuritypolicy"
	"github.com/kguard/kguard/internal/audit"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/snapshot"
)

// benchPolicies: 19 PodSecurityPolicies the typical pod fails and, last by
// name, one it passes after defaulting (the worst case for selection), usable
// by every authenticated user, and 50 namespaces labelled to enforce
// baseline and warn restricted.
func benchPolicies(b *testing.B) string {
	var docs []string
	for i := range 19 {
		docs = append(docs, fmt.Sprintf(`apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: p%02d}
spec:
  runAsUser: {rule: MustRunAs, ranges: [{min: %d, max: %d}]}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: [configMap]`, i, 2000+i, 2000+i))
	}
	docs = append(docs, `apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: z-restricted}
spec:
  allowPrivilegeEscalation: false
  requiredDropCapabilities: [ALL]
  volumes: [configMap, emptyDir, projected, secret, downwardAPI, persistentVolumeClaim]
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
  fsGroup: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}`, `kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use]}]`, `kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use}
subjects: [{kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: use, apiGroup: rbac.authorization.k8s.io}`)
	for i := range 50 {
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: ns%02d, labels: {pod-security.kubernetes.io/enforce: baseline, pod-security.kubernetes.io/warn: restricted}}", i))
	}
	return strings.Join(docs, "\n---\n")
}

// benchObjects: n objects in 50 namespaces, in fours — a Deployment, its
// ReplicaSet and one of its pods (both reported through the Deployment), and
// a pod of its own, every tenth one privileged.
func benchObjects(n int) string {
	var b strings.Builder
	container := `[{name: app, image: registry.example/app:1, ports: [{containerPort: 8080}], volumeMounts: [{name: cfg, mountPath: /etc/app}]}]`
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("ns%02d", i%50)
		name := fmt.Sprintf("app%d", i/4)
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %s, namespace: %s, uid: d%d}\nspec:\n  selector: {matchLabels: {app: %s}}\n  template:\n    metadata: {labels: {app: %s}}\n    spec:\n      volumes: [{name: cfg, configMap: {name: cfg}}]\n      containers: %s\n", name, ns, i, name, name, container)
		case 1:
			fmt.Fprintf(&b, "---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: %s-1, namespace: %s, uid: r%d, ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: %s, uid: d%d, controller: true}]}\nspec:\n  selector: {matchLabels: {app: %s}}\n  template:\n    metadata: {labels: {app: %s}}\n    spec:\n      volumes: [{name: cfg, configMap: {name: cfg}}]\n      containers: %s\n", name, fmt.Sprintf("ns%02d", (i-1)%50), i, name, i-1, name, name, container)
		case 2:
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s-1-x, namespace: %s, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: %s-1, uid: r%d, controller: true}]}\nspec:\n  volumes: [{name: cfg, configMap: {name: cfg}}]\n  containers: %s\n", name, fmt.Sprintf("ns%02d", (i-2)%50), name, i-1, container)
		default:
			sc := ""
			if i%10 == 3 {
				sc = ", securityContext: {privileged: true}"
			}
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: solo%d, namespace: %s}\nspec:\n  serviceAccountName: worker\n  containers: [{name: app, image: registry.example/app:1%s}]\n", i, ns, sc)
		}
	}
	return b.String()
}

// BenchmarkAudit10k audits 10,000 pods and workloads (a quarter of them
// reported through their Deployment) with 20 PodSecurityPolicies and Pod
// Security labels; objects/s is the throughput.
func BenchmarkAudit10k(b *testing.B) {
	set, err := policy.Read(strings.NewReader(benchPolicies(b)), "policies.yaml")
	if err != nil {
		b.Fatal(err)
	}
	built, err := snapshot.BuildPolicies(snapshot.Config{AdmissionPlugins: []string{podsecuritypolicy.PluginName, podsecurity.PluginName}}, set)
	if err != nil {
		b.Fatal(err)
	}
	docs, err := manifest.Read(strings.NewReader(benchObjects(10000)), "dump.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var rs *audit.Results
	for b.Loop() {
		rs = audit.Run(b.Context(), built.Admission, docs, audit.Options{})
	}
	b.ReportMetric(float64(len(docs)*b.N)/b.Elapsed().Seconds(), "objects/s")
	// The objects reported through their owner cost a lookup; the others a review.
	b.ReportMetric(float64((rs.Total.Objects-rs.Total.Owned)*b.N)/b.Elapsed().Seconds(), "reviews/s")
	if rs.Total.Objects != 10000 || rs.Total.Owned != 5000 || rs.Total.Violations == 0 || rs.Total.Unreadable != 0 {
		b.Fatalf("unexpected totals %+v", rs.Total)
	}
}
