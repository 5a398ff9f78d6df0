package server_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/authorization/union"
	"k8s.io/apiserver/plugin/pkg/authorizer/webhook"
	webhookmetrics "k8s.io/apiserver/plugin/pkg/authorizer/webhook/metrics"
	"k8s.io/client-go/rest"

	"github.com/kguard/kguard/internal/authz/rbac"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/server"
	"github.com/kguard/kguard/internal/snapshot"
)

// TestAllowsTenantDeniedRequestWhenKguardCannotDecide: deploy/apiserver/
// authorization-config.yaml documents failurePolicy as what applies "when
// kguard cannot be reached or answers with an error", and offers Deny ("Deny
// would refuse every request kguard cannot answer"). kube-apiserver's Webhook
// authorizer applies failurePolicy (decisionOnError) only when the call fails:
// a transport error or a non-2xx answer (k8s.io/apiserver@v0.37.2
// plugin/pkg/authorizer/webhook/webhook.go Authorize: `return
// w.decisionOnError, "", err`). A 200 answer with allowed=false and
// denied=false is a successful NoOpinion: the union (pkg/authorization/union)
// goes on to the next authorizer (`Node,Webhook,RBAC`: RBAC), and the webhook
// caches the answer for unauthorizedTTL (30s in deploy/).
//
// kguard answers each of its own failures that way (server.go failed() with
// accessReviewFailure: policies not loaded yet, a recovered panic, its
// --request-timeout, authorization not configured): HTTP 200,
// {"status":{"allowed":false,"evaluationError":…}} — kube-apiserver ignores
// evaluationError. So with failurePolicy: Deny a request kguard could not
// decide is decided by kube-apiserver's RBAC, and a Tenant owner who is
// cluster-admin by RBAC gets what the Tenant mode denies (here a status
// write), and for 30s more from the cache after kguard recovers. A fail-closed
// answer is denied=true (final in the union), or a non-2xx status so that
// failurePolicy applies. Severity: medium (the Tenant mode's Deny fails open on
// kguard's own errors, overriding failurePolicy: Deny; with deploy/'s
// failurePolicy: NoOpinion the decision is the same but cached).
func TestAllowsTenantDeniedRequestWhenKguardCannotDecide(t *testing.T) {
	ctx := context.Background()
	p := newPKI(t)
	srv, err := server.New(server.Config{CertFile: p.certFile, KeyFile: p.keyFile, RequestTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	// kube-apiserver's Webhook authorizer with failurePolicy: Deny, no cache, no retries.
	hook, err := webhook.New(&rest.Config{Host: hs.URL + server.PathAuthorize, Timeout: 10 * time.Second, QPS: -1}, "v1", 0, 0,
		wait.Backoff{Steps: 1, Duration: time.Millisecond}, authorizer.DecisionDeny, nil, "kguard", webhookmetrics.NoopAuthorizerMetrics{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// kube-apiserver's RBAC after the webhook: tara is cluster-admin.
	rbacAuthz := rbac.New(&policy.Set{
		ClusterRoles: []*rbacv1.ClusterRole{{ObjectMeta: metav1.ObjectMeta{Name: "cluster-admin"}, Rules: []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}}}},
		ClusterRoleBindings: []*rbacv1.ClusterRoleBinding{{ObjectMeta: metav1.ObjectMeta{Name: "tara"}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "tara"}}}},
	})
	apiserver, err := union.New(
		union.NamedAuthorizer{AuthorizerName: "kubernetes.io/system-privileged-group", Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)},
		union.NamedAuthorizer{AuthorizerName: "kguard", Authorizer: hook},
		union.NamedAuthorizer{AuthorizerName: "rbac", Authorizer: rbacAuthz})
	if err != nil {
		t.Fatal(err)
	}
	statusWrite := authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "tara", Groups: []string{user.AllAuthenticated}},
		Verb: "patch", Namespace: "a-dev", APIVersion: "v1", Resource: "services", Subresource: "status", Name: "s", ResourceRequest: true}

	for _, tc := range []struct {
		name string
		snap *snapshot.Snapshot // nil: not loaded yet
	}{
		{"policies not loaded yet", nil},
		{"a recovered panic", &snapshot.Snapshot{Authorizer: authorizer.AuthorizerFunc(func(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
			panic("injected")
		})}},
		{"kguard's request timeout", &snapshot.Snapshot{Authorizer: authorizer.AuthorizerFunc(func(ctx context.Context, _ authorizer.Attributes) (authorizer.Decision, string, error) {
			<-ctx.Done()
			return authorizer.DecisionNoOpinion, "", ctx.Err()
		})}},
		{"authorization not configured", &snapshot.Snapshot{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.snap != nil {
				srv.Store(tc.snap)
			}
			d, reason, err := apiserver.Authorize(ctx, statusWrite)
			if d == authorizer.DecisionAllow {
				t.Errorf("kube-apiserver (Webhook with failurePolicy: Deny, then RBAC) allowed tara's services/status patch while kguard could not decide: %q (webhook error: %v)", reason, err)
			}
		})
	}

	// With a working Tenant mode the same request is denied: what the
	// failures above should also come to.
	srv.Store(&snapshot.Snapshot{Authorizer: authorizer.AuthorizerFunc(func(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
		return authorizer.DecisionDeny, `Tenant: User "tara" (tenant "team-a") may not write status subresources (services/status)`, nil
	})})
	if d, reason, _ := apiserver.Authorize(ctx, statusWrite); d != authorizer.DecisionDeny {
		t.Fatalf("a Deny from kguard: %v %q", d, reason)
	}
	// And an HTTP error (here the mux's 404) is what failurePolicy: Deny denies.
	broken, err := webhook.New(&rest.Config{Host: hs.URL + "/no-such-path", Timeout: 10 * time.Second, QPS: -1}, "v1", 0, 0,
		wait.Backoff{Steps: 1, Duration: time.Millisecond}, authorizer.DecisionDeny, nil, "kguard", webhookmetrics.NoopAuthorizerMetrics{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, _, err := broken.Authorize(ctx, statusWrite); d != authorizer.DecisionDeny || err == nil {
		t.Fatalf("an HTTP error with failurePolicy: Deny: %v %v", d, err)
	}
}
