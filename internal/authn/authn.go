// Package authn authenticates bearer tokens as kube-apiserver does — the static
// token file and ServiceAccount JWTs (legacy Secret-based and bound) — and
// answers TokenReviews (authentication.k8s.io v1 and v1beta1) with them, for
// kube-apiserver's --authentication-token-webhook-config-file.
package authn

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/token/union"
)

// ErrConfig is matched (errors.Is) by every configuration error.
var ErrConfig = errors.New("invalid authentication configuration")

// Config says which authenticators to chain, in kube-apiserver's flag terms.
type Config struct {
	TokenFile      string               // --token-auth-file
	ServiceAccount ServiceAccountConfig // used when KeyFiles is not empty
	// APIAudiences (--api-audiences) restrict the audience-agnostic token
	// file too; empty means all the ServiceAccount issuers, if any.
	APIAudiences []string
}

// Authenticator is an immutable chain of token authenticators.
type Authenticator struct {
	Token    authenticator.Token
	Tokens   int      // static tokens loaded
	Warnings []string // ignored records
}

// New builds the chain: the token file first, then ServiceAccount tokens, as
// kube-apiserver orders them. At least one must be configured.
func New(cfg Config) (*Authenticator, error) {
	auds := authenticator.Audiences(cfg.APIAudiences)
	if len(auds) == 0 && len(cfg.ServiceAccount.Issuers) > 0 {
		// All the issuers, as kube-apiserver defaults --api-audiences
		// (pkg/kubeapiserver/options/authentication.go:706-708): tokens
		// minted under an older issuer (aud [old]) stay valid while
		// --service-account-issuer new --service-account-issuer old migrate.
		auds = slices.Clone(authenticator.Audiences(cfg.ServiceAccount.Issuers))
	}
	a := &Authenticator{}
	var chain []authenticator.Token
	if cfg.TokenFile != "" {
		tf, err := ReadTokenFile(cfg.TokenFile)
		if err != nil {
			return nil, err
		}
		a.Tokens, a.Warnings = tf.Len(), tf.Warnings
		var t authenticator.Token = tf
		if len(auds) > 0 {
			t = authenticator.WrapAudienceAgnosticToken(auds, tf)
		}
		chain = append(chain, t)
	}
	if len(cfg.ServiceAccount.KeyFiles) > 0 {
		sa := cfg.ServiceAccount
		sa.APIAudiences = auds
		s, err := NewServiceAccountTokens(sa)
		if err != nil {
			return nil, err
		}
		chain = append(chain, s)
	} else if len(cfg.ServiceAccount.Issuers) > 0 {
		return nil, fmt.Errorf("%w: --service-account-issuer needs --service-account-key-file", ErrConfig)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: no authenticator configured (--token-auth-file, --service-account-key-file)", ErrConfig)
	}
	a.Token = union.New(chain...)
	if len(auds) > 0 {
		a.Token = withAPIAudiences{auds: auds, delegate: a.Token}
	}
	return a, nil
}

// withAPIAudiences reviews a token for the API audiences when the review
// names none, as kube-apiserver's TokenReview does
// (pkg/registry/authentication/tokenreview/storage.go: `if len(auds) == 0 {
// auds = r.apiAudiences }`): the audience-agnostic token file then answers
// them in status.audiences. ServiceAccount tokens default to them anyway.
type withAPIAudiences struct {
	auds     authenticator.Audiences
	delegate authenticator.Token
}

func (w withAPIAudiences) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	if _, ok := authenticator.AudiencesFrom(ctx); !ok {
		ctx = authenticator.WithAudiences(ctx, w.auds)
	}
	return w.delegate.AuthenticateToken(ctx, token)
}
