package constraints

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	gk "github.com/kguard/kguard/pkg/apis/gatekeeper"
)

// Enforcement actions and enforcement points (Gatekeeper's names).
const (
	ActionDeny   = "deny"
	ActionDryrun = "dryrun"
	ActionWarn   = "warn"
	ActionScoped = "scoped"

	// PointWebhook is the admission webhook, PointAudit the audit of
	// existing objects, PointGator `kguard policy verify` (gator's).
	PointWebhook = "validation.gatekeeper.sh"
	PointAudit   = "audit.gatekeeper.sh"
	PointGator   = "gator.gatekeeper.sh"
	pointAll     = "*"
)

var actions = map[string]bool{ActionDeny: true, ActionDryrun: true, ActionWarn: true}

// Constraint is a loaded constraint of a compiled template's kind.
type Constraint struct {
	Kind, Name string
	Template   *Template
	Match      *gk.Match
	// Params are spec.parameters as JSON values ({} when none).
	Params map[string]any
	// Action is spec.enforcementAction (default deny); Scoped the actions
	// per enforcement point when Action is "scoped".
	Action string
	Scoped []gk.ScopedEnforcementAction

	labels, nsLabels labels.Selector // nil: no selector
	excluded, names  []glob
	name             glob
	bound            any   // what the template's engine prepared
	broken           error // not evaluable: every review it matches gets this
}

// object is the part of a constraint kguard reads.
type object struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       gk.ConstraintSpec `json:"spec"`
	Status     json.RawMessage   `json:"status,omitempty"`
}

// LoadConstraint reads a constraint (JSON) of template t's kind. The error
// matches ErrConstraint and names the field at fault.
func LoadConstraint(t *Template, raw []byte) (*Constraint, error) {
	var o object
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		// A value of the wrong type is what the constraint CRD's schema
		// refuses (gator's ErrSchema); an unknown field is not.
		if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) {
			return nil, fmt.Errorf("%w: %v", ErrSchema, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrConstraint, err)
	}
	fail := func(path *field.Path, format string, args ...any) error {
		return fmt.Errorf("%w: %s %q: %s: %s", ErrConstraint, o.Kind, o.Metadata.Name, path, fmt.Sprintf(format, args...))
	}
	// What the schema of Gatekeeper's constraint CRDs refuses besides the
	// parameters: a name longer than 63 characters, an unknown source.
	if len(o.Metadata.Name) > 63 {
		return nil, fmt.Errorf("%w: %s %q: metadata.name: Too long: may not be more than 63 bytes", ErrSchema, o.Kind, o.Metadata.Name)
	}
	if err := checkSource(o.Spec.Match, field.NewPath("spec", "match")); err != nil {
		return nil, fmt.Errorf("%w: %s %q: %v", ErrSchema, o.Kind, o.Metadata.Name, err)
	}
	group, _, _ := strings.Cut(o.APIVersion, "/")
	if group != gk.ConstraintsGroup {
		return nil, fail(field.NewPath("apiVersion"), "%q is not in %s", o.APIVersion, gk.ConstraintsGroup)
	}
	if o.Kind != t.Kind {
		return nil, fail(field.NewPath("kind"), "%q is not the kind of ConstraintTemplate %q (%s)", o.Kind, t.Name, t.Kind)
	}
	if o.Metadata.Name == "" {
		return nil, fail(field.NewPath("metadata", "name"), "required")
	}
	c := &Constraint{Kind: o.Kind, Name: o.Metadata.Name, Template: t, Match: o.Spec.Match,
		Action: o.Spec.EnforcementAction, Scoped: o.Spec.ScopedEnforcementActions, Params: map[string]any{}}
	spec := field.NewPath("spec")
	at := spec.Child("parameters")
	var params any // spec.parameters, defaulted; absent when nil
	if len(o.Spec.Parameters) > 0 {
		if t.params == nil {
			return nil, fail(at, "unknown field: the template declares no parameters (no openAPIV3Schema, legacySchema false)")
		}
		if err := json.Unmarshal(o.Spec.Parameters, &params); err != nil {
			return nil, fail(at, "%v", err)
		}
		if errs := t.params.validate(at, params); len(errs) > 0 {
			return nil, fmt.Errorf("%w: %s %q: %v", ErrSchema, o.Kind, o.Metadata.Name, errs.ToAggregate())
		}
		if unknown := t.params.unknown(params); len(unknown) > 0 {
			return nil, fail(at, "unknown fields: %s", strings.Join(unknown, ", "))
		}
		params = t.params.withDefaults(params)
		switch m := params.(type) {
		case nil: // an untyped schema let null through: no parameters
		case map[string]any:
			c.Params = m
		default:
			return nil, fail(at, "must be an object")
		}
	}
	if err := c.loadAction(spec); err != nil {
		return nil, fmt.Errorf("%w: %s %q: %v", ErrConstraint, o.Kind, o.Metadata.Name, err)
	}
	if err := c.loadMatch(spec.Child("match")); err != nil {
		return nil, fmt.Errorf("%w: %s %q: %v", ErrConstraint, o.Kind, o.Metadata.Name, err)
	}
	obj, err := defaulted(raw, len(o.Spec.Parameters) > 0, params)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConstraint, err)
	}
	bound, err := t.code.bind(c, obj)
	if err != nil {
		return nil, fail(at, "%v", err)
	}
	c.bound = bound
	return c, nil
}

// defaulted is the constraint object raw as Gatekeeper's client hands it
// to its drivers (CEL's params): spec.parameters, when given, replaced by
// params (their defaults filled in), and spec.enforcementAction defaulted
// to deny.
func defaulted(raw []byte, given bool, params any) ([]byte, error) {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	spec, _ := obj["spec"].(map[string]any)
	if spec == nil {
		return raw, nil
	}
	if given {
		spec["parameters"] = params
	}
	if _, ok := spec["enforcementAction"]; !ok {
		spec["enforcementAction"] = ActionDeny
	}
	return json.Marshal(obj)
}

// LoadBroken loads a constraint that cannot be evaluated — its template
// does not compile or is missing, its parameters are refused —: its match
// is read, and every review it matches gets cause as a violation, so that
// what it covers is refused rather than admitted unchecked. The error says
// that not even its match can be read.
func LoadBroken(raw []byte, cause error) (*Constraint, error) {
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConstraint, err)
	}
	c := &Constraint{Kind: o.Kind, Name: o.Metadata.Name, Match: o.Spec.Match, Action: o.Spec.EnforcementAction,
		Scoped: o.Spec.ScopedEnforcementActions, Params: map[string]any{}, broken: cause}
	spec := field.NewPath("spec")
	if err := c.loadMatch(spec.Child("match")); err != nil {
		return nil, fmt.Errorf("%w: %s %q: %v", ErrConstraint, o.Kind, o.Metadata.Name, err)
	}
	if c.loadAction(spec) != nil {
		c.Action, c.Scoped = ActionDeny, nil
	}
	return c, nil
}

// Broken is why the constraint cannot be evaluated (nil: it can).
func (c *Constraint) Broken() error { return c.broken }

func (c *Constraint) loadAction(spec *field.Path) error {
	switch {
	case c.Action == "":
		c.Action = ActionDeny
	case c.Action == ActionScoped:
		if len(c.Scoped) == 0 {
			return field.Required(spec.Child("scopedEnforcementActions"), `enforcementAction "scoped" needs scopedEnforcementActions`)
		}
		for i, s := range c.Scoped {
			if !actions[s.Action] {
				return field.NotSupported(spec.Child("scopedEnforcementActions").Index(i).Child("action"), s.Action, []string{ActionDeny, ActionDryrun, ActionWarn})
			}
		}
	case !actions[c.Action]:
		return field.NotSupported(spec.Child("enforcementAction"), c.Action, []string{ActionDeny, ActionDryrun, ActionWarn, ActionScoped})
	}
	return nil
}

// checkSource refuses a match.source the constraint CRD's schema does not
// list (LoadConstraint reports it as ErrSchema, as Gatekeeper does).
func checkSource(m *gk.Match, path *field.Path) *field.Error {
	if m == nil {
		return nil
	}
	switch m.Source {
	case "", "All", "Original", "Generated":
		return nil
	}
	return field.NotSupported(path.Child("source"), m.Source, []string{"All", "Generated", "Original"})
}

func (c *Constraint) loadMatch(path *field.Path) error {
	m := c.Match
	if m == nil {
		return nil
	}
	// Any scope loads, as in Gatekeeper (its schema has no enum): one
	// other than Cluster and Namespaced, a typo such as "cluster" included,
	// matches objects of both scopes, so a typo judges more, never less.
	if err := checkSource(m, path); err != nil {
		return err
	}
	var err error
	for _, sel := range []struct {
		in  *metav1.LabelSelector
		out *labels.Selector
		at  string
	}{{m.LabelSelector, &c.labels, "labelSelector"}, {m.NamespaceSelector, &c.nsLabels, "namespaceSelector"}} {
		if sel.in == nil {
			continue
		}
		if errs := metavalidation.ValidateLabelSelector(sel.in, metavalidation.LabelSelectorValidationOptions{}, path.Child(sel.at)); len(errs) > 0 {
			return errs.ToAggregate()
		}
		if *sel.out, err = metav1.LabelSelectorAsSelector(sel.in); err != nil {
			return field.Invalid(path.Child(sel.at), sel.in, err.Error())
		}
	}
	for i, ns := range m.Namespaces {
		g, err := newGlob(ns, path.Child("namespaces").Index(i))
		if err != nil {
			return err
		}
		c.names = append(c.names, g)
	}
	for i, ns := range m.ExcludedNamespaces {
		g, err := newGlob(ns, path.Child("excludedNamespaces").Index(i))
		if err != nil {
			return err
		}
		c.excluded = append(c.excluded, g)
	}
	if m.Name != "" {
		if c.name, err = newGlob(m.Name, path.Child("name")); err != nil {
			return err
		}
	}
	return nil
}

// actionAt is the constraint's enforcement action at an enforcement point,
// and whether it is enforced there at all.
func (c *Constraint) actionAt(point string) ([]string, bool) {
	if c.Action != ActionScoped {
		return []string{c.Action}, true
	}
	var out []string
	for _, s := range c.Scoped {
		for _, p := range s.EnforcementPoints {
			if p.Name == point || p.Name == pointAll {
				if !containsString(out, s.Action) {
					out = append(out, s.Action)
				}
				break
			}
		}
	}
	return out, len(out) > 0
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
