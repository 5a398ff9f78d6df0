// Package regopolicy evaluates plain OPA admission policies, as OPA serves
// them to Kubernetes with kube-mgmt: Rego modules whose deny (and warn)
// rules read the whole AdmissionReview as input, e.g. seed 004's
//
//	package kubernetes.admission
//	deny[msg] { input.request.kind.kind == "Pod"; ...; msg := "..." }
//
// Every document named deny or warn that the modules define is asked
// (data.kubernetes.admission.deny, whether a rule deny of package
// kubernetes.admission or a rule admission.deny of package kubernetes
// defines it); its deny messages refuse the request, its warn messages are
// warnings. The engine reads no files and no cluster: the modules are
// handed in. Builtins with I/O (http.send, net.lookup_ip_addr) run as in
// OPA, bounded by the caller's deadline; their errors refuse, as every
// evaluation error does.
package regopolicy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// ErrCompile is matched by every error about modules that do not compile.
var ErrCompile = errors.New("Rego policy does not compile")

// Module is one Rego module and where it was read.
type Module struct {
	Name, Source string
}

// Policies are compiled modules. They are immutable and safe for
// concurrent use.
type Policies struct {
	queries []query
	modules int
}

type query struct {
	path string // data.kubernetes.admission.deny
	rule string // deny or warn
	q    rego.PreparedEvalQuery
}

// Compile parses and compiles modules together. A module is read as Rego
// v1; one that is not v1 but is valid v0 (the syntax of seed 004's and
// kube-mgmt's examples, deny[msg] { ... }) is read as v0, as OPA's
// --v0-compatible does.
func Compile(ctx context.Context, modules []Module) (*Policies, error) {
	parsed := map[string]*ast.Module{}
	docs := map[string]string{} // data.kubernetes.admission.deny -> deny
	for _, m := range modules {
		mod, err := ast.ParseModuleWithOpts(m.Name, m.Source, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			var v0err error
			if mod, v0err = ast.ParseModuleWithOpts(m.Name, m.Source, ast.ParserOptions{RegoVersion: ast.RegoV0}); v0err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrCompile, m.Name, err)
			}
		}
		if mod == nil {
			return nil, fmt.Errorf("%w: %s: empty module", ErrCompile, m.Name)
		}
		if _, dup := parsed[m.Name]; dup {
			return nil, fmt.Errorf("%w: %s is given twice", ErrCompile, m.Name)
		}
		parsed[m.Name] = mod
		for _, r := range mod.Rules {
			if len(r.Head.Args) > 0 {
				// A function is no document: OPA serves none at its
				// name, and a query of it does not compile.
				continue
			}
			for path, rule := range decisionDocs(mod.Package.Path.Extend(r.Head.Ref())) {
				docs[path] = rule
			}
		}
	}
	c := ast.NewCompiler().WithEnablePrintStatements(false)
	c.Compile(parsed)
	if c.Failed() {
		return nil, fmt.Errorf("%w: %v", ErrCompile, c.Errors)
	}
	out := &Policies{modules: len(modules)}
	paths := make([]string, 0, len(docs))
	for p := range docs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		q, err := rego.New(rego.Compiler(c), rego.Query(path), rego.StrictBuiltinErrors(true)).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCompile, path, err)
		}
		out.queries = append(out.queries, query{path: path, rule: docs[path], q: q})
	}
	return out, nil
}

// decisionDocs are the documents named deny or warn on the path of a
// rule's document (data, its package, its head's ref), up to the first
// key that is not a constant: each a query, by the rule it is.
func decisionDocs(ref ast.Ref) map[string]string {
	out := map[string]string{}
	path := ast.Ref{ast.DefaultRootDocument}
	for _, t := range ref[1:] {
		var key string
		switch v := t.Value.(type) {
		case ast.Var: // the first term of a rule's head
			key = string(v)
		case ast.String:
			key = string(v)
		default:
			return out
		}
		path = path.Append(ast.StringTerm(key))
		if key == "deny" || key == "warn" {
			out[path.String()] = key
		}
	}
	return out
}

// Len is the number of deny and warn rules the policies define.
func (p *Policies) Len() int {
	if p == nil {
		return 0
	}
	return len(p.queries)
}

// Decision is what the policies say of one AdmissionReview.
type Decision struct {
	Deny, Warn []string
}

// Review evaluates every deny and warn rule with the AdmissionReview as
// input (its JSON, decoded). An evaluation error — a builtin's included
// (to_number("x"), a division by zero), which OPA by default turns into an
// undefined expression, dropping the deny —, or a deny rule whose values
// are not strings, is an error: the caller refuses the request.
func (p *Policies) Review(ctx context.Context, review ast.Value) (Decision, error) {
	var d Decision
	for i := range p.queries {
		q := &p.queries[i]
		rs, err := q.q.Eval(ctx, rego.EvalParsedInput(review))
		if err != nil {
			return Decision{}, fmt.Errorf("%s: %v", q.path, err)
		}
		if len(rs) == 0 || len(rs[0].Expressions) == 0 {
			continue
		}
		msgs, err := messages(rs[0].Expressions[0].Value)
		if err != nil {
			return Decision{}, fmt.Errorf("%s: %v", q.path, err)
		}
		if q.rule == "deny" {
			d.Deny = append(d.Deny, msgs...)
		} else {
			d.Warn = append(d.Warn, msgs...)
		}
	}
	return d, nil
}

// messages reads a deny/warn rule's value: a set (or array) of strings, or
// one string.
func messages(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("a message is %T, not a string", x)
			}
			out = append(out, s)
		}
		return out, nil
	case bool:
		if v {
			return []string{"denied by a Rego policy"}, nil
		}
		return nil, nil
	default:
		return nil, fmt.Errorf("the rule's value is %T, not a set of strings", v)
	}
}

// Join words deny messages in one line, as OPA's Kubernetes admission
// examples do (concat(", ", deny)).
func Join(msgs []string) string { return strings.Join(msgs, ", ") }
