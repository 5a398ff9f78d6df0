package constraints

import (
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gk "github.com/kguard/kguard/pkg/apis/gatekeeper"
)

// CRDLabel marks the CustomResourceDefinitions of constraint kinds, as
// Gatekeeper labels them; ManagedBy says kguard created one (kguard
// updates and deletes only those).
const (
	CRDLabel  = "gatekeeper.sh/constraint"
	ManagedBy = "app.kubernetes.io/managed-by"
)

// CRDPlural is the resource of a constraint kind (its lowercase), and
// CRDName the name of its CustomResourceDefinition.
func CRDPlural(kind string) string { return strings.ToLower(kind) }

func CRDName(kind string) string { return CRDPlural(kind) + "." + gk.ConstraintsGroup }

// CRD is the CustomResourceDefinition of a template's constraint kind, as
// Gatekeeper's controller makes it: <kind, lowercase>.constraints.gatekeeper.sh,
// cluster-scoped, v1beta1 stored and v1alpha1 and v1 served with the same
// schema — spec.match, spec.enforcementAction,
// spec.scopedEnforcementActions and spec.parameters with the template's
// schema —, a status subresource and the "constraint" category.
func CRD(t *gk.ConstraintTemplate) *apiextensionsv1.CustomResourceDefinition {
	// A template whose parameters schema cannot be made does not compile,
	// and gets no CRD.
	params, _ := parametersSchema(t)
	return crd(t, params)
}

// crd is the CRD of t's constraints whose spec.parameters has the schema
// params (parametersSchema; none when nil).
func crd(t *gk.ConstraintTemplate, params *apiextensionsv1.JSONSchemaProps) *apiextensionsv1.CustomResourceDefinition {
	kind := t.Spec.CRD.Spec.Names.Kind
	plural := CRDPlural(kind)
	preserve := true
	object := func() apiextensionsv1.JSONSchemaProps {
		return apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: &preserve}
	}
	schema := &apiextensionsv1.JSONSchemaProps{
		Type: "object",
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"apiVersion": {Type: "string"},
			"kind":       {Type: "string"},
			"metadata": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
				// Gatekeeper keeps constraint names DNS labels (≤ 63).
				"name": {Type: "string", MaxLength: ptr(int64(63))},
			}},
			"spec": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
				"match":                    object(),
				"enforcementAction":        {Type: "string", Default: &apiextensionsv1.JSON{Raw: []byte(`"` + ActionDeny + `"`)}},
				"scopedEnforcementActions": {Type: "array", Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: ptr(object())}},
			}},
			"status": object(),
		},
	}
	if params != nil {
		schema.Properties["spec"].Properties["parameters"] = *params
	}
	version := func(name string, storage bool) apiextensionsv1.CustomResourceDefinitionVersion {
		return apiextensionsv1.CustomResourceDefinitionVersion{
			Name: name, Served: true, Storage: storage,
			Schema:       &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: schema.DeepCopy()},
			Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
			AdditionalPrinterColumns: []apiextensionsv1.CustomResourceColumnDefinition{
				{Name: "enforcement-action", Type: "string", JSONPath: ".spec.enforcementAction"},
				{Name: "total-violations", Type: "integer", JSONPath: ".status.totalViolations"},
			},
		}
	}
	return &apiextensionsv1.CustomResourceDefinition{
		TypeMeta: metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{
			Name:   CRDName(kind),
			Labels: map[string]string{CRDLabel: "yes", ManagedBy: "kguard"},
		},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: gk.ConstraintsGroup,
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Kind: kind, ListKind: kind + "List", Plural: plural, Singular: plural,
				ShortNames: t.Spec.CRD.Spec.Names.ShortNames, Categories: []string{"constraint", "constraints"},
			},
			Scope:    apiextensionsv1.ClusterScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{version("v1beta1", true), version("v1alpha1", false), version("v1", false)},
		},
	}
}

func ptr[T any](v T) *T { return &v }
