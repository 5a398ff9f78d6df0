package authn

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	authenticationv1 "k8s.io/api/authentication/v1"
	authenticationv1beta1 "k8s.io/api/authentication/v1beta1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const tokenCSV = `alice-token,alice,1000,"system:masters,dev"
bob-token,bob,1001
,nobody,1
kubelet-token,kubelet,1002,system:nodes
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTokenFile(t *testing.T) {
	tf, err := ParseTokenFile(strings.NewReader(tokenCSV), "tokens.csv")
	if err != nil {
		t.Fatal(err)
	}
	if tf.Len() != 3 || len(tf.Warnings) != 1 || !strings.Contains(tf.Warnings[0], "line 3: empty token") {
		t.Fatalf("len %d warnings %q", tf.Len(), tf.Warnings)
	}
	resp, ok, err := tf.AuthenticateToken(context.Background(), "alice-token")
	if err != nil || !ok || resp.User.GetName() != "alice" || resp.User.GetUID() != "1000" || strings.Join(resp.User.GetGroups(), ",") != "system:masters,dev" {
		t.Fatalf("alice: %+v %v %v", resp, ok, err)
	}
	for _, bad := range []string{"", "alice-toke", "alice-tokenx", "ALICE-TOKEN", "bob"} {
		if _, ok, err := tf.AuthenticateToken(context.Background(), bad); ok || err != nil {
			t.Errorf("token %q authenticated (%v, %v)", bad, ok, err)
		}
	}
	for name, csv := range map[string]string{
		"two columns": "tok,user\n",
		"no user":     "tok,,1\n",
		"bad quoting": "tok,\"user,1\n",
	} {
		if _, err := ParseTokenFile(strings.NewReader(csv), "t.csv"); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: want a configuration error, got %v", name, err)
		}
	}
}

// cluster is a Lookup over fixed objects.
type cluster struct {
	sas     map[string]*corev1.ServiceAccount
	pods    map[string]*corev1.Pod
	secrets map[string]*corev1.Secret
	nodes   map[string]*corev1.Node
}

func notFound(res, name string) error {
	return apierrors.NewNotFound(schema.GroupResource{Resource: res}, name)
}

func (c *cluster) GetServiceAccount(ns, name string) (*corev1.ServiceAccount, error) {
	if o, ok := c.sas[ns+"/"+name]; ok {
		return o, nil
	}
	return nil, notFound("serviceaccounts", name)
}
func (c *cluster) GetPod(ns, name string) (*corev1.Pod, error) {
	if o, ok := c.pods[ns+"/"+name]; ok {
		return o, nil
	}
	return nil, notFound("pods", name)
}
func (c *cluster) GetSecret(ns, name string) (*corev1.Secret, error) {
	if o, ok := c.secrets[ns+"/"+name]; ok {
		return o, nil
	}
	return nil, notFound("secrets", name)
}
func (c *cluster) GetNode(name string) (*corev1.Node, error) {
	if o, ok := c.nodes[name]; ok {
		return o, nil
	}
	return nil, notFound("nodes", name)
}

type signer struct {
	t   *testing.T
	sig jose.Signer
}

func newSigner(t *testing.T, key any, alg jose.SignatureAlgorithm) signer {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return signer{t, s}
}

func (s signer) token(claims ...any) string {
	s.t.Helper()
	b := jwt.Signed(s.sig)
	for _, c := range claims {
		b = b.Claims(c)
	}
	tok, err := b.Serialize()
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

func pemPublic(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

const issuer = "https://kubernetes.default.svc.cluster.local"

func bound(ns, sa, uid string, exp time.Time, extra map[string]any) map[string]any {
	k := map[string]any{"namespace": ns, "serviceaccount": map[string]string{"name": sa, "uid": uid}}
	for key, v := range extra {
		k[key] = v
	}
	return map[string]any{"iss": issuer, "sub": "system:serviceaccount:" + ns + ":" + sa, "aud": []string{issuer},
		"exp": exp.Unix(), "iat": time.Now().Add(-time.Minute).Unix(), "nbf": time.Now().Add(-time.Minute).Unix(), "kubernetes.io": k}
}

func TestServiceAccountTokens(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := writeFile(t, "sa.pub", pemPublic(t, &rsaKey.PublicKey)+pemPublic(t, &ecKey.PublicKey))
	rs, ec, other := newSigner(t, rsaKey, jose.RS256), newSigner(t, ecKey, jose.ES256), newSigner(t, otherKey, jose.RS256)

	legacy := func(secret string) map[string]any {
		return map[string]any{"iss": LegacyIssuer, "sub": "system:serviceaccount:apps:builder",
			"kubernetes.io/serviceaccount/namespace": "apps", "kubernetes.io/serviceaccount/secret.name": secret,
			"kubernetes.io/serviceaccount/service-account.name": "builder", "kubernetes.io/serviceaccount/service-account.uid": "sa-uid"}
	}
	legacyToken := rs.token(legacy("builder-token"))
	now := time.Now()
	old := metav1.NewTime(now.Add(-2 * time.Minute))
	c := &cluster{
		sas: map[string]*corev1.ServiceAccount{
			"apps/builder":  {ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "apps", UID: "sa-uid"}},
			"apps/deleting": {ObjectMeta: metav1.ObjectMeta{Name: "deleting", Namespace: "apps", UID: "del-uid", DeletionTimestamp: &old}},
		},
		pods: map[string]*corev1.Pod{"apps/web-1": {ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "apps", UID: "pod-uid"}}},
		secrets: map[string]*corev1.Secret{
			"apps/builder-token": {ObjectMeta: metav1.ObjectMeta{Name: "builder-token", Namespace: "apps"}, Type: corev1.SecretTypeServiceAccountToken,
				Data: map[string][]byte{"token": []byte(legacyToken)}},
			"apps/stale-token": {ObjectMeta: metav1.ObjectMeta{Name: "stale-token", Namespace: "apps"}, Type: corev1.SecretTypeServiceAccountToken,
				Data: map[string][]byte{"token": []byte("something else")}},
		},
	}
	a, err := New(Config{ServiceAccount: ServiceAccountConfig{KeyFiles: []string{keyFile}, Issuers: []string{issuer}, Lookup: c}})
	if err != nil {
		t.Fatal(err)
	}
	future := now.Add(time.Hour)
	for _, tc := range []struct {
		name, token string
		auds        []string
		user        string
		extra       string // one expected extra key
		err         string // "" and user "": not recognized
	}{
		{name: "bound RSA", token: rs.token(bound("apps", "builder", "sa-uid", future, nil)), user: "system:serviceaccount:apps:builder"},
		{name: "bound ECDSA", token: ec.token(bound("apps", "builder", "sa-uid", future, nil)), user: "system:serviceaccount:apps:builder"},
		{name: "bound to a pod", token: rs.token(bound("apps", "builder", "sa-uid", future, map[string]any{"pod": map[string]string{"name": "web-1", "uid": "pod-uid"}})),
			user: "system:serviceaccount:apps:builder", extra: "authentication.kubernetes.io/pod-name"},
		{name: "with jti", token: rs.token(bound("apps", "builder", "sa-uid", future, nil), map[string]any{"jti": "abc"}),
			user: "system:serviceaccount:apps:builder", extra: "authentication.kubernetes.io/credential-id"},
		{name: "legacy", token: legacyToken, user: "system:serviceaccount:apps:builder"},
		{name: "requested audience held", token: rs.token(bound("apps", "builder", "sa-uid", future, nil), map[string]any{"aud": []string{"vault", issuer}}), auds: []string{"vault"}, user: "system:serviceaccount:apps:builder"},
		{name: "requested audience not held", token: rs.token(bound("apps", "builder", "sa-uid", future, nil)), auds: []string{"vault"}, err: "invalid for the target audiences"},
		{name: "expired", token: rs.token(bound("apps", "builder", "sa-uid", now.Add(-2*time.Minute), nil)), err: "has expired"},
		{name: "wrong key", token: other.token(bound("apps", "builder", "sa-uid", future, nil)), err: "signature"},
		{name: "ServiceAccount gone", token: rs.token(bound("apps", "gone", "x", future, nil)), err: "service account apps/gone has been deleted"},
		{name: "ServiceAccount deleted long ago", token: rs.token(bound("apps", "deleting", "del-uid", future, nil)), err: "has been deleted"},
		{name: "ServiceAccount recreated", token: rs.token(bound("apps", "builder", "old-uid", future, nil)), err: "does not match claim"},
		{name: "pod gone", token: rs.token(bound("apps", "builder", "sa-uid", future, map[string]any{"pod": map[string]string{"name": "web-2", "uid": "u"}})), err: "pod apps/web-2 has been deleted"},
		{name: "pod recreated", token: rs.token(bound("apps", "builder", "sa-uid", future, map[string]any{"pod": map[string]string{"name": "web-1", "uid": "old"}})), err: "pod UID"},
		{name: "subject mismatch", token: rs.token(bound("apps", "builder", "sa-uid", future, nil), map[string]any{"sub": "system:serviceaccount:kube-system:root"}), err: "subject"},
		{name: "legacy secret gone", token: rs.token(legacy("missing")), err: "invalidated"},
		{name: "legacy token replaced", token: rs.token(legacy("stale-token")), err: "does not match the server's copy"},
		{name: "other issuer", token: rs.token(map[string]any{"iss": "https://accounts.example.com", "sub": "x"})},
		{name: "not a JWT", token: "alice-token"},
		{name: "three garbage parts", token: "a.b.c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			body, _ := json.Marshal(authenticationv1.TokenReview{TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenReview"},
				Spec: authenticationv1.TokenReviewSpec{Token: tc.token, Audiences: tc.auds}})
			out, err := Review(ctx, a.Token, body)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(out), tc.token) {
				t.Fatal("the answer echoes the token")
			}
			var tr authenticationv1.TokenReview
			if err := json.Unmarshal(out, &tr); err != nil {
				t.Fatal(err)
			}
			st := tr.Status
			if st.Authenticated != (tc.user != "") || st.User.Username != tc.user {
				t.Fatalf("status %+v, want user %q", st, tc.user)
			}
			if tc.err != "" && !strings.Contains(st.Error, tc.err) {
				t.Fatalf("error %q, want %q", st.Error, tc.err)
			}
			if tc.err == "" && st.Error != "" {
				t.Fatalf("unexpected error %q", st.Error)
			}
			if tc.user != "" {
				want := issuer
				if len(tc.auds) > 0 {
					want = tc.auds[0]
				}
				if len(st.Audiences) != 1 || st.Audiences[0] != want || st.User.UID != "sa-uid" ||
					strings.Join(st.User.Groups, ",") != "system:serviceaccounts,system:serviceaccounts:apps,system:authenticated" {
					t.Fatalf("status %+v", st)
				}
				if _, ok := st.User.Extra[tc.extra]; tc.extra != "" && !ok {
					t.Fatalf("extra %q missing: %v", tc.extra, st.User.Extra)
				}
			}
		})
	}
}

func TestReviewVersionsAndErrors(t *testing.T) {
	a, err := New(Config{TokenFile: writeFile(t, "tokens.csv", tokenCSV), APIAudiences: []string{"https://kube"}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Review(context.Background(), a.Token, []byte(`{"apiVersion":"authentication.k8s.io/v1beta1","kind":"TokenReview","spec":{"token":"alice-token"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var tr authenticationv1beta1.TokenReview
	if err := json.Unmarshal(out, &tr); err != nil || !tr.Status.Authenticated || tr.Status.User.Username != "alice" || tr.APIVersion != "authentication.k8s.io/v1beta1" || tr.Spec.Token != "" {
		t.Fatalf("%s (%v)", out, err)
	}
	// The static token file is audience-agnostic: it answers only for the API audiences.
	for auds, want := range map[string]bool{`["https://kube"]`: true, `["vault"]`: false} {
		out, err := Review(context.Background(), a.Token, []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"alice-token","audiences":`+auds+`}}`))
		if err != nil || strings.Contains(string(out), `"authenticated":true`) != want {
			t.Errorf("audiences %s: %s (%v)", auds, out, err)
		}
	}
	out, err = Review(context.Background(), a.Token, []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{}}`))
	if err != nil || !strings.Contains(string(out), "token is required") || strings.Contains(string(out), `"authenticated":true`) {
		t.Fatalf("empty token: %s (%v)", out, err)
	}
	for name, body := range map[string]string{
		"not JSON":      `{"apiVersion":`,
		"wrong kind":    `{"apiVersion":"authentication.k8s.io/v1","kind":"SubjectAccessReview"}`,
		"wrong version": `{"apiVersion":"authentication.k8s.io/v2","kind":"TokenReview"}`,
		"wrong type":    `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":5}}`,
		"case folding":  `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","Spec":{"Token":"alice-token"}}`,
	} {
		out, err := Review(context.Background(), a.Token, []byte(body))
		if name == "case folding" {
			// Case-sensitive decoding: the token is not read, nothing is authenticated.
			if err != nil || strings.Contains(string(out), `"authenticated":true`) {
				t.Errorf("%s: %s %v", name, out, err)
			}
			continue
		}
		if !errors.Is(err, ErrReview) {
			t.Errorf("%s: want ErrReview, got %v", name, err)
		}
	}
	if _, err := New(Config{}); !errors.Is(err, ErrConfig) {
		t.Fatalf("no authenticator: %v", err)
	}
	if _, err := New(Config{ServiceAccount: ServiceAccountConfig{Issuers: []string{"x"}}}); !errors.Is(err, ErrConfig) {
		t.Fatalf("issuer without key: %v", err)
	}
	if _, err := New(Config{ServiceAccount: ServiceAccountConfig{KeyFiles: []string{writeFile(t, "k", "not a key")}}}); !errors.Is(err, ErrConfig) {
		t.Fatalf("bad key file: %v", err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// kube-apiserver refuses a repeated --service-account-issuer.
	if _, err := New(Config{ServiceAccount: ServiceAccountConfig{KeyFiles: []string{writeFile(t, "ec.pub", pemPublic(t, &ecKey.PublicKey))},
		Issuers: []string{"https://a.example", "https://b.example", "https://a.example"}}}); !errors.Is(err, ErrConfig) {
		t.Fatalf("repeated issuer: %v", err)
	}
}

func FuzzReview(f *testing.F) {
	tf, err := ParseTokenFile(strings.NewReader(tokenCSV), "t.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"alice-token"}}`))
	f.Add([]byte(`{"apiVersion":"authentication.k8s.io/v1beta1","kind":"TokenReview","spec":{"token":"x","audiences":["a"]}}`))
	f.Add([]byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"a.b.c"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := Review(context.Background(), tf, body)
		if err != nil {
			if !errors.Is(err, ErrReview) {
				t.Fatalf("error not matching ErrReview: %v", err)
			}
			return
		}
		var tr authenticationv1.TokenReview
		if err := json.Unmarshal(out, &tr); err != nil {
			t.Fatalf("answer is not JSON: %v", err)
		}
		if tr.Spec.Token != "" {
			t.Fatal("token echoed")
		}
		if tr.Status.Authenticated && tr.Status.User.Username == "" {
			t.Fatal("authenticated without a user")
		}
	})
}

// FuzzParseTokenFile: any CSV is read or refused with a configuration error;
// every token read authenticates its own user and nothing else does.
func FuzzParseTokenFile(f *testing.F) {
	f.Add([]byte(tokenCSV))
	f.Add([]byte("t,u,1,\"a,b\"\nt,v,2\n"))
	f.Add([]byte("\"unterminated,u,1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tf, err := ParseTokenFile(bytes.NewReader(data), "fuzz.csv")
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error not matching ErrConfig: %v", err)
			}
			return
		}
		if _, ok, err := tf.AuthenticateToken(context.Background(), ""); ok || err != nil {
			t.Fatal("the empty token authenticated")
		}
		for _, rec := range strings.Split(string(data), "\n") {
			tok, _, _ := strings.Cut(rec, ",")
			if tok == "" || strings.ContainsAny(tok, "\"\r") {
				continue
			}
			if resp, ok, _ := tf.AuthenticateToken(context.Background(), tok); ok && resp.User.GetName() == "" {
				t.Fatalf("token %q authenticated without a user name", tok)
			}
		}
	})
}
