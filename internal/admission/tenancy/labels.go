package tenancy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

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

// labelled is an object read as JSON only as deep as its labels: the other
// members of the object and of its metadata are kept as they came, so that
// writing it back with more labels changes nothing else.
type labelled struct {
	object   map[string]json.RawMessage
	metadata map[string]json.RawMessage
	Labels   map[string]string
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
	l := &labelled{}
	if err := json.Unmarshal(raw, &l.object); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if m, ok := l.object["metadata"]; ok && !bytes.Equal(bytes.TrimSpace(m), []byte("null")) {
		if err := json.Unmarshal(m, &l.metadata); err != nil {
			return nil, fmt.Errorf("metadata: %v", err)
		}
	}
	if m, ok := l.metadata["labels"]; ok {
		if err := json.Unmarshal(m, &l.Labels); err != nil {
			return nil, fmt.Errorf("metadata.labels: %v", err)
		}
	}
	return l, nil
}

// with returns the object as JSON with add among its labels.
func (l *labelled) with(add map[string]string) ([]byte, error) {
	labels := make(map[string]string, len(l.Labels)+len(add))
	for k, v := range l.Labels {
		labels[k] = v
	}
	for k, v := range add {
		labels[k] = v
	}
	meta := make(map[string]json.RawMessage, len(l.metadata)+1)
	for k, v := range l.metadata {
		meta[k] = v
	}
	var err error
	if meta["labels"], err = marshal(labels); err != nil {
		return nil, err
	}
	object := make(map[string]json.RawMessage, len(l.object)+1)
	for k, v := range l.object {
		object[k] = v
	}
	if object["metadata"], err = marshal(meta); err != nil {
		return nil, err
	}
	return marshal(object)
}

// marshal is json.Marshal without escaping <, > and & in the members kept
// as they came (which would be the same value, spelt another way).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
