package authn

// Adversarial review of the TokenReview webhook against kube-apiserver v1.37.
//
// TestAccepts…: kguard authenticated a token kube-apiserver refuses (severe).
// TestRejects…: kguard refused a token kube-apiserver authenticates.
// TestWrongIdentity…: both authenticated, the answers differed.
// Each failed before the fix that came with it (its comment describes kguard
// as it was) and holds kube-apiserver's answer now.
// TestHolds…: attacks kguard already handled as kube-apiserver does.
//
// Upstream references are to k8s.io/kubernetes v1.37.2 and k8s.io/apiserver
// v0.37.2 in the Go module cache; test/upstream/authn_test.go runs the same
// tokens through upstream's own authenticators.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	authenticationv1 "k8s.io/api/authentication/v1"
	authenticationv1beta1 "k8s.io/api/authentication/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// advEnv is one signing key kguard trusts, one it does not, and a cluster.
type advEnv struct {
	t                *testing.T
	key, key2, other *rsa.PrivateKey
	keyFile          string // key and key2, both trusted
	rs, rs2, evil    signer
	c                *cluster
	legacyTok        string
}

func newAdvEnv(t *testing.T) *advEnv {
	t.Helper()
	gen := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	e := &advEnv{t: t, key: gen(), key2: gen(), other: gen()}
	e.keyFile = writeFile(t, "sa.pub", pemPublic(t, &e.key.PublicKey)+pemPublic(t, &e.key2.PublicKey))
	e.rs, e.rs2, e.evil = newSigner(t, e.key, jose.RS256), newSigner(t, e.key2, jose.RS256), newSigner(t, e.other, jose.RS256)
	e.legacyTok = e.rs.token(legacyClaims2("apps", "builder", "sa-uid", "builder-token"))
	e.c = &cluster{
		sas:  map[string]*corev1.ServiceAccount{"apps/builder": {ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "apps", UID: "sa-uid"}}},
		pods: map[string]*corev1.Pod{"apps/web-1": {ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "apps", UID: "pod-uid"}}},
		secrets: map[string]*corev1.Secret{
			"apps/builder-token": {ObjectMeta: metav1.ObjectMeta{Name: "builder-token", Namespace: "apps"}, Type: corev1.SecretTypeServiceAccountToken,
				Data: map[string][]byte{"token": []byte(e.legacyTok)}},
		},
		nodes: map[string]*corev1.Node{},
	}
	return e
}

func legacyClaims2(ns, sa, uid, secret string) map[string]any {
	return map[string]any{"iss": LegacyIssuer, "sub": "system:serviceaccount:" + ns + ":" + sa,
		"kubernetes.io/serviceaccount/namespace": ns, "kubernetes.io/serviceaccount/secret.name": secret,
		"kubernetes.io/serviceaccount/service-account.name": sa, "kubernetes.io/serviceaccount/service-account.uid": uid}
}

func (e *advEnv) authenticator(cfg Config) *Authenticator {
	e.t.Helper()
	if cfg.ServiceAccount.KeyFiles == nil {
		cfg.ServiceAccount.KeyFiles = []string{e.keyFile}
	}
	if cfg.ServiceAccount.Issuers == nil {
		cfg.ServiceAccount.Issuers = []string{issuer}
	}
	a, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// review posts a v1 TokenReview and returns its status.
func review(t *testing.T, a *Authenticator, token string, auds ...string) authenticationv1.TokenReviewStatus {
	t.Helper()
	body, _ := json.Marshal(authenticationv1.TokenReview{TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenReview"},
		Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: auds}})
	out, err := Review(context.Background(), a.Token, body)
	if err != nil {
		t.Fatal(err)
	}
	var tr authenticationv1.TokenReview
	if err := json.Unmarshal(out, &tr); err != nil {
		t.Fatal(err)
	}
	return tr.Status
}

// keyID is kube-apiserver's key id of a public key (pkg/serviceaccount/jwt.go keyIDFromPublicKey).
func keyID(t *testing.T, pub any) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func signerWithKid(t *testing.T, key any, kid string) signer {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return signer{t, s}
}

// TestAcceptsLegacyTokenWhoseSecretIsBeingDeleted: a legacy Secret-based
// token whose Secret carries a deletionTimestamp (deleted, held by a
// finalizer, or simply not yet gone from the cache) is refused at once by
// kube-apiserver's legacy validator — no grace period for legacy tokens:
// k8s.io/kubernetes v1.37.2 pkg/serviceaccount/legacy.go:121
//
//	if secret.DeletionTimestamp != nil { return nil, errors.New("Token has been invalidated") }
//
// kguard applies the bound tokens' 60s grace (gone(), deletionGrace) to legacy
// tokens too, so revoking a leaked legacy token by deleting its Secret leaves
// it valid for up to a minute more (longer behind kube-apiserver's webhook
// cache).
func TestAcceptsLegacyTokenWhoseSecretIsBeingDeleted(t *testing.T) {
	e := newAdvEnv(t)
	recent := metav1.NewTime(time.Now().Add(-10 * time.Second))
	e.c.secrets["apps/builder-token"].DeletionTimestamp = &recent
	a := e.authenticator(Config{ServiceAccount: ServiceAccountConfig{Lookup: e.c}})
	if st := review(t, a, e.legacyTok); st.Authenticated {
		t.Fatalf("legacy token of a Secret being deleted authenticated as %q; kube-apiserver: \"Token has been invalidated\"", st.User.Username)
	}
}

// TestAcceptsLegacyTokenWhoseServiceAccountIsBeingDeleted: the same for the
// ServiceAccount: k8s.io/kubernetes v1.37.2 pkg/serviceaccount/legacy.go:136
//
//	if serviceAccount.DeletionTimestamp != nil { return nil, fmt.Errorf("ServiceAccount %s/%s has been deleted", ...) }
func TestAcceptsLegacyTokenWhoseServiceAccountIsBeingDeleted(t *testing.T) {
	e := newAdvEnv(t)
	recent := metav1.NewTime(time.Now().Add(-10 * time.Second))
	e.c.sas["apps/builder"].DeletionTimestamp = &recent
	a := e.authenticator(Config{ServiceAccount: ServiceAccountConfig{Lookup: e.c}})
	if st := review(t, a, e.legacyTok); st.Authenticated {
		t.Fatalf("legacy token of a ServiceAccount being deleted authenticated as %q; kube-apiserver: \"ServiceAccount apps/builder has been deleted\"", st.User.Username)
	}
}

// TestAcceptsTokenWhoseKeyIDNamesAnotherKey: kube-apiserver picks the
// verification keys by the token's kid header (k8s.io/kubernetes v1.37.2
// pkg/serviceaccount/jwt.go:353-369 and staticPublicKeysGetter.GetPublicKeys,
// jwt.go:315): a kid is matched against each trusted key's id
// (base64url(sha256(PKIX DER)), keyIDFromPublicKey), only the keys with that
// id are tried, and a kid naming no trusted key is "invalid signature, no keys
// found". kguard ignores kid and tries every key, so a token signed by one
// trusted key but naming another (or naming none kube-apiserver knows) is
// accepted. Needs a trusted signing key to exploit: low severity, but it is a
// verification kube-apiserver does and kguard does not.
func TestAcceptsTokenWhoseKeyIDNamesAnotherKey(t *testing.T) {
	e := newAdvEnv(t)
	a := e.authenticator(Config{ServiceAccount: ServiceAccountConfig{Lookup: e.c}})
	claims := bound("apps", "builder", "sa-uid", time.Now().Add(time.Hour), nil)
	// Control: kid of the signing key itself is fine for both.
	if st := review(t, a, signerWithKid(t, e.key2, keyID(t, &e.key2.PublicKey)).token(claims)); !st.Authenticated {
		t.Fatalf("control: token with its own kid refused: %q", st.Error)
	}
	for name, tok := range map[string]string{
		"signed by key2, kid of key1": signerWithKid(t, e.key2, keyID(t, &e.key.PublicKey)).token(claims),
		"kid of no trusted key":       signerWithKid(t, e.key, "rotated-away").token(claims),
	} {
		if st := review(t, a, tok); st.Authenticated {
			t.Errorf("%s: authenticated as %q; kube-apiserver tries only the keys with that id and refuses", name, st.User.Username)
		}
	}
}

// TestRejectsTokenForAnotherIssuerAudience: with several
// --service-account-issuer and no --api-audiences, kube-apiserver's API
// audiences are ALL the issuers (k8s.io/kubernetes v1.37.2
// pkg/kubeapiserver/options/authentication.go:706-708:
// authInfo.APIAudiences = authenticator.Audiences(o.ServiceAccounts.Issuers)),
// which is what makes the documented non-disruptive issuer migration work:
// tokens minted under the old issuer (aud = [old]) stay valid. kguard takes
// only the first issuer (authn.go New, NewServiceAccountTokens), so after an
// issuer change every token minted before it is refused, and static tokens are
// refused for the second issuer's audience.
func TestRejectsTokenForAnotherIssuerAudience(t *testing.T) {
	e := newAdvEnv(t)
	const old = "https://old-issuer.example"
	a := e.authenticator(Config{TokenFile: writeFile(t, "tokens.csv", tokenCSV),
		ServiceAccount: ServiceAccountConfig{Issuers: []string{issuer, old}, Lookup: e.c}})
	claims := bound("apps", "builder", "sa-uid", time.Now().Add(time.Hour), map[string]any{})
	claims["iss"], claims["aud"] = old, []string{old}
	if st := review(t, a, e.rs.token(claims)); !st.Authenticated {
		t.Errorf("token of the second issuer (aud [%s]) refused: %q; kube-apiserver's default API audiences are all the issuers", old, st.Error)
	}
	if st := review(t, a, "alice-token", old); !st.Authenticated {
		t.Errorf("static token reviewed for audience %s refused: %q; kube-apiserver accepts it (implicit audiences: all issuers)", old, st.Error)
	}
	// NewServiceAccountTokens used alone defaults alike.
	sa, err := NewServiceAccountTokens(ServiceAccountConfig{KeyFiles: []string{e.keyFile}, Issuers: []string{issuer, old}, Lookup: e.c})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := sa.AuthenticateToken(context.Background(), e.rs.token(claims)); !ok {
		t.Errorf("NewServiceAccountTokens alone: token of the second issuer refused: %v", err)
	}
}

// TestRejectsLegacyTokenWithEmptyInvalidSinceLabel: kube-apiserver refuses a
// legacy token only when kubernetes.io/legacy-token-invalid-since has a value
// (k8s.io/kubernetes v1.37.2 pkg/serviceaccount/legacy.go:149:
// `if invalidSince := secret.Labels[InvalidSinceLabelKey]; invalidSince != ""`);
// kguard refuses on the key alone. Label values may be empty.
func TestRejectsLegacyTokenWithEmptyInvalidSinceLabel(t *testing.T) {
	e := newAdvEnv(t)
	e.c.secrets["apps/builder-token"].Labels = map[string]string{legacyInvalidSinceLabel: ""}
	a := e.authenticator(Config{ServiceAccount: ServiceAccountConfig{Lookup: e.c}})
	if st := review(t, a, e.legacyTok); !st.Authenticated {
		t.Fatalf("legacy token with an empty invalid-since label refused: %q; kube-apiserver authenticates it", st.Error)
	}
}

// TestWrongIdentityTokenReviewLacksSystemAuthenticated: kube-apiserver's
// TokenReview answer goes through its whole request authenticator, which adds
// system:authenticated to every authenticated user (k8s.io/kubernetes v1.37.2
// pkg/kubeapiserver/authenticator/config.go:240 group.NewAuthenticatedGroupAdder;
// pkg/registry/authentication/tokenreview/storage.go copies resp.User.GetGroups()).
// kguard's answer lacks it. kube-apiserver calling kguard as a webhook adds the
// group itself, so only other TokenReview clients of kguard see the difference.
func TestWrongIdentityTokenReviewLacksSystemAuthenticated(t *testing.T) {
	e := newAdvEnv(t)
	a := e.authenticator(Config{TokenFile: writeFile(t, "tokens.csv", tokenCSV), ServiceAccount: ServiceAccountConfig{Lookup: e.c}})
	for name, tok := range map[string]string{
		"static":         "bob-token",
		"bound":          e.rs.token(bound("apps", "builder", "sa-uid", time.Now().Add(time.Hour), nil)),
		"legacy":         e.legacyTok,
		"static, groups": "alice-token",
	} {
		st := review(t, a, tok)
		if !st.Authenticated {
			t.Fatalf("%s: not authenticated: %q", name, st.Error)
		}
		if !slices.Contains(st.User.Groups, "system:authenticated") {
			t.Errorf("%s: groups %q lack system:authenticated (kube-apiserver's TokenReview returns it)", name, st.User.Groups)
		}
	}
}

// TestHoldsAuthenticatedGroupOnce: system:authenticated is added as
// kube-apiserver's AuthenticatedGroupAdder adds it — once, never to
// system:anonymous, nor next to system:unauthenticated.
func TestHoldsAuthenticatedGroupOnce(t *testing.T) {
	a, err := New(Config{TokenFile: writeFile(t, "tokens.csv", "has,has,1,\"dev,system:authenticated\"\n"+
		"anon,system:anonymous,2\nunauth,u,3,system:unauthenticated\nnone,n,4\n")})
	if err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]string{"has": "dev,system:authenticated", "anon": "", "unauth": "system:unauthenticated", "none": "system:authenticated"} {
		if st := review(t, a, tok); !st.Authenticated || strings.Join(st.User.Groups, ",") != want {
			t.Errorf("%s: authenticated %v, groups %q, want %q", tok, st.Authenticated, st.User.Groups, want)
		}
	}
}

// TestAcceptsStaticTokenContainingSpace: kube-apiserver's TokenReview endpoint
// authenticates spec.token as a bearer header (pkg/registry/authentication/
// tokenreview/storage.go: "Bearer "+token through
// k8s.io/apiserver pkg/authentication/request/bearertoken/bearertoken.go, which
// trims the header and keeps what precedes the next space). A token-file token
// with a space can therefore never authenticate in kube-apiserver (neither
// directly nor through a webhook: kube-apiserver sends the webhook only the
// part before the space); kguard authenticates it.
func TestAcceptsStaticTokenContainingSpace(t *testing.T) {
	a, err := New(Config{TokenFile: writeFile(t, "tokens.csv", "\"open sesame\",carol,7,system:masters\n\" lead\",dave,8\n")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"open sesame", " lead"} {
		if st := review(t, a, tok); st.Authenticated {
			t.Errorf("token %q authenticated as %q; kube-apiserver looks up only what precedes the first space (here %q) and never this token", tok, st.User.Username, strings.SplitN(strings.TrimSpace("Bearer "+tok), " ", 3)[1])
		}
	}
}

// TestRejectsTokenWithSurroundingWhitespace: the converse — kube-apiserver's
// TokenReview trims the bearer header (bearertoken.go strings.TrimSpace) and
// cuts at the first space, so "bob-token\n", "bob-token " and "bob-token x"
// authenticate bob there; and its JWT parser (gopkg.in/go-jose/go-jose.v2
// jwt.ParseSigned, which strips all whitespace from a compact token) accepts a
// ServiceAccount token with a tab in it, where go-jose v4 only skips CR and LF.
// kguard refuses them all. Low severity (availability of TokenReview clients
// that do not trim).
func TestRejectsTokenWithSurroundingWhitespace(t *testing.T) {
	e := newAdvEnv(t)
	a := e.authenticator(Config{TokenFile: writeFile(t, "tokens.csv", tokenCSV), ServiceAccount: ServiceAccountConfig{Lookup: e.c}})
	bnd := e.rs.token(bound("apps", "builder", "sa-uid", time.Now().Add(time.Hour), nil))
	for _, tok := range []string{"bob-token\n", "bob-token ", "bob-token trailing", bnd + " ", "\t" + bnd, bnd + "\t", e.legacyTok + "\n"} {
		if st := review(t, a, tok); !st.Authenticated {
			t.Errorf("%q…: refused (%q); kube-apiserver's TokenReview authenticates it", tok[:min(len(tok), 12)], st.Error)
		}
	}
}

// TestWrongIdentityStaticTokenReviewWithoutAudiences: a TokenReview naming no
// audiences is reviewed by kube-apiserver for its API audiences
// (pkg/registry/authentication/tokenreview/storage.go: `if len(auds) == 0 {
// auds = r.apiAudiences }`), so a static token's answer carries
// status.audiences = the API audiences (the audience-agnostic wrapper sets them,
// k8s.io/apiserver pkg/authentication/authenticator/audagnostic.go). kguard
// leaves the context without audiences and answers none. kube-apiserver's
// webhook client falls back to its implicit audiences when none come back, so
// only other TokenReview clients see it. Low.
func TestWrongIdentityStaticTokenReviewWithoutAudiences(t *testing.T) {
	e := newAdvEnv(t)
	a := e.authenticator(Config{TokenFile: writeFile(t, "tokens.csv", tokenCSV), ServiceAccount: ServiceAccountConfig{Lookup: e.c}})
	st := review(t, a, "alice-token")
	if !st.Authenticated || !slices.Equal(st.Audiences, []string{issuer}) {
		t.Fatalf("authenticated %v, audiences %q; kube-apiserver answers [%s]", st.Authenticated, st.Audiences, issuer)
	}
}

// TestAcceptsClaimKeysInAnotherCase: kguard re-decodes the verified claims
// with encoding/json, which matches object keys case-insensitively, so
// "Kubernetes.io" (or "KUBERNETES.IO/serviceaccount/namespace" in a legacy
// token) is read as the kubernetes.io claim. kube-apiserver decodes claims
// with go-jose v2's case-sensitive JSON (gopkg.in/go-jose/go-jose.v2/json;
// pkg/serviceaccount/jwt.go tok.Claims), finds no kubernetes.io claim and
// refuses (the empty ServiceAccount reference is not found). Only a holder of
// a signing key can mint such a token: low, but an acceptance kube-apiserver
// does not make.
func TestAcceptsClaimKeysInAnotherCase(t *testing.T) {
	e := newAdvEnv(t)
	a := e.authenticator(Config{ServiceAccount: ServiceAccountConfig{Lookup: e.c}})
	c := bound("apps", "builder", "sa-uid", time.Now().Add(time.Hour), nil)
	c["Kubernetes.io"] = c["kubernetes.io"]
	delete(c, "kubernetes.io")
	if st := review(t, a, e.rs.token(c)); st.Authenticated {
		t.Errorf("bound token with a \"Kubernetes.io\" claim authenticated as %q; kube-apiserver refuses it", st.User.Username)
	}
	// A legacy token whose namespace claim key is in another case, stored in its Secret.
	lc := legacyClaims2("apps", "builder", "sa-uid", "builder-token")
	lc["KUBERNETES.IO/serviceaccount/namespace"] = lc["kubernetes.io/serviceaccount/namespace"]
	delete(lc, "kubernetes.io/serviceaccount/namespace")
	ltok := e.rs.token(lc)
	e.c.secrets["apps/builder-token"].Data["token"] = []byte(ltok)
	if st := review(t, a, ltok); st.Authenticated {
		t.Errorf("legacy token with a \"KUBERNETES.IO/serviceaccount/namespace\" claim authenticated as %q; kube-apiserver refuses it", st.User.Username)
	}
}

// TestHoldsForgedAndMangledTokens: tokens an attacker without a trusted
// signing key can make are refused, as kube-apiserver refuses them.
func TestHoldsForgedAndMangledTokens(t *testing.T) {
	e := newAdvEnv(t)
	a := e.authenticator(Config{TokenFile: writeFile(t, "tokens.csv", tokenCSV), ServiceAccount: ServiceAccountConfig{Lookup: e.c}})
	future := time.Now().Add(time.Hour)
	claims := bound("apps", "builder", "sa-uid", future, nil)
	good := e.rs.token(claims)
	parts := strings.Split(good, ".")
	b64 := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	pubPEM := []byte(pemPublic(t, &e.key.PublicKey))
	hmac, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pubPEM}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hmacDER, _ := x509.MarshalPKIXPublicKey(&e.key.PublicKey)
	hmac2, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: hmacDER}, nil)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// A token carrying its own key in the header (jwk) must not be verified with it.
	jwkSigner, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: e.other}, (&jose.SignerOptions{EmbedJWK: true}))
	if err != nil {
		t.Fatal(err)
	}
	swapped := map[string]any{}
	for k, v := range claims {
		swapped[k] = v
	}
	swapped["kubernetes.io"] = map[string]any{"namespace": "kube-system", "serviceaccount": map[string]string{"name": "root", "uid": "sa-uid"}}
	swapped["sub"] = "system:serviceaccount:kube-system:root"
	legacyParts := strings.Split(e.legacyTok, ".")
	cases := map[string]string{
		"alg none":                         b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + parts[1] + ".",
		"alg none, no dot":                 b64(map[string]string{"alg": "none"}) + "." + parts[1],
		"HS256 with the PEM public key":    signer{t, hmac}.token(claims),
		"HS256 with the DER public key":    signer{t, hmac2}.token(claims),
		"signed by an untrusted key":       e.evil.token(claims),
		"untrusted key, embedded jwk":      signer{t, jwkSigner}.token(claims),
		"untrusted EC key":                 newSigner(t, ecKey, jose.ES256).token(claims),
		"payload swapped under good sig":   parts[0] + "." + b64(swapped) + "." + parts[2],
		"legacy payload under bound sig":   parts[0] + "." + legacyParts[1] + "." + parts[2],
		"signature stripped":               parts[0] + "." + parts[1] + ".",
		"four parts":                       good + ".x",
		"two parts":                        parts[0] + "." + parts[1],
		"padding on payload":               parts[0] + "." + parts[1] + "==." + parts[2],
		"space inside":                     parts[0] + "." + parts[1] + " ." + parts[2],
		"JSON serialization":               `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`,
		"truncated signature":              good[:len(good)-4],
		"static token, other case":         "ALICE-TOKEN",
		"static token, prefix":             "alice-toke",
		"static token with NUL":            "alice-token\x00",
		"static token, unicode lookalike":  "alice-tοken",
		"huge token":                       strings.Repeat("A", 1<<20) + "." + strings.Repeat("B", 1<<20) + "." + strings.Repeat("C", 1<<10),
		"huge JWT of a known issuer":       b64(map[string]string{"alg": "RS256"}) + "." + b64(map[string]any{"iss": issuer, "pad": strings.Repeat("x", 1<<20)}) + "." + parts[2],
		"token is a comma-joined CSV line": "alice-token,alice,1000",
	}
	for name, tok := range cases {
		if st := review(t, a, tok); st.Authenticated {
			t.Errorf("%s: authenticated as %q", name, st.User.Username)
		}
	}
}

// TestHoldsTimeClaims: exp, nbf and iat with go-jose's one-minute leeway,
// as kube-apiserver's validator (pkg/serviceaccount/claims.go public.Validate).
func TestHoldsTimeClaims(t *testing.T) {
	e := newAdvEnv(t)
	a := e.authenticator(Config{ServiceAccount: ServiceAccountConfig{Lookup: e.c}})
	now := time.Now()
	tok := func(mod map[string]any) string {
		c := bound("apps", "builder", "sa-uid", now.Add(time.Hour), nil)
		for k, v := range mod {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return e.rs.token(c)
	}
	for name, tc := range map[string]struct {
		mod  map[string]any
		want bool
	}{
		"expired 2m ago":           {map[string]any{"exp": now.Add(-2 * time.Minute).Unix()}, false},
		"expired 30s ago (leeway)": {map[string]any{"exp": now.Add(-30 * time.Second).Unix()}, true},
		"nbf in 2m":                {map[string]any{"nbf": now.Add(2 * time.Minute).Unix()}, false},
		"nbf in 30s (leeway)":      {map[string]any{"nbf": now.Add(30 * time.Second).Unix()}, true},
		"iat in 2m":                {map[string]any{"iat": now.Add(2 * time.Minute).Unix()}, false},
		"exp as a string":          {map[string]any{"exp": "9999999999"}, false},
		"exp huge (int64 wrap)":    {map[string]any{"exp": 1e30}, false},
		"exp negative":             {map[string]any{"exp": -1}, false},
		// go-jose and kube-apiserver accept a bound token without exp alike.
		"no exp": {map[string]any{"exp": nil}, true},
	} {
		if st := review(t, a, tok(tc.mod)); st.Authenticated != tc.want {
			t.Errorf("%s: authenticated %v (%q), want %v", name, st.Authenticated, st.Error, tc.want)
		}
	}
}

// TestHoldsReviewRequestTampering: a TokenReview must fail closed whatever
// the client puts in it.
func TestHoldsReviewRequestTampering(t *testing.T) {
	a, err := New(Config{TokenFile: writeFile(t, "tokens.csv", tokenCSV)})
	if err != nil {
		t.Fatal(err)
	}
	authenticated := func(body string) bool {
		out, err := Review(context.Background(), a.Token, []byte(body))
		if err != nil {
			return false
		}
		var v1 authenticationv1.TokenReview
		if json.Unmarshal(out, &v1) != nil {
			t.Fatalf("answer not JSON: %s", out)
		}
		return v1.Status.Authenticated || v1.Status.User.Username != "" || len(v1.Status.User.Groups) > 0
	}
	status := `"status":{"authenticated":true,"user":{"username":"admin","groups":["system:masters"]}}`
	for name, body := range map[string]string{
		"status sent, no token":            `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{},` + status + `}`,
		"status sent, empty token":         `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":""},` + status + `}`,
		"status sent, bad token":           `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"nope"},` + status + `}`,
		"v1beta1 status sent, bad token":   `{"apiVersion":"authentication.k8s.io/v1beta1","kind":"TokenReview","spec":{"token":"nope"},` + status + `}`,
		"duplicate token key, bad last":    `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"alice-token","token":"nope"}}`,
		"token in a case-folded key":       `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"TOKEN":"alice-token"}}`,
		"apiVersion case-folded":           `{"APIVERSION":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"alice-token"}}`,
		"kind lowercase":                   `{"apiVersion":"authentication.k8s.io/v1","kind":"tokenreview","spec":{"token":"alice-token"}}`,
		"token array":                      `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":["alice-token"]}}`,
		"trailing garbage":                 `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"nope"}}{"spec":{"token":"alice-token"}}`,
		"token null":                       `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":null},` + status + `}`,
		"audiences empty strings, bad tok": `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"nope","audiences":[""]}}`,
	} {
		if authenticated(body) {
			t.Errorf("%s: answer authenticates", name)
		}
	}
	// And v1beta1 never carries a client's status through.
	out, err := Review(context.Background(), a.Token, []byte(`{"apiVersion":"authentication.k8s.io/v1beta1","kind":"TokenReview","spec":{"token":"nope"},`+status+`}`))
	if err != nil {
		t.Fatal(err)
	}
	var b1 authenticationv1beta1.TokenReview
	if err := json.Unmarshal(out, &b1); err != nil || b1.Status.Authenticated || b1.Status.User.Username != "" {
		t.Fatalf("v1beta1: %s", out)
	}
}

// TestHoldsStaticTokenFileParsing: CSV corners read as kube-apiserver's
// tokenfile.NewCSV reads them (k8s.io/apiserver v0.37.2
// pkg/authentication/token/tokenfile/tokenfile.go).
func TestHoldsStaticTokenFileParsing(t *testing.T) {
	csv := "dup,first,1,g1\n" +
		"dup,second,2,g2\n" +
		"\"a,b\",comma,3,\"x, y\"\n" +
		"Case,upper,4\n" +
		"case,lower,5\n" +
		"quoted\"\"q,q,6\n"
	a, err := New(Config{TokenFile: writeFile(t, "tokens.csv", strings.Replace(csv, "quoted\"\"q", "\"quoted\"\"q\"", 1))})
	if err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]string{"dup": "second", "a,b": "comma", "Case": "upper", "case": "lower", "quoted\"q": "q", "a": "", "CASE": ""} {
		st := review(t, a, tok)
		if st.User.Username != want || st.Authenticated != (want != "") {
			t.Errorf("token %q: user %q authenticated %v, want %q", tok, st.User.Username, st.Authenticated, want)
		}
	}
	if st := review(t, a, "a,b"); strings.Join(st.User.Groups, "|") != "x| y|system:authenticated" {
		t.Errorf("groups %q, want [x, ' y', system:authenticated] as upstream (no trimming)", st.User.Groups)
	}
}
