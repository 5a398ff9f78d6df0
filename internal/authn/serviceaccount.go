package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	jose "github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"
	"github.com/go-jose/go-jose/v4/jwt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/client-go/util/keyutil"
)

// LegacyIssuer is the issuer of the Secret-based tokens kube-controller-manager mints.
const LegacyIssuer = "kubernetes/serviceaccount"

// legacyInvalidSinceLabel marks a legacy token Secret kube-controller-manager has invalidated.
const legacyInvalidSinceLabel = "kubernetes.io/legacy-token-invalid-since"

// deletionGrace is how long a token outlives the deletion of the object it is
// bound to, as in kube-apiserver (the object may still be finalizing).
const deletionGrace = 60 * time.Second

var algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512, jose.PS256, jose.PS384, jose.PS512}

// Lookup finds the objects a ServiceAccount token names; kube-apiserver's
// --service-account-lookup. A missing object is an apierrors NotFound error.
type Lookup interface {
	GetServiceAccount(namespace, name string) (*corev1.ServiceAccount, error)
	GetPod(namespace, name string) (*corev1.Pod, error)
	GetSecret(namespace, name string) (*corev1.Secret, error)
	// GetNode finds the Node a node-bound token names (kubectl create token
	// --bound-object-kind Node); only its metadata is used.
	GetNode(name string) (*corev1.Node, error)
}

// ServiceAccountConfig configures ServiceAccount token authentication.
type ServiceAccountConfig struct {
	// KeyFiles hold the PEM public (or private) keys that verify token
	// signatures (--service-account-key-file).
	KeyFiles []string
	// Issuers accepted in bound tokens (--service-account-issuer); legacy
	// Secret-based tokens carry LegacyIssuer and are always accepted.
	Issuers []string
	// APIAudiences are the audiences a token must hold one of when the review
	// names none (--api-audiences); empty means all the issuers.
	APIAudiences []string
	// Lookup, when set, rejects a token whose ServiceAccount, Secret, Pod or
	// Node is gone or was replaced (another UID); nil accepts any validly
	// signed token. A token bound to an object of another kind is refused
	// either way (see boundObjectKeys).
	Lookup Lookup
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// ServiceAccountTokens authenticates ServiceAccount JWTs as kube-apiserver does.
type ServiceAccountTokens struct {
	keys         []publicKey
	issuers      map[string]bool
	implicitAuds authenticator.Audiences
	lookup       Lookup
	now          func() time.Time
}

var _ authenticator.Token = &ServiceAccountTokens{}

// publicKey is a verification key and its key ID.
type publicKey struct {
	id  string
	key any
}

// keyIDFromPublicKey is kube-apiserver's key ID of a public key, base64url(sha256(PKIX
// DER)): k8s.io/kubernetes v1.37.2 pkg/serviceaccount/jwt.go keyIDFromPublicKey.
func keyIDFromPublicKey(pub any) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("failed to serialize public key to DER format: %v", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// keysFor are the keys to try for a token's kid header, as kube-apiserver's
// staticPublicKeysGetter.GetPublicKeys (pkg/serviceaccount/jwt.go:315): all
// of them without a kid, else only those whose key ID is the kid.
func (s *ServiceAccountTokens) keysFor(kid string) []publicKey {
	if kid == "" {
		return s.keys
	}
	var keys []publicKey
	for _, k := range s.keys {
		if k.id == kid {
			keys = append(keys, k)
		}
	}
	return keys
}

// NewServiceAccountTokens reads the keys and checks the configuration.
func NewServiceAccountTokens(cfg ServiceAccountConfig) (*ServiceAccountTokens, error) {
	if len(cfg.KeyFiles) == 0 {
		return nil, fmt.Errorf("%w: ServiceAccount tokens need at least one --service-account-key-file", ErrConfig)
	}
	s := &ServiceAccountTokens{issuers: map[string]bool{LegacyIssuer: true}, lookup: cfg.Lookup, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	for _, f := range cfg.KeyFiles {
		keys, err := keyutil.PublicKeysFromFile(f)
		if err != nil {
			return nil, fmt.Errorf("%w: reading ServiceAccount key file %s: %v", ErrConfig, f, err)
		}
		for _, k := range keys {
			id, err := keyIDFromPublicKey(k)
			if err != nil {
				return nil, fmt.Errorf("%w: ServiceAccount key file %s: %v", ErrConfig, f, err)
			}
			s.keys = append(s.keys, publicKey{id: id, key: k})
		}
	}
	seen := map[string]bool{}
	for _, iss := range cfg.Issuers {
		if iss == "" {
			return nil, fmt.Errorf("%w: an empty --service-account-issuer", ErrConfig)
		}
		// kube-apiserver refuses a repeated issuer too (options/authentication.go Validate).
		if seen[iss] {
			return nil, fmt.Errorf("%w: --service-account-issuer %q is already specified", ErrConfig, iss)
		}
		seen[iss] = true
		s.issuers[iss] = true
	}
	s.implicitAuds = cfg.APIAudiences
	if len(s.implicitAuds) == 0 && len(cfg.Issuers) > 0 {
		// All the issuers, as kube-apiserver (see New).
		s.implicitAuds = slices.Clone(authenticator.Audiences(cfg.Issuers))
	}
	return s, nil
}

// boundClaims are the private claims of a bound (TokenRequest) token.
type boundClaims struct {
	Kubernetes struct {
		Namespace      string           `json:"namespace,omitempty"`
		ServiceAccount ref              `json:"serviceaccount,omitempty"`
		Pod            *ref             `json:"pod,omitempty"`
		Secret         *ref             `json:"secret,omitempty"`
		Node           *ref             `json:"node,omitempty"`
		WarnAfter      *jwt.NumericDate `json:"warnafter,omitempty"`
	} `json:"kubernetes.io,omitempty"`
}

// boundObjectKeys are the keys of the kubernetes.io claim kguard understands.
// kube-apiserver also binds tokens to other objects (a
// ValidatingWebhookConfiguration or MutatingWebhookConfiguration, with
// attestations) and may add more; kguard cannot check those bindings, so a
// token with any other key is refused rather than accepted with the binding
// ignored.
var boundObjectKeys = map[string]bool{
	"namespace": true, "serviceaccount": true, "pod": true, "secret": true, "node": true, "warnafter": true,
}

// unknownBinding returns an error naming the kubernetes.io claim keys kguard
// does not understand, in sorted order, or nil.
func unknownBinding(body []byte) error {
	var claims struct {
		Kubernetes map[string]json.RawMessage `json:"kubernetes.io"`
	}
	if err := josejson.Unmarshal(body, &claims); err != nil {
		return fmt.Errorf("ServiceAccount token claims: %v", err)
	}
	var unknown []string
	for k := range claims.Kubernetes {
		if !boundObjectKeys[k] {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("service account token carries kubernetes.io claims kguard cannot verify (%s): kguard accepts tokens bound to a pod, a secret or a node, or to nothing, and refuses tokens bound to other objects",
		strings.Join(unknown, ", "))
}

type ref struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// legacyClaims are the private claims of a Secret-based token.
type legacyClaims struct {
	ServiceAccountName string `json:"kubernetes.io/serviceaccount/service-account.name"`
	ServiceAccountUID  string `json:"kubernetes.io/serviceaccount/service-account.uid"`
	SecretName         string `json:"kubernetes.io/serviceaccount/secret.name"`
	Namespace          string `json:"kubernetes.io/serviceaccount/namespace"`
}

// AuthenticateToken implements authenticator.Token. A token that is not a JWT
// of a known issuer is not this authenticator's (false, nil): the next one in
// the union is asked. A token of a known issuer that fails a check is an error.
func (s *ServiceAccountTokens) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	iss, ok := unverifiedIssuer(token)
	if !ok || !s.issuers[iss] {
		return nil, false, nil
	}
	// kube-apiserver's go-jose v2 removes all whitespace from a compact
	// token before parsing it (jws.go ParseSigned, stripWhitespace); go-jose
	// v4 only lets the base64 decoder skip CR and LF. Strip it the same way,
	// so a token with a tab in its header or signature is read alike. The
	// issuer check above and the legacy Secret comparison see the token as
	// given, as kube-apiserver's do.
	tok, err := jwt.ParseSigned(stripWhitespace(token), algorithms)
	if err != nil {
		return nil, false, nil
	}
	// Only the keys the kid header names are tried, a kid naming none is
	// refused (kube-apiserver, pkg/serviceaccount/jwt.go:353-369).
	var kid string
	for _, h := range tok.Headers {
		if h.KeyID != "" {
			kid = h.KeyID
			break
		}
	}
	keys := s.keysFor(kid)
	if len(keys) == 0 {
		return nil, false, errors.New("invalid signature, no keys found")
	}
	var public jwt.Claims
	var raw map[string]json.RawMessage
	verified := false
	var errs []string
	for _, key := range keys {
		if err := tok.Claims(key.key, &public, &raw); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		verified = true
		break
	}
	if !verified {
		return nil, false, fmt.Errorf("ServiceAccount token signature: %s", strings.Join(errs, "; "))
	}
	if !s.issuers[public.Issuer] {
		return nil, false, fmt.Errorf("token issuer %q is invalid", public.Issuer)
	}

	tokenAuds := authenticator.Audiences(public.Audience)
	if len(tokenAuds) == 0 {
		tokenAuds = s.implicitAuds
	}
	requested, ok := authenticator.AudiencesFrom(ctx)
	if !ok {
		requested = s.implicitAuds
	}
	auds := tokenAuds.Intersect(requested)
	if len(auds) == 0 && len(s.implicitAuds) != 0 {
		return nil, false, fmt.Errorf("token audiences %q is invalid for the target audiences %q", tokenAuds, requested)
	}

	// The private claims are decoded from body with go-jose's JSON, as
	// kube-apiserver decodes them (jwt.go tok.Claims, go-jose v2's identical
	// fork): object keys match case-sensitively ("Kubernetes.io" is not the
	// kubernetes.io claim) and a duplicate key is refused. encoding/json
	// would match keys in any case.
	body, err := json.Marshal(raw)
	if err != nil {
		return nil, false, err
	}
	var info *serviceaccount.ServiceAccountInfo
	if public.Issuer == LegacyIssuer {
		info, err = s.validateLegacy(token, &public, body)
	} else {
		info, err = s.validateBound(&public, body)
	}
	if err != nil {
		return nil, false, err
	}
	return &authenticator.Response{User: info.UserInfo(), Audiences: auds}, true, nil
}

// stripWhitespace drops every Unicode space, as go-jose v2's stripWhitespace.
func stripWhitespace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// unverifiedIssuer reads the iss claim before the signature is checked, to
// tell the tokens of this authenticator from others (kube-apiserver does the same).
func unverifiedIssuer(token string) (string, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var claims struct {
		Issuer string `json:"iss"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return "", false
	}
	return claims.Issuer, true
}

func (s *ServiceAccountTokens) validateBound(public *jwt.Claims, body []byte) (*serviceaccount.ServiceAccountInfo, error) {
	var private boundClaims
	if err := josejson.Unmarshal(body, &private); err != nil {
		return nil, fmt.Errorf("ServiceAccount token claims: %v", err)
	}
	now := s.now()
	if err := public.ValidateWithLeeway(jwt.Expected{Time: now}, jwt.DefaultLeeway); err != nil {
		switch {
		case errors.Is(err, jwt.ErrExpired):
			return nil, errors.New("service account token has expired")
		case errors.Is(err, jwt.ErrNotValidYet):
			return nil, errors.New("service account token is not valid yet")
		case errors.Is(err, jwt.ErrIssuedInTheFuture):
			return nil, errors.New("service account token is issued in the future")
		default:
			return nil, fmt.Errorf("service account token: %v", err)
		}
	}
	if err := unknownBinding(body); err != nil {
		return nil, err
	}
	k := private.Kubernetes
	if k.Namespace == "" || k.ServiceAccount.Name == "" || k.ServiceAccount.UID == "" {
		return nil, errors.New("service account token claims lack the namespace or the service account name and uid")
	}
	if public.Subject != serviceaccount.MakeUsername(k.Namespace, k.ServiceAccount.Name) {
		return nil, fmt.Errorf("service account token subject %q does not match its claims", public.Subject)
	}
	info := &serviceaccount.ServiceAccountInfo{Namespace: k.Namespace, Name: k.ServiceAccount.Name, UID: k.ServiceAccount.UID}
	if k.Pod != nil {
		info.PodName, info.PodUID = k.Pod.Name, k.Pod.UID
	}
	if k.Node != nil {
		// A pod-bound token also names the pod's node: like kube-apiserver
		// (ServiceAccountTokenPodNodeInfo), kguard passes it on unchecked,
		// the pod being the binding. A token bound to the node alone is
		// checked against the Node below.
		info.NodeName, info.NodeUID = k.Node.Name, k.Node.UID
	}
	if public.ID != "" {
		info.CredentialID = "JTI=" + public.ID
	}
	if s.lookup == nil {
		return info, nil
	}
	sa, err := s.lookup.GetServiceAccount(k.Namespace, k.ServiceAccount.Name)
	if err := gone(err, sa, "service account", k.Namespace, k.ServiceAccount.Name, now); err != nil {
		return nil, err
	}
	if string(sa.UID) != k.ServiceAccount.UID {
		return nil, fmt.Errorf("service account UID (%s) does not match claim (%s)", sa.UID, k.ServiceAccount.UID)
	}
	if k.Secret != nil {
		secret, err := s.lookup.GetSecret(k.Namespace, k.Secret.Name)
		if err := gone(err, secret, "secret", k.Namespace, k.Secret.Name, now); err != nil {
			return nil, err
		}
		if string(secret.UID) != k.Secret.UID {
			return nil, fmt.Errorf("secret UID (%s) does not match service account secret ref claim (%s)", secret.UID, k.Secret.UID)
		}
	}
	if k.Pod != nil {
		pod, err := s.lookup.GetPod(k.Namespace, k.Pod.Name)
		if err := gone(err, pod, "pod", k.Namespace, k.Pod.Name, now); err != nil {
			return nil, err
		}
		if string(pod.UID) != k.Pod.UID {
			return nil, fmt.Errorf("pod UID (%s) does not match service account pod ref claim (%s)", pod.UID, k.Pod.UID)
		}
	}
	if k.Node != nil && k.Pod == nil {
		node, err := s.lookup.GetNode(k.Node.Name)
		if err := gone(err, node, "node", "", k.Node.Name, now); err != nil {
			return nil, err
		}
		if string(node.UID) != k.Node.UID {
			return nil, fmt.Errorf("node UID (%s) does not match service account node ref claim (%s)", node.UID, k.Node.UID)
		}
	}
	return info, nil
}

func (s *ServiceAccountTokens) validateLegacy(token string, public *jwt.Claims, body []byte) (*serviceaccount.ServiceAccountInfo, error) {
	var private legacyClaims
	if err := josejson.Unmarshal(body, &private); err != nil {
		return nil, fmt.Errorf("ServiceAccount token claims: %v", err)
	}
	switch {
	case private.Namespace == "":
		return nil, errors.New("token does not contain the namespace claim")
	case private.ServiceAccountName == "" || private.ServiceAccountUID == "":
		return nil, errors.New("token does not contain the service account name and uid claims")
	case private.SecretName == "":
		return nil, errors.New("token does not contain the secret name claim")
	case public.Subject != serviceaccount.MakeUsername(private.Namespace, private.ServiceAccountName):
		return nil, fmt.Errorf("token subject %q does not match its claims", public.Subject)
	}
	info := &serviceaccount.ServiceAccountInfo{Namespace: private.Namespace, Name: private.ServiceAccountName, UID: private.ServiceAccountUID}
	if s.lookup == nil {
		return info, nil
	}
	now := s.now()
	secret, err := s.lookup.GetSecret(private.Namespace, private.SecretName)
	// A legacy token dies with its Secret's deletionTimestamp, without the
	// bound tokens' grace: kube-apiserver v1.37.2 pkg/serviceaccount/legacy.go:121.
	if err := gone(err, secret, "secret", private.Namespace, private.SecretName, now); err != nil || secret.DeletionTimestamp != nil {
		return nil, errors.New("token has been invalidated")
	}
	// Only a value invalidates; an empty one does not (legacy.go:149).
	if secret.Labels[legacyInvalidSinceLabel] != "" {
		return nil, errors.New("token has been invalidated")
	}
	if subtle.ConstantTimeCompare(secret.Data[corev1.ServiceAccountTokenKey], []byte(token)) != 1 {
		return nil, errors.New("token does not match the server's copy")
	}
	sa, err := s.lookup.GetServiceAccount(private.Namespace, private.ServiceAccountName)
	if err := gone(err, sa, "service account", private.Namespace, private.ServiceAccountName, now); err != nil {
		return nil, err
	}
	// And with its ServiceAccount's, also without grace (legacy.go:136).
	if sa.DeletionTimestamp != nil {
		return nil, fmt.Errorf("service account %s/%s has been deleted", private.Namespace, private.ServiceAccountName)
	}
	if string(sa.UID) != private.ServiceAccountUID {
		return nil, fmt.Errorf("service account UID (%s) does not match claim (%s)", sa.UID, private.ServiceAccountUID)
	}
	return info, nil
}

// gone explains why a looked-up object no longer backs a token: missing, or
// deleted for longer than the grace period. Lookup errors other than NotFound
// fail the token too: nothing is authenticated on an error.
// An empty namespace is a cluster-scoped object.
func gone(err error, obj metav1.Object, what, namespace, name string, now time.Time) error {
	id := name
	if namespace != "" {
		id = namespace + "/" + name
	}
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s %s has been deleted", what, id)
	}
	if err != nil {
		return fmt.Errorf("looking up %s %s: %v", what, id, err)
	}
	if reflect.ValueOf(obj).IsNil() {
		return fmt.Errorf("%s %s has been deleted", what, id)
	}
	if ts := obj.GetDeletionTimestamp(); ts != nil && ts.Time.Before(now.Add(-deletionGrace)) {
		return fmt.Errorf("%s %s has been deleted", what, id)
	}
	return nil
}
