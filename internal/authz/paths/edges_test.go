package paths

import (
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

func rule(groups, resources, verbs []string, names ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: verbs, ResourceNames: names}
}

func l(s ...string) []string { return s }

var (
	cluster = Scope{}
	inCI    = Scope{Namespace: "ci"}
	admin   = Dest{Kind: ToTarget, Name: string(ClusterAdmin)}
	nodes   = Dest{Kind: ToTarget, Name: string(Nodes)}
)

// TestEdgeKinds gives each edge kind a rule that creates it and one that
// comes close but does not.
func TestEdgeKinds(t *testing.T) {
	cases := []struct {
		name  string
		kind  string
		scope Scope
		rules []rbacv1.PolicyRule
		want  []Dest // nil: no hop
	}{
		{"wildcard", "wildcard", cluster, []rbacv1.PolicyRule{rule(l("*"), l("*"), l("*"))}, []Dest{admin}},
		{"wildcard in a namespace is not cluster-admin", "wildcard", inCI, []rbacv1.PolicyRule{rule(l("*"), l("*"), l("*"))}, nil},
		{"wildcard on core only", "wildcard", cluster, []rbacv1.PolicyRule{rule(l(""), l("*"), l("*"))}, nil},

		{"bind", "bind", cluster, []rbacv1.PolicyRule{rule(l("rbac.authorization.k8s.io"), l("clusterroles"), l("bind")), rule(l("rbac.authorization.k8s.io"), l("clusterrolebindings"), l("create"))}, []Dest{admin}},
		{"bind of another role only", "bind", cluster, []rbacv1.PolicyRule{rule(l("rbac.authorization.k8s.io"), l("clusterroles"), l("bind"), "view"), rule(l("rbac.authorization.k8s.io"), l("clusterrolebindings"), l("create"))}, nil},
		{"bind without create", "bind", cluster, []rbacv1.PolicyRule{rule(l("rbac.authorization.k8s.io"), l("clusterroles"), l("bind"))}, nil},
		{"bind and patch the binding cluster-admin", "bind", cluster, []rbacv1.PolicyRule{rule(l("rbac.authorization.k8s.io"), l("clusterroles"), l("bind"), "cluster-admin"), rule(l("rbac.authorization.k8s.io"), l("clusterrolebindings"), l("patch"), "cluster-admin")}, []Dest{admin}},
		{"bind and update another binding", "bind", cluster, []rbacv1.PolicyRule{rule(l("rbac.authorization.k8s.io"), l("clusterroles"), l("bind")), rule(l("rbac.authorization.k8s.io"), l("clusterrolebindings"), l("update"), "ops")}, nil},

		{"escalate", "escalate", cluster, []rbacv1.PolicyRule{rule(l("rbac.authorization.k8s.io"), l("clusterroles"), l("escalate", "update"))}, []Dest{admin}},
		{"escalate without update", "escalate", cluster, []rbacv1.PolicyRule{rule(l("rbac.authorization.k8s.io"), l("clusterroles"), l("escalate", "get"))}, nil},

		{"impersonate a user and system:masters", "impersonate", cluster, []rbacv1.PolicyRule{rule(l(""), l("users"), l("impersonate"), "jane"), rule(l(""), l("groups"), l("impersonate"), "system:masters")}, []Dest{admin, {Kind: ToUser, Name: "jane"}}},
		{"impersonate a ServiceAccount and any group", "impersonate", cluster, []rbacv1.PolicyRule{rule(l(""), l("groups"), l("impersonate")), rule(l(""), l("serviceaccounts"), l("impersonate"))}, []Dest{admin, {Kind: ToGroup}, {Kind: ToAllSAs}}},
		{"impersonate system:masters without a user", "impersonate", cluster, []rbacv1.PolicyRule{rule(l(""), l("groups"), l("impersonate"), "system:masters")}, nil},
		{"impersonate any group without a user", "impersonate", cluster, []rbacv1.PolicyRule{rule(l(""), l("groups"), l("impersonate"))}, nil},
		{"impersonate a user", "impersonate", cluster, []rbacv1.PolicyRule{rule(l(""), l("users"), l("impersonate"), "jane")}, []Dest{{Kind: ToUser, Name: "jane"}}},
		{"impersonate a user named like a ServiceAccount", "impersonate", cluster, []rbacv1.PolicyRule{rule(l(""), l("users"), l("impersonate"), "system:serviceaccount:ci:bot")}, nil},
		{"impersonate serviceaccounts in ci", "impersonate", inCI, []rbacv1.PolicyRule{rule(l(""), l("serviceaccounts"), l("impersonate"))}, []Dest{{Kind: ToNamespaceSAs, Namespace: "ci"}}},
		{"impersonate a named ServiceAccount cluster-wide", "impersonate", cluster, []rbacv1.PolicyRule{rule(l(""), l("serviceaccounts"), l("impersonate"), "bot")}, []Dest{{Kind: ToNamedSAs, Name: "bot"}}},
		{"impersonate users in a namespace", "impersonate", inCI, []rbacv1.PolicyRule{rule(l(""), l("users"), l("impersonate"))}, nil},
		{"get users", "impersonate", cluster, []rbacv1.PolicyRule{rule(l(""), l("users", "groups"), l("get"))}, nil},

		{"token request in ci", "token-request", inCI, []rbacv1.PolicyRule{rule(l(""), l("serviceaccounts/token"), l("create"))}, []Dest{{Kind: ToNamespaceSAs, Namespace: "ci"}}},
		{"token request for one", "token-request", inCI, []rbacv1.PolicyRule{rule(l(""), l("serviceaccounts/token"), l("create"), "bot")}, []Dest{{Kind: ToSA, Namespace: "ci", Name: "bot"}}},
		{"token request for one cluster-wide", "token-request", cluster, []rbacv1.PolicyRule{rule(l(""), l("serviceaccounts/token"), l("create"), "bot")}, []Dest{{Kind: ToNamedSAs, Name: "bot"}}},
		{"token request cluster-wide", "token-request", cluster, []rbacv1.PolicyRule{rule(l(""), l("serviceaccounts/token"), l("create"))}, []Dest{{Kind: ToTarget, Name: string(Tokens)}}},
		{"create serviceaccounts", "token-request", inCI, []rbacv1.PolicyRule{rule(l(""), l("serviceaccounts"), l("create"))}, nil},

		{"list secrets in ci", "secrets", inCI, []rbacv1.PolicyRule{rule(l(""), l("secrets"), l("list"))}, []Dest{{Kind: ToNamespaceSAs, Namespace: "ci"}}},
		{"get secrets cluster-wide", "secrets", cluster, []rbacv1.PolicyRule{rule(l(""), l("secrets"), l("get"))}, []Dest{{Kind: ToTarget, Name: string(Secrets)}}},
		{"watch secrets in ci", "secrets", inCI, []rbacv1.PolicyRule{rule(l(""), l("secrets"), l("watch"))}, []Dest{{Kind: ToNamespaceSAs, Namespace: "ci"}}},
		{"get one named secret", "secrets", inCI, []rbacv1.PolicyRule{rule(l(""), l("secrets"), l("get"), "tls")}, nil},
		{"create secrets", "secrets", inCI, []rbacv1.PolicyRule{rule(l(""), l("secrets"), l("create"))}, nil},

		{"create pods in ci", "workloads", inCI, []rbacv1.PolicyRule{rule(l(""), l("pods"), l("create"))}, []Dest{{Kind: ToNamespaceSAs, Namespace: "ci"}, {Kind: ToPrivilegedPod, Namespace: "ci"}}},
		{"create cronjobs cluster-wide", "workloads", cluster, []rbacv1.PolicyRule{rule(l("batch"), l("cronjobs"), l("create"))}, []Dest{{Kind: ToAllSAs}, {Kind: ToPrivilegedPod}}},
		{"create deployments", "workloads", inCI, []rbacv1.PolicyRule{rule(l("apps"), l("deployments"), l("create"))}, []Dest{{Kind: ToNamespaceSAs, Namespace: "ci"}, {Kind: ToPrivilegedPod, Namespace: "ci"}}},
		{"create deployments in the wrong group", "workloads", inCI, []rbacv1.PolicyRule{rule(l("extensions"), l("deployments"), l("create"))}, nil},
		{"update pods", "workloads", inCI, []rbacv1.PolicyRule{rule(l(""), l("pods"), l("update", "delete"))}, nil},

		{"patch deployments in ci", "workload-updates", inCI, []rbacv1.PolicyRule{rule(l("apps"), l("deployments"), l("patch"))}, []Dest{{Kind: ToNamespaceSAs, Namespace: "ci"}, {Kind: ToPrivilegedPod, Namespace: "ci"}}},
		{"patch one named deployment in ci", "workload-updates", inCI, []rbacv1.PolicyRule{rule(l("apps"), l("deployments"), l("get", "patch"), "web")}, []Dest{{Kind: ToNamespaceSAs, Namespace: "ci"}, {Kind: ToPrivilegedPod, Namespace: "ci"}}},
		{"update cronjobs cluster-wide", "workload-updates", cluster, []rbacv1.PolicyRule{rule(l("batch"), l("cronjobs"), l("update"))}, []Dest{{Kind: ToAllSAs}, {Kind: ToPrivilegedPod}}},
		{"patch pods in ci", "workload-updates", inCI, []rbacv1.PolicyRule{rule(l(""), l("pods"), l("patch"))}, []Dest{{Kind: ToPodSAs, Namespace: "ci"}}},
		{"scale deployments only", "workload-updates", inCI, []rbacv1.PolicyRule{rule(l("apps"), l("deployments/scale"), l("patch", "update"))}, nil},
		{"delete and get workloads", "workload-updates", inCI, []rbacv1.PolicyRule{rule(l("apps"), l("deployments", "daemonsets"), l("get", "delete"))}, nil},
		{"patch pods/status", "workload-updates", inCI, []rbacv1.PolicyRule{rule(l(""), l("pods/status"), l("patch"))}, nil},
		{"services/status in ci", "status-writes", inCI, []rbacv1.PolicyRule{rule(l(""), l("services/status"), l("patch"))}, []Dest{{Kind: ToTarget, Name: string(Traffic)}}},
		{"pods/status cluster-wide", "status-writes", cluster, []rbacv1.PolicyRule{rule(l(""), l("pods/status"), l("update"))}, []Dest{{Kind: ToTarget, Name: string(Traffic)}}},
		{"nodes/status", "status-writes", cluster, []rbacv1.PolicyRule{rule(l(""), l("nodes/status"), l("patch"))}, []Dest{{Kind: ToTarget, Name: string(Traffic)}}},
		{"nodes/status from a RoleBinding", "status-writes", inCI, []rbacv1.PolicyRule{rule(l(""), l("nodes/status"), l("patch"))}, nil},
		{"read status only", "status-writes", inCI, []rbacv1.PolicyRule{rule(l(""), l("services/status", "pods/status"), l("get", "list", "watch"))}, nil},
		{"services, not their status", "status-writes", inCI, []rbacv1.PolicyRule{rule(l(""), l("services"), l("patch", "update"))}, nil},
		{"create services in ci", "external-ips", inCI, []rbacv1.PolicyRule{rule(l(""), l("services"), l("create"))}, []Dest{{Kind: ToTarget, Name: string(Traffic)}}},
		{"patch one named service", "external-ips", inCI, []rbacv1.PolicyRule{rule(l(""), l("services"), l("get", "patch"), "web")}, []Dest{{Kind: ToTarget, Name: string(Traffic)}}},
		{"read and delete services", "external-ips", inCI, []rbacv1.PolicyRule{rule(l(""), l("services"), l("get", "list", "delete"))}, nil},
		{"services/status is not the spec", "external-ips", inCI, []rbacv1.PolicyRule{rule(l(""), l("services/status"), l("patch"))}, nil},
		{"exec in ci", "exec", inCI, []rbacv1.PolicyRule{rule(l(""), l("pods/exec"), l("create"))}, []Dest{{Kind: ToPodSAs, Namespace: "ci"}, {Kind: ToRootPod, Namespace: "ci"}}},
		{"exec into one named pod", "exec", inCI, []rbacv1.PolicyRule{rule(l(""), l("pods/exec"), l("create"), "db-0")}, []Dest{{Kind: ToPodSAs, Namespace: "ci", Name: "db-0"}, {Kind: ToRootPod, Namespace: "ci", Name: "db-0"}}},
		{"attach to one named pod", "exec", inCI, []rbacv1.PolicyRule{rule(l(""), l("pods/attach"), l("create"), "db-0")}, []Dest{{Kind: ToPodSAs, Namespace: "ci", Name: "db-0"}}},
		{"ephemeral containers", "exec", inCI, []rbacv1.PolicyRule{rule(l(""), l("pods/ephemeralcontainers"), l("patch"))}, []Dest{{Kind: ToPodSAs, Namespace: "ci"}}},
		{"attach cluster-wide", "exec", cluster, []rbacv1.PolicyRule{rule(l(""), l("pods/attach"), l("create"))}, []Dest{{Kind: ToPodSAs}}},
		{"get pods/exec only", "exec", inCI, []rbacv1.PolicyRule{rule(l(""), l("pods/exec", "pods/log"), l("get"))}, nil},

		{"nodes/proxy", "node-proxy", cluster, []rbacv1.PolicyRule{rule(l(""), l("nodes/proxy"), l("get"))}, []Dest{nodes}},
		{"nodes/stats", "node-proxy", cluster, []rbacv1.PolicyRule{rule(l(""), l("nodes/stats"), l("get"))}, nil},

		{"patch nodes", "node-patch", cluster, []rbacv1.PolicyRule{rule(l(""), l("nodes"), l("patch"))}, []Dest{nodes}},
		{"patch nodes/status", "node-patch", cluster, []rbacv1.PolicyRule{rule(l(""), l("nodes/status"), l("patch"))}, nil},

		{"csr", "csr", cluster, []rbacv1.PolicyRule{
			rule(l("certificates.k8s.io"), l("certificatesigningrequests"), l("create")),
			rule(l("certificates.k8s.io"), l("certificatesigningrequests/approval"), l("update")),
			rule(l("certificates.k8s.io"), l("signers"), l("approve"), "kubernetes.io/kube-apiserver-client")}, []Dest{{Kind: ToUser}, {Kind: ToAllSAs}, {Kind: ToGroupsButMasters}}},
		{"csr for the kubelet signer only", "csr", cluster, []rbacv1.PolicyRule{
			rule(l("certificates.k8s.io"), l("certificatesigningrequests"), l("create")),
			rule(l("certificates.k8s.io"), l("certificatesigningrequests/approval"), l("update")),
			rule(l("certificates.k8s.io"), l("signers"), l("approve"), "kubernetes.io/kubelet-serving")}, nil},

		{"mutating webhooks", "webhooks", cluster, []rbacv1.PolicyRule{rule(l("admissionregistration.k8s.io"), l("mutatingwebhookconfigurations"), l("create"))}, []Dest{admin}},
		{"patch one named webhook", "webhooks", cluster, []rbacv1.PolicyRule{rule(l("admissionregistration.k8s.io"), l("validatingwebhookconfigurations"), l("get", "patch"), "policy-agent")}, []Dest{admin}},
		{"mutating admission policies and bindings", "webhooks", cluster, []rbacv1.PolicyRule{rule(l("admissionregistration.k8s.io"), l("mutatingadmissionpolicies", "mutatingadmissionpolicybindings"), l("create"))}, []Dest{admin}},
		{"mutating admission policies without bindings", "webhooks", cluster, []rbacv1.PolicyRule{rule(l("admissionregistration.k8s.io"), l("mutatingadmissionpolicies"), l("create", "update", "patch"))}, nil},
		{"mutating admission policies in a namespace", "webhooks", inCI, []rbacv1.PolicyRule{rule(l("admissionregistration.k8s.io"), l("mutatingadmissionpolicies", "mutatingadmissionpolicybindings"), l("create"))}, nil},
		{"read webhooks", "webhooks", cluster, []rbacv1.PolicyRule{rule(l("admissionregistration.k8s.io"), l("*"), l("get", "list"))}, nil},
	}
	kinds, err := EdgeKinds()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*EdgeKind{}
	for _, k := range kinds {
		byID[k.ID] = k
	}
	tested := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := byID[tc.kind]
			if k == nil {
				t.Fatalf("no edge kind %q", tc.kind)
			}
			tested[tc.kind] = true
			var got []Dest
			for _, g := range k.Find(tc.scope, tc.rules) {
				if g.Rule == nil || g.Action == "" {
					t.Errorf("grant %+v has no rule or action", g)
				}
				got = append(got, g.To)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	for _, k := range kinds {
		if !tested[k.ID] {
			t.Errorf("edge kind %q has no test", k.ID)
		}
	}
}
