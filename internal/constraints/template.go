package constraints

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	gk "github.com/kguard/kguard/pkg/apis/gatekeeper"
)

// Options change how templates compile.
type Options struct {
	// NoCEL turns the K8sNativeValidation engine off: a template carrying
	// both CEL and Rego runs its Rego, one with CEL only does not compile.
	// Gatekeeper prefers CEL when it is enabled, as kguard does by default.
	NoCEL bool
}

// Template is a compiled ConstraintTemplate.
type Template struct {
	// Name is the template's metadata.name, Kind the kind of its constraints.
	Name, Kind string
	// Engine is the engine that runs (Rego or K8sNativeValidation).
	Engine string
	// Operations the template's constraints judge in admission (nil: all
	// the webhook receives).
	Operations []string
	// RequiresSync lists the kinds the template reads from data.inventory
	// (its metadata.gatekeeper.sh/requires-sync-data annotation).
	RequiresSync []gk.SyncOnlyEntry

	// params is the schema of the constraints' spec.parameters; nil when
	// the template declares none (a v1 template without a schema): a
	// constraint with parameters is then refused, as Gatekeeper refuses it.
	params *paramSchema
	code   engine
}

// CompileTemplate compiles a ConstraintTemplate of target
// admission.k8s.gatekeeper.sh. The error matches ErrCompile and names the
// field at fault.
func CompileTemplate(t *gk.ConstraintTemplate, opts Options) (*Template, error) {
	fail := func(path *field.Path, format string, args ...any) error {
		return fmt.Errorf("%w: ConstraintTemplate %q: %s: %s", ErrCompile, t.Name, path, fmt.Sprintf(format, args...))
	}
	spec := field.NewPath("spec")
	kind := t.Spec.CRD.Spec.Names.Kind
	if kind == "" {
		return nil, fail(spec.Child("crd", "spec", "names", "kind"), "required")
	}
	// Gatekeeper requires the name to be the kind in lower case.
	if t.Name != strings.ToLower(kind) {
		return nil, fail(field.NewPath("metadata", "name"), "must be %q, the lowercase of spec.crd.spec.names.kind", strings.ToLower(kind))
	}
	if len(t.Spec.Targets) != 1 {
		return nil, fail(spec.Child("targets"), "must have exactly one target, has %d", len(t.Spec.Targets))
	}
	target := &t.Spec.Targets[0]
	tp := spec.Child("targets").Index(0)
	if target.Target != gk.TargetName {
		return nil, fail(tp.Child("target"), "unsupported target %q (kguard runs %s)", target.Target, gk.TargetName)
	}
	out := &Template{Name: t.Name, Kind: kind, Operations: target.Operations}
	var err error
	if out.RequiresSync, err = requiresSync(t.Annotations[gk.RequiresSyncData]); err != nil {
		return nil, fail(field.NewPath("metadata", "annotations").Key(gk.RequiresSyncData), "%v", err)
	}
	schemaAt := spec.Child("crd", "spec", "validation", "openAPIV3Schema")
	ps, err := parametersSchema(t)
	if err != nil {
		return nil, fail(schemaAt, "%v", err)
	}
	if err := validateCRD(t, ps); err != nil {
		return nil, fail(spec.Child("crd"), "the constraints' CustomResourceDefinition would be invalid: %v", err)
	}
	if ps != nil {
		if out.params, err = newParamSchema(ps); err != nil {
			return nil, fail(schemaAt, "%v", err)
		}
	}
	// The engines in Gatekeeper's order of preference: CEL first (when on),
	// then Rego (code[] or the legacy rego/libs fields).
	var rego, cel *gk.Code
	var regoAt, celAt *field.Path
	for i := range target.Code {
		c := &target.Code[i]
		switch c.Engine {
		case gk.EngineRego:
			if rego == nil {
				rego, regoAt = c, tp.Child("code").Index(i).Child("source")
			}
		case gk.EngineCEL:
			if cel == nil {
				cel, celAt = c, tp.Child("code").Index(i).Child("source")
			}
		}
	}
	var src gk.RegoSource
	switch {
	case rego != nil:
		if err := json.Unmarshal(rego.Source, &src); err != nil {
			return nil, fail(regoAt, "%v", err)
		}
	case target.Rego != "":
		src, regoAt = gk.RegoSource{Rego: target.Rego, Libs: target.Libs}, tp.Child("rego")
	}
	switch {
	case cel != nil && !opts.NoCEL:
		out.Engine = gk.EngineCEL
		if out.code, err = compileCEL(kind, cel.Source); err != nil {
			return nil, fail(celAt, "%v", err)
		}
	case src.Rego != "":
		out.Engine = gk.EngineRego
		if out.code, err = compileRego(src); err != nil {
			return nil, fail(regoAt, "%v", err)
		}
	case cel != nil:
		return nil, fail(tp.Child("code"), "only K8sNativeValidation code, and CEL is turned off")
	default:
		return nil, fail(tp, "no Rego or K8sNativeValidation code")
	}
	return out, nil
}

// requiresSync reads the requires-sync-data annotation: a JSON list of
// requirements, each a list of alternative {groups, versions, kinds}, that
// the library writes inside quotes and newlines Gatekeeper trims.
func requiresSync(annotation string) ([]gk.SyncOnlyEntry, error) {
	if annotation == "" {
		return nil, nil
	}
	var reqs [][]struct {
		Groups   []string `json:"groups"`
		Versions []string `json:"versions"`
		Kinds    []string `json:"kinds"`
	}
	dec := json.NewDecoder(strings.NewReader(strings.Trim(annotation, "\n\"")))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&reqs); err != nil {
		return nil, fmt.Errorf("not a list of requirements: %v", err)
	}
	var out []gk.SyncOnlyEntry
	for _, req := range reqs {
		for _, alt := range req {
			for _, g := range alt.Groups {
				for _, v := range alt.Versions {
					for _, k := range alt.Kinds {
						e := gk.SyncOnlyEntry{Group: g, Version: v, Kind: k}
						if !slices.Contains(out, e) {
							out = append(out, e)
						}
					}
				}
			}
		}
	}
	return out, nil
}
