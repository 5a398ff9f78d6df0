package constraints

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	gk "github.com/kguard/kguard/pkg/apis/gatekeeper"
)

// paramSchema is what a template says of its constraints' spec.parameters,
// read as Gatekeeper's constraint client reads it: the schema validates
// them, its defaults fill them in, and fields it does not know are refused
// unless it preserves them.
type paramSchema struct {
	validator  validation.SchemaValidator
	structural *structuralschema.Structural
}

// parametersSchema is the schema of spec.parameters in the CRD of t's
// constraints, as Gatekeeper makes it: the template's openAPIV3Schema, with
// x-kubernetes-preserve-unknown-fields on every object when the schema is
// a legacy one; a legacy template without a schema takes any parameters, a
// v1 template without one none (nil).
func parametersSchema(t *gk.ConstraintTemplate) (*apiextensionsv1.JSONSchemaProps, error) {
	v := t.Spec.CRD.Spec.Validation
	legacy := legacySchema(t)
	var s *apiextensionsv1.JSONSchemaProps
	switch {
	case v != nil && v.OpenAPIV3Schema != nil:
		s = v.OpenAPIV3Schema.DeepCopy()
	case legacy:
		s = &apiextensionsv1.JSONSchemaProps{}
	default:
		return nil, nil
	}
	if legacy {
		if err := preserveUnknownFields(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// legacySchema is the template's spec.crd.spec.validation.legacySchema, or
// its default: true for templates.gatekeeper.sh/v1beta1 and v1alpha1,
// false for v1 (Gatekeeper's ConstraintTemplate CRD).
func legacySchema(t *gk.ConstraintTemplate) bool {
	if v := t.Spec.CRD.Spec.Validation; v != nil && v.LegacySchema != nil {
		return *v.LegacySchema
	}
	_, version, _ := strings.Cut(t.APIVersion, "/")
	return version == "v1beta1" || version == "v1alpha1"
}

// preserveUnknownFields marks every object of s, and every value whose type
// is not given, as keeping the fields s does not describe, and gives an
// array without an items schema one that keeps anything.
func preserveUnknownFields(s *apiextensionsv1.JSONSchemaProps) error {
	preserve := true
	switch s.Type {
	case "", "object":
		s.XPreserveUnknownFields = &preserve
	case "array":
		if s.Items == nil || (s.Items.Schema == nil && s.Items.JSONSchemas == nil) {
			s.Items = &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &apiextensionsv1.JSONSchemaProps{XPreserveUnknownFields: &preserve}}
		}
	}
	for name, p := range s.Properties {
		if err := preserveUnknownFields(&p); err != nil {
			return err
		}
		s.Properties[name] = p
	}
	if s.Items != nil {
		if s.Items.JSONSchemas != nil {
			return fmt.Errorf("items: a list of schemas is not supported")
		}
		if s.Items.Schema != nil {
			return preserveUnknownFields(s.Items.Schema)
		}
	}
	return nil
}

// newParamSchema compiles a parameters schema.
func newParamSchema(s *apiextensionsv1.JSONSchemaProps) (*paramSchema, error) {
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(s, &internal, nil); err != nil {
		return nil, err
	}
	v, _, err := validation.NewSchemaValidator(&internal)
	if err != nil {
		return nil, err
	}
	structural, err := structuralschema.NewStructural(&internal)
	if err != nil {
		return nil, err
	}
	return &paramSchema{validator: v, structural: structural}, nil
}

// The three steps of Gatekeeper's client adding a constraint, in order,
// on spec.parameters as decoded JSON (nil for null) at path: validate them
// as written against the schema, refuse the fields it does not know, then
// fill in its defaults.

// validate checks params against the schema.
func (s *paramSchema) validate(path *field.Path, params any) field.ErrorList {
	return validation.ValidateCustomResource(path, params, s.validator)
}

// unknown lists the fields of params the schema neither describes nor
// preserves, as paths inside params.
func (s *paramSchema) unknown(params any) []string {
	opts := structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}
	return pruning.PruneWithOptions(runtime.DeepCopyJSONValue(params), s.structural, false, opts)
}

// withDefaults is a copy of params with the schema's defaults filled in.
func (s *paramSchema) withDefaults(params any) any {
	params = runtime.DeepCopyJSONValue(params)
	defaulting.Default(params, s.structural)
	return params
}

// crdParamsPath is where spec.parameters' schema sits in the CRD that
// validateCRD checks, and templateParamsPath where the template wrote it.
const (
	crdParamsPath      = "spec.validation.openAPIV3Schema.properties[spec].properties[parameters]"
	templateParamsPath = "spec.crd.spec.validation.openAPIV3Schema"
)

// validateCRD checks the CRD of t's constraints, with the parameters schema
// params, as kube-apiserver checks a CRD, as Gatekeeper does before it
// accepts a template: a schema that is not structural (a missing type, an
// array without items), a default its own schema refuses, a rule that does
// not compile. The errors name the template's fields.
func validateCRD(t *gk.ConstraintTemplate, params *apiextensionsv1.JSONSchemaProps) error {
	c := crd(t, params)
	c.Spec.Versions = c.Spec.Versions[:1] // all versions share one schema
	apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(c)
	var internal apiextensions.CustomResourceDefinition
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(c, &internal, nil); err != nil {
		return err
	}
	errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), &internal)
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = strings.Replace(e.Error(), crdParamsPath, templateParamsPath, 1)
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}
