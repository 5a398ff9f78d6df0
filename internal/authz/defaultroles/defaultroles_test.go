package defaultroles

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

func TestSet(t *testing.T) {
	s, err := Set()
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]*rbacv1.ClusterRole{}
	for _, r := range s.ClusterRoles {
		if r.Labels["kubernetes.io/bootstrapping"] != "rbac-defaults" {
			t.Errorf("ClusterRole %s lacks the rbac-defaults label", r.Name)
		}
		roles[r.Name] = r
	}
	for _, name := range []string{"cluster-admin", "admin", "edit", "view", "system:node-proxier", "system:kube-scheduler", "system:kube-controller-manager", "system:discovery", "system:basic-user", "system:public-info-viewer"} {
		if roles[name] == nil {
			t.Errorf("default ClusterRole %s missing", name)
		}
	}
	for _, name := range []string{"admin", "edit", "view"} {
		r := roles[name]
		if r == nil {
			continue
		}
		if r.AggregationRule == nil || len(r.AggregationRule.ClusterRoleSelectors) == 0 {
			t.Errorf("%s has no aggregationRule", name)
		}
		if len(r.Rules) == 0 {
			t.Errorf("%s has no rules: the dump was taken before the aggregation controller ran", name)
		}
	}
	ca := roles["cluster-admin"]
	if ca == nil || len(ca.Rules) != 2 || ca.Rules[0].Verbs[0] != "*" {
		t.Errorf("cluster-admin rules = %+v", ca)
	}
	bindings := map[string]*rbacv1.ClusterRoleBinding{}
	for _, b := range s.ClusterRoleBindings {
		bindings[b.Name] = b
	}
	if b := bindings["cluster-admin"]; b == nil || b.Subjects[0].Name != "system:masters" {
		t.Errorf("cluster-admin binding = %+v", b)
	}
	if b := bindings["system:discovery"]; b == nil || b.Subjects[0].Name != "system:authenticated" {
		t.Errorf("system:discovery binding = %+v", b)
	}
}

func TestSetReturnsFreshSlices(t *testing.T) {
	a, err := Set()
	if err != nil {
		t.Fatal(err)
	}
	n := len(a.ClusterRoles)
	a.ClusterRoles = a.ClusterRoles[:0]
	b, _ := Set()
	if len(b.ClusterRoles) != n {
		t.Fatalf("a caller's change leaked: %d roles, want %d", len(b.ClusterRoles), n)
	}
}
