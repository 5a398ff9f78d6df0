package gatekeeper

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	mutationtypes "github.com/open-policy-agent/gatekeeper/v3/pkg/mutation/types"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/target"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kguard/kguard/internal/constraints"
	gk "github.com/kguard/kguard/pkg/apis/gatekeeper"
)

// What a constraint's parameters are when its template evaluates them, and
// which constraints are refused, as Gatekeeper's client decides: the
// template's schema defaults applied (its `default`s), fields the schema
// does not know refused unless the schema is a legacy one (v1beta1 and
// v1alpha1 templates by default, legacySchema: true), and no parameters at
// all for a v1 template without a schema. Each template reports
// input.parameters as its message, for every template version, legacy
// setting and schema × every constraint.
func TestParametersAsGatekeeper(t *testing.T) {
	schemas := map[string]string{
		"none": ``,
		"defaults": `"validation": {%s"openAPIV3Schema": {"type": "object", "properties": {
			"strict": {"type": "boolean", "default": true},
			"mode": {"type": "string", "default": "enforce"},
			"limits": {"type": "object", "properties": {"max": {"type": "integer", "default": 3}, "min": {"type": "integer"}}},
			"items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "level": {"type": "integer", "default": 1}}}}}}}`,
		"open":       `"validation": {%s"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"mode": {"type": "string", "default": "audit"}}}}`,
		"badDefault": `"validation": {%s"openAPIV3Schema": {"type": "object", "properties": {"n": {"type": "integer", "default": "x"}}}}`,
		"untyped":    `"validation": {%s"openAPIV3Schema": {"properties": {"mode": {"type": "string"}, "list": {"type": "array"}}}}`,
	}
	legacies := map[string]string{"unset": ``, "legacy": `"legacySchema": true, `, "structural": `"legacySchema": false, `}
	params := map[string]string{
		"absent":        ``,
		"null":          `, "parameters": null`,
		"empty":         `, "parameters": {}`,
		"set":           `, "parameters": {"strict": false, "mode": "warn", "limits": {"min": 1}, "items": [{"name": "a"}, {"name": "b", "level": 5}]}`,
		"unknown":       `, "parameters": {"mode": "warn", "typo": 1}`,
		"unknownNested": `, "parameters": {"limits": {"maxx": 2}, "items": [{"name": "a", "extra": true}]}`,
		"listUntyped":   `, "parameters": {"list": [{"a": 1}, 2]}`,
	}
	ctx := context.Background()
	scheme := gatekeeperScheme(t)
	req, ns := webhookRequest()
	compared, refused, refusedTemplates := 0, 0, 0
	for _, version := range []string{"v1", "v1beta1"} {
		for schemaName, schema := range schemas {
			for legacyName, legacy := range legacies {
				if schema == "" && legacy != "" {
					continue
				}
				validation := ""
				if schema != "" {
					validation = fmt.Sprintf(schema, legacy) + ","
				}
				kind := "K8sParamsTest"
				tmplJSON := []byte(`{"apiVersion": "templates.gatekeeper.sh/` + version + `", "kind": "ConstraintTemplate", "metadata": {"name": "k8sparamstest"},
					"spec": {"crd": {"spec": {"names": {"kind": "` + kind + `"}, ` + validation + ` "_": 0}},
					"targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": "package k8sparamstest\nviolation[{\"msg\": msg}] {\n  msg := sprintf(\"%v\", [input.parameters])\n}\n"}]}}`)
				tmplJSON = dropPlaceholder(t, tmplJSON)

				name := version + "/" + schemaName + "/" + legacyName
				t.Run(name, func(t *testing.T) {
					var ct gk.ConstraintTemplate
					if err := json.Unmarshal(tmplJSON, &ct); err != nil {
						t.Fatal(err)
					}
					ours, ourErr := constraints.CompileTemplate(&ct, constraints.Options{NoCEL: true})
					gkTmpl, err := gatekeeperTemplate(scheme, tmplJSON)
					if err != nil {
						t.Fatal(err)
					}
					if _, theirErr := newGatekeeperClient(t, constraints.PointGator).AddTemplate(ctx, gkTmpl.DeepCopy()); (theirErr == nil) != (ourErr == nil) {
						t.Fatalf("template: Gatekeeper's error %v, kguard's %v", theirErr, ourErr)
					} else if theirErr != nil {
						refusedTemplates++
						return
					}
					for paramsName, p := range params {
						raw := []byte(`{"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "` + kind + `", "metadata": {"name": "c"},
							"spec": {"match": {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}` + p + `}}`)
						client := newGatekeeperClient(t, constraints.PointGator)
						if _, err := client.AddTemplate(ctx, gkTmpl.DeepCopy()); err != nil {
							t.Fatalf("Gatekeeper: %v", err)
						}
						u := &unstructured.Unstructured{}
						if err := u.UnmarshalJSON(raw); err != nil {
							t.Fatal(err)
						}
						_, theirErr := client.AddConstraint(ctx, u)
						c, ourErr := constraints.LoadConstraint(ours, raw)
						if (theirErr == nil) != (ourErr == nil) {
							t.Errorf("%s: Gatekeeper's error %v, kguard's %v", paramsName, theirErr, ourErr)
							continue
						}
						if theirErr != nil {
							refused++
							continue
						}
						theirs, err := gatekeeperViolations(ctx, client, &target.AugmentedReview{AdmissionRequest: req, Namespace: ns,
							Source: mutationtypes.SourceTypeOriginal, IsAdmission: true}, constraints.PointGator)
						if err != nil {
							t.Fatal(err)
						}
						set, err := constraints.NewSet(ctx, []*constraints.Template{ours}, []*constraints.Constraint{c}, nil)
						if err != nil {
							t.Fatal(err)
						}
						kg := kguardViolations(ctx, set, &constraints.Review{Request: req, Namespace: ns}, constraints.PointGator)
						if fmt.Sprint(kg) != fmt.Sprint(theirs) {
							t.Errorf("%s: parameters seen\nkguard:     %v\nGatekeeper: %v", paramsName, kg, theirs)
						}
						compared++
					}
				})
			}
		}
	}
	// Every outcome was exercised (the cases are built to have each).
	if compared == 0 || refused == 0 || refusedTemplates == 0 {
		t.Errorf("%d constraints compared, %d refused by both, %d templates refused by both: want some of each", compared, refused, refusedTemplates)
	}
}

// dropPlaceholder removes the "_" member the test's template text carries
// after the optional validation.
func dropPlaceholder(t *testing.T, raw []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	delete(m["spec"].(map[string]any)["crd"].(map[string]any)["spec"].(map[string]any), "_")
	return mustJSON(t, m)
}
