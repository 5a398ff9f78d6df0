// Package paths finds privilege-escalation paths in RBAC: from a subject
// (User, Group, ServiceAccount), hop by hop, to cluster-admin, to every
// secret, to node root or to every ServiceAccount token. Each hop is an
// escalation primitive (an edge kind, one per file, registering itself) and
// names the binding, role and rule that grant it. Rules are matched by the
// rbac package; this package does no I/O.
package paths

import (
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kguard/kguard/internal/authz/severity"
)

// Target is what a path reaches.
type Target string

// The targets, from the most to the least powerful.
const (
	ClusterAdmin Target = "cluster-admin" // every permission
	Secrets      Target = "secrets"       // read every secret
	Nodes        Target = "nodes"         // root on a node
	Tokens       Target = "tokens"        // any namespace's ServiceAccount tokens
	Traffic      Target = "traffic"       // other workloads' network traffic (CVE-2020-8554)
)

// Targets lists the targets in report order.
var Targets = []Target{ClusterAdmin, Secrets, Nodes, Tokens, Traffic}

// ParseTarget reads a target's name.
func ParseTarget(s string) (Target, error) {
	for _, t := range Targets {
		if string(t) == s {
			return t, nil
		}
	}
	return "", fmt.Errorf("unknown target %q (cluster-admin, secrets, nodes, tokens or traffic)", s)
}

// dominates says which targets a target implies: reaching cluster-admin
// reaches everything, reading every secret or owning a node gives tokens.
var dominates = map[Target][]Target{
	ClusterAdmin: {Secrets, Nodes, Tokens, Traffic},
	Secrets:      {Tokens},
	Nodes:        {Tokens},
}

// Severity of a path, from what it reaches: the scale of `kguard authz
// audit` (paths are info, high or critical).
type Severity = severity.Severity

const (
	Info     = severity.Info
	High     = severity.High
	Critical = severity.Critical
)

// ParseSeverity reads a severity's name.
func ParseSeverity(s string) (Severity, error) { return severity.Parse(s) }

// SeverityOf rates a target: cluster-admin is critical, secrets, nodes,
// tokens and traffic are high, anything else is info.
func SeverityOf(t Target) Severity {
	switch t {
	case ClusterAdmin:
		return Critical
	case Secrets, Nodes, Tokens, Traffic:
		return High
	}
	return Info
}

// Subject is where a path starts or what a hop reaches: a User, Group or
// ServiceAccount, or a target (Kind "Target").
type Subject struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (s Subject) String() string {
	switch s.Kind {
	case "Target":
		return s.Name
	case rbacv1.ServiceAccountKind:
		return "ServiceAccount " + s.Namespace + "/" + s.Name
	}
	return fmt.Sprintf("%s %q", s.Kind, s.Name)
}

// Ref names an RBAC object.
type Ref struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (r Ref) String() string {
	if r.Namespace != "" {
		return r.Kind + " " + r.Namespace + "/" + r.Name
	}
	return r.Kind + " " + r.Name
}

// Evidence is what creates a hop: the binding and role and the rule of the
// role, for hops granted by RBAC; Note for the others (a target implying
// another, a token used, an admission policy's answer).
type Evidence struct {
	Binding *Ref               `json:"binding,omitempty"`
	Role    *Ref               `json:"role,omitempty"`
	Rule    *rbacv1.PolicyRule `json:"rule,omitempty"`
	Note    string             `json:"note,omitempty"`
}

func (e Evidence) String() string {
	var parts []string
	if e.Binding != nil {
		parts = append(parts, e.Binding.String()+" -> "+e.Role.String())
	}
	if e.Note != "" {
		parts = append(parts, e.Note)
	}
	return strings.Join(parts, "; ")
}

// Hop is one step of a path.
type Hop struct {
	Edge     string   `json:"edge"`   // the edge kind's ID
	Action   string   `json:"action"` // what the subject does: `create pods in namespace "ci"`
	Evidence Evidence `json:"evidence"`
	// Via is the group through which the step's subject holds the grant.
	Via string  `json:"via,omitempty"`
	To  Subject `json:"to"`
}

// Why is the hop's evidence and, when held through a group, "as a member of
// Group "G"", joined by "; ": what the text output puts in parentheses.
func (h Hop) Why() string {
	var why []string
	if ev := h.Evidence.String(); ev != "" {
		why = append(why, ev)
	}
	if h.Via != "" {
		why = append(why, fmt.Sprintf("as a member of Group %q", h.Via))
	}
	return strings.Join(why, "; ")
}

// Path is a shortest path from a subject to a target.
type Path struct {
	Severity Severity `json:"severity"`
	From     Subject  `json:"from"`
	Target   Target   `json:"target"`
	Hops     []Hop    `json:"hops"`
	// FirstHops counts the distinct first steps that begin a path as short.
	FirstHops int `json:"firstHops"`
}

// PodAdmitter says whether a subject may run a pod that is root on its node
// (a privileged container, hostPID, a hostPath volume of /) in a namespace
// ("" any namespace), as admission would judge its creation, and why: the
// policy that admits it, or the denial. internal/authz/paths/admitted answers
// with kguard's admission chain; without one, any pod is admitted.
type PodAdmitter interface {
	MayRunPrivileged(s Subject, namespace string) (ok bool, evidence string)
}

// Refusal is a grant to create pods that reaches no node because admission
// refuses every node-root pod of the subject there.
type Refusal struct {
	Subject   Subject  `json:"subject"`
	Namespace string   `json:"namespace,omitempty"` // "" for a cluster-wide grant
	Action    string   `json:"action"`
	Evidence  Evidence `json:"evidence"` // the grant; Note is admission's answer
}

// Source is a subject to start from that the RBAC objects need not name: a
// user with its groups (as authenticated: system:authenticated included), a
// ServiceAccount user name (system:serviceaccount:NS:NAME), or a Group.
type Source struct {
	Group  bool // Name is a group's
	Name   string
	Groups []string
}

// Options select what Find reports.
type Options struct {
	// From restricts the paths to those of one subject.
	From *Source
	// To restricts the paths to one target; otherwise a target that another
	// target reached by the same subject implies is left out.
	To Target
	// IncludeSystem includes paths from Kubernetes' own subjects: users and
	// groups named system:* (system:masters, system:kube-controller-manager,
	// system:nodes...) and ServiceAccounts bound only by the default bindings
	// (kubernetes.io/bootstrapping=rbac-defaults). The broad groups
	// system:authenticated, system:unauthenticated and system:serviceaccounts[:NS]
	// and the user system:anonymous are always included.
	IncludeSystem bool
	// Admitter judges privileged pods; nil admits every pod.
	Admitter PodAdmitter
}
