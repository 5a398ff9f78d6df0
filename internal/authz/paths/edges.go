package paths

import (
	"fmt"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/authz/rbac"
)

// EdgeKind is one escalation primitive: what some rules of one role let a
// subject reach.
type EdgeKind struct {
	ID        string
	Primitive string // the escalation it stands for, for docs and help
	// Find returns the hops the rules of one role grant in scope. Actions
	// name no namespace: the caller adds the binding's.
	Find func(sc Scope, rules []rbacv1.PolicyRule) []Grant
}

// Scope is where a role's rules apply: Namespace "" for a ClusterRoleBinding's.
type Scope struct{ Namespace string }

// Cluster reports whether the rules apply cluster-wide.
func (sc Scope) Cluster() bool { return sc.Namespace == "" }

// Grant is a hop a role grants: an action, the rule behind it and where it leads.
type Grant struct {
	Action string
	Rule   *rbacv1.PolicyRule
	To     Dest
}

// DestKind is what a hop reaches.
type DestKind int

const (
	ToTarget           DestKind = iota // Name is a Target
	ToAllSAs                           // every ServiceAccount
	ToNamespaceSAs                     // every ServiceAccount of Namespace
	ToSA                               // ServiceAccount Namespace/Name
	ToPodSAs                           // the ServiceAccounts of the pods of Namespace named Name ("" any; all of the namespace's when it has no pod known)
	ToRootPod                          // node root if a pod of Namespace named Name ("" any) in the input is (Pod.Root)
	ToPrivilegedPod                    // node root if the PodAdmitter admits a privileged pod in Namespace ("" anywhere)
	ToUser                             // User Name ("" every user)
	ToGroup                            // Group Name ("" every group)
	ToNamedSAs                         // the ServiceAccounts named Name, of every namespace the input knows
	ToGroupsButMasters                 // every Group but system:masters
)

// Dest is where a hop leads.
type Dest struct {
	Kind            DestKind
	Namespace, Name string
}

var registry []*EdgeKind

func addEdge(k *EdgeKind) { registry = append(registry, k) }

// EdgeKinds returns the registered edge kinds sorted by ID, after validating
// the registry (unique, non-empty IDs, a primitive and a finder each).
func EdgeKinds() ([]*EdgeKind, error) {
	seen := map[string]bool{}
	for _, k := range registry {
		if k.ID == "" || k.Primitive == "" || k.Find == nil {
			return nil, fmt.Errorf("edge kind %q is incomplete", k.ID)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("edge kind %q registered twice", k.ID)
		}
		seen[k.ID] = true
	}
	out := append([]*EdgeKind(nil), registry...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// anyName is a name no rule lists: a rule that allows it allows every name.
const anyName = "\x00any"

// request is a representative resource request in scope.
type request struct {
	verb, group, resource, sub string
}

// allows reports whether rule allows r on name ("" for collection verbs) in sc.
func (r request) allows(sc Scope, rule *rbacv1.PolicyRule, name string) bool {
	attrs := authorizer.AttributesRecord{
		User: &user.DefaultInfo{Name: "kguard:paths"}, Verb: r.verb, APIGroup: r.group, Resource: r.resource,
		Subresource: r.sub, Namespace: sc.Namespace, Name: name, ResourceRequest: true,
	}
	return rbac.RuleAllows(attrs, rule)
}

// onAny reports whether rule allows r on every object (a collection verb
// when name is "": create, list).
func (r request) onAny(sc Scope, rule *rbacv1.PolicyRule) bool {
	if r.verb == "create" || r.verb == "list" {
		return r.allows(sc, rule, "")
	}
	return r.allows(sc, rule, anyName)
}

// names returns whether rule allows r on every name, and otherwise which of
// its resourceNames it allows r on.
func (r request) names(sc Scope, rule *rbacv1.PolicyRule) (all bool, names []string) {
	if r.allows(sc, rule, anyName) {
		return true, nil
	}
	for _, n := range rule.ResourceNames {
		if r.allows(sc, rule, n) {
			names = append(names, n)
		}
	}
	return false, names
}

// firstRule returns the first rule allowing any of reqs on every object, or nil.
func firstRule(sc Scope, rules []rbacv1.PolicyRule, reqs ...request) (*rbacv1.PolicyRule, request) {
	for i := range rules {
		for _, r := range reqs {
			if r.onAny(sc, &rules[i]) {
				return &rules[i], r
			}
		}
	}
	return nil, request{}
}

// what is "verb resource[/sub]" for actions.
func (r request) what() string {
	res := r.resource
	if r.sub != "" {
		res += "/" + r.sub
	}
	return r.verb + " " + res
}
