//go:build e2e

package e2e

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kguard/kguard/internal/authz/defaultroles"
)

func TestClusterIsUp(t *testing.T) {
	ns, err := live.client.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, n := range ns.Items {
		names[n.Name] = true
	}
	if !names["default"] || !names["kube-system"] {
		t.Fatalf("namespaces = %v", names)
	}
	out, err := kubectl(t, "get", "clusterroles", "-o", "name")
	if err != nil || !strings.Contains(out, "clusterrole.rbac.authorization.k8s.io/cluster-admin") {
		t.Fatalf("kubectl get clusterroles: %v\n%s", err, out)
	}
}

// ruleKeys flattens rules to comparable strings so that order does not matter.
func ruleKeys(rules []rbacv1.PolicyRule) []string {
	var keys []string
	for _, r := range rules {
		for _, v := range r.Verbs {
			if len(r.NonResourceURLs) > 0 {
				for _, u := range r.NonResourceURLs {
					keys = append(keys, "nonresource "+v+" "+u)
				}
				continue
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					keys = append(keys, strings.Join([]string{v, g, res, strings.Join(r.ResourceNames, ",")}, " "))
				}
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// The default roles kguard ships must be what a live kube-apiserver serves.
func TestDefaultRolesMatchLiveCluster(t *testing.T) {
	want, err := defaultroles.Set()
	if err != nil {
		t.Fatal(err)
	}
	sel := metav1.ListOptions{LabelSelector: "kubernetes.io/bootstrapping=rbac-defaults"}
	roles, err := live.client.RbacV1().ClusterRoles().List(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	liveRoles := map[string]rbacv1.ClusterRole{}
	for _, r := range roles.Items {
		liveRoles[r.Name] = r
	}
	if len(liveRoles) != len(want.ClusterRoles) {
		t.Errorf("live cluster has %d default ClusterRoles, kguard ships %d", len(liveRoles), len(want.ClusterRoles))
	}
	for _, r := range want.ClusterRoles {
		l, ok := liveRoles[r.Name]
		if !ok {
			t.Errorf("ClusterRole %s is not on the live cluster", r.Name)
			continue
		}
		if !reflect.DeepEqual(ruleKeys(l.Rules), ruleKeys(r.Rules)) {
			t.Errorf("ClusterRole %s: rules differ\nlive:   %v\nkguard: %v", r.Name, ruleKeys(l.Rules), ruleKeys(r.Rules))
		}
	}
	bindings, err := live.client.RbacV1().ClusterRoleBindings().List(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	liveBindings := map[string]rbacv1.ClusterRoleBinding{}
	for _, b := range bindings.Items {
		liveBindings[b.Name] = b
	}
	if len(liveBindings) != len(want.ClusterRoleBindings) {
		t.Errorf("live cluster has %d default ClusterRoleBindings, kguard ships %d", len(liveBindings), len(want.ClusterRoleBindings))
	}
	for _, b := range want.ClusterRoleBindings {
		l, ok := liveBindings[b.Name]
		if !ok {
			t.Errorf("ClusterRoleBinding %s is not on the live cluster", b.Name)
			continue
		}
		if l.RoleRef != b.RoleRef || !reflect.DeepEqual(l.Subjects, b.Subjects) {
			t.Errorf("ClusterRoleBinding %s differs: live %v %v, kguard %v %v", b.Name, l.RoleRef, l.Subjects, b.RoleRef, b.Subjects)
		}
	}
}
