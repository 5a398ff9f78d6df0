package constraints

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	gk "github.com/kguard/kguard/pkg/apis/gatekeeper"
)

// regoCode is a template's Rego compiled as Gatekeeper's Rego driver
// compiles it: the entry point's package renamed data.template, its libs
// under data.lib, references to data only into data.lib and
// data.inventory, syntax v0 unless source.version is v1.
//
// The query (violations = data.template.violation) is compiled with it
// and evaluated by OPA's evaluator (topdown) directly, as the rego
// package's prepared queries evaluate it, without the rego package's
// per-evaluation bookkeeping (an evaluation context, a result set of JSON
// values built for every binding).
type regoCode struct {
	compiler *ast.Compiler
	query    ast.Body
	queryC   ast.QueryCompiler
	result   ast.Var // the query's variable for the set of violations
}

var (
	regoTemplatePath = ast.MustParseRef("data.template")
	regoQuery        = ast.MustParseBody("violations = data.template.violation")
	regoResult       = ast.Var("violations")
	regoLibRoot      = ast.MustParseRef("data.lib")
	regoInventory    = ast.MustParseRef("data.inventory")
)

func compileRego(src gk.RegoSource) (engine, error) {
	version := ast.RegoV0
	switch src.Version {
	case "", "v0":
	case "v1":
		version = ast.RegoV1
	default:
		return nil, fmt.Errorf("version: unsupported Rego version %q (v0 or v1)", src.Version)
	}
	parse := func(name, text string) (*ast.Module, error) {
		m, err := ast.ParseModuleWithOpts(name, text, ast.ParserOptions{RegoVersion: version})
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, fmt.Errorf("%s: empty module", name)
		}
		return m, nil
	}
	entry, err := parse("template", src.Rego)
	if err != nil {
		return nil, fmt.Errorf("rego: %v", err)
	}
	if !hasRule(entry, "violation") {
		return nil, fmt.Errorf("rego: missing required rule violation")
	}
	entry.Package.Path = regoTemplatePath.Copy()
	modules := map[string]*ast.Module{"template": entry}
	for i, text := range src.Libs {
		name := fmt.Sprintf("libs[%d]", i)
		m, err := parse(name, text)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		if !m.Package.Path.HasPrefix(regoLibRoot) {
			return nil, fmt.Errorf("%s: package %v is not under data.lib", name, m.Package.Path)
		}
		modules[name] = m
	}
	for name, m := range modules {
		if err := checkDataRefs(m); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
	}
	c := ast.NewCompiler().WithCapabilities(ast.CapabilitiesForThisVersion()).WithEnablePrintStatements(false)
	c.Compile(modules)
	if c.Failed() {
		return nil, fmt.Errorf("rego: %v", c.Errors)
	}
	qc := c.QueryCompiler().WithEnablePrintStatements(false)
	query, err := qc.Compile(regoQuery.Copy())
	if err != nil {
		return nil, fmt.Errorf("rego: %v", err)
	}
	result := regoResult
	for rewritten, original := range qc.RewrittenVars() {
		if original == regoResult {
			result = rewritten
		}
	}
	return &regoCode{compiler: c, query: query, queryC: qc, result: result}, nil
}

func hasRule(m *ast.Module, name string) bool {
	for _, r := range m.Rules {
		if r.Head.Name.String() == name || (len(r.Head.Reference) > 0 && r.Head.Reference[0].Value.String() == name) {
			return true
		}
	}
	return false
}

// checkDataRefs refuses a reference to data outside data.lib and
// data.inventory (and the template's own package), as Gatekeeper's Rego
// rewriter does: a template sees nothing else.
func checkDataRefs(m *ast.Module) error {
	var bad ast.Ref
	ast.WalkRefs(m, func(r ast.Ref) bool {
		if bad != nil || !r.HasPrefix(ast.DefaultRootRef) || len(r) < 2 {
			return false
		}
		if r.HasPrefix(regoLibRoot) || r.HasPrefix(regoInventory) || r.HasPrefix(regoTemplatePath) {
			return false
		}
		if _, ok := r[1].Value.(ast.String); !ok {
			bad = r // data[x]: could read anything
			return true
		}
		bad = r
		return true
	})
	if bad != nil {
		return fmt.Errorf("invalid data reference %v: templates may read data.lib and data.inventory only", bad)
	}
	return nil
}

func (e *regoCode) name() string { return gk.EngineRego }

// regoBound is a constraint's parameters as a Rego value, and that value's
// text (constraints of one template whose parameters are equal share
// their evaluation: shareKey).
type regoBound struct {
	params ast.Value
	key    string
}

// bind is the constraint's parameters as a Rego value.
func (e *regoCode) bind(c *Constraint, _ []byte) (any, error) {
	v, err := ast.InterfaceToValue(c.Params)
	if err != nil {
		return nil, err
	}
	return &regoBound{params: v, key: v.String()}, nil
}

// regoShare is what decides a constraint's Rego violations besides the
// review: input is only the review and the parameters.
type regoShare struct {
	code   *regoCode
	params string
}

func (e *regoCode) shareKey(bound any) any {
	return regoShare{e, bound.(*regoBound).key}
}

func (e *regoCode) violations(ctx context.Context, p *pass, r *Review, c *Constraint, bound any) ([]Violation, error) {
	st, err := r.state(gk.EngineRego, func() (any, error) { return regoReview(r) })
	if err != nil {
		// The input cannot be built: Gatekeeper's driver fails the whole
		// review, as the CEL engine's does.
		return nil, reviewError{err}
	}
	if p.rego == nil {
		rp, err := openRegoPass(ctx, p.set.store)
		if err != nil {
			return nil, err
		}
		p.rego = rp
	}
	return e.eval(ctx, p.rego, st.(ast.Value), bound.(*regoBound).params)
}

// regoPass is what the Rego evaluations of one review of a Set share,
// rather than each opening its own: a read transaction on the Set's store
// (which never changes) and one cancellation when the review's context
// ends (OPA otherwise starts a goroutine per evaluation to watch it).
type regoPass struct {
	store  storage.Store
	txn    storage.Transaction
	cancel topdown.Cancel
	stop   func() bool
}

func openRegoPass(ctx context.Context, store storage.Store) (*regoPass, error) {
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	cancel := topdown.NewCancel()
	if ctx.Err() != nil {
		cancel.Cancel() // now, not in AfterFunc's goroutine: no evaluation runs
	}
	return &regoPass{store: store, txn: txn, cancel: cancel, stop: context.AfterFunc(ctx, cancel.Cancel)}, nil
}

func (p *regoPass) close(ctx context.Context) {
	p.stop()
	p.store.Abort(ctx, p.txn)
}

// eval evaluates the template's violation rule for one review and one
// constraint's parameters, with what the rego package's prepared queries
// set by default: rule indexing and early exit on, builtin errors
// undefined rather than fatal, no metrics, the time taken when it starts.
func (e *regoCode) eval(ctx context.Context, p *regoPass, review, params ast.Value) ([]Violation, error) {
	input := ast.NewObject(
		ast.Item(ast.StringTerm("review"), ast.NewTerm(review)),
		ast.Item(ast.StringTerm("parameters"), ast.NewTerm(params)),
	)
	q := topdown.NewQuery(e.query).
		WithQueryCompiler(e.queryC).
		WithCompiler(e.compiler).
		WithStore(p.store).
		WithTransaction(p.txn).
		WithInput(ast.NewTerm(input)).
		WithCancel(p.cancel).
		WithMetrics(metrics.NoOp()).
		WithIndexing(true).
		WithEarlyExit(true)
	var found *ast.Term
	err := q.Iter(ctx, func(qr topdown.QueryResult) error {
		found = qr[e.result]
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, nil
	}
	// The set as the rego package gives it (ast.JSON, sets unsorted).
	x, err := ast.JSONWithOpt(found.Value, ast.JSONOpt{})
	if err != nil {
		return nil, err
	}
	set, ok := x.([]any)
	if !ok {
		return nil, fmt.Errorf("violation is not a set")
	}
	var out []Violation
	for _, x := range set {
		m, ok := x.(map[string]any)
		if !ok {
			continue // r.msg is undefined: Gatekeeper's hook drops it
		}
		raw, ok := m["msg"]
		if !ok {
			continue
		}
		msg, ok := raw.(string)
		if !ok {
			return nil, fmt.Errorf("invalid response type: msg is %T, not a string", raw)
		}
		details, ok := m["details"]
		if !ok {
			details = map[string]any{}
		}
		out = append(out, Violation{Msg: msg, Details: details})
	}
	return out, nil
}

// regoReview is input.review as Gatekeeper's driver builds it: the
// AdmissionRequest through encoding/json, plus namespaceObject (null when
// the namespace is not known).
func regoReview(r *Review) (ast.Value, error) {
	if v, ok := regoReviewDecoded(r); ok {
		return v, nil
	}
	return regoReviewRoundTrip(r)
}

// regoReviewDecoded is regoReview built from the objects the review has
// already decoded for matching, without encoding them again: the same
// value as the round trip, since both decoders read the same JSON into
// the same maps, and a number is a float64 in either (an int64 of the
// decoder that matching uses becomes the float64 the round trip parses).
// ok is false when it cannot be sure: an object that is not a JSON object
// (the round trip then decides), or a "-0" (0 here, -0 there).
func regoReviewDecoded(r *Review) (ast.Value, bool) {
	if !decodedJSONObject(r.Request.Object) || !decodedJSONObject(r.Request.OldObject) {
		return nil, false
	}
	obj, old, err := r.objects()
	if err != nil || (obj == nil) != (r.Request.Object.Raw == nil) || (old == nil) != (r.Request.OldObject.Raw == nil) {
		return nil, false
	}
	req := *r.Request
	req.Object, req.OldObject = runtime.RawExtension{}, runtime.RawExtension{}
	v, err := regoReviewRoundTrip(&Review{Request: &req, Namespace: r.Namespace})
	if err != nil {
		return nil, false
	}
	review, ok := v.(ast.Object)
	if !ok {
		return nil, false
	}
	for _, o := range []struct {
		key string
		u   *unstructured.Unstructured
	}{{"object", obj}, {"oldObject", old}} {
		if o.u == nil {
			continue // null, as the round trip has it
		}
		ov, ok := jsonToRego(o.u.Object)
		if !ok {
			return nil, false
		}
		review.Insert(ast.StringTerm(o.key), ast.NewTerm(ov))
	}
	return review, true
}

// decodedJSONObject is a raw extension that encoding/json writes as its
// Raw bytes, and that holds a JSON object without a number starting "-0".
func decodedJSONObject(re runtime.RawExtension) bool {
	if re.Raw == nil {
		return re.Object == nil
	}
	trimmed := bytes.TrimLeft(re.Raw, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{' && !negativeZero(re.Raw)
}

// negativeZero reports whether JSON text has a number starting "-0" (-0,
// -0.5, -0e1): outside strings a '-' only starts a number. Inside strings
// "-0" is common (names web-0, dates 2026-01-05) and does not count.
func negativeZero(text []byte) bool {
	if !bytes.Contains(text, []byte("-0")) {
		return false
	}
	inString := false
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case inString && c == '\\':
			i++ // the escaped byte, a quote or a backslash among them
		case c == '"':
			inString = !inString
		case !inString && c == '-' && i+1 < len(text) && text[i+1] == '0':
			return true
		}
	}
	return false
}

// jsonToRego is a decoded JSON value as ast.InterfaceToValue makes it from
// what encoding/json decodes: numbers as float64.
func jsonToRego(x any) (ast.Value, bool) {
	switch x := x.(type) {
	case nil:
		return ast.NullValue, true
	case bool:
		return ast.Boolean(x), true
	case string:
		return ast.String(x), true
	case int64:
		return ast.Number(strconv.FormatFloat(float64(x), 'g', -1, 64)), true
	case float64:
		return ast.Number(strconv.FormatFloat(x, 'g', -1, 64)), true
	case []any:
		terms := make([]*ast.Term, len(x))
		for i, e := range x {
			v, ok := jsonToRego(e)
			if !ok {
				return nil, false
			}
			terms[i] = ast.NewTerm(v)
		}
		return ast.NewArray(terms...), true
	case map[string]any:
		kvs := make([][2]*ast.Term, 0, len(x))
		for k, e := range x {
			v, ok := jsonToRego(e)
			if !ok {
				return nil, false
			}
			kvs = append(kvs, [2]*ast.Term{ast.StringTerm(k), ast.NewTerm(v)})
		}
		return ast.NewObject(kvs...), true
	}
	return nil, false
}

// regoReviewRoundTrip is regoReview the way Gatekeeper makes it.
func regoReviewRoundTrip(r *Review) (ast.Value, error) {
	b, err := json.Marshal(r.Request)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["namespaceObject"] = nil
	if r.Namespace != nil {
		nb, err := json.Marshal(r.Namespace)
		if err != nil {
			return nil, err
		}
		var ns any
		if err := json.Unmarshal(nb, &ns); err != nil {
			return nil, err
		}
		m["namespaceObject"] = ns
	}
	return ast.InterfaceToValue(m)
}
