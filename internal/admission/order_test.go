package admission_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	psaapi "k8s.io/pod-security-admission/api"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/podsecuritypolicy"
	"github.com/kguard/kguard/internal/authz/rbac"
	"github.com/kguard/kguard/internal/manifest"
	kpolicy "github.com/kguard/kguard/internal/policy"
)

// kube-apiserver calls the mutating webhook before the validating one,
// whatever the order of --enable-admission-plugins: with PodSecurity
// before PodSecurityPolicy, a pod no policy admits is refused by
// PodSecurityPolicy's mutating pass and PodSecurity never sees it. `kguard
// check` answers the same: PodSecurityPolicy's denial, without the audit
// annotation PodSecurity would have added.
func TestAdmitDocumentMutatorsFirst(t *testing.T) {
	s := &kpolicy.Set{Namespaces: []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "shop",
		Labels: map[string]string{psaapi.EnforceLevelLabel: string(psaapi.LevelRestricted)}}}}}
	authz := rbac.New(s)
	c, err := admission.NewChain([]string{podsecurity.PluginName, podsecuritypolicy.PluginName},
		admission.Inputs{Policies: s, Authorizer: authz, RuleResolver: authz}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const pod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"shop"},` +
		`"spec":{"serviceAccountName":"default","containers":[{"name":"c","image":"nginx:1","securityContext":{"privileged":true}}]}}`
	docs, err := manifest.Read(strings.NewReader(pod), "pod.json")
	if err != nil {
		t.Fatal(err)
	}
	oc := c.AdmitDocument(context.Background(), &docs[0], "default", func(metav1.Object, *corev1.PodSpec) user.Info { return alice })
	if oc.Err != nil {
		t.Fatal(oc.Err)
	}

	// The webhook: /mutate refuses, /validate is never called.
	review, _ := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": map[string]any{
		"uid": "u", "kind": map[string]string{"version": "v1", "kind": "Pod"}, "resource": map[string]string{"version": "v1", "resource": "pods"},
		"name": "p", "namespace": "shop", "operation": "CREATE", "userInfo": map[string]any{"username": alice.Name, "groups": alice.Groups},
		"object": json.RawMessage(pod)}})
	body, err := c.Review(context.Background(), review, admission.PhaseMutate)
	if err != nil {
		t.Fatal(err)
	}
	var answer admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &answer); err != nil {
		t.Fatal(err)
	}
	webhook := answer.Response
	if webhook.Allowed || !strings.Contains(webhook.Result.Message, "no providers available") {
		t.Fatalf("the webhook's /mutate answered %+v, want PodSecurityPolicy's denial", webhook.Result)
	}
	if r := oc.Response; r.Allowed || r.Result.Message != webhook.Result.Message {
		t.Errorf("check answered %+v, the webhook %q", r.Result, webhook.Result.Message)
	}
	if _, ok := oc.Response.AuditAnnotations[podsecurity.AuditKeyEnforcePolicy]; ok || len(webhook.AuditAnnotations) != 0 {
		t.Errorf("audit annotations: check %v, the webhook %v; want none (PodSecurity did not run)", oc.Response.AuditAnnotations, webhook.AuditAnnotations)
	}
}
