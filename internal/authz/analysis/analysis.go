// Package analysis finds risky RBAC grants: who can read secrets, escalate,
// bind, impersonate, exec into pods, reach the kubelet, mint tokens, run pods in
// kube-system, rewrite workloads cluster-wide, debug running pods, change admission
// webhooks, approve client certificates, create PersistentVolumes, hold wildcards
// or cluster-admin, and which broad groups or default
// ServiceAccounts hold grants. Each check lives in its own file and registers
// itself; findings are data, formatted by the caller.
package analysis

import (
	"fmt"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/authz/paths"
	"github.com/kguard/kguard/internal/authz/rbac"
	"github.com/kguard/kguard/internal/authz/severity"
	"github.com/kguard/kguard/internal/policy"
)

// Severity orders findings; the zero value is the lowest. It is the scale
// `kguard authz paths` uses.
type Severity = severity.Severity

const (
	Info     = severity.Info
	Low      = severity.Low
	Medium   = severity.Medium
	High     = severity.High
	Critical = severity.Critical
)

// ParseSeverity reads "info", "low", "medium", "high" or "critical".
func ParseSeverity(s string) (Severity, error) { return severity.Parse(s) }

// Check is one kind of risky grant.
type Check struct {
	ID       string
	Severity Severity // the default; a hit may raise or lower it
	Title    string
	Help     string // why it matters and what to do
	Evaluate func(g *rbac.Grant) []Hit
	// Subsumed checks are not reported for a grant that holds full control
	// (KG011): everything they would say is implied.
	Subsumed bool
}

// Hit is what a check found in one grant.
type Hit struct {
	Rule     *rbacv1.PolicyRule // nil when the grant as a whole is the finding
	Message  string
	Severity *Severity // overrides the check's severity
}

// Finding is a hit with the chain behind it: subject → binding → role → rule.
type Finding struct {
	ID       string             `json:"id"`
	Severity Severity           `json:"severity"`
	Title    string             `json:"title"`
	Message  string             `json:"message"`
	Subject  rbacv1.Subject     `json:"subject"`
	Binding  Ref                `json:"binding"`
	Role     Ref                `json:"role"`
	Rule     *rbacv1.PolicyRule `json:"rule,omitempty"`
	Scope    string             `json:"scope"` // the namespace where it applies, or "cluster"
	Source   string             `json:"source,omitempty"`
}

// Ref names an RBAC object, as paths' evidence does.
type Ref = paths.Ref

var registry []*Check

func addCheck(c *Check) { registry = append(registry, c) }

// Checks returns the registered checks sorted by ID, after validating the
// registry (unique, non-empty IDs, a title, help and an evaluator each).
func Checks() ([]*Check, error) {
	seen := map[string]bool{}
	for _, c := range registry {
		if c.ID == "" || c.Title == "" || c.Help == "" || c.Evaluate == nil {
			return nil, fmt.Errorf("check %q is incomplete", c.ID)
		}
		if seen[c.ID] {
			return nil, fmt.Errorf("check ID %q registered twice", c.ID)
		}
		seen[c.ID] = true
	}
	out := append([]*Check(nil), registry...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Options select what Audit reports.
type Options struct {
	// IncludeDefaults includes grants of the Kubernetes default bindings
	// (label kubernetes.io/bootstrapping=rbac-defaults), which are noise in most audits.
	IncludeDefaults bool
	MinSeverity     Severity
}

// Audit runs every check over every grant of the set. Findings are sorted by
// severity (highest first), then check, scope, binding and subject.
func Audit(s *policy.Set, o Options) ([]Finding, []string, error) {
	checks, err := Checks()
	if err != nil {
		return nil, nil, err
	}
	grants, warnings := rbac.Grants(s)
	bindingSource := s.BindingSources()
	reaches := reachCache{}
	var out []Finding
	for i := range grants {
		g := &grants[i]
		if !o.IncludeDefaults && g.Labels["kubernetes.io/bootstrapping"] == "rbac-defaults" {
			continue
		}
		if _, ok := rbac.SubjectNamespace(g.Subject, g.BindingNamespace); !ok {
			continue // matches nobody, as in the authorizer
		}
		full := len(fullControl.Evaluate(g)) > 0
		for _, c := range checks {
			if full && c.Subsumed {
				continue
			}
			for _, h := range c.Evaluate(g) {
				sev := c.Severity
				if h.Severity != nil {
					sev = *h.Severity
				}
				msg := h.Message
				if reachSev, reached := reaches.of(g, h.Rule); reachSev > sev {
					// What the grant reaches rates it, as a path would be.
					sev = reachSev
					what := "its rule"
					if h.Rule == nil {
						what = "the role"
					}
					msg += "; " + what + " reaches " + reached + " (kguard authz paths)"
				}
				if sev < o.MinSeverity {
					continue
				}
				scope := g.Namespace
				if scope == "" {
					scope = "cluster"
				}
				out = append(out, Finding{
					ID: c.ID, Severity: sev, Title: c.Title, Message: msg, Subject: g.Subject,
					Binding: Ref{Kind: g.BindingKind, Namespace: g.BindingNamespace, Name: g.BindingName},
					Role:    Ref{Kind: g.RoleKind, Namespace: roleNamespace(g), Name: g.RoleName},
					Rule:    h.Rule, Scope: scope,
					Source: bindingSource(g.BindingKind, g.BindingNamespace, g.BindingName),
				})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if a.Scope != b.Scope {
			return a.Scope < b.Scope
		}
		if a.Binding.String() != b.Binding.String() {
			return a.Binding.String() < b.Binding.String()
		}
		return SubjectString(a.Subject, "") < SubjectString(b.Subject, "")
	})
	return out, warnings, nil
}

// reachCache rates rules by the targets they reach in one hop, as the
// paths engine finds them (cluster-admin critical; secrets, nodes, tokens
// high), once per rule (or role, for a finding on the whole grant) and scope.
type reachCache map[reachKey]reachAnswer

type reachKey struct {
	rule       *rbacv1.PolicyRule // the first rule of the role when whole
	whole      bool
	namespaced bool
}

type reachAnswer struct {
	sev     Severity
	targets string
}

// of rates the rule of a hit, or the grant's rules when rule is nil; Info
// and "" when they reach no target.
func (c reachCache) of(g *rbac.Grant, rule *rbacv1.PolicyRule) (Severity, string) {
	rules := g.Rules
	if rule != nil {
		rules = []rbacv1.PolicyRule{*rule}
	}
	if len(rules) == 0 {
		return Info, ""
	}
	k := reachKey{rule: rule, whole: rule == nil, namespaced: g.Namespace != ""}
	if rule == nil {
		k.rule = &g.Rules[0] // resolution shares one slice among a role's bindings
	}
	if a, ok := c[k]; ok {
		return a.sev, a.targets
	}
	ts := paths.RulesReach(g.Namespace, rules)
	names := make([]string, len(ts))
	a := reachAnswer{sev: Info}
	for i, t := range ts {
		names[i] = string(t)
		a.sev = max(a.sev, paths.SeverityOf(t))
	}
	a.targets = strings.Join(names, ", ")
	c[k] = a
	return a.sev, a.targets
}

func roleNamespace(g *rbac.Grant) string {
	if g.RoleKind == "Role" {
		return g.BindingNamespace
	}
	return ""
}

// SubjectString renders a subject: "User jane", "Group system:authenticated",
// "ServiceAccount ns/name" (the namespace defaults to the binding's).
func SubjectString(s rbacv1.Subject, bindingNamespace string) string {
	if s.Kind == rbacv1.ServiceAccountKind {
		ns, _ := rbac.SubjectNamespace(s, bindingNamespace)
		return "ServiceAccount " + ns + "/" + s.Name
	}
	return s.Kind + " " + s.Name
}

// who describes the grant's subject and scope for messages.
func who(g *rbac.Grant) string {
	where := "cluster-wide"
	if g.Namespace != "" {
		where = "in namespace " + g.Namespace
	}
	return SubjectString(g.Subject, g.BindingNamespace) + " " + where
}

// request builds representative attributes in the grant's scope. The name is
// one no rule lists, so rules restricted by resourceNames do not count.
func request(g *rbac.Grant, verb, group, resource, sub string) authorizer.AttributesRecord {
	return authorizer.AttributesRecord{
		User: &user.DefaultInfo{Name: "kguard:audit"}, Verb: verb, APIGroup: group, Resource: resource,
		Subresource: sub, Namespace: g.Namespace, Name: "\x00any", ResourceRequest: true,
	}
}

// target is one kind of request a check looks for.
type target struct {
	verbs                []string
	group, resource, sub string
	// cluster marks cluster-scoped resources, which a RoleBinding never grants.
	cluster bool
}

func (t target) String() string {
	r := t.resource
	if t.sub != "" {
		r += "/" + t.sub
	}
	if t.group != "" {
		r += "." + t.group
	}
	return r
}

// allowedVerbs returns the verbs of t that rule allows in the grant's scope.
func allowedVerbs(g *rbac.Grant, rule *rbacv1.PolicyRule, t target) []string {
	var out []string
	for _, v := range t.verbs {
		attrs := request(g, v, t.group, t.resource, t.sub)
		if v == "list" || v == "watch" || v == "create" || v == "deletecollection" {
			attrs.Name = "" // collection verbs carry no name
		}
		if rbac.RuleAllows(attrs, rule) {
			out = append(out, v)
		}
	}
	return out
}

// hits returns one hit per rule of the grant that allows any target, its
// message listing what it allows ("create pods/exec, create pods/attach").
func hits(g *rbac.Grant, targets ...target) []Hit {
	var out []Hit
	for i := range g.Rules {
		var what []string
		for _, t := range targets {
			if t.cluster && g.Namespace != "" {
				continue
			}
			if vs := allowedVerbs(g, &g.Rules[i], t); len(vs) > 0 {
				what = append(what, strings.Join(vs, ",")+" "+t.String())
			}
		}
		if len(what) > 0 {
			out = append(out, Hit{Rule: &g.Rules[i], Message: who(g) + " can " + strings.Join(what, ", ")})
		}
	}
	return out
}

func sev(s Severity) *Severity { return &s }
