package constraints

import (
	"errors"
	"strings"
	"testing"
)

// What the schema of Gatekeeper's constraint CRDs refuses is ErrSchema (a
// suite's `invalid: true` passes on it, as in gator); other load errors
// are ErrConstraint only.
func TestConstraintSchemaErrors(t *testing.T) {
	tmpl := regoTestTemplate(t, "KSchema", "package kschema\nviolation[{\"msg\": \"x\"}] { true }")
	for spec, schema := range map[string]bool{
		`{"metadata": {"name": "` + strings.Repeat("a", 64) + `"}}`:                        true,
		`{"metadata": {"name": "c"}, "spec": {"match": {"kinds": "Pod"}}}`:                 true,
		`{"metadata": {"name": "c"}, "spec": {"enforcementAction": 5}}`:                    true,
		`{"metadata": {"name": "c"}, "spec": {"match": {"source": "Bogus"}}}`:              true,
		`{"metadata": {"name": "c"}, "spec": {"match": {"unknownField": true}}}`:           false,
		`{"metadata": {"name": "c"}, "spec": {"enforcementAction": "bogus"}}`:              false,
		`{"metadata": {"name": "` + strings.Repeat("a", 63) + `"}, "spec": {"match": {}}}`: false, // loads
	} {
		raw := `{"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "KSchema", ` + strings.TrimPrefix(spec, "{")
		_, err := LoadConstraint(tmpl, []byte(raw))
		if got := errors.Is(err, ErrSchema); got != schema {
			t.Errorf("%s: error %v, schema error %v, want %v", spec, err, got, schema)
		}
		if strings.Contains(spec, `"a`) && !schema && err != nil {
			t.Errorf("%s: a 63-character name must load: %v", spec, err)
		}
		if err != nil && !errors.Is(err, ErrConstraint) {
			t.Errorf("%s: error %v does not match ErrConstraint", spec, err)
		}
	}
}
