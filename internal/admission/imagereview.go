package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	imagepolicyv1alpha1 "k8s.io/api/imagepolicy/v1alpha1"
	sigsjson "sigs.k8s.io/json"
)

// ImageReviewer is a plugin that judges images by themselves, without a pod:
// kube-apiserver's ImagePolicyWebhook asks about the images of a pod's
// containers with an ImageReview (kguard's /imagereview).
type ImageReviewer interface {
	Plugin
	ReviewImages(ctx context.Context, namespace string, images []string) Decision
}

// ErrImageReview is matched (errors.Is) by every error about a malformed ImageReview.
var ErrImageReview = errors.New("invalid ImageReview")

// ReviewImages answers an ImageReview (imagepolicy.k8s.io/v1alpha1, JSON) as
// the backend of kube-apiserver's ImagePolicyWebhook: the images are allowed
// when every ImageReviewer plugin of the chain allows them. A chain with no
// such plugin refuses (it was asked, and has nothing to judge with). The
// annotations of the review (*.image-policy.k8s.io/*, such as break-glass)
// decide nothing: a pod's author sets them. A review that cannot be read is
// an error matching ErrImageReview.
func (c *Chain) ReviewImages(ctx context.Context, body []byte) ([]byte, error) {
	var ir imagepolicyv1alpha1.ImageReview
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &ir); err != nil {
		return nil, fmt.Errorf("%w: malformed JSON: %v", ErrImageReview, err)
	}
	if ir.Kind != "ImageReview" || ir.APIVersion != imagepolicyv1alpha1.SchemeGroupVersion.String() {
		return nil, fmt.Errorf("%w: %s %s, want %s ImageReview", ErrImageReview, ir.APIVersion, ir.Kind, imagepolicyv1alpha1.SchemeGroupVersion)
	}
	images := make([]string, 0, len(ir.Spec.Containers))
	for i, ctr := range ir.Spec.Containers {
		if ctr.Image == "" {
			return nil, fmt.Errorf("%w: spec.containers[%d].image is empty", ErrImageReview, i)
		}
		images = append(images, ctr.Image)
	}
	ir.Status = c.reviewImages(ctx, ir.Spec.Namespace, images)
	b, err := json.Marshal(&ir)
	if err != nil {
		return nil, fmt.Errorf("encoding the review: %w", err)
	}
	return b, nil
}

func (c *Chain) reviewImages(ctx context.Context, namespace string, images []string) imagepolicyv1alpha1.ImageReviewStatus {
	var reviewers []namedPlugin
	for _, p := range c.plugins {
		if _, ok := p.Plugin.(ImageReviewer); ok {
			reviewers = append(reviewers, p)
		}
	}
	if len(reviewers) == 0 {
		return imagepolicyv1alpha1.ImageReviewStatus{Reason: "no image policy plugin is enabled in kguard (--enable-admission-plugins=...,ClusterImagePolicy): refused"}
	}
	st := imagepolicyv1alpha1.ImageReviewStatus{Allowed: true}
	var warnings []string
	for _, p := range reviewers {
		d := p.Plugin.(ImageReviewer).ReviewImages(ctx, namespace, images)
		for k, v := range d.AuditAnnotations {
			if st.AuditAnnotations == nil {
				st.AuditAnnotations = map[string]string{}
			}
			st.AuditAnnotations[k] = v
		}
		warnings = append(warnings, d.Warnings...)
		if d.Denied {
			st.Allowed, st.Reason = false, d.Reason
			return st
		}
	}
	if len(warnings) > 0 {
		// ImageReview has no warnings: they are the reason of the allowed answer
		// (which kube-apiserver ignores) and an audit annotation, which it
		// records as imagepolicywebhook.image-policy.k8s.io/warnings.
		st.Reason = strings.Join(warnings, "; ")
		if st.AuditAnnotations == nil {
			st.AuditAnnotations = map[string]string{}
		}
		st.AuditAnnotations["warnings"] = st.Reason
	}
	return st
}
