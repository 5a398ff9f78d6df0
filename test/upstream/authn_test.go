package upstream

// Differential test of kguard's TokenReview answers (internal/authn) against
// kube-apiserver v1.37.2's own: the tokenreview REST storage
// (pkg/registry/authentication/tokenreview) over the request authenticator
// kube-apiserver builds (pkg/kubeapiserver/authenticator/config.go: token file
// wrapped audience-agnostic, the legacy and the bound ServiceAccount
// authenticators of pkg/serviceaccount, a token union, the bearer-token
// request authenticator, the system:authenticated group adder), with
// --service-account-lookup on and the same keys, issuers and objects.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	requnion "k8s.io/apiserver/pkg/authentication/request/union"
	"k8s.io/apiserver/pkg/authentication/token/tokenfile"
	tokenunion "k8s.io/apiserver/pkg/authentication/token/union"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/util/keyutil"
	"k8s.io/klog/v2"
	apiauthentication "k8s.io/kubernetes/pkg/apis/authentication"
	"k8s.io/kubernetes/pkg/registry/authentication/tokenreview"
	"k8s.io/kubernetes/pkg/serviceaccount"

	"github.com/kguard/kguard/internal/authn"
)

const (
	saIssuer  = "https://kubernetes.default.svc.cluster.local"
	oldIssuer = "https://old-issuer.example"
	legacyIss = "kubernetes/serviceaccount"
)

// objects are the cluster both authenticators look tokens up in.
type objects struct {
	sas     map[string]*corev1.ServiceAccount
	pods    map[string]*corev1.Pod
	secrets map[string]*corev1.Secret
	nodes   map[string]*corev1.Node
}

func nf(res, name string) error {
	return apierrors.NewNotFound(schema.GroupResource{Resource: res}, name)
}

func get[T any](m map[string]*T, key, res string) (*T, error) {
	if o, ok := m[key]; ok {
		return o, nil
	}
	return nil, nf(res, key)
}

// kguard's authn.Lookup.
type kguardLookup struct{ o *objects }

func (l kguardLookup) GetServiceAccount(ns, name string) (*corev1.ServiceAccount, error) {
	return get(l.o.sas, ns+"/"+name, "serviceaccounts")
}
func (l kguardLookup) GetPod(ns, name string) (*corev1.Pod, error) {
	return get(l.o.pods, ns+"/"+name, "pods")
}
func (l kguardLookup) GetSecret(ns, name string) (*corev1.Secret, error) {
	return get(l.o.secrets, ns+"/"+name, "secrets")
}
func (l kguardLookup) GetNode(name string) (*corev1.Node, error) {
	return get(l.o.nodes, name, "nodes")
}

// upstream's serviceaccount.ServiceAccountTokenGetter over the same objects.
type upstreamGetter struct{ o *objects }

func (g upstreamGetter) GetServiceAccount(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	return get(g.o.sas, ns+"/"+name, "serviceaccounts")
}
func (g upstreamGetter) GetPod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	return get(g.o.pods, ns+"/"+name, "pods")
}
func (g upstreamGetter) GetSecret(_ context.Context, ns, name string) (*corev1.Secret, error) {
	return get(g.o.secrets, ns+"/"+name, "secrets")
}
func (g upstreamGetter) GetNode(_ context.Context, name string) (*corev1.Node, error) {
	return get(g.o.nodes, name, "nodes")
}
func (g upstreamGetter) GetValidatingWebhookConfiguration(_ context.Context, name string) (*admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	return nil, nf("validatingwebhookconfigurations", name)
}
func (g upstreamGetter) GetMutatingWebhookConfiguration(_ context.Context, name string) (*admissionregistrationv1.MutatingWebhookConfiguration, error) {
	return nil, nf("mutatingwebhookconfigurations", name)
}

// answer is what both say about one review.
type answer struct {
	Authenticated bool
	Username, UID string
	Groups        []string
	Extra         map[string][]string
	Audiences     []string
	Err           string
}

type stacks struct {
	upstream *tokenreview.REST
	kguard   *authn.Authenticator
}

func buildStacks(t *testing.T, tokenFile, keyFile string, issuers []string, o *objects) stacks {
	t.Helper()
	// kube-apiserver: --api-audiences unset defaults to all the issuers
	// (pkg/kubeapiserver/options/authentication.go).
	apiAuds := authenticator.Audiences(issuers)
	keys, err := keyutil.PublicKeysFromFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	getter, err := serviceaccount.StaticPublicKeysGetter(keys)
	if err != nil {
		t.Fatal(err)
	}
	tf, err := tokenfile.NewCSV(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	// The legacy validator labels a Secret with its last-used date: let the patch succeed.
	cs := fake.NewSimpleClientset()
	cs.PrependReactor("patch", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) { return true, &corev1.Secret{}, nil })
	legacyValidator, err := serviceaccount.NewLegacyValidator(true, upstreamGetter{o}, cs.CoreV1())
	if err != nil {
		t.Fatal(err)
	}
	tokens := tokenunion.New(
		authenticator.WrapAudienceAgnosticToken(apiAuds, tf),
		serviceaccount.JWTTokenAuthenticator([]string{legacyIss}, getter, apiAuds, legacyValidator),
		serviceaccount.JWTTokenAuthenticator(issuers, getter, apiAuds, serviceaccount.NewValidator(upstreamGetter{o})),
	)
	req := group.NewAuthenticatedGroupAdder(requnion.New(bearertoken.New(tokens)))
	ours, err := authn.New(authn.Config{TokenFile: tokenFile,
		ServiceAccount: authn.ServiceAccountConfig{KeyFiles: []string{keyFile}, Issuers: issuers, Lookup: kguardLookup{o}}})
	if err != nil {
		t.Fatal(err)
	}
	return stacks{upstream: tokenreview.NewREST(req, apiAuds), kguard: ours}
}

func (s stacks) upstreamAnswer(token string, auds []string) answer {
	obj, err := s.upstream.Create(context.Background(), &apiauthentication.TokenReview{Spec: apiauthentication.TokenReviewSpec{Token: token, Audiences: auds}}, nil, &metav1.CreateOptions{})
	if err != nil {
		return answer{Err: "request error: " + err.Error()}
	}
	st := obj.(*apiauthentication.TokenReview).Status
	a := answer{Authenticated: st.Authenticated, Username: st.User.Username, UID: st.User.UID, Groups: st.User.Groups, Audiences: st.Audiences, Err: st.Error}
	if len(st.User.Extra) > 0 {
		a.Extra = map[string][]string{}
		for k, v := range st.User.Extra {
			a.Extra[k] = v
		}
	}
	return a
}

func (s stacks) kguardAnswer(t *testing.T, token string, auds []string) answer {
	body, _ := json.Marshal(authenticationv1.TokenReview{TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenReview"},
		Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: auds}})
	out, err := authn.Review(context.Background(), s.kguard.Token, body)
	if err != nil {
		return answer{Err: "request error: " + err.Error()}
	}
	var tr authenticationv1.TokenReview
	if err := json.Unmarshal(out, &tr); err != nil {
		t.Fatal(err)
	}
	st := tr.Status
	a := answer{Authenticated: st.Authenticated, Username: st.User.Username, UID: st.User.UID, Groups: st.User.Groups, Audiences: st.Audiences, Err: st.Error}
	if len(st.User.Extra) > 0 {
		a.Extra = map[string][]string{}
		for k, v := range st.User.Extra {
			a.Extra[k] = v
		}
	}
	return a
}

const refuses = "kguard refuses what kube-apiserver authenticates"

// divergences name how two answers differ (none when they agree on who the
// token is), one class per difference.
func divergences(up, kg answer) []string {
	switch {
	case up.Authenticated && !kg.Authenticated:
		return []string{refuses}
	case !up.Authenticated && kg.Authenticated:
		return []string{"kguard authenticates what kube-apiserver refuses"}
	case !up.Authenticated:
		return nil
	}
	var d []string
	if up.Username != kg.Username {
		d = append(d, "username")
	}
	if up.UID != kg.UID {
		d = append(d, "uid")
	}
	// Groups compare exactly, system:authenticated included (and in order).
	if !slices.Equal(up.Groups, kg.Groups) {
		d = append(d, "groups")
	}
	if !reflect.DeepEqual(up.Extra, kg.Extra) {
		d = append(d, "extra")
	}
	if !slices.Equal(up.Audiences, kg.Audiences) {
		d = append(d, "status.audiences")
	}
	return d
}

type diffCase struct {
	name  string
	token string
	auds  []string
	// finding names the adversarial test (internal/authn) of a known
	// divergence; a divergence of a case without one is new.
	finding string
	// tolerates is the one divergence class a documented difference
	// ("tolerated: …" finding) explains; any other still fails.
	tolerates string
}

type tally struct {
	cases    int
	authed   int
	examples map[string][]string
	counts   map[string]int
}

func (ty *tally) check(t *testing.T, s stacks, c diffCase) {
	up, kg := s.upstreamAnswer(c.token, c.auds), s.kguardAnswer(t, c.token, c.auds)
	ty.cases++
	if up.Authenticated {
		ty.authed++
	}
	for _, d := range divergences(up, kg) {
		if strings.HasPrefix(c.finding, "tolerated: ") && d == c.tolerates {
			t.Logf("%s: %s (%s)", c.name, d, c.finding)
			continue
		}
		if c.finding != "" && strings.HasPrefix(d, "kguard") {
			d += " [" + c.finding + "]"
		}
		ty.counts[d]++
		if len(ty.examples[d]) < 4 {
			ty.examples[d] = append(ty.examples[d], fmt.Sprintf("%s (auds %q)\n      upstream: %+v\n      kguard:   %+v", c.name, c.auds, up, kg))
		}
	}
}

func (ty *tally) report(t *testing.T) {
	classes := make([]string, 0, len(ty.counts))
	for k := range ty.counts {
		classes = append(classes, k)
	}
	sort.Strings(classes)
	t.Logf("%d reviews, %d authenticated by kube-apiserver, %d divergence classes", ty.cases, ty.authed, len(classes))
	for _, k := range classes {
		t.Run(k, func(t *testing.T) {
			t.Errorf("%d cases, e.g.\n    %s", ty.counts[k], strings.Join(ty.examples[k], "\n    "))
		})
	}
}

type keyring struct {
	t                 *testing.T
	trusted, trusted2 *rsa.PrivateKey
	untrusted         *rsa.PrivateKey
	file              string
}

func pemPub(t *testing.T, k *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func kid(t *testing.T, k *rsa.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(k)
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sign signs claims with key, with the given kid header ("" none).
func sign(t *testing.T, key *rsa.PrivateKey, keyID string, claims map[string]any) string {
	t.Helper()
	var k any = key
	if keyID != "" {
		k = jose.JSONWebKey{Key: key, KeyID: keyID}
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func writeTemp(t *testing.T, name, content string) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func clusterObjects() *objects {
	now := time.Now()
	recent, old := metav1.NewTime(now.Add(-10*time.Second)), metav1.NewTime(now.Add(-5*time.Minute))
	return &objects{
		sas: map[string]*corev1.ServiceAccount{
			"apps/builder":     {ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "apps", UID: "sa-uid"}},
			"apps/draining":    {ObjectMeta: metav1.ObjectMeta{Name: "draining", Namespace: "apps", UID: "drain-uid", DeletionTimestamp: &recent}},
			"apps/deleted":     {ObjectMeta: metav1.ObjectMeta{Name: "deleted", Namespace: "apps", UID: "del-uid", DeletionTimestamp: &old}},
			"kube-system/root": {ObjectMeta: metav1.ObjectMeta{Name: "root", Namespace: "kube-system", UID: "root-uid"}},
		},
		pods: map[string]*corev1.Pod{
			"apps/web-1":     {ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "apps", UID: "pod-uid"}},
			"apps/stopping":  {ObjectMeta: metav1.ObjectMeta{Name: "stopping", Namespace: "apps", UID: "stop-uid", DeletionTimestamp: &recent}},
			"apps/long-gone": {ObjectMeta: metav1.ObjectMeta{Name: "long-gone", Namespace: "apps", UID: "lg-uid", DeletionTimestamp: &old}},
		},
		secrets: map[string]*corev1.Secret{
			"apps/opaque":   {ObjectMeta: metav1.ObjectMeta{Name: "opaque", Namespace: "apps", UID: "opq-uid"}, Type: corev1.SecretTypeOpaque},
			"apps/retiring": {ObjectMeta: metav1.ObjectMeta{Name: "retiring", Namespace: "apps", UID: "ret-uid", DeletionTimestamp: &recent}},
			"apps/retired":  {ObjectMeta: metav1.ObjectMeta{Name: "retired", Namespace: "apps", UID: "rtd-uid", DeletionTimestamp: &old}},
		},
		nodes: map[string]*corev1.Node{
			"node-a":       {ObjectMeta: metav1.ObjectMeta{Name: "node-a", UID: "node-uid"}},
			"node-leaving": {ObjectMeta: metav1.ObjectMeta{Name: "node-leaving", UID: "leave-uid", DeletionTimestamp: &recent}},
			"node-gone":    {ObjectMeta: metav1.ObjectMeta{Name: "node-gone", UID: "ng-uid", DeletionTimestamp: &old}},
		},
	}
}

func newKeyring(t *testing.T) *keyring {
	gen := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k := &keyring{t: t, trusted: gen(), trusted2: gen(), untrusted: gen()}
	k.file = writeTemp(t, "sa.pub", pemPub(t, &k.trusted.PublicKey)+pemPub(t, &k.trusted2.PublicKey))
	return k
}

func boundClaims(iss, ns, sa, uid string, binding map[string]any) map[string]any {
	now := time.Now()
	kio := map[string]any{"namespace": ns, "serviceaccount": map[string]string{"name": sa, "uid": uid}}
	for k, v := range binding {
		kio[k] = v
	}
	return map[string]any{"iss": iss, "sub": "system:serviceaccount:" + ns + ":" + sa, "aud": []string{iss},
		"exp": now.Add(time.Hour).Unix(), "iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(),
		"jti": "jti-1", "kubernetes.io": kio}
}

func legacyClaimSet(ns, sa, uid, secret string) map[string]any {
	return map[string]any{"iss": legacyIss, "sub": "system:serviceaccount:" + ns + ":" + sa,
		"kubernetes.io/serviceaccount/namespace": ns, "kubernetes.io/serviceaccount/secret.name": secret,
		"kubernetes.io/serviceaccount/service-account.name": sa, "kubernetes.io/serviceaccount/service-account.uid": uid}
}

func with(m map[string]any, kv ...any) map[string]any {
	c := map[string]any{}
	for k, v := range m {
		c[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

// legacyToken signs a legacy token and stores it in a Secret named secret
// (mutate edits the Secret and its ServiceAccount's copy before storing).
func legacyToken(t *testing.T, o *objects, key *rsa.PrivateKey, claims map[string]any, store bool, mutate func(*corev1.Secret)) string {
	tok := sign(t, key, kid(t, &key.PublicKey), claims)
	if store {
		ns, name := claims["kubernetes.io/serviceaccount/namespace"].(string), claims["kubernetes.io/serviceaccount/secret.name"].(string)
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name)}, Type: corev1.SecretTypeServiceAccountToken,
			Data: map[string][]byte{"token": []byte(tok)}}
		if mutate != nil {
			mutate(s)
		}
		o.secrets[ns+"/"+name] = s
	}
	return tok
}

var diffSeeds = flag.Int("authn-diff-seeds", 3000, "random token cases of TestTokenReviewMatchesUpstream")

func quietKlog() {
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
}

const diffTokenCSV = `alice-token,alice,1000,"system:masters,dev"
bob-token,bob,1001
,nobody,1
"comma,token",carol,1002,"g1, g2,g3"
dup-token,first,1
dup-token,second,2
Case-Token,upper,1003
"quote""token",quoted,1004
kubelet-token,kubelet,1005,system:nodes,extra-column
emptygroups-token,eve,1006,
`

// subStricter is a documented difference (docs/install.md section 8,
// "Differences from kube-apiserver"): kube-apiserver's bound-token validator
// never reads sub, kguard refuses a bound token whose sub is not
// system:serviceaccount:NS:NAME of its kubernetes.io claim.
const subStricter = "tolerated: kguard refuses a bound token whose sub is not that of its kubernetes.io claim, kube-apiserver ignores sub (documented, docs/install.md section 8)"

// TestTokenReviewMatchesUpstream feeds crafted and random tokens to kguard's
// and kube-apiserver's TokenReview and compares who each says the token is.
func TestTokenReviewMatchesUpstream(t *testing.T) {
	quietKlog()
	keys := newKeyring(t)
	o := clusterObjects()
	tokenFile := writeTemp(t, "tokens.csv", diffTokenCSV)
	s := buildStacks(t, tokenFile, keys.file, []string{saIssuer}, o)
	ty := &tally{examples: map[string][]string{}, counts: map[string]int{}}
	k1, k2, bad := keys.trusted, keys.trusted2, keys.untrusted
	kid1, kid2 := kid(t, &k1.PublicKey), kid(t, &k2.PublicKey)
	now := time.Now()

	// Crafted cases.
	good := boundClaims(saIssuer, "apps", "builder", "sa-uid", nil)
	goodTok := sign(t, k1, kid1, good)
	parts := strings.Split(goodTok, ".")
	legacyOK := legacyToken(t, o, k1, legacyClaimSet("apps", "builder", "sa-uid", "builder-token"), true, nil)
	// A legacy token whose namespace claim key is upper-case, stored in its Secret.
	legacyCaseTok := legacyToken(t, o, k1, legacyClaimSet("apps", "builder", "sa-uid", "legacy-case"), true, nil)
	legacyCaseTok = sign(t, k1, kid1, with(legacyClaimSet("apps", "builder", "sa-uid", "legacy-case"),
		"kubernetes.io/serviceaccount/namespace", nil, "KUBERNETES.IO/serviceaccount/namespace", "apps"))
	o.secrets["apps/legacy-case"].Data["token"] = []byte(legacyCaseTok)
	crafted := []diffCase{
		{name: "bound", token: goodTok},
		{name: "bound, no kid", token: sign(t, k1, "", good)},
		{name: "bound, second key", token: sign(t, k2, kid2, good)},
		{name: "bound, kid of the other trusted key", token: sign(t, k2, kid1, good), finding: "TestAcceptsTokenWhoseKeyIDNamesAnotherKey"},
		{name: "bound, unknown kid", token: sign(t, k1, "nope", good), finding: "TestAcceptsTokenWhoseKeyIDNamesAnotherKey"},
		{name: "bound, untrusted key", token: sign(t, bad, kid(t, &bad.PublicKey), good)},
		{name: "bound, untrusted key, trusted kid", token: sign(t, bad, kid1, good)},
		{name: "bound, pod", token: sign(t, k1, kid1, boundClaims(saIssuer, "apps", "builder", "sa-uid", map[string]any{"pod": map[string]string{"name": "web-1", "uid": "pod-uid"}}))},
		{name: "bound, pod+node", token: sign(t, k1, kid1, boundClaims(saIssuer, "apps", "builder", "sa-uid", map[string]any{"pod": map[string]string{"name": "web-1", "uid": "pod-uid"}, "node": map[string]string{"name": "whatever", "uid": "w"}}))},
		{name: "bound, pod stopping", token: sign(t, k1, kid1, boundClaims(saIssuer, "apps", "builder", "sa-uid", map[string]any{"pod": map[string]string{"name": "stopping", "uid": "stop-uid"}}))},
		{name: "bound, pod long gone", token: sign(t, k1, kid1, boundClaims(saIssuer, "apps", "builder", "sa-uid", map[string]any{"pod": map[string]string{"name": "long-gone", "uid": "lg-uid"}}))},
		{name: "bound, opaque secret", token: sign(t, k1, kid1, boundClaims(saIssuer, "apps", "builder", "sa-uid", map[string]any{"secret": map[string]string{"name": "opaque", "uid": "opq-uid"}}))},
		{name: "bound, secret retiring", token: sign(t, k1, kid1, boundClaims(saIssuer, "apps", "builder", "sa-uid", map[string]any{"secret": map[string]string{"name": "retiring", "uid": "ret-uid"}}))},
		{name: "bound, node", token: sign(t, k1, kid1, boundClaims(saIssuer, "apps", "builder", "sa-uid", map[string]any{"node": map[string]string{"name": "node-a", "uid": "node-uid"}}))},
		{name: "bound, node leaving", token: sign(t, k1, kid1, boundClaims(saIssuer, "apps", "builder", "sa-uid", map[string]any{"node": map[string]string{"name": "node-leaving", "uid": "leave-uid"}}))},
		{name: "bound, SA draining", token: sign(t, k1, kid1, boundClaims(saIssuer, "apps", "draining", "drain-uid", nil))},
		{name: "bound, SA deleted", token: sign(t, k1, kid1, boundClaims(saIssuer, "apps", "deleted", "del-uid", nil))},
		{name: "bound, aud vault", token: sign(t, k1, kid1, with(good, "aud", []string{"vault"})), auds: []string{"vault"}},
		{name: "bound, aud vault reviewed for the API", token: sign(t, k1, kid1, with(good, "aud", []string{"vault"}))},
		{name: "bound, aud as a string", token: sign(t, k1, kid1, with(good, "aud", saIssuer))},
		{name: "bound, no aud", token: sign(t, k1, kid1, with(good, "aud", nil))},
		{name: "bound, no aud, reviewed for vault", token: sign(t, k1, kid1, with(good, "aud", nil)), auds: []string{"vault"}},
		{name: "bound, no exp", token: sign(t, k1, kid1, with(good, "exp", nil))},
		{name: "bound, exp 30s ago", token: sign(t, k1, kid1, with(good, "exp", now.Add(-30*time.Second).Unix()))},
		{name: "bound, exp 5m ago", token: sign(t, k1, kid1, with(good, "exp", now.Add(-5*time.Minute).Unix()))},
		{name: "bound, exp float", token: sign(t, k1, kid1, with(good, "exp", float64(now.Add(time.Hour).Unix())+0.5))},
		{name: "bound, exp 1e30", token: sign(t, k1, kid1, with(good, "exp", 1e30))},
		{name: "bound, nbf in 5m", token: sign(t, k1, kid1, with(good, "nbf", now.Add(5*time.Minute).Unix()))},
		{name: "bound, iat in 5m", token: sign(t, k1, kid1, with(good, "iat", now.Add(5*time.Minute).Unix()))},
		{name: "bound, empty jti", token: sign(t, k1, kid1, with(good, "jti", ""))},
		{name: "bound, no jti", token: sign(t, k1, kid1, with(good, "jti", nil))},
		{name: "bound, sub of another SA (forged)", token: sign(t, k1, kid1, with(good, "sub", "system:serviceaccount:kube-system:root")), finding: subStricter, tolerates: refuses},
		{name: "bound, no sub (forged)", token: sign(t, k1, kid1, with(good, "sub", nil)), finding: subStricter, tolerates: refuses},
		{name: "bound, ISS upper-case key", token: sign(t, k1, kid1, with(good, "iss", nil, "ISS", saIssuer))},
		{name: "bound, Kubernetes.io key case (forged)", token: sign(t, k1, kid1, with(good, "kubernetes.io", nil, "Kubernetes.io", good["kubernetes.io"])), finding: "TestAcceptsClaimKeysInAnotherCase"},
		{name: "bound, other issuer", token: sign(t, k1, kid1, with(good, "iss", "https://evil.example"))},
		{name: "bound, issuer trailing slash", token: sign(t, k1, kid1, with(good, "iss", saIssuer+"/"))},
		{name: "bound, webhook binding", token: sign(t, k1, kid1, boundClaims(saIssuer, "apps", "builder", "sa-uid", map[string]any{"validatingwebhookconfiguration": map[string]string{"name": "v", "uid": "u"}}))},
		{name: "bound, trailing space", token: goodTok + " ", finding: "TestRejectsTokenWithSurroundingWhitespace"},
		{name: "bound, trailing newline", token: goodTok + "\n", finding: "TestRejectsTokenWithSurroundingWhitespace"},
		{name: "bound, leading space", token: " " + goodTok, finding: "TestRejectsTokenWithSurroundingWhitespace"},
		{name: "bound, newline in payload", token: parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2]},
		{name: "bound, CR in signature", token: parts[0] + "." + parts[1] + "." + parts[2][:10] + "\r" + parts[2][10:]},
		{name: "bound, padded header", token: parts[0] + "=." + parts[1] + "." + parts[2]},
		{name: "bound, padded signature", token: goodTok + "=="},
		{name: "bound, tab before", token: "\t" + goodTok, finding: "TestRejectsTokenWithSurroundingWhitespace"},
		{name: "bound, space then junk", token: goodTok + " junk", finding: "TestRejectsTokenWithSurroundingWhitespace"},
		{name: "bound, tab in header", token: parts[0][:5] + "\t" + parts[0][5:] + "." + parts[1] + "." + parts[2]},
		{name: "bound, tab in payload", token: parts[0] + "." + parts[1][:5] + "\t" + parts[1][5:] + "." + parts[2]},
		{name: "bound, no-break space in signature", token: parts[0] + "." + parts[1] + "." + parts[2][:5] + "\u00a0" + parts[2][5:]},
		{name: "bound, em space in header", token: parts[0][:5] + "\u2003" + parts[0][5:] + "." + parts[1] + "." + parts[2]},
		{name: "bound, vertical tab after", token: goodTok + "\v"},
		{name: "static, tab inside", token: "bob-token\tjunk"},
		{name: "static, tab after", token: "bob-token\t"},
		{name: "legacy", token: legacyOK},
		{name: "legacy, trailing newline", token: legacyOK + "\n", finding: "TestRejectsTokenWithSurroundingWhitespace"},
		{name: "legacy, secret retiring", finding: "TestAcceptsLegacyTokenWhoseSecretIsBeingDeleted", token: legacyToken(t, o, k1, legacyClaimSet("apps", "builder", "sa-uid", "legacy-retiring"), true, func(s *corev1.Secret) {
			ts := metav1.NewTime(now.Add(-10 * time.Second))
			s.DeletionTimestamp = &ts
		})},
		{name: "legacy, SA draining", token: legacyToken(t, o, k1, legacyClaimSet("apps", "draining", "drain-uid", "legacy-draining"), true, nil), finding: "TestAcceptsLegacyTokenWhoseServiceAccountIsBeingDeleted"},
		{name: "legacy, invalid-since label", token: legacyToken(t, o, k1, legacyClaimSet("apps", "builder", "sa-uid", "legacy-invalid"), true, func(s *corev1.Secret) {
			s.Labels = map[string]string{"kubernetes.io/legacy-token-invalid-since": "2024-01-01"}
		})},
		{name: "legacy, empty invalid-since label", finding: "TestRejectsLegacyTokenWithEmptyInvalidSinceLabel", token: legacyToken(t, o, k1, legacyClaimSet("apps", "builder", "sa-uid", "legacy-invalid-empty"), true, func(s *corev1.Secret) {
			s.Labels = map[string]string{"kubernetes.io/legacy-token-invalid-since": ""}
		})},
		{name: "legacy, not stored", token: legacyToken(t, o, k1, legacyClaimSet("apps", "builder", "sa-uid", "legacy-missing"), false, nil)},
		{name: "legacy, SA recreated", token: legacyToken(t, o, k1, legacyClaimSet("apps", "builder", "old-uid", "legacy-recreated"), true, nil)},
		{name: "legacy, sub mismatch", token: legacyToken(t, o, k1, with(legacyClaimSet("apps", "builder", "sa-uid", "legacy-sub"), "sub", "system:serviceaccount:apps:other"), true, nil)},
		{name: "legacy, expired exp", token: legacyToken(t, o, k1, with(legacyClaimSet("apps", "builder", "sa-uid", "legacy-exp"), "exp", now.Add(-time.Hour).Unix()), true, nil)},
		{name: "legacy, aud vault", token: legacyToken(t, o, k1, with(legacyClaimSet("apps", "builder", "sa-uid", "legacy-aud"), "aud", []string{"vault"}), true, nil)},
		{name: "legacy, reviewed for vault", token: legacyOK, auds: []string{"vault"}},
		{name: "legacy, namespace key case (forged)", token: legacyCaseTok, finding: "TestAcceptsClaimKeysInAnotherCase"},
		{name: "legacy, with bound claims too", token: legacyToken(t, o, k1, with(legacyClaimSet("apps", "builder", "sa-uid", "legacy-mixed"), "kubernetes.io", good["kubernetes.io"]), true, nil)},
		{name: "static alice", token: "alice-token"},
		{name: "static alice, reviewed for the API", token: "alice-token", auds: []string{saIssuer}},
		{name: "static alice, reviewed for vault", token: "alice-token", auds: []string{"vault"}},
		{name: "static alice, reviewed for vault and the API", token: "alice-token", auds: []string{"vault", saIssuer}},
		{name: "static comma", token: "comma,token"},
		{name: "static dup", token: "dup-token"},
		{name: "static case", token: "case-token"},
		{name: "static Case", token: "Case-Token"},
		{name: "static quote", token: `quote"token`},
		{name: "static extra column", token: "kubelet-token"},
		{name: "static empty groups column", token: "emptygroups-token",
			finding: "tolerated: kube-apiserver's tokenfile splits an empty 4th column into the group \"\" (strings.Split), kguard into no group; no RBAC subject can name \"\"", tolerates: "groups"},
		{name: "static trailing space", token: "bob-token ", finding: "TestRejectsTokenWithSurroundingWhitespace"},
		{name: "static then junk", token: "bob-token junk", finding: "TestRejectsTokenWithSurroundingWhitespace"},
		{name: "static leading space", token: " bob-token", finding: "TestRejectsTokenWithSurroundingWhitespace"},
		{name: "static NUL", token: "bob-token\x00"},
		{name: "Bearer-prefixed", token: "Bearer bob-token"},
		{name: "garbage", token: "a.b.c"},
		{name: "JSON JWS", token: `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`},
	}
	for _, c := range crafted {
		ty.check(t, s, c)
	}

	// Random cases: claims drawn from pools, signed by a trusted key with its
	// own kid (the known kid divergence has its crafted cases), plus random
	// mutations of valid tokens.
	r := mrand.New(mrand.NewPCG(37, 1))
	pick := func(n int) int { return r.IntN(n) }
	saRefs := [][3]string{{"apps", "builder", "sa-uid"}, {"apps", "builder", "old-uid"}, {"apps", "draining", "drain-uid"}, {"apps", "deleted", "del-uid"},
		{"apps", "missing", "x"}, {"kube-system", "root", "root-uid"}, {"", "builder", "sa-uid"}, {"apps", "", "sa-uid"}, {"apps", "builder", ""}}
	bindings := []map[string]any{nil, {"pod": map[string]string{"name": "web-1", "uid": "pod-uid"}}, {"pod": map[string]string{"name": "web-1", "uid": "old"}},
		{"pod": map[string]string{"name": "stopping", "uid": "stop-uid"}}, {"pod": map[string]string{"name": "long-gone", "uid": "lg-uid"}}, {"pod": map[string]string{"name": "nope", "uid": "n"}},
		{"secret": map[string]string{"name": "opaque", "uid": "opq-uid"}}, {"secret": map[string]string{"name": "opaque", "uid": "x"}}, {"secret": map[string]string{"name": "retired", "uid": "rtd-uid"}},
		{"secret": map[string]string{"name": "retiring", "uid": "ret-uid"}},
		{"node": map[string]string{"name": "node-a", "uid": "node-uid"}}, {"node": map[string]string{"name": "node-a", "uid": "x"}}, {"node": map[string]string{"name": "node-gone", "uid": "ng-uid"}},
		{"node": map[string]string{"name": "node-leaving", "uid": "leave-uid"}}, {"node": map[string]string{"name": "absent", "uid": "a"}},
		{"pod": map[string]string{"name": "web-1", "uid": "pod-uid"}, "node": map[string]string{"name": "node-a", "uid": "node-uid"}},
		{"pod": map[string]string{"name": "web-1", "uid": "pod-uid"}, "secret": map[string]string{"name": "opaque", "uid": "opq-uid"}},
		{"pod": map[string]string{"name": "nope", "uid": "pod-uid"}, "node": map[string]string{"name": "node-a", "uid": "node-uid"}},
		{"warnafter": now.Add(-time.Minute).Unix()}}
	auds := []any{nil, []string{saIssuer}, []string{"vault"}, []string{"vault", saIssuer}, saIssuer, []string{}, []string{""}}
	reviewAuds := [][]string{nil, {saIssuer}, {"vault"}, {"vault", saIssuer}, {"other"}}
	times := []any{nil, now.Add(time.Hour).Unix(), now.Add(-20 * time.Second).Unix(), now.Add(-3 * time.Minute).Unix(), now.Add(20 * time.Second).Unix(),
		now.Add(3 * time.Minute).Unix(), float64(now.Unix()) + 0.25, int64(0), int64(-1)}
	issuers := []string{saIssuer, saIssuer, saIssuer, legacyIss, "https://evil.example", ""}
	for i := range *diffSeeds {
		iss := issuers[pick(len(issuers))]
		key := k1
		if pick(3) == 0 {
			key = k2
		}
		var tok, name string
		ref := saRefs[0] // half the tokens name the live ServiceAccount
		if pick(2) == 0 {
			ref = saRefs[pick(len(saRefs))]
		}
		if iss == legacyIss {
			secret := fmt.Sprintf("legacy-%d", i)
			claims := legacyClaimSet(ref[0], ref[1], ref[2], secret)
			if pick(5) == 0 {
				claims = with(claims, "aud", auds[pick(len(auds))])
			}
			if pick(6) == 0 {
				claims = with(claims, "sub", "system:serviceaccount:"+ref[0]+":"+ref[1]+"x")
			}
			store, mutation := pick(6) != 0, pick(5)
			tok = legacyToken(t, o, key, claims, store && ref[0] != "" && ref[1] != "", func(s *corev1.Secret) {
				switch mutation {
				case 0:
					s.Data["token"] = []byte("other")
				case 1:
					s.Labels = map[string]string{"kubernetes.io/legacy-token-invalid-since": "2024-01-01"}
				}
			})
			name = fmt.Sprintf("legacy #%d sa=%v stored=%v mutation=%d", i, ref, store, mutation)
		} else {
			b := bindings[pick(len(bindings))]
			if pick(2) == 0 { // half bound to nothing or to live objects
				b = bindings[[]int{0, 1, 6, 10, 15}[pick(5)]]
			}
			claims := boundClaims(iss, ref[0], ref[1], ref[2], b)
			if pick(2) == 0 {
				claims["aud"] = auds[pick(len(auds))]
			}
			if claims["aud"] == nil {
				delete(claims, "aud")
			}
			for _, f := range []string{"exp", "nbf", "iat"} {
				if pick(3) == 0 {
					if v := times[pick(len(times))]; v == nil {
						delete(claims, f)
					} else {
						claims[f] = v
					}
				}
			}
			if pick(4) == 0 {
				delete(claims, "jti")
			}
			tok = sign(t, key, kid(t, &key.PublicKey), claims)
			name = fmt.Sprintf("bound #%d iss=%q sa=%v binding=%v aud=%v exp=%v nbf=%v iat=%v", i, iss, ref, b, claims["aud"], claims["exp"], claims["nbf"], claims["iat"])
		}
		// Mutate one token in four.
		if pick(4) == 0 {
			tok, name = mutate(r, tok), name+" mutated"
		}
		var ra []string
		if pick(2) == 0 {
			ra = reviewAuds[pick(len(reviewAuds))]
		}
		ty.check(t, s, diffCase{name: name, token: tok, auds: ra})
	}
	ty.report(t)
}

// mutate damages a token.
func mutate(r *mrand.Rand, tok string) string {
	b := []byte(tok)
	switch r.IntN(8) {
	case 0: // flip a character
		i := r.IntN(len(b))
		b[i] = "ABCabc012-_."[r.IntN(12)]
	case 1: // truncate
		b = b[:r.IntN(len(b))]
	case 2: // drop a segment
		p := strings.Split(tok, ".")
		i := r.IntN(len(p))
		return strings.Join(append(p[:i:i], p[i+1:]...), ".")
	case 3: // swap header and payload
		p := strings.Split(tok, ".")
		if len(p) == 3 {
			return p[1] + "." + p[0] + "." + p[2]
		}
	case 4: // padding
		return tok + strings.Repeat("=", 1+r.IntN(2))
	case 5: // extra segment
		return tok + "." + tok[:r.IntN(len(tok))]
	case 6: // newline inside (the base64 decoders skip it)
		i := r.IntN(len(b))
		return string(b[:i]) + "\n" + string(b[i:])
	case 7: // other whitespace inside or around (bearer trimming and cutting, go-jose v2 stripping)
		i := r.IntN(len(b) + 1)
		return string(b[:i]) + []string{" ", "\t", "\r", "\v", "\f", "\u0085", "\u00a0", "\u2003", "\u3000"}[r.IntN(9)] + string(b[i:])
	}
	return string(b)
}

// TestTokenReviewMatchesUpstreamTwoIssuers: the issuer migration
// configuration (--service-account-issuer new --service-account-issuer old).
func TestTokenReviewMatchesUpstreamTwoIssuers(t *testing.T) {
	quietKlog()
	keys := newKeyring(t)
	o := clusterObjects()
	s := buildStacks(t, writeTemp(t, "tokens.csv", diffTokenCSV), keys.file, []string{saIssuer, oldIssuer}, o)
	ty := &tally{examples: map[string][]string{}, counts: map[string]int{}}
	k1 := keys.trusted
	for _, iss := range []string{saIssuer, oldIssuer} {
		for _, aud := range [][]string{{saIssuer}, {oldIssuer}, {saIssuer, oldIssuer}, {"vault"}} {
			tok := sign(t, k1, kid(t, &k1.PublicKey), with(boundClaims(iss, "apps", "builder", "sa-uid", nil), "aud", aud))
			for _, ra := range [][]string{nil, {saIssuer}, {oldIssuer}, {"vault"}} {
				ty.check(t, s, diffCase{name: fmt.Sprintf("bound iss=%s aud=%v", iss, aud), token: tok, auds: ra, finding: "TestRejectsTokenForAnotherIssuerAudience"})
			}
		}
	}
	for _, ra := range [][]string{nil, {saIssuer}, {oldIssuer}} {
		ty.check(t, s, diffCase{name: "static alice", token: "alice-token", auds: ra, finding: "TestRejectsTokenForAnotherIssuerAudience"})
		ty.check(t, s, diffCase{name: "legacy", token: legacyToken(t, o, k1, legacyClaimSet("apps", "builder", "sa-uid", "lt"), true, nil), auds: ra, finding: "TestRejectsTokenForAnotherIssuerAudience"})
	}
	ty.report(t)
}
