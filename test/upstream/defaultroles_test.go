package upstream

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy"

	"github.com/kguard/kguard/internal/authz/defaultroles"
	"github.com/kguard/kguard/internal/authz/rbac"
	"github.com/kguard/kguard/internal/policy"
)

func ruleSet(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, rbac.CompactString(r))
	}
	sort.Strings(out)
	return out
}

// The default roles kguard ships equal upstream's bootstrap policy: names,
// labels, annotations, aggregation rules and rules (aggregated roles are
// compared by their selectors; their rules come from the controller, below).
func TestDefaultRolesEqualBootstrapPolicy(t *testing.T) {
	shipped, err := defaultroles.Set()
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]*rbacv1.ClusterRole{}
	for _, r := range shipped.ClusterRoles {
		ours[r.Name] = r
	}
	// What kube-apiserver's RBAC post-start hook creates.
	upstream := append(bootstrappolicy.ClusterRoles(), bootstrappolicy.ControllerRoles()...)
	if len(upstream) != len(ours) {
		t.Errorf("upstream bootstraps %d ClusterRoles, kguard ships %d", len(upstream), len(ours))
	}
	for _, u := range upstream {
		k, ok := ours[u.Name]
		if !ok {
			t.Errorf("ClusterRole %s missing from kguard's default roles", u.Name)
			continue
		}
		if !reflect.DeepEqual(k.Labels, u.Labels) {
			t.Errorf("%s labels: kguard %v, upstream %v", u.Name, k.Labels, u.Labels)
		}
		if !reflect.DeepEqual(k.AggregationRule, u.AggregationRule) {
			t.Errorf("%s aggregationRule: kguard %v, upstream %v", u.Name, k.AggregationRule, u.AggregationRule)
		}
		if u.AggregationRule == nil && strings.Join(ruleSet(k.Rules), "\n") != strings.Join(ruleSet(u.Rules), "\n") {
			t.Errorf("%s rules differ:\nkguard   %v\nupstream %v", u.Name, ruleSet(k.Rules), ruleSet(u.Rules))
		}
	}
	ourBindings := map[string]*rbacv1.ClusterRoleBinding{}
	for _, b := range shipped.ClusterRoleBindings {
		ourBindings[b.Name] = b
	}
	upBindings := append(bootstrappolicy.ClusterRoleBindings(), bootstrappolicy.ControllerRoleBindings()...)
	if len(upBindings) != len(ourBindings) {
		t.Errorf("upstream bootstraps %d ClusterRoleBindings, kguard ships %d", len(upBindings), len(ourBindings))
	}
	for _, u := range upBindings {
		k, ok := ourBindings[u.Name]
		if !ok {
			t.Errorf("ClusterRoleBinding %s missing", u.Name)
			continue
		}
		if k.RoleRef != u.RoleRef || !reflect.DeepEqual(k.Subjects, u.Subjects) {
			t.Errorf("ClusterRoleBinding %s: kguard %v %v, upstream %v %v", u.Name, k.RoleRef, k.Subjects, u.RoleRef, u.Subjects)
		}
	}
}

// kguard's aggregation, run on upstream's bootstrap roles (whose aggregated
// roles are empty), must produce what the real aggregation controller
// produced on the live cluster the shipped data was dumped from.
func TestAggregationMatchesTheController(t *testing.T) {
	shipped, err := defaultroles.Set()
	if err != nil {
		t.Fatal(err)
	}
	boot := &policy.Set{}
	for _, r := range bootstrappolicy.ClusterRoles() {
		boot.ClusterRoles = append(boot.ClusterRoles, r.DeepCopy())
	}
	a := rbac.New(boot)
	checked := 0
	for _, live := range shipped.ClusterRoles {
		if live.AggregationRule == nil {
			continue
		}
		got, ok := a.RoleRules("ClusterRole", "", live.Name)
		if !ok {
			t.Errorf("%s unknown", live.Name)
			continue
		}
		if strings.Join(ruleSet(got), "\n") != strings.Join(ruleSet(live.Rules), "\n") {
			t.Errorf("%s: kguard aggregated\n%v\nthe controller aggregated\n%v", live.Name, ruleSet(got), ruleSet(live.Rules))
		}
		checked++
	}
	if checked < 3 {
		t.Fatalf("only %d aggregated roles checked", checked)
	}
}

// With the default roles loaded, kguard and upstream agree on requests that
// exercise them (discovery, the system: roles, admin/edit/view through bindings).
func TestDefaultRolesDecisionsMatchUpstream(t *testing.T) {
	shipped, err := defaultroles.Set()
	if err != nil {
		t.Fatal(err)
	}
	ours := rbac.New(shipped)
	up := upstreamAuthorizer(shipped)
	ctx := context.Background()
	users := []struct {
		name   string
		groups []string
	}{
		{"system:kube-scheduler", []string{"system:authenticated"}},
		{"system:kube-controller-manager", []string{"system:authenticated"}},
		{"system:kube-proxy", []string{"system:authenticated"}},
		{"system:serviceaccount:kube-system:deployment-controller", []string{"system:authenticated", "system:serviceaccounts", "system:serviceaccounts:kube-system"}},
		{"system:serviceaccount:kube-system:namespace-controller", []string{"system:authenticated", "system:serviceaccounts"}},
		{"jane", []string{"system:authenticated"}},
		{"system:anonymous", []string{"system:unauthenticated"}},
		{"root", []string{"system:masters"}},
		{"system:node:n1", []string{"system:nodes", "system:authenticated"}},
	}
	n := 0
	for _, u := range users {
		for _, verb := range []string{"get", "list", "watch", "create", "update", "patch", "delete", "escalate", "bind", "impersonate"} {
			for _, gr := range [][2]string{{"", "pods"}, {"", "secrets"}, {"", "nodes"}, {"", "serviceaccounts"}, {"apps", "deployments"}, {"apps", "replicasets"}, {"rbac.authorization.k8s.io", "clusterroles"}, {"coordination.k8s.io", "leases"}, {"", "events"}, {"events.k8s.io", "events"}, {"", "namespaces"}} {
				for _, ns := range []string{"", "kube-system", "default"} {
					req := authorizer.AttributesRecord{User: userInfo(u.name, u.groups), Verb: verb, APIGroup: gr[0], Resource: gr[1], Namespace: ns, ResourceRequest: true}
					ud, _, _ := up.Authorize(ctx, req)
					kd, _, _ := ours.Authorize(ctx, req)
					if ud != kd {
						t.Fatalf("%s: upstream %v, kguard %v", describe(req), ud, kd)
					}
					n++
				}
			}
		}
		for _, path := range []string{"/healthz", "/livez", "/readyz", "/version", "/api", "/apis/apps", "/metrics", "/openapi/v2", "/logs/x"} {
			req := authorizer.AttributesRecord{User: userInfo(u.name, u.groups), Verb: "get", Path: path}
			ud, _, _ := up.Authorize(ctx, req)
			kd, _, _ := ours.Authorize(ctx, req)
			if ud != kd {
				t.Fatalf("%s: upstream %v, kguard %v", describe(req), ud, kd)
			}
			n++
		}
	}
	t.Logf("%d decisions identical on the default roles", n)
}
