package imagepolicy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"cuelang.org/go/cue/cuecontext"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// statementPolicy judges an attestation's in-toto statement (as JSON): nil
// when it complies. Policies are compiled when the ClusterImagePolicy loads.
type statementPolicy func(ctx context.Context, statement []byte) error

// compileStatementPolicy compiles an attestation's policy with cosign's and
// policy-controller's semantics:
//   - rego: a module of package sigstore (Rego v0 syntax, as cosign
//     evaluates it) whose rule isCompliant is true, or a list of
//     {result, error, warning} objects one of which has result true; the
//     input is the statement.
//   - cue: the policy unified with the statement must be valid.
func compileStatementPolicy(typ, data string) (statementPolicy, error) {
	switch typ {
	case "rego":
		return compileRego(data)
	case "cue":
		return compileCue(data)
	}
	return nil, fmt.Errorf("type %q is not supported (rego or cue)", typ)
}

const (
	regoPackage = "sigstore"
	regoRule    = "isCompliant"
)

func compileRego(module string) (statementPolicy, error) {
	query := fmt.Sprintf("%s = data.%s.%s", regoRule, regoPackage, regoRule)
	prepared, err := rego.New(
		rego.Query(query),
		rego.Module(regoPackage+".rego", module),
		rego.SetRegoVersion(ast.RegoV0),
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(context.Background())
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, statement []byte) error {
		var input any
		dec := json.NewDecoder(bytes.NewReader(statement))
		dec.UseNumber()
		if err := dec.Decode(&input); err != nil {
			return err
		}
		rs, err := prepared.Eval(ctx, rego.EvalInput(input))
		if err != nil {
			return fmt.Errorf("evaluating the rego policy: %w", err)
		}
		notCompliant := fmt.Errorf("not compliant with the rego policy (data.%s.%s is not true)", regoPackage, regoRule)
		for _, r := range rs {
			switch v := r.Bindings[regoRule].(type) {
			case bool:
				if v {
					return nil
				}
			case []any:
				for _, item := range v {
					m, _ := item.(map[string]any)
					if ok, _ := m["result"].(bool); ok {
						return nil
					}
					if msg, _ := m["error"].(string); msg != "" {
						notCompliant = fmt.Errorf("not compliant with the rego policy: %s", msg)
					}
				}
			}
		}
		return notCompliant
	}, nil
}

func compileCue(src string) (statementPolicy, error) {
	cctx := cuecontext.New()
	policy := cctx.CompileString(src)
	if err := policy.Err(); err != nil {
		return nil, err
	}
	return func(_ context.Context, statement []byte) error {
		// A context per evaluation: CUE values are not safe for
		// concurrent use, and the policy is small to compile again.
		c := cuecontext.New()
		p := c.CompileString(src)
		att := c.CompileBytes(statement)
		if err := att.Err(); err != nil {
			return fmt.Errorf("reading the statement: %w", err)
		}
		if err := p.Unify(att).Validate(); err != nil {
			return fmt.Errorf("not compliant with the cue policy: %w", err)
		}
		return nil
	}, nil
}

var errNoStatement = errors.New("attestation has no in-toto statement")
