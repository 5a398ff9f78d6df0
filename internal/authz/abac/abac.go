// Package abac is the attribute-based authorizer of kube-apiserver's
// --authorization-mode=ABAC: a policy file with one JSON object per line, each
// line allowing a subject some requests. It follows the semantics of the
// upstream authorizer (k8s.io/kubernetes/pkg/auth/authorizer/abac) line by line,
// including the conversion of legacy unversioned lines.
package abac

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	sigsjson "sigs.k8s.io/json"
)

const (
	// Group is the API group of ABAC policy lines.
	Group = "abac.authorization.kubernetes.io"
	// V1beta1 is the apiVersion of current policy lines.
	V1beta1 = Group + "/v1beta1"
	// V0 is the apiVersion of legacy lines; a line without apiVersion and kind is read as V0.
	V0 = Group + "/v0"

	allAuthenticated = "system:authenticated"
	// maxLine bounds one policy line, as the upstream reader's line scanner does.
	maxLine = 64 << 10
)

// ErrPolicy is matched (errors.Is) by every policy file error.
var ErrPolicy = errors.New("invalid ABAC policy")

// LoadError names the file and line of a policy that cannot be read, in the
// words of kube-apiserver: "error reading policy file F, line N: LINE: reason".
type LoadError struct {
	Path string
	Line int // 0 when the error is not about one line
	Data string
	Err  error
}

func (e *LoadError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("error reading policy file %s, line %d: %s: %v", e.Path, e.Line, e.Data, e.Err)
	}
	return fmt.Sprintf("error reading policy file %s: %v", e.Path, e.Err)
}

func (e *LoadError) Unwrap() []error { return []error{ErrPolicy, e.Err} }

// Spec is a policy line after conversion to its internal form: the fields that
// matching uses. Legacy (v0) lines are converted exactly as upstream converts them.
type Spec struct {
	User            string `json:"user,omitempty"`
	Group           string `json:"group,omitempty"`
	Readonly        bool   `json:"readonly,omitempty"`
	APIGroup        string `json:"apiGroup,omitempty"`
	Resource        string `json:"resource,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	NonResourcePath string `json:"nonResourcePath,omitempty"`
}

// Policy is one line of a policy file.
type Policy struct {
	Line int    // 1-based line number in the file
	Text string // the line as written
	// APIVersion is V1beta1 or V0 (legacy lines, with or without apiVersion).
	APIVersion string
	Spec       Spec
}

// Authorizer allows a request when any policy line matches it; otherwise it has
// no opinion. It is immutable and safe for concurrent use.
type Authorizer struct {
	source   string
	policies []Policy
	warnings []string
}

var (
	_ authorizer.Authorizer   = &Authorizer{}
	_ authorizer.RuleResolver = &Authorizer{}
)

// NewFromFile reads a policy file.
func NewFromFile(path string) (*Authorizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &LoadError{Path: path, Err: err}
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads policy lines from r; source names r in errors. Blank lines and
// lines starting with '#' are skipped; any other line that is not a valid
// policy is an error naming its line — a policy file is never half-loaded.
func Parse(r io.Reader, source string) (*Authorizer, error) {
	a := &Authorizer{source: source}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		b := sc.Bytes()
		trimmed := bytes.TrimSpace(b)
		if len(trimmed) == 0 || trimmed[0] == '#' {
			continue
		}
		p, warns, err := parseLine(b)
		if err != nil {
			return nil, &LoadError{Path: source, Line: n, Data: string(b), Err: err}
		}
		p.Line = n
		p.Text = string(b)
		for _, w := range warns {
			a.warnings = append(a.warnings, fmt.Sprintf("%s:%d: %s", source, n, w))
		}
		a.policies = append(a.policies, p)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &LoadError{Path: source, Line: n + 1, Data: "...", Err: fmt.Errorf("line longer than %d bytes", maxLine)}
		}
		return nil, &LoadError{Path: source, Err: err}
	}
	return a, nil
}

type typeMeta struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
}

type v1beta1Policy struct {
	typeMeta
	Spec Spec `json:"spec"`
}

type v0Policy struct {
	typeMeta
	User      string `json:"user,omitempty"`
	Group     string `json:"group,omitempty"`
	Readonly  bool   `json:"readonly,omitempty"`
	Resource  string `json:"resource,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// parseLine decodes one line. Like the upstream decoder, a line that names
// apiVersion V1beta1 and kind Policy is versioned; a line whose apiVersion and
// kind default to V0/Policy (either or both absent) is legacy; anything else is
// an error. Fields are matched case-sensitively; unknown fields are ignored as
// upstream ignores them, but reported as warnings since a misspelt "user" can
// widen a legacy line to every authenticated user.
func parseLine(b []byte) (Policy, []string, error) {
	if !json.Valid(b) {
		var v any
		return Policy{}, nil, fmt.Errorf("invalid JSON: %v", json.Unmarshal(b, &v))
	}
	var tm typeMeta
	if err := decode(b, &tm, nil); err != nil {
		return Policy{}, nil, err
	}
	apiVersion, kind := tm.APIVersion, tm.Kind
	if kind == "" {
		kind = "Policy"
	}
	if apiVersion == "" {
		apiVersion = V0
	}
	if kind != "Policy" || (apiVersion != V0 && apiVersion != V1beta1) {
		return Policy{}, nil, fmt.Errorf("unrecognized object: apiVersion %q, kind %q (want apiVersion %q, kind \"Policy\", or a legacy line without them)", tm.APIVersion, tm.Kind, V1beta1)
	}
	if apiVersion == V1beta1 && tm.Kind == "" {
		// Upstream reads such a line as legacy and fails to convert it.
		return Policy{}, nil, fmt.Errorf("apiVersion %q without kind \"Policy\"", V1beta1)
	}
	var warns []string
	if apiVersion == V1beta1 {
		var v v1beta1Policy
		if err := decode(b, &v, &warns); err != nil {
			return Policy{}, nil, err
		}
		s := v.Spec
		if s.User == "*" || s.Group == "*" {
			s.Group, s.User = allAuthenticated, ""
		}
		return Policy{APIVersion: V1beta1, Spec: s}, warns, nil
	}
	var v v0Policy
	if err := decode(b, &v, &warns); err != nil {
		return Policy{}, nil, err
	}
	return Policy{APIVersion: V0, Spec: convertV0(v)}, warns, nil
}

// convertV0 gives a legacy line its meaning: no subject or a "*" subject means
// every authenticated user, an empty namespace or resource means all, every
// legacy line spans all API groups, and a line naming neither namespace nor
// resource also allows every non-resource path.
func convertV0(v v0Policy) Spec {
	s := Spec{User: v.User, Group: v.Group, Readonly: v.Readonly, Namespace: v.Namespace, Resource: v.Resource, APIGroup: "*"}
	if v.User == "" && v.Group == "" {
		s.Group = allAuthenticated
	}
	if v.User == "*" || v.Group == "*" {
		s.Group, s.User = allAuthenticated, ""
	}
	if v.Namespace == "" {
		s.Namespace = "*"
	}
	if v.Resource == "" {
		s.Resource = "*"
	}
	if v.Namespace == "" && v.Resource == "" {
		s.NonResourcePath = "*"
	}
	return s
}

// decode unmarshals case-sensitively. Unknown fields become warnings when warns
// is not nil; any other strictness problem (such as a duplicate field) is ignored,
// as upstream ignores it.
func decode(b []byte, into any, warns *[]string) error {
	strict, err := sigsjson.UnmarshalStrict(b, into, sigsjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	if warns != nil {
		for _, e := range strict {
			if strings.Contains(e.Error(), "unknown field") {
				*warns = append(*warns, "ignored "+e.Error())
			}
		}
	}
	return nil
}

// Policies returns the parsed lines in file order.
func (a *Authorizer) Policies() []Policy { return append([]Policy(nil), a.policies...) }

// Warnings returns what was ignored while reading the file (unknown fields).
func (a *Authorizer) Warnings() []string { return append([]string(nil), a.warnings...) }

// Authorize allows the request when a policy line matches it. A request
// whose context ends during the walk gets no opinion and the context's error
// (a line costs time linear in the request's groups).
func (a *Authorizer) Authorize(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	for i := range a.policies {
		if i%64 == 63 && ctx.Err() != nil {
			return authorizer.DecisionNoOpinion, "", fmt.Errorf("ABAC: %w", ctx.Err())
		}
		if matches(&a.policies[i].Spec, attrs) {
			return authorizer.DecisionAllow, fmt.Sprintf("ABAC: allowed by %s line %d", a.source, a.policies[i].Line), nil
		}
	}
	return authorizer.DecisionNoOpinion, "No policy matched.", nil
}

// ConditionsAwareAuthorize reports the unconditional decision of Authorize.
func (a *Authorizer) ConditionsAwareAuthorize(ctx context.Context, attrs authorizer.Attributes) authorizer.ConditionsAwareDecision {
	return authorizer.ConditionsAwareDecisionFromParts(a.Authorize(ctx, attrs))
}

// EvaluateConditions fails closed: ABAC has no conditions.
func (a *Authorizer) EvaluateConditions(context.Context, authorizer.ConditionsAwareDecision, authorizer.ConditionsData) (authorizer.Decision, string, error) {
	return authorizer.DecisionDeny, "", authorizer.ErrorConditionEvaluationNotSupported
}

// Allowed is a policy line that allows a request to its subject.
type Allowed struct {
	// Kind is "User" or "Group"; Name the line's user or group ("*": everyone).
	Kind, Name string
	// Group is the group a line naming both a user and a group requires too.
	Group  string
	Policy Policy
}

// AllowedSubjects lists the lines that allow attrs to their subject, in file
// order: what the request is, not who asks, is matched (`who-can`). A line
// with neither user nor group allows nobody and is left out.
func (a *Authorizer) AllowedSubjects(attrs authorizer.Attributes) []Allowed {
	var out []Allowed
	for _, p := range a.policies {
		if p.Spec.User == "" && p.Spec.Group == "" || !actionMatches(&p.Spec, attrs) {
			continue
		}
		al := Allowed{Kind: "User", Name: p.Spec.User, Policy: p}
		switch {
		case p.Spec.User == "":
			al.Kind, al.Name = "Group", p.Spec.Group
		case p.Spec.Group != "":
			al.Group = p.Spec.Group
		}
		out = append(out, al)
	}
	return out
}

func matches(s *Spec, a authorizer.Attributes) bool {
	return subjectMatches(s, a.GetUser()) && actionMatches(s, a)
}

// actionMatches matches a line against everything but the subject.
func actionMatches(s *Spec, a authorizer.Attributes) bool {
	if s.Readonly && !a.IsReadOnly() {
		return false
	}
	if a.IsResourceRequest() {
		return (s.Namespace == "*" || s.Namespace == a.GetNamespace()) &&
			(s.Resource == "*" || s.Resource == a.GetResource()) &&
			(s.APIGroup == "*" || s.APIGroup == a.GetAPIGroup())
	}
	return pathMatches(s.NonResourcePath, a.GetPath())
}

func pathMatches(pattern, path string) bool {
	if pattern == "*" || pattern == path {
		return true
	}
	return strings.HasSuffix(pattern, "*") && strings.HasPrefix(path, strings.TrimRight(pattern, "*"))
}

// subjectMatches: a line with neither user nor group matches nobody; "*"
// matches everyone; a named user or group must match, and both must when both are set.
func subjectMatches(s *Spec, u user.Info) bool {
	if u == nil {
		return false
	}
	matched := false
	if s.User != "" {
		if s.User != "*" && s.User != u.GetName() {
			return false
		}
		matched = true
	}
	if s.Group != "" {
		if s.Group == "*" {
			return true
		}
		for _, g := range u.GetGroups() {
			if g == s.Group {
				return true
			}
		}
		return false
	}
	return matched
}

// RulesFor lists what the user may do in namespace, as upstream's ABAC rule
// resolver does (used by `kguard authz can-i --list` and SelfSubjectRulesReview).
func (a *Authorizer) RulesFor(_ context.Context, u user.Info, namespace string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	var rr []authorizer.ResourceRuleInfo
	var nr []authorizer.NonResourceRuleInfo
	for i := range a.policies {
		s := &a.policies[i].Spec
		if !subjectMatches(s, u) || (s.Namespace != "*" && s.Namespace != namespace) {
			continue
		}
		verbs := []string{"*"}
		if s.Readonly {
			verbs = []string{"get", "list", "watch"}
		}
		if s.Resource != "" {
			rr = append(rr, &authorizer.DefaultResourceRuleInfo{Verbs: verbs, APIGroups: []string{s.APIGroup}, Resources: []string{s.Resource}})
		}
		if s.NonResourcePath != "" {
			nr = append(nr, &authorizer.DefaultNonResourceRuleInfo{Verbs: verbs, NonResourceURLs: []string{s.NonResourcePath}})
		}
	}
	return rr, nr, false, nil
}
