// Package constraints is kguard's engine for OPA Gatekeeper's policies:
// ConstraintTemplates (Rego, and CEL as K8sNativeValidation) and their
// constraints, evaluated against reviews exactly as Gatekeeper's target and
// drivers evaluate them — the same input.review, the same match semantics,
// the same messages. It does no I/O: templates, constraints, the inventory
// (data.inventory) and the object under review are handed in.
//
// A Template is compiled once; a Set binds compiled templates, their
// constraints and an inventory into an immutable, concurrency-safe evaluator.
package constraints

import (
	"context"
	"errors"
	"fmt"
)

// ErrCompile is matched by every error about a template that does not
// compile; ErrConstraint by every error about a constraint that does not
// load (an unknown kind, parameters its template's schema refuses).
// ErrSchema (which also matches ErrConstraint) is a constraint the schema
// of its CRD refuses, as Gatekeeper's does: parameters the template's
// schema refuses, a value of the wrong type, a name over 63 characters, an
// unknown match source (a suite's `invalid: true` expects this error).
var (
	ErrCompile    = errors.New("template does not compile")
	ErrConstraint = errors.New("invalid constraint")
	ErrSchema     = fmt.Errorf("%w: refused by its schema", ErrConstraint)
)

// reviewError is an evaluation error about the review itself, not about
// one constraint: Gatekeeper's driver then fails the whole review and its
// webhook refuses the request, whatever the constraints' enforcement
// actions. Set.Review denies it.
type reviewError struct{ error }

func (e reviewError) Unwrap() error { return e.error }

// Violation is one violation a template's code reports for a constraint:
// Gatekeeper's {"msg": ..., "details": ...}.
type Violation struct {
	Msg     string
	Details any
}

// engine is one template's code for one engine (Rego or CEL), compiled.
// Engines are immutable and safe for concurrent use.
type engine interface {
	// name is the code's engine as a template spells it.
	name() string
	// bind prepares what the engine needs of a constraint, once, when the
	// constraint is loaded (its parameters in the engine's own form); raw
	// is the constraint object as read (JSON).
	bind(c *Constraint, raw []byte) (any, error)
	// shareKey is what decides a constraint's violations besides the
	// review (its template's code and what bind returned of it: its
	// parameters), comparable, when constraints with equal keys are sure to
	// get the same violations for one review; nil when each constraint must
	// be evaluated on its own.
	shareKey(bound any) any
	// violations evaluates the code for constraint c (with what bind
	// returned) against the review, in pass p of a Set. An error is an
	// evaluation error: the caller reports it as a violation, as
	// Gatekeeper does, so that it never admits. It may run concurrently
	// with other evaluations of the same review, each in its own pass.
	violations(ctx context.Context, p *pass, r *Review, c *Constraint, bound any) ([]Violation, error)
}
