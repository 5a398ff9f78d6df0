package admission_test

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/kguard/kguard/internal/admission"
	kpolicy "github.com/kguard/kguard/internal/policy"
	"sort"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8sadmission "k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	psaapi "k8s.io/pod-security-admission/api"

	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/podsecuritypolicy"
	"github.com/kguard/kguard/internal/authz/rbac"
)

// The names kguard's webhooks are registered under (deploy/, hack/, docs):
// kube-apiserver files every returned key as "<webhook name>/<key>".
var webhookNames = []string{"mutate.kguard.io", "validate.kguard.io"}

// apiserverAccepts is kube-apiserver's own check of an annotation key, reached
// through its exported attributes record (the webhook dispatchers call
// AddAnnotation with the prefixed key and log "Failed to set admission audit
// annotation" when it fails).
func apiserverAccepts(key string) error {
	attrs := k8sadmission.NewAttributesRecord(nil, nil, schema.GroupVersionKind{}, "", "", schema.GroupVersionResource{}, "", k8sadmission.Create, nil, false, nil)
	return attrs.AddAnnotation(key, "v")
}

// auditChain has PodSecurityPolicy's twenty policies and a Pod Security
// evaluator whose namespaces and exemptions produce every key the library
// returns.
func auditChain(t *testing.T, plugins ...string) *admission.Chain {
	t.Helper()
	s := twentyPolicies(t)
	ns := func(name string, labels map[string]string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	authz := rbac.New(s)
	s.Namespaces = []*corev1.Namespace{
		ns("shop", map[string]string{psaapi.EnforceLevelLabel: "restricted"}),
		ns("audited", map[string]string{psaapi.AuditLevelLabel: "restricted"}),
		ns("exempt-ns", map[string]string{psaapi.EnforceLevelLabel: "restricted"}),
	}
	pssConfig := podsecurity.Config{
		ExemptUsernames:  []string{"exempt-user"},
		ExemptNamespaces: []string{"exempt-ns"},
		UnknownNamespace: func(context.Context, string) (*corev1.Namespace, error) {
			return nil, errors.New("namespace lister not synced")
		},
	}
	c, err := admission.NewChain(plugins, admission.Inputs{Policies: s, Authorizer: authz, RuleResolver: authz}, map[string]any{podsecurity.PluginName: pssConfig})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// unreadableDeployment is a Deployment review whose pod template cannot be read.
var unreadableDeployment = []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",` +
	`"kind":{"group":"apps","version":"v1","kind":"Deployment"},"resource":{"group":"apps","version":"v1","resource":"deployments"},` +
	`"name":"web","namespace":"shop","operation":"CREATE","userInfo":{"username":"alice"},` +
	`"object":{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop"},"spec":{"replicas":"three"}}}}`)

// Every key kguard returns, across PodSecurityPolicy's phases and each of Pod
// Security's outcomes, is a key kube-apiserver accepts once it has put the
// webhook's name in front; and the reviews together return every documented key.
func TestAuditAnnotationKeysValidUnderWebhookName(t *testing.T) {
	both := auditChain(t, podsecuritypolicy.PluginName, podsecurity.PluginName)
	pss := auditChain(t, podsecurity.PluginName)
	admit := func(c *admission.Chain, phase admission.Phase, namespace, username string) func(t *testing.T) *admissionv1.AdmissionResponse {
		return func(t *testing.T) *admissionv1.AdmissionResponse {
			r := &admission.Request{Operation: admissionv1.Create, Workload: workload(t, typicalPod), Resource: "pods", Name: "web",
				Namespace: namespace, User: alice, Phase: phase}
			if username != "" {
				r.User = &user.DefaultInfo{Name: username}
			}
			if phase == admission.PhaseValidate && c == both {
				// kube-apiserver validates the pod its mutating webhooks returned.
				r.Phase = admission.PhaseMutate
				if resp := c.Admit(context.Background(), r); !resp.Allowed {
					t.Fatalf("mutating phase denied: %v", resp.Result)
				}
				r.Phase = admission.PhaseValidate
			}
			return c.Admit(context.Background(), r) // a denial carries its annotations too
		}
	}
	reviewOf := func(body []byte) func(t *testing.T) *admissionv1.AdmissionResponse {
		return func(t *testing.T) *admissionv1.AdmissionResponse {
			out, err := pss.Review(context.Background(), body, admission.PhaseValidate)
			if err != nil {
				t.Fatal(err)
			}
			var r admissionv1.AdmissionReview
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatal(err)
			}
			return r.Response
		}
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T) *admissionv1.AdmissionResponse
		want []string
	}{
		{"offline check", admit(both, admission.PhaseBoth, "shop", ""), []string{podsecuritypolicy.AuditKeyAdmitPolicy, podsecurity.AuditKeyEnforcePolicy}},
		{"mutating webhook", admit(both, admission.PhaseMutate, "shop", ""), []string{podsecuritypolicy.AuditKeyAdmitPolicy}},
		{"validating webhook", admit(both, admission.PhaseValidate, "shop", ""), []string{podsecurity.AuditKeyEnforcePolicy, podsecuritypolicy.AuditKeyValidatePolicy}},
		{"audit level violated", admit(pss, admission.PhaseValidate, "audited", ""), []string{podsecurity.AuditKeyAuditViolations, podsecurity.AuditKeyEnforcePolicy}},
		{"exempt namespace", admit(pss, admission.PhaseValidate, "exempt-ns", ""), []string{podsecurity.AuditKeyExempt}},
		{"exempt user", admit(pss, admission.PhaseValidate, "shop", "exempt-user"), []string{podsecurity.AuditKeyExempt}},
		{"namespace unreadable", admit(pss, admission.PhaseValidate, "elsewhere", ""), []string{admission.AuditKeyError}},
		{"pod template unreadable", reviewOf(unreadableDeployment), []string{admission.AuditKeyError}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := tc.run(t)
			var got []string
			for k := range resp.AuditAnnotations {
				got = append(got, k)
				for _, hook := range webhookNames {
					if err := apiserverAccepts(hook + "/" + k); err != nil {
						t.Errorf("kube-apiserver refuses %q from webhook %s: %v", k, hook, err)
					}
				}
			}
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("audit annotation keys = %q, want %q (%v)", got, tc.want, resp.AuditAnnotations)
			}
		})
	}
}

// The keys of the former "<plugin>/<key>" form are what kube-apiserver refused.
func TestAPIServerRefusesPluginPrefixedKeys(t *testing.T) {
	for _, k := range []string{"podsecuritypolicy.policy.k8s.io/admit-policy", "pod-security.kubernetes.io/enforce-policy"} {
		if err := apiserverAccepts("mutate.kguard.io/" + k); err == nil {
			t.Errorf("kube-apiserver accepts %q: the test's validation does not match its", k)
		}
	}
}

// PodSecurityPolicy's and Pod Security's keys share the webhook's name: the
// chain of both builds, so none of the library's keys is PodSecurityPolicy's
// (NewChain refuses plugins declaring the same key; see plugin_test.go).
func TestPodSecurityAuditKeysDoNotCollideWithPSP(t *testing.T) {
	if _, err := admission.NewChain([]string{podsecuritypolicy.PluginName, podsecurity.PluginName}, admission.Inputs{Policies: &kpolicy.Set{}, Authorizer: rbac.New(&kpolicy.Set{})}, nil); err != nil {
		t.Fatalf("PodSecurityPolicy and PodSecurity in one chain: %v", err)
	}
}
