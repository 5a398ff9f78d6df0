package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authenticationv1beta1 "k8s.io/api/authentication/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	sigsjson "sigs.k8s.io/json"
)

// ErrReview is matched (errors.Is) by every error about a malformed TokenReview.
var ErrReview = errors.New("invalid TokenReview")

func reviewErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrReview, fmt.Sprintf(format, args...))
}

// Review answers a TokenReview (authentication.k8s.io/v1 or v1beta1, JSON) as
// kube-apiserver's tokenreviews endpoint does: the review comes back in its
// apiVersion with status.authenticated, the user, the audiences the token is
// valid for, and status.error when a recognized token failed a check. The
// token is never echoed back. A body that is not a TokenReview is an error
// matching ErrReview.
func Review(ctx context.Context, a authenticator.Token, body []byte) ([]byte, error) {
	var tm metav1.TypeMeta
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &tm); err != nil {
		return nil, reviewErrorf("malformed JSON: %v", err)
	}
	if tm.Kind != "TokenReview" {
		return nil, reviewErrorf("kind %q, want TokenReview", tm.Kind)
	}
	switch tm.APIVersion {
	case authenticationv1.SchemeGroupVersion.String():
		var tr authenticationv1.TokenReview
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &tr); err != nil {
			return nil, reviewErrorf("malformed JSON: %v", err)
		}
		tr.Status = authenticate(ctx, a, tr.Spec.Token, tr.Spec.Audiences)
		tr.Spec.Token = ""
		return marshal(&tr)
	case authenticationv1beta1.SchemeGroupVersion.String():
		var tr authenticationv1beta1.TokenReview
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &tr); err != nil {
			return nil, reviewErrorf("malformed JSON: %v", err)
		}
		st := authenticate(ctx, a, tr.Spec.Token, tr.Spec.Audiences)
		tr.Spec.Token = ""
		tr.Status = authenticationv1beta1.TokenReviewStatus{Authenticated: st.Authenticated, Audiences: st.Audiences, Error: st.Error,
			User: authenticationv1beta1.UserInfo{Username: st.User.Username, UID: st.User.UID, Groups: st.User.Groups}}
		if st.User.Extra != nil {
			tr.Status.User.Extra = map[string]authenticationv1beta1.ExtraValue{}
			for k, v := range st.User.Extra {
				tr.Status.User.Extra[k] = authenticationv1beta1.ExtraValue(v)
			}
		}
		return marshal(&tr)
	default:
		return nil, reviewErrorf("apiVersion %q, want %s or %s", tm.APIVersion, authenticationv1.SchemeGroupVersion, authenticationv1beta1.SchemeGroupVersion)
	}
}

// authenticate decides one token. It never panics into the caller's answer:
// every failure is status.authenticated false.
func authenticate(ctx context.Context, a authenticator.Token, token string, audiences []string) authenticationv1.TokenReviewStatus {
	if token == "" {
		return authenticationv1.TokenReviewStatus{Error: "token is required for TokenReview in authentication"}
	}
	if token = bearerToken(token); token == "" {
		return authenticationv1.TokenReviewStatus{}
	}
	if len(audiences) > 0 {
		ctx = authenticator.WithAudiences(ctx, audiences)
	}
	resp, ok, err := a.AuthenticateToken(ctx, token)
	var st authenticationv1.TokenReviewStatus
	if err != nil {
		st.Error = err.Error()
	}
	if !ok || resp == nil || resp.User == nil {
		return st
	}
	if len(audiences) > 0 && len(resp.Audiences) == 0 {
		return authenticationv1.TokenReviewStatus{Error: "error validating audiences"}
	}
	u := resp.User
	st.Authenticated = true
	st.Audiences = resp.Audiences
	st.User = authenticationv1.UserInfo{Username: u.GetName(), UID: u.GetUID(), Groups: withAuthenticatedGroup(u)}
	if extra := u.GetExtra(); len(extra) > 0 {
		st.User.Extra = map[string]authenticationv1.ExtraValue{}
		for k, v := range extra {
			st.User.Extra[k] = authenticationv1.ExtraValue(v)
		}
	}
	return st
}

// withAuthenticatedGroup is the user's groups plus system:authenticated, as
// kube-apiserver's TokenReview answers them: its request authenticator ends
// with k8s.io/apiserver's AuthenticatedGroupAdder
// (pkg/authentication/group/authenticated_group_adder.go), which adds the
// group unless the user is system:anonymous or already has
// system:authenticated or system:unauthenticated.
func withAuthenticatedGroup(u user.Info) []string {
	groups := u.GetGroups()
	if u.GetName() == user.Anonymous || slices.Contains(groups, user.AllAuthenticated) || slices.Contains(groups, user.AllUnauthenticated) {
		return groups
	}
	return append(slices.Clone(groups), user.AllAuthenticated)
}

// bearerToken is the token kube-apiserver authenticates for a TokenReview:
// it builds the header "Bearer "+token (pkg/registry/authentication/
// tokenreview/storage.go) and reads it with k8s.io/apiserver's bearer-token
// authenticator (pkg/authentication/request/bearertoken/bearertoken.go),
// which trims surrounding whitespace and keeps what follows "Bearer " up to
// the next space. "tok\n" is then tok, "tok junk" is tok, " tok" is empty
// (not authenticated, no error), and a token-file token with a space can
// never authenticate.
func bearerToken(token string) string {
	parts := strings.SplitN(strings.TrimSpace("Bearer "+token), " ", 3)
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the review: %w", err)
	}
	return b, nil
}
