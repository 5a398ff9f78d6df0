package tenant_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	tenantauthz "github.com/kguard/kguard/internal/authz/tenant"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/tenant"
)

const tenants = `apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: team-a}
spec:
  owners:
    users: [alice]
    groups: [a-admins]
    serviceAccounts: [{namespace: ci, name: deployer}]
  namespaces: {names: [a-dev, a-prod]}
---
apiVersion: kguard.io/v1alpha1
kind: Tenant
metadata: {name: team-b}
spec:
  owners: {users: [bob]}
  namespaces:
    selector: {matchLabels: {tenant: team-b}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b-prod, labels: {tenant: team-b}}
`

func authz(t *testing.T) *tenantauthz.Authorizer {
	t.Helper()
	set, err := policy.Read(strings.NewReader(tenants), "tenants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	own, err := tenant.New(set.Tenants, set.Namespaces)
	if err != nil {
		t.Fatal(err)
	}
	return tenantauthz.New(own)
}

func TestAuthorize(t *testing.T) {
	a := authz(t)
	alice := &user.DefaultInfo{Name: "alice", Groups: []string{"system:authenticated"}}
	carol := &user.DefaultInfo{Name: "carol", Groups: []string{"a-admins", "system:authenticated"}}
	aSA := &user.DefaultInfo{Name: "system:serviceaccount:a-dev:builder", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:a-dev"}}
	ownerSA := &user.DefaultInfo{Name: "system:serviceaccount:ci:deployer"}
	otherSA := &user.DefaultInfo{Name: "system:serviceaccount:ci:other"}
	bob := &user.DefaultInfo{Name: "bob"}
	admin := &user.DefaultInfo{Name: "admin", Groups: []string{"system:masters"}}
	res := func(u user.Info, verb, group, resource, sub, ns, name string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{User: u, Verb: verb, APIGroup: group, Resource: resource, Subresource: sub, Namespace: ns, Name: name, ResourceRequest: true}
	}
	for _, tc := range []struct {
		name  string
		attrs authorizer.AttributesRecord
		want  string // "" no opinion, else a part of the denial
	}{
		{"owner in its namespace", res(alice, "create", "apps", "deployments", "", "a-dev", ""), ""},
		{"verb * in its namespace", res(alice, "*", "apps", "deployments", "", "a-dev", ""), ""},
		{"owner through a group", res(carol, "delete", "", "pods", "", "a-prod", "web"), ""},
		{"owner reads cluster-scoped objects", res(alice, "list", "", "nodes", "", "", ""), ""},
		{"owner lists its tenant's CRs cluster-wide", res(alice, "list", "kguard.io", "tenants", "", "", ""), ""},
		{"owner watches cluster-scoped objects", res(alice, "watch", "storage.k8s.io", "storageclasses", "", "", ""), ""},
		{"a PSP's use without a namespace", res(aSA, "use", "policy", "podsecuritypolicies", "", "", "restricted"), ""},
		{"owner gets its namespace", res(alice, "get", "", "namespaces", "", "a-dev", "a-dev"), ""},
		{"kubectl auth can-i", res(alice, "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", ""), ""},
		{"kubectl auth whoami", res(alice, "create", "authentication.k8s.io", "selfsubjectreviews", "", "", ""), ""},
		{"impersonating a ServiceAccount of its namespace", res(alice, "impersonate", "", "serviceaccounts", "", "a-dev", "builder"), ""},
		{"not a member", res(admin, "patch", "", "pods", "status", "a-dev", "web"), ""},
		{"a ServiceAccount of a non-tenant namespace", res(otherSA, "create", "", "pods", "", "kube-system", ""), ""},

		{"status patch", res(alice, "patch", "", "pods", "status", "a-dev", "web"), `User "alice" (tenant "team-a") may not write status subresources (pods/status)`},
		{"status update of a CR", res(alice, "update", "example.com", "widgets", "status", "a-dev", "w"), "(widgets.example.com/status)"},
		{"another tenant's namespace", res(alice, "get", "", "secrets", "", "b-prod", "s"), `may not get secrets in namespace "b-prod", which belongs to tenant "team-b"`},
		{"a namespace of no tenant", res(alice, "list", "", "pods", "", "kube-system", ""), `in namespace "kube-system", which belongs to no tenant`},
		{"a ServiceAccount of the tenant outside it", res(aSA, "create", "", "pods", "", "default", ""), `User "system:serviceaccount:a-dev:builder" (tenant "team-a") may not create pods in namespace "default"`},
		{"an owner ServiceAccount", res(ownerSA, "create", "", "pods", "", "ci", ""), `in namespace "ci", which belongs to no tenant`},
		{"selected namespace", res(alice, "delete", "", "configmaps", "", "b-prod", "c"), `tenant "team-b"`},
		{"the other tenant's owner", res(bob, "create", "", "pods", "", "a-dev", ""), `User "bob" (tenant "team-b")`},
		{"owner lists all namespaces' pods", res(alice, "list", "", "pods", "", "", ""), `may not list pods across all namespaces, which include namespaces of other tenants or of none: list them in its tenant's namespaces`},
		{"a ServiceAccount watches all namespaces' secrets", res(aSA, "watch", "", "secrets", "", "", ""), "may not watch secrets across all namespaces"},
		{"a CRD unknown to the mode is namespaced", res(alice, "list", "example.com", "widgets", "", "", ""), "may not list widgets.example.com across all namespaces"},
		{"verb * on cluster-scoped objects", res(alice, "*", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", ""), `verb "*" includes create, and User "alice" (tenant "team-a") may not create clusterrolebindings.rbac.authorization.k8s.io`},
		{"verb * on a status subresource", res(alice, "*", "", "pods", "status", "a-dev", ""), `verb "*" includes create, and User "alice" (tenant "team-a") may not write status subresources`},
		{"verb * on its namespace", res(alice, "*", "", "namespaces", "", "a-dev", "a-dev"), "may not create namespaces"},
		{"verb * on users", res(alice, "*", "", "users", "", "", "admin"), "may not create users"},
		{"cluster-scoped write", res(alice, "create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", ""), "may not create clusterrolebindings.rbac.authorization.k8s.io: cluster-scoped writes are not a tenant's"},
		{"creating a namespace", res(alice, "create", "", "namespaces", "", "", ""), "may not create namespaces"},
		{"labelling its own namespace", res(alice, "patch", "", "namespaces", "", "a-dev", "a-dev"), "may not patch namespaces: a tenant's namespaces and their labels are the cluster's to manage"},
		{"impersonating a user", res(alice, "impersonate", "", "users", "", "", "admin"), "may not impersonate users outside its tenant's namespaces"},
		{"constrained impersonation of a user", res(alice, "impersonate:user-info", "", "users", "", "", "admin"), "may not impersonate:user-info users outside its tenant's namespaces"},
		{"escalate on cluster roles", res(carol, "escalate", "rbac.authorization.k8s.io", "clusterroles", "", "", "admin"), "may not escalate clusterroles.rbac.authorization.k8s.io"},
		{"resource * in its namespace includes its Namespace", res(alice, "patch", "", "*", "", "a-dev", ""), "may not patch *: a tenant's namespaces and their labels are the cluster's to manage"},
		{"group * on its namespace", res(alice, "update", "*", "namespaces", "", "a-dev", "a-dev"), "may not update namespaces.*: a tenant's namespaces"},
		{"verb * on resource * in its namespace", res(alice, "*", "*", "*", "", "a-dev", ""), `verb "*" includes create`},
		{"subresource * includes status", res(alice, "patch", "", "pods", "*", "a-dev", "web"), "may not write status subresources (pods/*)"},
		{"owner reads everything in its namespace", res(alice, "get", "*", "*", "", "a-dev", ""), ""},
		{"bind in another namespace", res(alice, "bind", "rbac.authorization.k8s.io", "roles", "", "b-prod", "r"), `in namespace "b-prod"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, reason, err := a.Authorize(context.Background(), tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if d != authorizer.DecisionNoOpinion {
					t.Fatalf("decision %v (%s), want no opinion", d, reason)
				}
				return
			}
			if d != authorizer.DecisionDeny || !strings.HasPrefix(reason, "Tenant: ") || !strings.Contains(reason, tc.want) {
				t.Fatalf("decision %v %q, want deny with %q", d, reason, tc.want)
			}
		})
	}
	// Non-resource requests are RBAC's.
	if d, _, _ := a.Authorize(context.Background(), authorizer.AttributesRecord{User: alice, Verb: "get", Path: "/healthz"}); d != authorizer.DecisionNoOpinion {
		t.Fatalf("non-resource request: %v", d)
	}
}

// An owner of two tenants may work in both.
func TestOwnerOfTwoTenants(t *testing.T) {
	a := authz(t)
	both := &user.DefaultInfo{Name: "bob", Groups: []string{"a-admins"}}
	for _, ns := range []string{"a-dev", "b-prod"} {
		d, reason, _ := a.Authorize(context.Background(), authorizer.AttributesRecord{User: both, Verb: "create", Resource: "pods", Namespace: ns, ResourceRequest: true})
		if d != authorizer.DecisionNoOpinion {
			t.Fatalf("%s: %v %s", ns, d, reason)
		}
	}
	_, reason, _ := a.Authorize(context.Background(), authorizer.AttributesRecord{User: both, Verb: "create", Resource: "pods", Namespace: "x", ResourceRequest: true})
	if !strings.Contains(reason, `User "bob" (tenants "team-a", "team-b")`) {
		t.Fatalf("reason %q", reason)
	}
}
