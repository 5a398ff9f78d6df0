package paths

import (
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/user"
)

// RulesReach returns the targets one role's rules reach in one hop, bound in
// namespace ("" by a ClusterRoleBinding), in report order: what a single
// grant is worth, for rating it (kguard authz audit). Where a path goes on
// from a ServiceAccount or a namespace's ServiceAccounts is not followed;
// every ServiceAccount is tokens, impersonating any user or group, or the
// group system:masters, is cluster-admin, and a privileged pod is taken to
// be admitted (nodes).
func RulesReach(namespace string, rules []rbacv1.PolicyRule) []Target {
	kinds, err := EdgeKinds()
	if err != nil {
		return nil
	}
	reached := map[Target]bool{}
	sc := Scope{Namespace: namespace}
	for _, k := range kinds {
		for _, g := range k.Find(sc, rules) {
			switch d := g.To; d.Kind {
			case ToTarget:
				reached[Target(d.Name)] = true
			case ToAllSAs:
				reached[Tokens] = true
			case ToPrivilegedPod:
				reached[Nodes] = true
			case ToUser:
				if d.Name == "" {
					reached[ClusterAdmin] = true
				}
			case ToGroup:
				if d.Name == "" || d.Name == user.SystemPrivilegedGroup {
					reached[ClusterAdmin] = true
				}
			}
		}
	}
	var out []Target
	for _, t := range Targets {
		if reached[t] {
			out = append(out, t)
		}
	}
	return out
}
