//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Issue #15 on the real control plane: two kguard.io Tenants with their
// nodes (tainted and labelled as the Tenant's defaults say); tenant A's
// Deployment gets its toleration and nodeSelector from kguard and the real
// scheduler binds its pods to A's node only; a pod tolerating B's taint and
// a Service claiming an external IP are refused, naming the tenant and the
// field.
func TestTenancy(t *testing.T) {
	defer kguardLogs(t)
	nodeA, nodeB := "e2e-tenancy-team-a", "e2e-tenancy-team-b"
	tenantNode(t, nodeA, "team-a")
	tenantNode(t, nodeB, "team-b")
	const nsA, nsB = "tenancy-a", "tenancy-b"
	testNamespace(t, nsA)
	testNamespace(t, nsB)
	tenants := `apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: team-a}
spec:
  namespaces: {names: [tenancy-a]}
  podSecurity: {level: restricted}
---
apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: team-b}
spec:
  namespaces: {names: [tenancy-b]}
  podSecurity: {level: restricted}
`
	if out, err := kubectlIn(t, tenants, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "tenants.kguard.io", "team-a", "team-b", "--ignore-not-found") })
	// The restricted PodSecurityPolicy, usable by the tenants' ServiceAccounts
	// (the ReplicaSet controller creates the pods as the pod's ServiceAccount's
	// namespace sees it).
	policy := strings.Replace(crd(t, "../../examples/psp/policies/restricted-psp.yaml"), "name: restricted", "name: e2e-tenancy", 1)
	if out, err := kubectlIn(t, policy, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "podsecuritypolicies.kguard.io", "e2e-tenancy", "--ignore-not-found") })
	role := "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: e2e-tenancy-psp}\n" +
		"rules: [{apiGroups: [kguard.io], resources: [podsecuritypolicies], verbs: [use], resourceNames: [e2e-tenancy]}]\n"
	if out, err := kubectlIn(t, role, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "clusterrole", "e2e-tenancy-psp", "--ignore-not-found") })
	mustKubectl(t, "create", "rolebinding", "-n", nsA, "psp", "--clusterrole=e2e-tenancy-psp", "--group=system:serviceaccounts:"+nsA)
	// Without a kubelet a bound pod is never confirmed deleted: stop the
	// Deployment, then delete its pods at once, before the namespace goes.
	t.Cleanup(func() {
		kubectl(t, "delete", "deployment", "-n", nsA, "web", "--ignore-not-found", "--wait=true", "--timeout=20s", "--cascade=orphan")
		kubectl(t, "delete", "replicasets", "-n", nsA, "--all", "--wait=true", "--timeout=20s", "--cascade=orphan")
		zero := int64(0)
		for i := 0; i < 20; i++ {
			live.client.CoreV1().Pods(nsA).DeleteCollection(context.Background(), metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
			pods, err := live.client.CoreV1().Pods(nsA).List(context.Background(), metav1.ListOptions{})
			if err != nil || len(pods.Items) == 0 {
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
	})

	// A plain restricted Deployment of tenant A, with no word of nodes.
	deploy := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: tenancy-a}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext: {runAsUser: 1000, runAsNonRoot: true}
      containers:
      - name: web
        image: registry.k8s.io/pause:3.10
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`
	eventually(t, 60*time.Second, "tenant A's Deployment is created with A's toleration and node selector", func() (bool, string) {
		if out, err := kubectlIn(t, deploy, "apply", "-f", "-"); err != nil {
			return false, out
		}
		out, err := kubectl(t, "get", "deployment", "-n", nsA, "web", "-o", "jsonpath={.spec.template.spec.tolerations} {.spec.template.spec.nodeSelector} {.spec.template.spec.securityContext.seccompProfile.type}")
		return err == nil && strings.Contains(out, `"key":"kguard.io/tenant"`) && strings.Contains(out, `"value":"team-a"`) &&
			strings.Contains(out, `{"kguard.io/tenant":"team-a"}`) && strings.Contains(out, "RuntimeDefault"), out
	})
	eventually(t, 60*time.Second, "the scheduler binds tenant A's pods to A's node only", func() (bool, string) {
		pods, err := live.client.CoreV1().Pods(nsA).List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err.Error()
		}
		bound := 0
		var where []string
		for _, p := range pods.Items {
			where = append(where, p.Name+"@"+p.Spec.NodeName)
			if p.Spec.NodeName != "" && p.Spec.NodeName != nodeA {
				t.Fatalf("tenant A's pod %s was bound to %s", p.Name, p.Spec.NodeName)
			}
			if p.Spec.NodeName == nodeA {
				bound++
			}
		}
		return bound == 2, fmt.Sprint(where)
	})

	// kubectl debug on one of them (pods/ephemeralcontainers, sent to the
	// validating webhook): a privileged container, which the pod's SELinux
	// level cannot confine, is refused; a restricted one is added.
	pods, err := live.client.CoreV1().Pods(nsA).List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("tenant A's pods: %v", err)
	}
	target := pods.Items[0].Name
	debug := func(name, profile string) (string, error) {
		return kubectl(t, "debug", "-n", nsA, target, "--image=registry.k8s.io/pause:3.10", "--container="+name,
			"--profile="+profile, "--attach=false", "--stdin=false", "--tty=false")
	}
	out, err := debug("root", "sysadmin")
	if err == nil || !strings.Contains(out, `tenant "team-a": spec.ephemeralContainers[0].securityContext.privileged: Forbidden`) {
		t.Errorf("kubectl debug --profile=sysadmin in tenant A: %v\n%s", err, out)
	}
	if out, err := debug("look", "restricted"); err != nil {
		t.Errorf("kubectl debug --profile=restricted in tenant A: %v\n%s", err, out)
	} else if out, _ := kubectl(t, "get", "pod", "-n", nsA, target, "-o", "jsonpath={.spec.ephemeralContainers[*].name}"); out != "look" {
		t.Errorf("the pod's ephemeral containers: %q, want look", out)
	}

	// A pod tolerating B's taint, a Service claiming an external IP: refused.
	sneaky := `apiVersion: v1
kind: Pod
metadata: {name: sneaky, namespace: tenancy-a}
spec:
  securityContext: {runAsUser: 1000, runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  tolerations: [{key: kguard.io/tenant, operator: Equal, value: team-b, effect: NoSchedule}]
  containers:
  - name: c
    image: registry.k8s.io/pause:3.10
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`
	out, err = kubectlIn(t, sneaky, "create", "-f", "-")
	if err == nil || !strings.Contains(out, `pods "sneaky" is forbidden: tenant "team-a": spec.tolerations[0]: Forbidden: tolerates the taint of tenant "team-b" (kguard.io/tenant=team-b:NoSchedule)`) {
		t.Errorf("a pod tolerating B's taint: %v\n%s", err, out)
	}
	svc := "apiVersion: v1\nkind: Service\nmetadata: {name: intercept, namespace: tenancy-a}\nspec: {ports: [{port: 443}], externalIPs: [198.51.100.7]}\n"
	out, err = kubectlIn(t, svc, "create", "-f", "-")
	if err == nil || !strings.Contains(out, `services "intercept" is forbidden: tenant "team-a": spec.externalIPs: Forbidden`) {
		t.Errorf("a Service with externalIPs: %v\n%s", err, out)
	}
	// The same Service outside any tenant is not the Tenancy plugin's business.
	other := strings.Replace(svc, "namespace: tenancy-a", "namespace: default", 1)
	if out, err := kubectlIn(t, other, "create", "--dry-run=server", "-f", "-"); err != nil {
		t.Errorf("a Service outside the tenants: %v\n%s", err, out)
	}
}

// The Tenant authorization mode on the real control plane: kube-apiserver
// asks kguard (--authorization-mode=Node,Webhook,RBAC; kguard chains
// Tenant,ABAC,RBAC) before its own RBAC, and kguard's Deny is final. Tara,
// authenticated by kguard's token webhook, owns tenant "authz" and is
// cluster-admin by a ClusterRoleBinding: she works in her namespace, but
// may not write a Service's status (CVE-2020-8554), touch another
// namespace or relabel her own. Taking her off the owners lets RBAC decide
// again within seconds.
func TestTenantAuthorization(t *testing.T) {
	defer kguardLogs(t)
	const ns = "tenant-authz"
	testNamespace(t, ns)
	tenant := `apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: authz}
spec:
  owners: {users: [OWNERS]}
  namespaces: {names: [tenant-authz]}
`
	apply := func(owners string) {
		t.Helper()
		if out, err := kubectlIn(t, strings.Replace(tenant, "OWNERS", owners, 1), "apply", "-f", "-"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	apply("tara")
	t.Cleanup(func() { kubectl(t, "delete", "tenants.kguard.io", "authz", "--ignore-not-found") })
	mustKubectl(t, "create", "clusterrolebinding", "e2e-tara-admin", "--clusterrole=cluster-admin", "--user=tara")
	t.Cleanup(func() { kubectl(t, "delete", "clusterrolebinding", "e2e-tara-admin", "--ignore-not-found") })
	mustKubectl(t, "create", "service", "clusterip", "web", "-n", ns, "--tcp=80:8080")
	tara := func(args ...string) (string, error) {
		return kubectl(t, append([]string{"--token", kg.tokens["tara"]}, args...)...)
	}
	if out, err := tara("auth", "whoami"); err != nil || !strings.Contains(out, "tara") {
		t.Fatalf("tara is not authenticated by kguard's token webhook: %v\n%s", err, out)
	}
	// kguard sees the Tenant within seconds.
	eventually(t, 20*time.Second, "kguard denies tara a status write", func() (bool, string) {
		out, _ := tara("auth", "can-i", "patch", "services", "--subresource=status", "-n", ns)
		return strings.HasPrefix(out, "no - Tenant: "), out
	})

	// Her own namespace: RBAC decides (cluster-admin).
	if out, err := tara("create", "configmap", "mine", "-n", ns); err != nil {
		t.Fatalf("tara may work in her namespace: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"status of a Service", []string{"patch", "service", "web", "-n", ns, "--subresource=status", "--type=merge", "-p", `{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.1"}]}}}`},
			`Tenant: User "tara" (tenant "authz") may not write status subresources (services/status)`},
		{"another namespace", []string{"create", "configmap", "theirs", "-n", "default"},
			`Tenant: User "tara" (tenant "authz") may not create configmaps in namespace "default", which belongs to no tenant`},
		{"relabelling her namespace", []string{"label", "namespace", ns, "pod-security.kubernetes.io/enforce=privileged"},
			`may not patch namespaces: a tenant's namespaces and their labels are the cluster's to manage`},
		{"a cluster-scoped write", []string{"create", "clusterrolebinding", "e2e-tara-more", "--clusterrole=cluster-admin", "--user=tara"},
			`cluster-scoped writes are not a tenant's`},
		{"impersonating", []string{"get", "pods", "-n", ns, "--as=bob"},
			`(tenant "authz") may not impersonate`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tara(tc.args...)
			if err == nil || !strings.Contains(strings.ToLower(out), "forbidden") || !strings.Contains(out, tc.want) {
				t.Fatalf("kubectl %s: %v\n%s\nwant Forbidden with %q", strings.Join(tc.args, " "), err, out, tc.want)
			}
		})
	}
	// What RBAC grants and the mode does not deny, kube-apiserver allows.
	if out, err := tara("get", "nodes"); err != nil {
		t.Fatalf("cluster-scoped reads are RBAC's: %v\n%s", err, out)
	}

	// Off the owners, she is RBAC's cluster-admin again.
	apply("someone-else")
	eventually(t, 20*time.Second, "tara may write in default again", func() (bool, string) {
		out, err := tara("create", "configmap", "theirs", "-n", "default")
		return err == nil, out
	})
	kubectl(t, "delete", "configmap", "theirs", "-n", "default", "--ignore-not-found")
}

// The tenant reconciler of `kguard controller` against the real API server:
// a Tenant's namespace, owners' RoleBinding, NetworkPolicies and quota are
// created by server-side apply and its Ready condition written; an edited
// NetworkPolicy is put back; a Tenant edit changes the namespace's Pod
// Security label; an edit kguard refuses shows in Ready and changes
// nothing; deleting the Tenant deletes its objects but keeps the namespace.
func TestTenantController(t *testing.T) {
	defer kguardLogs(t)
	const ns = "tenantctl-a"
	startController(t, "--tenant-interval", "1m")
	tenant := `apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: ctl}
spec:
  owners: {users: [tara]}
  namespaces: {names: [tenantctl-a]}
  podSecurity: {level: LEVEL}
  quota:
    resourceQuota: {hard: {pods: "20"}}
`
	apply := func(level string) {
		t.Helper()
		if out, err := kubectlIn(t, strings.Replace(tenant, "LEVEL", level, 1), "apply", "-f", "-"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	apply("restricted")
	t.Cleanup(func() {
		kubectl(t, "delete", "tenants.kguard.io", "ctl", "--ignore-not-found")
		kubectl(t, "delete", "namespace", ns, "--wait=false", "--ignore-not-found")
	})
	get := func(args ...string) string {
		out, _ := kubectl(t, append([]string{"get"}, args...)...)
		return out
	}
	eventually(t, 30e9, "the controller creates the tenant's namespace and objects", func() (bool, string) {
		nsLabels := get("namespace", ns, "-o", "jsonpath={.metadata.labels}")
		rb := get("rolebinding", "kguard-tenant-owners", "-n", ns, "-o", "jsonpath={.roleRef.name} {.subjects[*].name}")
		np := get("networkpolicy", "kguard-tenant-egress", "-n", ns, "-o", "jsonpath={.spec.egress[*].to[*].ipBlock}")
		quota := get("resourcequota", "kguard-tenant-quota", "-n", ns, "-o", "jsonpath={.spec.hard.pods}")
		ok := strings.Contains(nsLabels, `"pod-security.kubernetes.io/enforce":"restricted"`) && strings.Contains(nsLabels, `"kguard.io/tenant":"ctl"`) &&
			rb == "admin tara" && strings.Contains(np, "169.254.0.0/16") && quota == "20"
		return ok, fmt.Sprintf("labels %s; rolebinding %q; egress %s; quota %q", nsLabels, rb, np, quota)
	})
	eventually(t, 20e9, "the Tenant is Ready", func() (bool, string) {
		out := get("tenants.kguard.io", "ctl", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}`)
		return out == "True Applied", out
	})
	if out := get("networkpolicy", "kguard-tenant-egress", "-n", ns, "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}"); !strings.Contains(out, "kguard-tenants") {
		t.Fatalf("the NetworkPolicy is not applied by kguard-tenants: %s", out)
	}

	// Drift: the metadata CIDR's exception removed by hand comes back.
	mustKubectl(t, "patch", "networkpolicy", "kguard-tenant-egress", "-n", ns, "--type=json", "-p", `[{"op":"replace","path":"/spec/egress","value":[{}]}]`)
	eventually(t, 30e9, "the edited NetworkPolicy is put back", func() (bool, string) {
		np := get("networkpolicy", "kguard-tenant-egress", "-n", ns, "-o", "jsonpath={.spec.egress[*].to[*].ipBlock}")
		return strings.Contains(np, "169.254.0.0/16"), np
	})
	// A Tenant edit is the next pass's.
	apply("baseline")
	eventually(t, 30e9, "the namespace follows the Tenant's new level", func() (bool, string) {
		out := get("namespace", ns, "-o", `jsonpath={.metadata.labels.pod-security\.kubernetes\.io/enforce}`)
		return out == "baseline", out
	})
	// An edit kguard refuses (no webhook validates Tenants, so the API
	// server stores it): Ready says so, at the refused generation, and the
	// last good version stays in force.
	if out, err := kubectlIn(t, strings.Replace(strings.Replace(tenant, "LEVEL", "privileged", 1), "names: [tenantctl-a]", "names: [tenantctl-a, kube-system]", 1), "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	eventually(t, 30e9, "the refused edit shows in the Tenant's Ready condition", func() (bool, string) {
		out := get("tenants.kguard.io", "ctl", "-o", `jsonpath={.metadata.generation} {.status.conditions[?(@.type=="Ready")].observedGeneration} {.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason} {.status.conditions[?(@.type=="Ready")].message}`)
		f := strings.Fields(out)
		return len(f) > 4 && f[0] == f[1] && f[2] == "False" && f[3] == "Refused" && strings.Contains(out, "kube-system") && strings.Contains(out, "stays in force"), out
	})
	if out := get("namespace", ns, "-o", `jsonpath={.metadata.labels.pod-security\.kubernetes\.io/enforce}`); out != "baseline" {
		t.Fatalf("the refused edit took effect: the namespace's level is %q, want baseline (the last good version)", out)
	}
	apply("baseline")
	eventually(t, 30e9, "the Tenant fixed is Ready again", func() (bool, string) {
		out := get("tenants.kguard.io", "ctl", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}`)
		return out == "True Applied", out
	})
	// The Tenant deleted: its objects go, its namespace stays.
	mustKubectl(t, "delete", "tenants.kguard.io", "ctl")
	eventually(t, 30e9, "the deleted Tenant's objects are removed", func() (bool, string) {
		out, err := kubectl(t, "get", "networkpolicy,rolebinding,resourcequota", "-n", ns, "-l", "kguard.io/tenant=ctl", "-o", "name")
		return err == nil && strings.TrimSpace(out) == "", out
	})
	if out, err := kubectl(t, "get", "namespace", ns, "-o", "name"); err != nil || strings.TrimSpace(out) != "namespace/"+ns {
		t.Fatalf("the namespace went with the Tenant: %v %s", err, out)
	}
}

// Seed 004's required labels on the real control plane: with
// deploy/tenancy/webhook.yaml registered, a ConfigMap created with kubectl
// in a tenant's namespace carries the tenant's required labels, one that
// sets a required key to another value is refused naming the tenant and
// the field, and a ConfigMap outside the tenants is left alone.
func TestTenancyRequiredLabels(t *testing.T) {
	defer kguardLogs(t)
	const ns = "tenancy-labels"
	testNamespace(t, ns)
	tenant := `apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: team-labels}
spec:
  namespaces: {names: [tenancy-labels]}
  requiredLabels: {example.com/cost-center: cc-7, team: labels}
`
	if out, err := kubectlIn(t, tenant, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "tenants.kguard.io", "team-labels", "--ignore-not-found") })

	// The webhook for every kind mutate.kguard.io does not send, for the
	// length of this test.
	ca, err := os.ReadFile(live.env["CA_CERT"])
	if err != nil {
		t.Fatal(err)
	}
	wh, err := kg.webhookConfigurationsOf("../../deploy/tenancy/webhook.yaml", ca)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := kubectlIn(t, wh, "apply", "-f", "-"); err != nil {
		t.Fatalf("registering the tenancy webhook: %v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "mutatingwebhookconfiguration", "kguard-tenancy", "--ignore-not-found") })

	// kguard sees the Tenant within seconds: retry the creation until the
	// ConfigMap carries the labels.
	n := 0
	eventually(t, 60*time.Second, "a tenant's ConfigMap carries the required labels", func() (bool, string) {
		n++
		name := fmt.Sprintf("settings-%d", n)
		if out, err := kubectl(t, "create", "configmap", name, "-n", ns, "--from-literal=k=v"); err != nil {
			return false, out
		}
		out, err := kubectl(t, "get", "configmap", name, "-n", ns, "-o", "jsonpath={.metadata.labels}")
		return err == nil && strings.Contains(out, `"example.com/cost-center":"cc-7"`) && strings.Contains(out, `"team":"labels"`), out
	})

	conflicting := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other-team, namespace: tenancy-labels, labels: {team: other}}\ndata: {k: v}\n"
	out, err := kubectlIn(t, conflicting, "create", "-f", "-")
	if err == nil || !strings.Contains(out, `configmaps "other-team" is forbidden: tenant "team-labels": metadata.labels[team]: Invalid value: "other": tenant "team-labels" requires team=labels on every object in its namespaces`) {
		t.Errorf("a ConfigMap with another team: %v\n%s", err, out)
	}

	// Outside the tenants: untouched.
	outside := "e2e-labels-outside"
	if out, err := kubectl(t, "create", "configmap", outside, "-n", "default", "--from-literal=k=v"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "configmap", outside, "-n", "default", "--ignore-not-found") })
	if out, err := kubectl(t, "get", "configmap", outside, "-n", "default", "-o", "jsonpath={.metadata.labels}"); err != nil || out != "" {
		t.Errorf("a ConfigMap outside the tenants was labelled: %v %s", err, out)
	}
}
