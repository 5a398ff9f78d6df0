package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	sigsjson "sigs.k8s.io/json"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/authn"
	"github.com/kguard/kguard/internal/authz"
	"github.com/kguard/kguard/internal/snapshot"
)

func (s *Server) authenticate(ctx context.Context, snap *snapshot.Snapshot, body []byte) ([]byte, string, error) {
	if snap.Authenticator == nil {
		return nil, "", fmt.Errorf("%w: authentication (start kguard with --token-auth-file or --service-account-key-file)", errNotConfigured)
	}
	out, err := authn.Review(ctx, snap.Authenticator, body)
	if err != nil {
		return nil, "", err
	}
	return out, verdict(out, `"authenticated":true`), nil
}

func (s *Server) authorize(ctx context.Context, snap *snapshot.Snapshot, body []byte) ([]byte, string, error) {
	if snap.Authorizer == nil {
		return nil, "", fmt.Errorf("%w: authorization (start kguard with --authorization-mode)", errNotConfigured)
	}
	out, err := authz.Review(ctx, snap.Authorizer, body)
	if err != nil {
		return nil, "", err
	}
	return out, verdict(out, `"allowed":true`), nil
}

func (s *Server) admit(phase admission.Phase) answer {
	return func(ctx context.Context, snap *snapshot.Snapshot, body []byte) ([]byte, string, error) {
		if snap.Admission == nil {
			return nil, "", fmt.Errorf("%w: admission (--enable-admission-plugins)", errNotConfigured)
		}
		out, err := snap.Admission.Review(ctx, body, phase)
		if err != nil {
			return nil, "", err
		}
		return out, verdict(out, `"allowed":true`), nil
	}
}

func (s *Server) reviewImages(ctx context.Context, snap *snapshot.Snapshot, body []byte) ([]byte, string, error) {
	if snap.Admission == nil {
		return nil, "", fmt.Errorf("%w: admission (--enable-admission-plugins)", errNotConfigured)
	}
	out, err := snap.Admission.ReviewImages(ctx, body)
	if err != nil {
		return nil, "", err
	}
	return out, verdict(out, `"allowed":true`), nil
}

// verdict reads the decision of an answer for the metrics. The answers are
// encoding/json output of the review types: the key appears once, in the
// status (or response), and never inside a string value, where quotes are escaped.
func verdict(out []byte, yes string) string {
	if bytes.Contains(out, []byte(yes)) {
		return "allowed"
	}
	return "denied"
}

// reviewHead reads what a fail-closed answer must echo.
func reviewHead(body []byte) (metav1.TypeMeta, types.UID, bool) {
	var head struct {
		metav1.TypeMeta `json:",inline"`
		Request         *struct {
			UID types.UID `json:"uid"`
		} `json:"request"`
	}
	if sigsjson.UnmarshalCaseSensitivePreserveInts(body, &head) != nil {
		return metav1.TypeMeta{}, "", false
	}
	uid := types.UID("")
	if head.Request != nil {
		uid = head.Request.UID
	}
	return head.TypeMeta, uid, true
}

// statusFailure answers no to a review of kind in one of versions with the
// given status (the message under errorKey): the shape TokenReviews and
// SubjectAccessReviews share.
func statusFailure(kind string, versions []string, decision, errorKey string) failure {
	return func(body []byte, message string) []byte {
		tm, _, ok := reviewHead(body)
		if !ok || tm.Kind != kind || !slices.Contains(versions, tm.APIVersion) {
			return nil
		}
		b, _ := json.Marshal(map[string]any{"apiVersion": tm.APIVersion, "kind": tm.Kind,
			"status": map[string]any{decision: false, errorKey: message}})
		return b
	}
}

var (
	tokenReviewFailure = statusFailure("TokenReview", []string{"authentication.k8s.io/v1", "authentication.k8s.io/v1beta1"}, "authenticated", "error")
	imageReviewFailure = statusFailure("ImageReview", []string{"imagepolicy.k8s.io/v1alpha1"}, "allowed", "reason")
)

// accessReviewFailure answers no SubjectAccessReview when kguard cannot
// decide (policies not loaded, its request timeout, a recovered panic,
// authorization not configured): failed then answers with an HTTP error.
// kube-apiserver's webhook authorizer reads a 200 answer with allowed=false
// and denied=false as a successful NoOpinion (evaluationError is ignored), goes
// on to the next authorizer and caches it for unauthorizedTTL: a Deny of the
// Tenant mode would fail open and the configured failurePolicy never apply.
// A non-2xx answer is a failed call, to which kube-apiserver applies
// failurePolicy (deploy/apiserver/authorization-config.yaml), uncached.
func accessReviewFailure([]byte, string) []byte { return nil }

func admissionFailure(body []byte, message string) []byte {
	tm, uid, ok := reviewHead(body)
	if !ok || tm.Kind != "AdmissionReview" || tm.APIVersion != admissionv1.SchemeGroupVersion.String() || uid == "" {
		return nil
	}
	b, _ := json.Marshal(admissionv1.AdmissionReview{TypeMeta: tm, Response: &admissionv1.AdmissionResponse{UID: uid, Allowed: false,
		Result: &metav1.Status{Status: metav1.StatusFailure, Code: 500, Reason: metav1.StatusReasonInternalError, Message: message}}})
	return b
}

// ReloadCertificate loads the serving certificate again when the files
// changed, and reports whether it did. A pair that does not load is an error
// and the previous certificate keeps serving.
func (s *Server) ReloadCertificate() (bool, error) {
	certPEM, err := os.ReadFile(s.cfg.CertFile)
	if err != nil {
		return false, fmt.Errorf("reading --tls-cert-file: %w", err)
	}
	keyPEM, err := os.ReadFile(s.cfg.KeyFile)
	if err != nil {
		return false, fmt.Errorf("reading --tls-private-key-file: %w", err)
	}
	sum := sha256.Sum256(bytes.Join([][]byte{certPEM, keyPEM}, []byte{0}))
	if s.cert.Load() != nil && sum == s.certSum {
		return false, nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return false, fmt.Errorf("loading the serving certificate %s: %w", s.cfg.CertFile, err)
	}
	s.cert.Store(&cert)
	s.certSum = sum
	if cert.Leaf != nil {
		s.metrics.certificateOK.Set(float64(cert.Leaf.NotAfter.Unix()))
		s.log.Info("serving certificate loaded", "subject", cert.Leaf.Subject.String(), "dns_names", cert.Leaf.DNSNames, "not_after", cert.Leaf.NotAfter)
	}
	return true, nil
}

// WatchCertificate reloads the serving certificate every interval when its
// files changed, until ctx ends; a pair that does not load keeps the old one.
func (s *Server) WatchCertificate(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.ReloadCertificate(); err != nil {
			s.metrics.reloadErrors.Inc()
			s.log.Error("serving certificate reload failed; the previous one keeps serving", "error", err)
		}
	}
}
