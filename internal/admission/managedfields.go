package admission

import (
	"errors"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podObject is a Pod as the one-pass read decodes it: its metadata shadows
// the Pod's, so that metadata.managedFields are checked but not built.
// kube-apiserver sends them with every pod (a FieldsV1 tree per manager,
// often a third of the pod's JSON) and no admission plugin reads them, so a
// pod read in one pass has none (nil). What is skipped is checked for
// everything the two passes' strict decoding would refuse, and more:
// anything not plainly well formed is an error here, and the review then
// takes the two passes, which decode the managedFields and decide as before.
//
// (A shadowing type rather than jsonv2.WithUnmarshalers: with those, the
// decoder looks every value's type up in them, an eighth of the decoding.)
type podObject struct {
	corev1.Pod `json:",inline"`
	Metadata   podMetadata `json:"metadata"`
}

type podMetadata struct {
	metav1.ObjectMeta `json:",inline"`
	ManagedFields     checkedManagedFields `json:"managedFields"`
}

// pod is the Pod read, its metadata moved in.
func (o *podObject) pod() *corev1.Pod {
	if o == nil {
		return nil
	}
	o.Pod.ObjectMeta, o.Metadata.ObjectMeta = o.Metadata.ObjectMeta, metav1.ObjectMeta{}
	return &o.Pod
}

// checkedManagedFields reads managedFields without keeping them.
type checkedManagedFields struct{}

func (*checkedManagedFields) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	return checkManagedFields(dec)
}

var errManagedFields = errors.New("metadata.managedFields is not a plain list of entries")

// checkManagedFields reads a managedFields value: null, or a list of
// objects whose members are ManagedFieldsEntry's, each at most once, the
// strings strings, time an RFC 3339 time as metav1.Time reads it, and
// fieldsV1 any JSON value (metav1.FieldsV1 keeps it raw). jsontext itself
// refuses malformed JSON, invalid UTF-8 and duplicated names.
func checkManagedFields(dec *jsontext.Decoder) error {
	switch dec.PeekKind() {
	case 'n':
		_, err := dec.ReadToken()
		return err
	case '[':
	default:
		return errManagedFields
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for dec.PeekKind() == '{' {
		if err := checkManagedFieldsEntry(dec); err != nil {
			return err
		}
	}
	if dec.PeekKind() != ']' {
		return errManagedFields
	}
	_, err := dec.ReadToken()
	return err
}

func checkManagedFieldsEntry(dec *jsontext.Decoder) error {
	if _, err := dec.ReadToken(); err != nil { // '{'
		return err
	}
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return err
		}
		switch name.String() {
		case "manager", "operation", "apiVersion", "fieldsType", "subresource":
			if dec.PeekKind() != '"' {
				return errManagedFields
			}
			if _, err := dec.ReadToken(); err != nil {
				return err
			}
		case "time":
			if dec.PeekKind() != '"' {
				return errManagedFields
			}
			t, err := dec.ReadToken()
			if err != nil {
				return err
			}
			if _, err := time.Parse(time.RFC3339, t.String()); err != nil {
				return err
			}
		case "fieldsV1":
			if _, err := dec.ReadValue(); err != nil { // faster than SkipValue
				return err
			}
		default:
			return errManagedFields
		}
	}
	if dec.PeekKind() != '}' {
		return errManagedFields
	}
	_, err := dec.ReadToken()
	return err
}
