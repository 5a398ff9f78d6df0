package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	sigsjson "sigs.k8s.io/json"

	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/podspec"
)

// ErrReview is matched (errors.Is) by every error about a malformed AdmissionReview.
var ErrReview = errors.New("invalid AdmissionReview")

func reviewErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrReview, fmt.Sprintf(format, args...))
}

// Review answers an AdmissionReview (admission.k8s.io/v1, JSON) for the
// webhook pass phase. Like the built-in PodSecurityPolicy plugin, it
// evaluates pods — CREATE and UPDATE, not subresources — and lets every
// other request through unevaluated (the webhook configuration sends only
// pods). A review that cannot be read is an error matching ErrReview; a pod
// that cannot be decoded is denied.
func (c *Chain) Review(ctx context.Context, body []byte, phase Phase) ([]byte, error) {
	var tm metav1.TypeMeta
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &tm); err != nil {
		return nil, reviewErrorf("malformed JSON: %v", err)
	}
	if tm.Kind != "AdmissionReview" || tm.APIVersion != admissionv1.SchemeGroupVersion.String() {
		return nil, reviewErrorf("%s %s, want %s AdmissionReview", tm.APIVersion, tm.Kind, admissionv1.SchemeGroupVersion)
	}
	var review admissionv1.AdmissionReview
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &review); err != nil {
		return nil, reviewErrorf("malformed JSON: %v", err)
	}
	req := review.Request
	if req == nil {
		return nil, reviewErrorf("no request")
	}
	if req.UID == "" {
		return nil, reviewErrorf("request has no uid")
	}
	resp := c.decide(ctx, req, phase)
	resp.UID = req.UID
	out := admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: resp}
	b, err := json.Marshal(&out)
	if err != nil {
		return nil, fmt.Errorf("encoding the review: %w", err)
	}
	return b, nil
}

func (c *Chain) decide(ctx context.Context, req *admissionv1.AdmissionRequest, phase Phase) *admissionv1.AdmissionResponse {
	if req.Resource.Group != "" || req.Resource.Resource != "pods" || req.SubResource != "" {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	r := &Request{Operation: req.Operation, Resource: "pods", Name: req.Name, Namespace: req.Namespace, Phase: phase,
		User: &user.DefaultInfo{Name: req.UserInfo.Username, UID: req.UserInfo.UID, Groups: req.UserInfo.Groups, Extra: extra(req.UserInfo.Extra)}}
	if len(req.Object.Raw) == 0 {
		return errorResponse(r, errors.New("the request carries no object"))
	}
	doc := manifest.Document{Source: "request.object", Item: -1, APIVersion: "v1", Kind: "Pod", JSON: req.Object.Raw}
	w, err := podspec.Decode(&doc)
	if err != nil {
		return badRequest(r, err)
	}
	r.Workload = w
	if r.Name == "" {
		r.Name = w.Object.(*corev1.Pod).Name
	}
	if req.Operation == admissionv1.Update {
		if len(req.OldObject.Raw) == 0 {
			return badRequest(r, errors.New("an UPDATE without oldObject"))
		}
		var old corev1.Pod
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(req.OldObject.Raw, &old); err != nil {
			return badRequest(r, fmt.Errorf("request.oldObject: %v", err))
		}
		r.OldPod = &old
	}
	return c.Admit(ctx, r)
}

func extra(in map[string]authenticationv1.ExtraValue) map[string][]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string][]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// badRequest denies a request whose object cannot be read.
func badRequest(r *Request, err error) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusBadRequest, Reason: metav1.StatusReasonBadRequest,
		Message: fmt.Sprintf("%s %q: %v", r.Resource, r.Name, err),
	}}
}
