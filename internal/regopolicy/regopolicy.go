// Package regopolicy evaluates plain OPA admission policies, as OPA serves
// them to Kubernetes with kube-mgmt: Rego modules whose deny (and warn)
// rules read the whole AdmissionReview as input, e.g. seed 004's
//
//	package kubernetes.admission
//	deny[msg] { input.request.kind.kind == "Pod"; ...; msg := "..." }
//
// Every document named deny or warn that the modules define is asked
// (data.kubernetes.admission.deny, whether a rule deny of package
// kubernetes.admission, a rule admission.deny of package kubernetes, or an
// object rule admission of package kubernetes whose key is deny defines it);
// its deny messages refuse the request, its warn messages are
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
	"github.com/open-policy-agent/opa/v1/types"
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
	}
	c := ast.NewCompiler().WithEnablePrintStatements(false)
	c.Compile(parsed)
	if c.Failed() {
		return nil, fmt.Errorf("%w: %v", ErrCompile, c.Errors)
	}
	for _, mod := range parsed {
		for _, r := range mod.Rules {
			if len(r.Head.Args) > 0 {
				// A function is no document: OPA serves none at its
				// name, and a query of it does not compile.
				continue
			}
			for path, rule := range decisionDocs(c, mod.Package.Path.Extend(r.Head.Ref())) {
				docs[path] = rule
			}
		}
	}
	out := &Policies{modules: len(modules)}
	paths := make([]string, 0, len(docs))
	for p := range docs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		q, err := rego.New(rego.Compiler(c), rego.ParsedQuery(ast.NewBody(ast.NewExpr(ast.NewTerm(ast.MustParseRef(path))))), rego.StrictBuiltinErrors(true)).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCompile, path, err)
		}
		out.queries = append(out.queries, query{path: path, rule: docs[path], q: q})
	}
	return out, nil
}

// decisionDocs are the documents named deny or warn that a rule (its
// document's ref: data, its package, its head's ref) defines, each a query
// by the rule it is. They are those on the rule's ref — a key that is not a
// constant (admission[x].deny contains ...) asked for every value, as a
// variable — and, where the rule's value is an object, those its keys name
// (package kubernetes, admission := {"deny": ...}): data.kubernetes.admission.deny
// is OPA's, whatever rule defines it.
func decisionDocs(c *ast.Compiler, ref ast.Ref) map[string]string {
	out := map[string]string{}
	path := ast.Ref{ast.DefaultRootDocument}
	var prefix ast.Ref // the constant keys before the first variable
	for i, t := range ref[1:] {
		key, ok := t.Value.(ast.String)
		if !ok {
			// A variable (or any other term): every key.
			if prefix == nil {
				prefix = path.Copy()
			}
			path = path.Append(ast.VarTerm(fmt.Sprintf("k%d", i)))
			continue
		}
		path = path.Append(ast.StringTerm(string(key)))
		if key == "deny" || key == "warn" {
			out[path.String()] = string(key)
		}
	}
	if prefix == nil {
		prefix = path
	}
	objectDocs(out, prefix, c.TypeEnv.GetByRef(prefix))
	return out
}

// objectDocs adds the documents named deny or warn, in and above
// data.kubernetes.admission, under path that an object type's constant
// keys name, and, where path is a prefix of
// data.kubernetes.admission.deny (or warn) and its object takes any key,
// that document.
func objectDocs(out map[string]string, path ast.Ref, tpe types.Type) {
	if !isKubeAdmissionPrefix(path) && !path.HasPrefix(kubeAdmission) {
		// Elsewhere only rules are asked, not the keys of values (a
		// library's actions := {"deny": "Deny"} refuses nothing).
		return
	}
	obj, ok := tpe.(*types.Object)
	if !ok {
		if _, unknown := tpe.(types.Any); unknown && isKubeAdmissionPrefix(path) {
			// Of a type the checker does not know (admission :=
			// data.x): OPA's document, whatever it holds.
			for _, rule := range []string{"deny", "warn"} {
				out[kubeAdmission.Append(ast.StringTerm(rule)).String()] = rule
			}
		}
		return
	}
	for _, p := range obj.StaticProperties() {
		key, ok := p.Key.(string)
		if !ok {
			continue
		}
		sub := path.Append(ast.StringTerm(key))
		if key == "deny" || key == "warn" {
			out[sub.String()] = key
		}
		objectDocs(out, sub, p.Value)
	}
	if dyn := obj.DynamicProperties(); dyn != nil && isKubeAdmissionPrefix(path) {
		if len(path) == len(kubeAdmission) {
			if types.Contains(dyn.Key, types.S) {
				for _, rule := range []string{"deny", "warn"} {
					out[path.Append(ast.StringTerm(rule)).String()] = rule
				}
			}
			return
		}
		next := kubeAdmission[len(path)].Value.(ast.String)
		if obj.Select(string(next)) == nil {
			objectDocs(out, path.Append(ast.StringTerm(string(next))), dyn.Value)
		}
	}
}

// isKubeAdmissionPrefix: path is data.kubernetes.admission or a prefix of it.
func isKubeAdmissionPrefix(path ast.Ref) bool {
	return len(path) <= len(kubeAdmission) && kubeAdmission.HasPrefix(path)
}

// kubeAdmission is where kube-mgmt's OPA reads deny and warn.
var kubeAdmission = ast.MustParseRef("data.kubernetes.admission")

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
		// One result per document: a path with variables
		// (data.kubernetes.admission[k2].deny) names several.
		for _, r := range rs {
			if len(r.Expressions) == 0 {
				continue
			}
			msgs, err := messages(r.Expressions[0].Value)
			if err != nil {
				return Decision{}, fmt.Errorf("%s: %v", q.path, err)
			}
			if q.rule == "deny" {
				d.Deny = append(d.Deny, msgs...)
			} else {
				d.Warn = append(d.Warn, msgs...)
			}
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
