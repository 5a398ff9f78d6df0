package constraints

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	celgo "github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/cel/environment"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	gk "github.com/kguard/kguard/pkg/apis/gatekeeper"
)

// celCode is a template's K8sNativeValidation source compiled as
// Gatekeeper's k8scel driver compiles it: ValidatingAdmissionPolicy
// expressions (k8s.io/apiserver's composited CEL compiler) whose variables
// start with Gatekeeper's anyObject and params, whose `params` is the whole
// constraint, evaluated with the VAP's matchConditions, validations,
// messages and failurePolicy.
// The decision is k8s.io/apiserver's validating.Validator's, as in
// Gatekeeper: each Deny (a false validation, or an error under
// failurePolicy Fail) is a violation with the decision's message.
type celCode struct {
	validator     validating.Validator
	failurePolicy admissionregistrationv1.FailurePolicyType
	// byParameters: no expression of the template names `params` (the
	// whole constraint) itself, only variables.params, so constraints with
	// equal parameters get the same violations for one review and it is
	// evaluated once per distinct parameters.
	byParameters bool
}

var _ engine = (*celCode)(nil)

// celVariable is a variable's expression accessor (any type).
type celVariable struct{ name, expression string }

func (v *celVariable) GetName() string            { return v.name }
func (v *celVariable) GetExpression() string      { return v.expression }
func (v *celVariable) ReturnTypes() []*celgo.Type { return []*celgo.Type{celgo.AnyType, celgo.DynType} }

// celSource is Gatekeeper's K8sNativeValidation source
// (pkg/drivers/k8scel/schema.Source). Gatekeeper spells the match
// conditions' field matchCondition, in the singular; generateVAP only
// concerns generating a ValidatingAdmissionPolicy and is not read here.
type celSource struct {
	Validations []struct {
		Expression        string `json:"expression,omitempty"`
		Message           string `json:"message,omitempty"`
		MessageExpression string `json:"messageExpression,omitempty"`
	} `json:"validations,omitempty"`
	FailurePolicy   *string `json:"failurePolicy,omitempty"`
	MatchConditions []struct {
		Name       string `json:"name"`
		Expression string `json:"expression"`
	} `json:"matchCondition,omitempty"`
	Variables []struct {
		Name       string `json:"name,omitempty"`
		Expression string `json:"expression,omitempty"`
	} `json:"variables,omitempty"`
	GenerateVAP *bool `json:"generateVAP,omitempty"`
}

// Gatekeeper's reserved names: the prefix of its own variables and match
// conditions, and the two variables it injects before the template's.
const (
	celReservedPrefix = "gatekeeper_internal_"
	celParamsVar      = "params"
	celObjectVar      = "anyObject"
)

// celInjected are the variables Gatekeeper declares before a template's
// (transform.AllVariablesCEL): variables.anyObject is the object, or the
// old object of a DELETE; variables.params the constraint's
// spec.parameters (null when it has none).
var celInjected = []cel.NamedExpressionAccessor{
	&celVariable{celObjectVar, `has(request.operation) && request.operation == "DELETE" && object == null ? oldObject : object`},
	&celVariable{celParamsVar, "!has(params.spec) ? null : !has(params.spec.parameters) ? null: params.spec.parameters"},
}

// compileCEL compiles a K8sNativeValidation source. Where Gatekeeper
// defers a compilation error to reviews (a violation, or nothing for an
// unused variable or a messageExpression), kguard refuses the template and
// names the expression.
func compileCEL(kind string, source json.RawMessage) (engine, error) {
	src, err := decodeCELSource(source)
	if err != nil {
		return nil, err
	}
	out := &celCode{failurePolicy: admissionregistrationv1.Fail} // Gatekeeper's default
	if src.FailurePolicy != nil {
		switch p := admissionregistrationv1.FailurePolicyType(*src.FailurePolicy); p {
		case admissionregistrationv1.Fail, admissionregistrationv1.Ignore:
			out.failurePolicy = p
		default:
			return nil, fmt.Errorf("failurePolicy: unrecognized failure policy %q (Fail or Ignore)", *src.FailurePolicy)
		}
	}

	envs := environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion())
	compiler, err := cel.NewCompositedCompiler(envs)
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %v", err)
	}
	out.byParameters = !celNamesParams(envs.StoredExpressionsEnv(), src)
	// Variables see `params` (the constraint); conditions and messages see
	// only variables.params, as in Gatekeeper.
	withParams := cel.OptionalVariableDeclarations{HasParams: true}
	plain := cel.OptionalVariableDeclarations{}
	for _, v := range celInjected {
		if res := compiler.CompileAndStoreVariable(v, withParams, environment.StoredExpressions); res.Error != nil {
			return nil, fmt.Errorf("variables.%s (Gatekeeper's): %v", v.GetName(), res.Error)
		}
	}
	for i, v := range src.Variables {
		res := compiler.CompileAndStoreVariable(&celVariable{v.Name, v.Expression}, withParams, environment.StoredExpressions)
		if res.Error != nil {
			return nil, fmt.Errorf("variables[%d] (%s).expression: %v", i, v.Name, res.Error)
		}
	}

	// check compiles one expression alone, to name the one that fails.
	check := func(at string, e cel.ExpressionAccessor) error {
		if res := compiler.CompileCELExpression(e, plain, environment.StoredExpressions); res.Error != nil {
			return fmt.Errorf("%s: %v", at, res.Error)
		}
		return nil
	}
	matchConds := make([]cel.ExpressionAccessor, len(src.MatchConditions))
	for i, mc := range src.MatchConditions {
		matchConds[i] = &matchconditions.MatchCondition{Name: mc.Name, Expression: mc.Expression}
		if err := check(fmt.Sprintf("matchCondition[%d] (%s).expression", i, mc.Name), matchConds[i]); err != nil {
			return nil, err
		}
	}
	validations := make([]cel.ExpressionAccessor, len(src.Validations))
	// messages[i] is nil when validation i has no messageExpression.
	messages := make([]cel.ExpressionAccessor, len(src.Validations))
	for i, v := range src.Validations {
		validations[i] = &validating.ValidationCondition{Expression: v.Expression, Message: v.Message}
		if err := check(fmt.Sprintf("validations[%d].expression", i), validations[i]); err != nil {
			return nil, err
		}
		if v.MessageExpression != "" {
			messages[i] = &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression}
			if err := check(fmt.Sprintf("validations[%d].messageExpression", i), messages[i]); err != nil {
				return nil, err
			}
		}
	}
	matcher := matchconditions.NewMatcher(compiler.CompileCondition(matchConds, plain, environment.StoredExpressions),
		&out.failurePolicy, "validatingadmissionpolicy", "vap-matcher", strings.ToLower(kind))
	out.validator = validating.NewValidator(
		compiler.CompileCondition(validations, plain, environment.StoredExpressions),
		matcher,
		compiler.CompileCondition(nil, plain, environment.StoredExpressions), // no audit annotations
		compiler.CompileCondition(messages, plain, environment.StoredExpressions),
		&out.failurePolicy, nil)
	return out, nil
}

// decodeCELSource reads a source as Gatekeeper does (an object, converted
// field by field, unknown fields ignored) and checks its reserved names.
func decodeCELSource(source json.RawMessage) (*celSource, error) {
	var raw any
	if err := json.Unmarshal(source, &raw); err != nil {
		return nil, err
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be an object with validations (and optionally variables, matchCondition, failurePolicy), is %s", jsonKind(raw))
	}
	src := &celSource{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, src); err != nil {
		return nil, err
	}
	for i, mc := range src.MatchConditions {
		if strings.HasPrefix(mc.Name, celReservedPrefix) {
			return nil, fmt.Errorf("matchCondition[%d].name: %q is not a valid match condition: the prefix %q is reserved", i, mc.Name, celReservedPrefix)
		}
	}
	for i, v := range src.Variables {
		if strings.HasPrefix(v.Name, celReservedPrefix) {
			return nil, fmt.Errorf("variables[%d].name: %q is not a valid variable: the prefix %q is reserved", i, v.Name, celReservedPrefix)
		}
		if v.Name == celParamsVar || v.Name == celObjectVar {
			return nil, fmt.Errorf("variables[%d].name: %q is reserved (Gatekeeper defines variables.%s and variables.%s)", i, v.Name, celObjectVar, celParamsVar)
		}
	}
	return src, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "a list"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

func (e *celCode) name() string { return gk.EngineCEL }

// bind is the constraint as the object Gatekeeper binds to `params`: the
// whole object as read (from the API server, with its defaults and
// metadata; from a file, as written), so that variables.params is null when
// spec.parameters is missing or null and {} when it is an empty object.
func (e *celCode) bind(_ *Constraint, b []byte) (any, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	// What the CEL library makes of the object for `params` on every
	// evaluation (a JSON round trip through structured-merge-diff), made
	// once by the same function.
	content, err := value.TypeReflectEntryOf(reflect.TypeOf(u)).ToUnstructured(reflect.ValueOf(u))
	if err != nil {
		return nil, err
	}
	bound := &celBound{params: &celParams{Unstructured: u, content: content}}
	if e.byParameters {
		// What variables.params will be: spec.parameters, or null.
		params, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "parameters")
		p, err := json.Marshal(params) // map keys sorted: one text per value
		if err != nil {
			return nil, err
		}
		bound.key = string(p)
	}
	return bound, nil
}

// celBound is the constraint object bound to `params` and, for a
// byParameters template, its parameters' JSON text.
type celBound struct {
	params *celParams
	key    string
}

// celParams is the constraint object handed to the validator as its
// params: an Unstructured that gives the CEL library its unstructured form
// as already made (value.UnstructuredConverter) instead of having it
// encoded and decoded again for each expression evaluated.
type celParams struct {
	*unstructured.Unstructured
	content any
}

func (p *celParams) ToUnstructured() any { return p.content }

var _ value.UnstructuredConverter = (*celParams)(nil)

// celShare is what decides a byParameters template's violations besides
// the review.
type celShare struct {
	code   *celCode
	params string
}

func (e *celCode) shareKey(bound any) any {
	if !e.byParameters {
		return nil
	}
	return celShare{e, bound.(*celBound).key}
}

// celNamesParams reports whether an expression of the template names the
// constraint object `params` itself (then each constraint is evaluated). It
// reads the parsed expressions, as env's compiler parses them, so that every
// spelling counts: `params`, CEL's root-scoped `.params`, a macro's operand.
// An iteration or bind variable named params counts too (needlessly, but
// safely), and so does an expression that does not parse (its compilation
// refuses the template anyway).
func celNamesParams(env *celgo.Env, src *celSource) bool {
	var exprs []string
	for _, v := range src.Variables {
		exprs = append(exprs, v.Expression)
	}
	for _, v := range src.Validations {
		exprs = append(exprs, v.Expression, v.MessageExpression)
	}
	for _, m := range src.MatchConditions {
		exprs = append(exprs, m.Expression)
	}
	for _, e := range exprs {
		if e == "" {
			continue
		}
		parsed, iss := env.Parse(e)
		if iss.Err() != nil {
			return true
		}
		names := false
		celast.PreOrderVisit(celast.NavigateAST(parsed.NativeRep()), celast.NewExprVisitor(func(x celast.Expr) {
			if x.Kind() == celast.IdentKind && strings.TrimPrefix(x.AsIdent(), ".") == "params" {
				names = true
			}
		}))
		if names {
			return true
		}
	}
	return false
}

func (e *celCode) violations(ctx context.Context, p *pass, r *Review, c *Constraint, bound any) ([]Violation, error) {
	b, _ := bound.(*celBound)
	if b == nil {
		return nil, fmt.Errorf("%s %q is not bound to its template's CEL", c.Kind, c.Name)
	}
	// The attributes are the pass's own, not the review's: evaluating
	// writes to them (the CEL forms of the objects, made on first use).
	if p.cel == nil {
		a, err := celAttributes(r)
		if err != nil {
			// Gatekeeper's driver fails the whole review here (its webhook
			// refuses the request), not one constraint.
			return nil, reviewError{err}
		}
		p.cel = a
	}
	// Gatekeeper's budget per constraint is celconfig.PerCallLimit.
	return e.decide(ctx, p.cel, b.params, r.Namespace, celconfig.PerCallLimit), nil
}

// decide runs the validator as Gatekeeper's driver does (no authorizer,
// the request's own resource): each Deny is a violation.
func (e *celCode) decide(ctx context.Context, attr *admission.VersionedAttributes, params runtime.Object, ns *corev1.Namespace, budget int64) []Violation {
	res := e.validator.Validate(ctx, attr.GetResource(), attr, params, ns, budget, nil)
	var out []Violation
	for _, d := range res.Decisions {
		if d.Action == validating.ActionDeny {
			out = append(out, Violation{Msg: d.Message})
		}
	}
	return out
}

// celOperations maps the request's operation as Gatekeeper's request
// wrapper does (anything else is "").
var celOperations = map[admissionv1.Operation]admission.Operation{
	admissionv1.Create:  admission.Create,
	admissionv1.Update:  admission.Update,
	admissionv1.Delete:  admission.Delete,
	admissionv1.Connect: admission.Connect,
}

// celAttributes is the review as Gatekeeper's driver hands it to the
// validator: the AdmissionRequest's attributes with object and oldObject
// decoded, and no object on a DELETE (ValidatingAdmissionPolicy has none;
// variables.anyObject is then oldObject).
func celAttributes(r *Review) (*admission.VersionedAttributes, error) {
	req := r.Request
	obj, old, err := r.objects()
	if err != nil {
		return nil, err
	}
	var object, oldObject, options runtime.Object
	if obj != nil && req.Operation != admissionv1.Delete {
		object = obj
	}
	if old != nil {
		oldObject = old
	}
	if len(req.Options.Raw) != 0 {
		o := &unstructured.Unstructured{}
		if err := json.Unmarshal(req.Options.Raw, o); err != nil {
			return nil, fmt.Errorf("the request's options do not decode: %v", err)
		}
		options = o
	}
	extra := map[string][]string{}
	for k, v := range req.UserInfo.Extra {
		extra[k] = append([]string(nil), v...)
	}
	userInfo := &user.DefaultInfo{Name: req.UserInfo.Username, UID: req.UserInfo.UID, Groups: req.UserInfo.Groups, Extra: extra}
	kind := schema.GroupVersionKind{Group: req.Kind.Group, Version: req.Kind.Version, Kind: req.Kind.Kind}
	resource := schema.GroupVersionResource{Group: req.Resource.Group, Version: req.Resource.Version, Resource: req.Resource.Resource}
	attrs := admission.NewAttributesRecord(object, oldObject, kind, req.Namespace, req.Name, resource, req.SubResource,
		celOperations[req.Operation], options, req.DryRun != nil && *req.DryRun, userInfo)
	return &admission.VersionedAttributes{
		Attributes:         attrs,
		VersionedKind:      kind,
		VersionedObject:    admission.NewLazyObject(object),
		VersionedOldObject: admission.NewLazyObject(oldObject),
	}, nil
}
