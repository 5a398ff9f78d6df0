package tenancy

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	sigsjson "sigs.k8s.io/json"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// labelsPath is where a required label lives in every object.
var labelsPath = field.NewPath("metadata", "labels")

// RequiredLabels returns the tenant's required labels that an object's
// labels lack, and refuses a required key set to another value. On UPDATE
// (old is the stored object's labels, nil on CREATE) a key that already had
// that other value is left alone, with a warning, so that an object
// labelled before its tenant asked for the label can still be updated.
func RequiredLabels(t *v1alpha1.Tenant, labels, old map[string]string) (missing map[string]string, warnings []string, errs field.ErrorList) {
	for _, k := range sortedKeys(t.Spec.RequiredLabels) {
		want := t.Spec.RequiredLabels[k]
		got, set := labels[k]
		switch {
		case !set:
			if missing == nil {
				missing = map[string]string{}
			}
			missing[k] = want
		case got == want:
		case had(old, k, got):
			warnings = append(warnings, fmt.Sprintf("%s: %q: tenant %q requires %s=%s on every object in its namespaces; this object had %q before the update and keeps it",
				labelsPath.Key(k), got, t.Name, k, want, got))
		default:
			errs = append(errs, field.Invalid(labelsPath.Key(k), got, fmt.Sprintf("tenant %q requires %s=%s on every object in its namespaces", t.Name, k, want)))
		}
	}
	return missing, warnings, errs
}

// had: the stored object carried k=v.
func had(old map[string]string, k, v string) bool {
	ov, ok := old[k]
	return ok && ov == v
}

// labelled is an object read as JSON only as deep as its labels.
type labelled struct {
	Metadata *struct {
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
}

var errNoObject = errors.New("the request carries no object")

// readLabels reads an object's labels. Anything but a JSON object whose
// metadata (if any) is an object and whose labels (if any) map strings to
// strings is an error.
func readLabels(raw []byte) (*labelled, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, errNoObject
	}
	if raw[0] != '{' {
		return nil, fmt.Errorf("not a JSON object: %.20s", raw)
	}
	// Case-sensitive, as kube-apiserver reads objects: "Metadata" is not metadata.
	var l labelled
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// labels are the object's labels (nil when it has none).
func (l *labelled) labels() map[string]string {
	if l.Metadata == nil {
		return nil
	}
	return l.Metadata.Labels
}

// patch returns the JSON Patch that adds add to the object's labels, one
// operation a label in key order when it has labels, else one that adds
// them all (or the metadata holding them).
func (l *labelled) patch(add map[string]string) []jsonpatch.Operation {
	if l.Metadata == nil {
		return []jsonpatch.Operation{jsonpatch.NewOperation("add", "/metadata", map[string]any{"labels": add})}
	}
	if len(l.Metadata.Labels) == 0 {
		return []jsonpatch.Operation{jsonpatch.NewOperation("add", "/metadata/labels", add)}
	}
	ops := make([]jsonpatch.Operation, 0, len(add))
	for _, k := range sortedKeys(add) {
		ops = append(ops, jsonpatch.NewOperation("add", "/metadata/labels/"+pointerEscaper.Replace(k), add[k]))
	}
	return ops
}

// pointerEscaper escapes a member name in a JSON Pointer (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")
