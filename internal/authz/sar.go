package authz

import (
	"context"
	"errors"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	authorizationv1beta1 "k8s.io/api/authorization/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	sigsjson "sigs.k8s.io/json"
)

// ErrReview is matched (errors.Is) by every error about a malformed
// SubjectAccessReview; such a review is answered with an error, never allowed.
var ErrReview = errors.New("invalid SubjectAccessReview")

// MaxReviewBytes bounds a SubjectAccessReview body.
const MaxReviewBytes = 1 << 20

func reviewErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrReview, fmt.Sprintf(format, args...))
}

// Review answers a SubjectAccessReview (authorization.k8s.io/v1 or v1beta1,
// JSON) with a, as kube-apiserver's subjectaccessreviews endpoint and a webhook
// authorizer answer it: the same review is returned in the same apiVersion with
// status.allowed, status.denied, status.reason and status.evaluationError set.
// A body that is not a valid SubjectAccessReview is an error matching ErrReview.
func Review(ctx context.Context, a authorizer.Authorizer, body []byte) ([]byte, error) {
	if len(body) > MaxReviewBytes {
		return nil, reviewErrorf("body of %d bytes exceeds the limit of %d", len(body), MaxReviewBytes)
	}
	// Read as v1, what kube-apiserver sends, in one pass; the kind is read on
	// its own only when that fails.
	var sar authorizationv1.SubjectAccessReview
	v1err := decodeReview(body, &sar)
	tm := sar.TypeMeta
	if v1err != nil {
		tm = metav1.TypeMeta{}
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &tm); err != nil {
			return nil, reviewErrorf("malformed JSON: %v", err)
		}
	}
	if tm.Kind != "SubjectAccessReview" {
		return nil, reviewErrorf("kind %q, want SubjectAccessReview", tm.Kind)
	}
	switch tm.APIVersion {
	case authorizationv1.SchemeGroupVersion.String():
		if v1err != nil {
			return nil, v1err
		}
		attrs, err := AttributesFromSpec(sar.Spec)
		if err != nil {
			return nil, err
		}
		sar.Status = Decide(ctx, a, attrs)
		return marshal(&sar)
	case authorizationv1beta1.SchemeGroupVersion.String():
		var sar authorizationv1beta1.SubjectAccessReview
		if err := decodeReview(body, &sar); err != nil {
			return nil, err
		}
		attrs, err := AttributesFromSpec(specFromV1beta1(sar.Spec))
		if err != nil {
			return nil, err
		}
		st := Decide(ctx, a, attrs)
		sar.Status = authorizationv1beta1.SubjectAccessReviewStatus{Allowed: st.Allowed, Denied: st.Denied, Reason: st.Reason, EvaluationError: st.EvaluationError}
		return marshal(&sar)
	default:
		return nil, reviewErrorf("apiVersion %q, want %s or %s", tm.APIVersion, authorizationv1.SchemeGroupVersion, authorizationv1beta1.SchemeGroupVersion)
	}
}

// decodeReview decodes case-sensitively. Unknown fields are ignored, as the API
// server ignores them: a SubjectAccessReview from a newer kube-apiserver may carry
// narrowing fields (such as selectors) that an older reader does not know, and
// ignoring a narrowing field only makes the question broader.
func decodeReview(body []byte, into any) error {
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body, into); err != nil {
		return reviewErrorf("malformed JSON: %v", err)
	}
	return nil
}

func specFromV1beta1(s authorizationv1beta1.SubjectAccessReviewSpec) authorizationv1.SubjectAccessReviewSpec {
	out := authorizationv1.SubjectAccessReviewSpec{User: s.User, Groups: s.Groups, UID: s.UID}
	if s.ResourceAttributes != nil {
		r := s.ResourceAttributes
		out.ResourceAttributes = &authorizationv1.ResourceAttributes{
			Namespace: r.Namespace, Verb: r.Verb, Group: r.Group, Version: r.Version, Resource: r.Resource,
			Subresource: r.Subresource, Name: r.Name,
			FieldSelector: (*authorizationv1.FieldSelectorAttributes)(r.FieldSelector),
			LabelSelector: (*authorizationv1.LabelSelectorAttributes)(r.LabelSelector),
		}
	}
	if s.NonResourceAttributes != nil {
		out.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: s.NonResourceAttributes.Path, Verb: s.NonResourceAttributes.Verb}
	}
	if s.Extra != nil {
		out.Extra = map[string]authorizationv1.ExtraValue{}
		for k, v := range s.Extra {
			out.Extra[k] = authorizationv1.ExtraValue(v)
		}
	}
	return out
}

// AttributesFromSpec validates what the API server requires of a review's spec
// (exactly one of resourceAttributes and nonResourceAttributes; a user or a
// group), not its selector and metadata rules (README.md: reviews upstream
// refuses are answered), and
// converts it into authorizer attributes. An empty resource version means all
// versions ("*"); label and field selectors are parsed, and a selector that
// does not parse is dropped and reported through EvaluationError, as upstream.
func AttributesFromSpec(spec authorizationv1.SubjectAccessReviewSpec) (authorizer.AttributesRecord, error) {
	var errs []string
	if (spec.ResourceAttributes == nil) == (spec.NonResourceAttributes == nil) {
		errs = append(errs, "spec: exactly one of nonResourceAttributes or resourceAttributes must be specified")
	}
	if spec.User == "" && len(spec.Groups) == 0 {
		errs = append(errs, "spec.user: at least one of user or group must be specified")
	}
	if len(errs) > 0 {
		return authorizer.AttributesRecord{}, reviewErrorf("%s", strings.Join(errs, "; "))
	}
	u := &user.DefaultInfo{Name: spec.User, Groups: spec.Groups, UID: spec.UID}
	if spec.Extra != nil {
		u.Extra = make(map[string][]string, len(spec.Extra))
		for k, v := range spec.Extra {
			u.Extra[k] = []string(v)
		}
	}
	if n := spec.NonResourceAttributes; n != nil {
		return authorizer.AttributesRecord{User: u, Verb: n.Verb, Path: n.Path}, nil
	}
	r := spec.ResourceAttributes
	version := r.Version
	if version == "" {
		version = "*"
	}
	attrs := authorizer.AttributesRecord{
		User: u, Verb: r.Verb, Namespace: r.Namespace, APIGroup: r.Group, APIVersion: version,
		Resource: r.Resource, Subresource: r.Subresource, Name: r.Name, ResourceRequest: true,
	}
	if ls := r.LabelSelector; ls != nil {
		if ls.RawSelector != "" {
			sel, err := labels.Parse(ls.RawSelector)
			if err != nil {
				attrs.LabelSelectorParsingErr = err
			} else {
				attrs.LabelSelectorRequirements, _ = sel.Requirements()
			}
		}
		if len(ls.Requirements) > 0 {
			attrs.LabelSelectorRequirements, attrs.LabelSelectorParsingErr = labelRequirements(ls.Requirements)
		}
	}
	if fs := r.FieldSelector; fs != nil {
		if fs.RawSelector != "" {
			sel, err := fields.ParseSelector(fs.RawSelector)
			if err != nil {
				attrs.FieldSelectorParsingErr = err
			} else {
				attrs.FieldSelectorRequirements = sel.Requirements()
			}
		}
		if len(fs.Requirements) > 0 {
			attrs.FieldSelectorRequirements, attrs.FieldSelectorParsingErr = fieldRequirements(fs.Requirements)
		}
	}
	return attrs, nil
}

func labelRequirements(in []metav1.LabelSelectorRequirement) (labels.Requirements, error) {
	ops := map[metav1.LabelSelectorOperator]selection.Operator{
		metav1.LabelSelectorOpIn: selection.In, metav1.LabelSelectorOpNotIn: selection.NotIn,
		metav1.LabelSelectorOpExists: selection.Exists, metav1.LabelSelectorOpDoesNotExist: selection.DoesNotExist,
	}
	var reqs labels.Requirements
	var errs []error
	for _, e := range in {
		op, ok := ops[e.Operator]
		if !ok {
			errs = append(errs, fmt.Errorf("%q is not a valid label selector operator", e.Operator))
			continue
		}
		values := e.Values
		if len(values) == 0 {
			values = nil
		}
		req, err := labels.NewRequirement(e.Key, op, values)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		reqs = append(reqs, *req)
	}
	return reqs, utilerrors.NewAggregate(errs)
}

func fieldRequirements(in []metav1.FieldSelectorRequirement) (fields.Requirements, error) {
	var reqs fields.Requirements
	var errs []error
	for _, e := range in {
		if len(e.Values) != 1 {
			errs = append(errs, fmt.Errorf("field selector %q must have exactly one value", e.Key))
			continue
		}
		switch e.Operator {
		case metav1.FieldSelectorOpIn:
			reqs = append(reqs, fields.Requirement{Field: e.Key, Operator: selection.Equals, Value: e.Values[0]})
		case metav1.FieldSelectorOpNotIn:
			reqs = append(reqs, fields.Requirement{Field: e.Key, Operator: selection.NotEquals, Value: e.Values[0]})
		default:
			errs = append(errs, fmt.Errorf("field selectors do not support operator %q", e.Operator))
		}
	}
	return reqs, utilerrors.NewAggregate(errs)
}

// Decide runs the authorizer and fills a review status. An evaluation error
// never turns into an allow by itself: the decision stands as the authorizer
// returned it, and the error is reported in evaluationError.
func Decide(ctx context.Context, a authorizer.Authorizer, attrs authorizer.AttributesRecord) authorizationv1.SubjectAccessReviewStatus {
	decision, reason, err := a.Authorize(ctx, attrs)
	var evalErrs []string
	if err != nil {
		evalErrs = append(evalErrs, err.Error())
	}
	if reqs, err := attrs.GetFieldSelector(); err != nil {
		evalErrs = append(evalErrs, selectorIgnored("fieldSelector", len(reqs)))
	}
	if reqs, err := attrs.GetLabelSelector(); err != nil {
		evalErrs = append(evalErrs, selectorIgnored("labelSelector", len(reqs)))
	}
	return authorizationv1.SubjectAccessReviewStatus{
		Allowed:         decision == authorizer.DecisionAllow,
		Denied:          decision == authorizer.DecisionDeny,
		Reason:          reason,
		EvaluationError: strings.Join(evalErrs, "; "),
	}
}

func selectorIgnored(name string, kept int) string {
	if kept > 0 {
		return "spec.resourceAttributes." + name + " partially ignored due to parse error"
	}
	return "spec.resourceAttributes." + name + " ignored due to parse error"
}
