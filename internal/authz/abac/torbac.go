package abac

import (
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kguard/kguard/internal/policy"
)

// Conversion is the RBAC equivalent of an ABAC policy file (seed 001 §10:
// migrating from ABAC to RBAC).
type Conversion struct {
	Objects *policy.Set
	// Lines says, per policy line, what was generated and whether RBAC expresses it exactly.
	Lines []LineConversion
}

// LineConversion is the outcome for one policy line.
type LineConversion struct {
	Line  int
	Text  string
	Exact bool
	// Objects names what was generated ("ClusterRole abac-line-3", ...).
	Objects []string
	// Notes say why the line is not expressed exactly, or what was left out.
	Notes []string
}

// LabelSource marks generated objects with the policy line they come from.
const LabelSource = "kguard.io/abac-line"

// ToRBAC converts every policy line into RBAC objects that grant the same
// requests. RBAC cannot say everything ABAC can; such lines are converted to
// the closest grant that is never broader (possibly nothing) and reported
// with Exact=false, so that nobody silently gains access in the migration.
func (a *Authorizer) ToRBAC() *Conversion {
	c := &Conversion{Objects: &policy.Set{}}
	for _, p := range a.policies {
		c.Lines = append(c.Lines, convertLine(p, c.Objects))
	}
	return c
}

func convertLine(p Policy, out *policy.Set) LineConversion {
	s := p.Spec
	lc := LineConversion{Line: p.Line, Text: p.Text, Exact: true}
	name := fmt.Sprintf("abac-line-%d", p.Line)
	labels := map[string]string{LabelSource: fmt.Sprint(p.Line)}

	var subjects []rbacv1.Subject
	switch {
	case s.User != "" && s.Group != "":
		lc.Exact = false
		lc.Notes = append(lc.Notes, fmt.Sprintf("user %q AND group %q: RBAC subjects are alternatives, not a conjunction; nothing generated — grant it by hand", s.User, s.Group))
		return lc
	case s.User != "":
		subjects = []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: s.User}}
	case s.Group != "":
		subjects = []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: s.Group}}
	default:
		lc.Notes = append(lc.Notes, "no user and no group: the line matches nobody; nothing generated")
		return lc
	}

	verbs := []string{rbacv1.VerbAll}
	if s.Readonly {
		verbs = []string{"get", "list", "watch"}
	}

	// Resource part: ABAC compares only the resource, so "pods" also covers
	// every subresource of pods; RBAC must list them ("pods/*" is not a wildcard).
	var clusterRules []rbacv1.PolicyRule
	switch {
	case s.Resource == "":
	case strings.Contains(s.Resource, "/"):
		lc.Notes = append(lc.Notes, fmt.Sprintf("resource %q: ABAC compares the resource without its subresource, so this never matches; resource part not generated", s.Resource))
	default:
		resources := []string{rbacv1.ResourceAll}
		if s.Resource != rbacv1.ResourceAll {
			resources = []string{s.Resource}
			subs, known := subresources[s.Resource]
			for _, sub := range subs {
				resources = append(resources, s.Resource+"/"+sub)
			}
			if !known {
				lc.Exact = false
				lc.Notes = append(lc.Notes, fmt.Sprintf("ABAC also grants every subresource of %q; RBAC has no wildcard for them and kguard does not know this resource's subresources: add %s/SUBRESOURCE entries if needed", s.Resource, s.Resource))
			}
		}
		rule := rbacv1.PolicyRule{Verbs: verbs, APIGroups: []string{s.APIGroup}, Resources: resources}
		switch s.Namespace {
		case "*":
			clusterRules = append(clusterRules, rule)
		case "":
			lc.Exact = false
			lc.Notes = append(lc.Notes, "namespace unset: ABAC grants the resource only in requests without a namespace (cluster scope), RBAC cannot bind a namespaced resource at cluster scope alone; resource part not generated")
		default:
			out.Roles = append(out.Roles, &rbacv1.Role{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.Namespace, Labels: labels},
				Rules:      []rbacv1.PolicyRule{rule},
			})
			out.RoleBindings = append(out.RoleBindings, &rbacv1.RoleBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.Namespace, Labels: labels},
				Subjects:   subjects,
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			})
			lc.Objects = append(lc.Objects, "Role "+s.Namespace+"/"+name, "RoleBinding "+s.Namespace+"/"+name)
		}
	}

	// Non-resource part: ABAC ignores the namespace for paths, RBAC grants
	// paths only through ClusterRoleBindings; the matching rules are the same.
	if s.NonResourcePath != "" {
		clusterRules = append(clusterRules, rbacv1.PolicyRule{Verbs: verbs, NonResourceURLs: []string{s.NonResourcePath}})
	}
	if len(clusterRules) > 0 {
		addCluster(out, name, labels, clusterRules, subjects)
		lc.Objects = append(lc.Objects, "ClusterRole "+name, "ClusterRoleBinding "+name)
	}
	if len(lc.Objects) == 0 && lc.Exact {
		lc.Notes = append(lc.Notes, "grants nothing that a request can match; nothing generated")
	}
	return lc
}

func addCluster(out *policy.Set, name string, labels map[string]string, rules []rbacv1.PolicyRule, subjects []rbacv1.Subject) {
	out.ClusterRoles = append(out.ClusterRoles, &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Rules:      rules,
	})
	out.ClusterRoleBindings = append(out.ClusterRoleBindings, &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Subjects:   subjects,
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
	})
}

// subresources are the subresources of the built-in resources of Kubernetes
// v1.37, which an ABAC line naming the resource also grants. A resource listed
// with none has no subresources.
var subresources = map[string][]string{
	"pods":                       {"attach", "binding", "ephemeralcontainers", "eviction", "exec", "log", "portforward", "proxy", "resize", "status"},
	"deployments":                {"scale", "status"},
	"replicasets":                {"scale", "status"},
	"statefulsets":               {"scale", "status"},
	"replicationcontrollers":     {"scale", "status"},
	"daemonsets":                 {"status"},
	"jobs":                       {"status"},
	"cronjobs":                   {"status"},
	"services":                   {"proxy", "status"},
	"nodes":                      {"proxy", "status"},
	"namespaces":                 {"finalize", "status"},
	"serviceaccounts":            {"token"},
	"persistentvolumeclaims":     {"status"},
	"persistentvolumes":          {"status"},
	"resourcequotas":             {"status"},
	"horizontalpodautoscalers":   {"status"},
	"poddisruptionbudgets":       {"status"},
	"ingresses":                  {"status"},
	"certificatesigningrequests": {"approval", "status"},
	"customresourcedefinitions":  {"status"},
	"apiservices":                {"status"},
	"secrets":                    nil,
	"configmaps":                 nil,
	"endpoints":                  nil,
	"events":                     nil,
	"limitranges":                nil,
	"podtemplates":               nil,
	"roles":                      nil,
	"rolebindings":               nil,
	"clusterroles":               nil,
	"clusterrolebindings":        nil,
	"networkpolicies":            nil,
	"storageclasses":             nil,
	"leases":                     nil,
	"endpointslices":             nil,
	"priorityclasses":            nil,
}
