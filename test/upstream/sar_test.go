package upstream

// Differential tests of kguard's SubjectAccessReview answer (authz.Review, what
// /authorize serves) against kube-apiserver's own code:
//
//   - TestHoldsSARReviewsMatchUpstreamEndpoint: the same random
//     SubjectAccessReview bodies (v1 and v1beta1) given to kguard's Review and to
//     kube-apiserver's subjectaccessreviews endpoint (its decoder, validation,
//     authorizationutil.AuthorizationAttributesFrom, the union of the same modes,
//     BuildEvaluationError; pkg/registry/authorization/subjectaccessreview/rest.go).
//   - TestHoldsWebhookRoundTripMatchesInProcessModes: kube-apiserver's real
//     Webhook authorizer (k8s.io/apiserver plugin/pkg/authorizer/webhook, v1 and
//     v1beta1) calling kguard over HTTP, against kube-apiserver running the same
//     modes in process (pkg/kubeapiserver/authorizer/reload.go).
//
// Requests from members of system:masters are left out of both: kube-apiserver
// allows them before any mode and never asks its webhook about them; kguard
// does not special-case them offline. Reviews upstream's validation refuses
// (422) are left out too: kguard answers them. Both are documented
// differences (README.md, `kguard authz review`).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	authorizationv1beta1 "k8s.io/api/authorization/v1beta1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/authorization/union"
	"k8s.io/apiserver/plugin/pkg/authorizer/webhook"
	webhookmetrics "k8s.io/apiserver/plugin/pkg/authorizer/webhook/metrics"
	"k8s.io/client-go/rest"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	authorizationapi "k8s.io/kubernetes/pkg/apis/authorization"
	_ "k8s.io/kubernetes/pkg/apis/authorization/install"
	authzvalidation "k8s.io/kubernetes/pkg/apis/authorization/validation"
	upstreamabac "k8s.io/kubernetes/pkg/auth/authorizer/abac"
	authorizationutil "k8s.io/kubernetes/pkg/registry/authorization/util"

	"github.com/kguard/kguard/internal/authz"
	"github.com/kguard/kguard/internal/policy"
)

var sarModes = []string{authz.ModeRBAC, authz.ModeABAC, authz.ModeAlwaysAllow, authz.ModeAlwaysDeny}

// randomModes draws a non-empty ordered subset of the modes both sides know.
func randomModes(r *rand.Rand) []string {
	perm := r.Perm(len(sarModes))
	n := 1 + r.IntN(len(sarModes))
	out := make([]string, 0, n)
	for _, i := range perm[:n] {
		out = append(out, sarModes[i])
	}
	return out
}

// upstreamChain is kube-apiserver's authorizer for --authorization-mode=modes:
// the system:masters authorizer first, then the modes (reload.go newForConfig).
func upstreamChain(t *testing.T, modes []string, set *policy.Set, abacPath string) authorizer.Authorizer {
	t.Helper()
	named := []union.NamedAuthorizer{{AuthorizerName: "kubernetes.io/system-privileged-group", Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)}}
	for _, m := range modes {
		var a authorizer.Authorizer
		switch m {
		case authz.ModeRBAC:
			a = upstreamAuthorizer(set)
		case authz.ModeABAC:
			pl, err := upstreamabac.NewFromFile(abacPath)
			if err != nil {
				t.Fatal(err)
			}
			a = pl
		case authz.ModeAlwaysAllow:
			a = authorizerfactory.NewAlwaysAllowAuthorizer()
		case authz.ModeAlwaysDeny:
			a = authorizerfactory.NewAlwaysDenyAuthorizer()
		}
		named = append(named, union.NamedAuthorizer{AuthorizerName: strings.ToLower(m), Authorizer: a})
	}
	u, err := union.New(named...)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func kguardChain(t *testing.T, modes []string, set *policy.Set, abacPath string) *authz.Chain {
	t.Helper()
	cfg := authz.Config{Modes: modes, Objects: set}
	if slices.Contains(modes, authz.ModeABAC) {
		cfg.ABACFile = abacPath
	}
	c, err := authz.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// upstreamReview answers body as kube-apiserver's subjectaccessreviews endpoint:
// decode (into the internal version), validate, convert, authorize. onlySelectors
// reports a refusal due to selectors alone (kguard's answer: TestWrongAcceptsSelectorsUpstreamRejects).
func upstreamReview(ctx context.Context, a authorizer.Authorizer, body []byte) (st *authorizationapi.SubjectAccessReviewStatus, onlySelectors bool, _ error) {
	obj, _, err := legacyscheme.Codecs.UniversalDecoder(authorizationapi.SchemeGroupVersion).Decode(body, nil, nil)
	if err != nil {
		return nil, false, err
	}
	sar, ok := obj.(*authorizationapi.SubjectAccessReview)
	if !ok {
		return nil, false, fmt.Errorf("not a SubjectAccessReview: %T", obj)
	}
	if errs := authzvalidation.ValidateSubjectAccessReview(sar); len(errs) > 0 {
		onlySelectors = true
		for _, e := range errs {
			if !strings.HasPrefix(e.Field, "spec.resourceAttributes.fieldSelector") && !strings.HasPrefix(e.Field, "spec.resourceAttributes.labelSelector") {
				onlySelectors = false
			}
		}
		return nil, onlySelectors, errs.ToAggregate()
	}
	attrs := authorizationutil.AuthorizationAttributesFrom(sar.Spec)
	d, reason, err := a.Authorize(ctx, attrs)
	return &authorizationapi.SubjectAccessReviewStatus{
		Allowed: d == authorizer.DecisionAllow, Denied: d == authorizer.DecisionDeny, Reason: reason,
		EvaluationError: authorizationutil.BuildEvaluationError(err, attrs),
	}, false, nil
}

// kguardStatus reads the status of kguard's answer, in either version.
func kguardStatus(t *testing.T, out []byte) authorizationv1.SubjectAccessReviewStatus {
	t.Helper()
	var sar authorizationv1.SubjectAccessReview
	if err := json.Unmarshal(out, &sar); err != nil {
		t.Fatalf("kguard's answer is not JSON: %v", err)
	}
	return sar.Status
}

var (
	sarVerbs     = append(slices.Clone(verbs), "impersonate", "approve", "")
	sarResources = []string{"pods", "deployments", "secrets", "roles", "jobs", "nodes", "namespaces", ""}
	rawLabels    = []string{"a=b", "a in (b,c)", "!a", "a,b!=c", "a in (b", "==", "a=b,c in (", "x.io/y notin (z)"}
	rawFields    = []string{"spec.nodeName=n1", "metadata.name!=x", "a==b,c=d", "a", "a=b=c", "spec.nodeName=n1,bad"}
	labelOps     = []metav1.LabelSelectorOperator{metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn, metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist, "Gt", ""}
	fieldOps     = []metav1.FieldSelectorOperator{metav1.FieldSelectorOpIn, metav1.FieldSelectorOpNotIn, metav1.FieldSelectorOpExists, metav1.FieldSelectorOpDoesNotExist, "Bad"}
	selValues    = [][]string{nil, {}, {"v"}, {"v", "w"}, {"bad value!"}}
	extraKeys    = []string{"scopes", "Scopes", "authentication.kubernetes.io/pod-name", "x-Y"}
)

func randomLabelSelector(r *rand.Rand) *authorizationv1.LabelSelectorAttributes {
	if r.IntN(2) == 0 {
		return &authorizationv1.LabelSelectorAttributes{RawSelector: pick(r, rawLabels)}
	}
	var reqs []metav1.LabelSelectorRequirement
	for range 1 + r.IntN(3) {
		reqs = append(reqs, metav1.LabelSelectorRequirement{Key: pick(r, []string{"a", "b.io/c", "bad key!"}), Operator: pick(r, labelOps), Values: pick(r, selValues)})
	}
	return &authorizationv1.LabelSelectorAttributes{Requirements: reqs}
}

func randomFieldSelector(r *rand.Rand) *authorizationv1.FieldSelectorAttributes {
	if r.IntN(2) == 0 {
		return &authorizationv1.FieldSelectorAttributes{RawSelector: pick(r, rawFields)}
	}
	var reqs []metav1.FieldSelectorRequirement
	for range 1 + r.IntN(3) {
		reqs = append(reqs, metav1.FieldSelectorRequirement{Key: pick(r, []string{"spec.nodeName", "metadata.name"}), Operator: pick(r, fieldOps), Values: pick(r, selValues)})
	}
	return &authorizationv1.FieldSelectorAttributes{Requirements: reqs}
}

// randomSpec draws a review spec, sometimes invalid (no subject, both or
// neither attributes), never naming system:masters.
func randomSpec(r *rand.Rand) authorizationv1.SubjectAccessReviewSpec {
	var spec authorizationv1.SubjectAccessReviewSpec
	if r.IntN(12) != 0 {
		spec.User = pick(r, append(slices.Clone(users), "ABAC-user", "alice", "bob"))
	}
	for _, g := range groups {
		if r.IntN(3) == 0 {
			spec.Groups = append(spec.Groups, g)
		}
	}
	if r.IntN(3) == 0 {
		spec.UID = "uid-1"
	}
	if r.IntN(3) == 0 {
		spec.Extra = map[string]authorizationv1.ExtraValue{}
		for range 1 + r.IntN(2) {
			spec.Extra[pick(r, extraKeys)] = authorizationv1.ExtraValue(pick(r, selValues))
		}
	}
	resource := r.IntN(4) != 0
	switch r.IntN(25) {
	case 0: // both
		spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: "/", Verb: "get"}
	case 1: // neither
		return spec
	}
	if !resource {
		spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: pick(r, requestURLs), Verb: pick(r, sarVerbs)}
		return spec
	}
	ra := &authorizationv1.ResourceAttributes{
		Verb: pick(r, sarVerbs), Group: pick(r, apiGroups), Resource: pick(r, sarResources),
		Version: pick(r, []string{"", "v1", "*"}),
	}
	if r.IntN(3) == 0 {
		ra.Subresource = pick(r, []string{"log", "status", "scale", "exec", "*"})
	}
	if r.IntN(4) != 0 {
		ra.Namespace = pick(r, append(slices.Clone(namespaces), "other", "projectCaribou"))
	}
	if r.IntN(2) == 0 {
		ra.Name = pick(r, append(slices.Clone(names), "z", "*"))
	}
	if r.IntN(4) == 0 {
		ra.LabelSelector = randomLabelSelector(r)
	}
	if r.IntN(4) == 0 {
		ra.FieldSelector = randomFieldSelector(r)
	}
	spec.ResourceAttributes = ra
	return spec
}

func encodeSpec(t *testing.T, spec authorizationv1.SubjectAccessReviewSpec, beta bool) []byte {
	t.Helper()
	var v any = &authorizationv1.SubjectAccessReview{TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SubjectAccessReview"}, Spec: spec}
	if beta {
		// The field-for-field copy kube-apiserver's conversion makes; v1beta1
		// spells groups "group".
		b := authorizationv1beta1.SubjectAccessReviewSpec{User: spec.User, Groups: spec.Groups, UID: spec.UID}
		if ra := spec.ResourceAttributes; ra != nil {
			b.ResourceAttributes = &authorizationv1beta1.ResourceAttributes{Namespace: ra.Namespace, Verb: ra.Verb, Group: ra.Group, Version: ra.Version,
				Resource: ra.Resource, Subresource: ra.Subresource, Name: ra.Name,
				FieldSelector: ra.FieldSelector, LabelSelector: ra.LabelSelector}
		}
		if nr := spec.NonResourceAttributes; nr != nil {
			b.NonResourceAttributes = &authorizationv1beta1.NonResourceAttributes{Path: nr.Path, Verb: nr.Verb}
		}
		if spec.Extra != nil {
			b.Extra = map[string]authorizationv1beta1.ExtraValue{}
			for k, x := range spec.Extra {
				b.Extra[k] = authorizationv1beta1.ExtraValue(x)
			}
		}
		v = &authorizationv1beta1.SubjectAccessReview{TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1beta1", Kind: "SubjectAccessReview"}, Spec: b}
	}
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func TestHoldsSARReviewsMatchUpstreamEndpoint(t *testing.T) {
	ctx := context.Background()
	abacPath := upstreamExample(t)
	compared, allowed, denied, invalid, selectorRefusals := 0, 0, 0, 0, 0
	for w := range worlds() {
		seed := uint64(w)
		r := rand.New(rand.NewPCG(seed, 31))
		set := randomSet(r, 4+r.IntN(20))
		modes := randomModes(r)
		up, ours := upstreamChain(t, modes, set, abacPath), kguardChain(t, modes, set, abacPath)
		for range 60 {
			spec := randomSpec(r)
			beta := r.IntN(3) == 0
			body := encodeSpec(t, spec, beta)
			ust, onlySelectors, uerr := upstreamReview(ctx, up, body)
			out, kerr := authz.Review(ctx, ours.Authorizer, body)
			if onlySelectors {
				selectorRefusals++ // TestWrongAcceptsSelectorsUpstreamRejects
				continue
			}
			compared++
			if (uerr == nil) != (kerr == nil) {
				t.Fatalf("seed %d modes %v: %s\nupstream error %v\nkguard error   %v", seed, modes, body, uerr, kerr)
			}
			if uerr != nil {
				invalid++
				continue
			}
			kst := kguardStatus(t, out)
			if kst.Allowed != ust.Allowed || kst.Denied != ust.Denied || kst.EvaluationError != ust.EvaluationError {
				t.Fatalf("seed %d modes %v: %s\nupstream %+v\nkguard   %+v", seed, modes, body, *ust, kst)
			}
			if kst.Allowed {
				allowed++
			}
			if kst.Denied {
				denied++
			}
		}
	}
	if allowed == 0 || invalid == 0 || allowed+invalid == compared {
		t.Fatalf("degenerate: %d compared, %d allowed, %d denied, %d invalid", compared, allowed, denied, invalid)
	}
	t.Logf("%d SubjectAccessReviews answered alike (%d allowed, %d denied, %d refused as invalid); %d with selectors only upstream refuses left out", compared, allowed, denied, invalid, selectorRefusals)
}

// kguardWebhook serves authz.Review as /authorize does (a malformed review is
// an HTTP 400, which kube-apiserver's webhook reads as an error).
func kguardWebhook(a authorizer.Authorizer) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		out, err := authz.Review(req.Context(), a, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
	}))
}

// upstreamWebhook is kube-apiserver's Webhook authorizer calling url, without
// cache and retries, failing with no opinion as --authorization-mode=Webhook does.
func upstreamWebhook(t *testing.T, url, version string) authorizer.Authorizer {
	t.Helper()
	w, err := webhook.New(&rest.Config{Host: url, Timeout: 10 * time.Second, QPS: -1}, version, 0, 0,
		wait.Backoff{Steps: 1, Duration: time.Millisecond}, authorizer.DecisionNoOpinion, nil, "kguard", webhookmetrics.NoopAuthorizerMetrics{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := union.New(
		union.NamedAuthorizer{AuthorizerName: "kubernetes.io/system-privileged-group", Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)},
		union.NamedAuthorizer{AuthorizerName: "kguard", Authorizer: w})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// randomAttributes is what kube-apiserver authorizes for a real request: a
// version always, selectors from list and watch requests.
func randomAttributes(r *rand.Rand) authorizer.AttributesRecord {
	a := randomRequest(r)
	if r.IntN(3) == 0 {
		a.User = &user.DefaultInfo{Name: a.User.GetName(), Groups: a.User.GetGroups(), UID: "u-1",
			Extra: map[string][]string{pick(r, extraKeys): pick(r, selValues)}}
	}
	if !a.ResourceRequest {
		return a
	}
	a.APIVersion = pick(r, []string{"v1", "v1beta1"})
	if a.Verb == "list" || a.Verb == "watch" || a.Verb == "deletecollection" {
		if r.IntN(2) == 0 {
			sel, err := labels.Parse(pick(r, rawLabels))
			if err != nil {
				a.LabelSelectorParsingErr = err
			} else {
				a.LabelSelectorRequirements, _ = sel.Requirements()
			}
		}
		if r.IntN(2) == 0 {
			sel, err := fields.ParseSelector(pick(r, rawFields))
			if err != nil {
				a.FieldSelectorParsingErr = err
			} else {
				a.FieldSelectorRequirements = sel.Requirements()
			}
		}
	}
	return a
}

func TestHoldsWebhookRoundTripMatchesInProcessModes(t *testing.T) {
	ctx := context.Background()
	abacPath := upstreamExample(t)
	n := worlds() / 5
	compared, allowed, denied := 0, 0, 0
	for w := range n {
		seed := uint64(w)
		r := rand.New(rand.NewPCG(seed, 37))
		set := randomSet(r, 4+r.IntN(20))
		modes := randomModes(r)
		up := upstreamChain(t, modes, set, abacPath)
		srv := kguardWebhook(kguardChain(t, modes, set, abacPath).Authorizer)
		hooks := map[string]authorizer.Authorizer{"v1": upstreamWebhook(t, srv.URL, "v1"), "v1beta1": upstreamWebhook(t, srv.URL, "v1beta1")}
		for range 40 {
			attrs := randomAttributes(r)
			version := pick(r, []string{"v1", "v1beta1"})
			ud, ureason, _ := up.Authorize(ctx, attrs)
			kd, kreason, kerr := hooks[version].Authorize(ctx, attrs)
			compared++
			if kerr != nil || ud != kd {
				srv.Close()
				t.Fatalf("seed %d modes %v %s: %s\nin process %v (%q)\nwebhook    %v (%q, %v)", seed, modes, version, describe(attrs), ud, ureason, kd, kreason, kerr)
			}
			switch kd {
			case authorizer.DecisionAllow:
				allowed++
			case authorizer.DecisionDeny:
				denied++
			}
		}
		srv.Close()
	}
	if allowed == 0 || allowed == compared {
		t.Fatalf("degenerate: %d compared, %d allowed", compared, allowed)
	}
	t.Logf("%d requests decided alike through the webhook (%d allowed, %d denied) over %d worlds", compared, allowed, denied, n)
}

// TestHoldsAdversarialBodiesMatchUpstreamEndpoint: hand-written reviews that
// probe the decoding (status sent by the client, duplicated and case-changed
// keys, the other version's spelling of groups, nulls, unknown fields) are
// answered as kube-apiserver's subjectaccessreviews endpoint answers them.
func TestHoldsAdversarialBodiesMatchUpstreamEndpoint(t *testing.T) {
	ctx := context.Background()
	set := &policy.Set{
		ClusterRoles: []*rbacv1.ClusterRole{{ObjectMeta: metav1.ObjectMeta{Name: "admin"}, Rules: []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}, {Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}}}},
		ClusterRoleBindings: []*rbacv1.ClusterRoleBinding{{ObjectMeta: metav1.ObjectMeta{Name: "admins"}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "admins"}, {APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "root"}}}},
	}
	modes := []string{authz.ModeRBAC}
	up, ours := upstreamChain(t, modes, set, ""), kguardChain(t, modes, set, "")
	const v1, v1b = `"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview"`, `"apiVersion":"authorization.k8s.io/v1beta1","kind":"SubjectAccessReview"`
	const ra = `"resourceAttributes":{"verb":"get","resource":"secrets","namespace":"x"}`
	bodies := []string{
		`{` + v1 + `,"spec":{"user":"u",` + ra + `},"status":{"allowed":true}}`,
		`{` + v1b + `,"spec":{"user":"u",` + ra + `},"status":{"allowed":true}}`,
		`{` + v1 + `,"spec":{"user":"root","user":"u",` + ra + `}}`,
		`{` + v1 + `,"spec":{"user":"u","groups":["admins"],"groups":[],` + ra + `}}`,
		`{` + v1 + `,"spec":{"user":"u","Groups":["admins"],` + ra + `}}`,
		`{` + v1 + `,"spec":{"User":"root","user":"u",` + ra + `}}`,
		`{` + v1 + `,"Spec":{"user":"root",` + ra + `}}`,
		`{` + v1 + `,"spec":{"user":"u","group":["admins"],` + ra + `}}`,
		`{` + v1b + `,"spec":{"user":"u","groups":["admins"],` + ra + `}}`,
		`{` + v1b + `,"spec":{"user":"u","group":["admins"],` + ra + `}}`,
		`{"apiVersion":"authorization.k8s.io/v1beta1",` + v1 + `,"spec":{"user":"u","group":["admins"],` + ra + `}}`,
		`{` + v1 + `,"apiVersion":"authorization.k8s.io/v1beta1","spec":{"user":"u","groups":["admins"],` + ra + `}}`,
		`{` + v1 + `,"spec":{"user":"u","groups":null,"extra":{"scopes":null},"uid":"",` + ra + `,"nonResourceAttributes":null}}`,
		`{` + v1 + `,"spec":{"user":"u","unknown":{"allowed":true},` + ra + `}}`,
		`{` + v1 + `,"spec":{"user":"u","resourceAttributes":{"verb":"get","resource":"secrets","namespace":"x","Namespace":""}}}`,
		`{` + v1 + `,"spec":{"user":"","groups":[""],` + ra + `}}`,
		`{` + v1 + `,"spec":{"user":"u","nonResourceAttributes":{"path":"/healthz/../api","verb":"get"}}}`,
		`{` + v1 + `,"spec":{"user":"root","resourceAttributes":{}}}`,
		`{` + v1 + `,"spec":{"user":"root","resourceAttributes":null,"nonResourceAttributes":{}}}`,
		`{` + v1 + `,"spec":{"groups":["admins"],` + ra + `},"spec":{"user":"u",` + ra + `}}`,
	}
	for _, body := range bodies {
		ust, _, uerr := upstreamReview(ctx, up, []byte(body))
		out, kerr := authz.Review(ctx, ours.Authorizer, []byte(body))
		if (uerr == nil) != (kerr == nil) {
			t.Errorf("%s\nupstream error %v\nkguard error   %v", body, uerr, kerr)
			continue
		}
		if uerr != nil {
			continue
		}
		if kst := kguardStatus(t, out); kst.Allowed != ust.Allowed || kst.Denied != ust.Denied {
			t.Errorf("%s\nupstream %+v\nkguard   %+v", body, *ust, kst)
		}
	}
}
