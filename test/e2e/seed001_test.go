//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Scenario 2: the authentication and authorization of seed 001. kguard holds
// the token file and the seed's ABAC policies chained with the cluster's
// RBAC; kube-apiserver asks it as its token webhook and as the Webhook mode of
// --authorization-mode=Node,Webhook,RBAC.
func TestSeed001AuthnAuthz(t *testing.T) {
	defer kguardLogs(t)
	as := func(user string, args ...string) (string, error) {
		return kubectl(t, append([]string{"--token", kg.tokens[user]}, args...)...)
	}
	forbidden := func(out string, err error) bool { return err != nil && strings.Contains(out, "Forbidden") }
	for _, tc := range []struct {
		name, user string
		args       []string
		allowed    bool
	}{
		{"alice reads pods everywhere", "alice", []string{"get", "pods", "-A"}, true},
		{"alice writes", "alice", []string{"create", "configmap", "-n", "default", "alice-was-here"}, true},
		{"alice deletes", "alice", []string{"delete", "configmap", "-n", "default", "alice-was-here"}, true},
		{"kubelet reads pods", "kubelet", []string{"get", "pods", "-A"}, true},
		{"kubelet may not delete pods", "kubelet", []string{"delete", "pod", "-n", "default", "anything"}, false},
		{"kubelet may not read secrets", "kubelet", []string{"get", "secrets", "-n", "default"}, false},
		{"bob reads pods in projectCaribou", "bob", []string{"get", "pods", "-n", "projectCaribou"}, true},
		{"bob may not read pods elsewhere", "bob", []string{"get", "pods", "-n", "default"}, false},
		{"bob may not write in projectCaribou", "bob", []string{"delete", "pod", "-n", "projectCaribou", "x"}, false},
		{"authenticated users read non-resource paths", "bob", []string{"get", "--raw", "/metrics"}, true},
		{"but may not write them", "bob", []string{"create", "--raw", "/metrics", "-f", "/dev/null"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := as(tc.user, tc.args...)
			if tc.allowed && err != nil {
				t.Fatalf("refused: %v\n%s", err, out)
			}
			if !tc.allowed && !forbidden(out, err) {
				t.Fatalf("not forbidden: %v\n%s", err, out)
			}
		})
	}
	// kubectl auth can-i, asked as each user.
	for _, tc := range []struct {
		user string
		args []string
		want string
	}{
		{"alice", []string{"create", "deployments", "-n", "kube-system"}, "yes"},
		{"bob", []string{"list", "pods", "-n", "projectCaribou"}, "yes"},
		{"bob", []string{"list", "pods", "-n", "default"}, "no"},
		{"bob", []string{"create", "pods", "-n", "projectCaribou"}, "no"},
		{"kubelet", []string{"watch", "pods", "-A"}, "yes"},
		{"kubelet", []string{"update", "events", "-n", "default"}, "yes"},
	} {
		out, _ := as(tc.user, append([]string{"auth", "can-i"}, tc.args...)...)
		if answer(out) != tc.want {
			t.Errorf("%s can-i %v: %q, want %s", tc.user, tc.args, out, tc.want)
		}
	}
	// Tokens kguard does not know are not authenticated.
	out, err := kubectl(t, "--token", "not-a-token", "get", "pods")
	if err == nil || !strings.Contains(out, "Unauthorized") {
		t.Fatalf("unknown token: %v\n%s", err, out)
	}
}

// kguard's own TokenReview endpoint authenticates a real bound
// ServiceAccount token (TokenRequest), and rejects it once the ServiceAccount
// is deleted (lookup through the informers).
func TestServiceAccountTokenLookup(t *testing.T) {
	defer kguardLogs(t)
	const ns = "e2e-tokens"
	testNamespace(t, ns)
	mustKubectl(t, "create", "serviceaccount", "-n", ns, "robot")
	token := strings.TrimSpace(mustKubectl(t, "create", "token", "-n", ns, "robot", "--duration=10m"))
	review := func(token string) authenticationv1.TokenReviewStatus {
		body, _ := json.Marshal(authenticationv1.TokenReview{TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenReview"},
			Spec: authenticationv1.TokenReviewSpec{Token: token}})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://127.0.0.1:"+live.env["KGUARD_PORT"]+"/authenticate", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := kg.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var tr authenticationv1.TokenReview
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		return tr.Status
	}
	eventually(t, 30*time.Second, "kguard authenticates the bound token", func() (bool, string) {
		st := review(token)
		return st.Authenticated && st.User.Username == "system:serviceaccount:"+ns+":robot", st.Error
	})
	mustKubectl(t, "delete", "serviceaccount", "-n", ns, "robot")
	eventually(t, 30*time.Second, "the token of the deleted ServiceAccount is rejected", func() (bool, string) {
		st := review(token)
		return !st.Authenticated && strings.Contains(st.Error, "has been deleted"), st.Error
	})

	// A token bound to a Secret of any type (not one kguard caches): kguard
	// reads the Secret, as kube-apiserver does, at once and again once it is
	// deleted.
	mustKubectl(t, "create", "serviceaccount", "-n", ns, "bound")
	mustKubectl(t, "create", "secret", "generic", "-n", ns, "binder", "--from-literal=k=v")
	boundToSecret := strings.TrimSpace(mustKubectl(t, "create", "token", "-n", ns, "bound", "--duration=10m",
		"--bound-object-kind=Secret", "--bound-object-name=binder"))
	if st := review(boundToSecret); !st.Authenticated || st.User.Username != "system:serviceaccount:"+ns+":bound" {
		t.Fatalf("a token bound to an Opaque Secret, just created: %+v", st)
	}
	mustKubectl(t, "-n", ns, "delete", "secret", "binder")
	if st := review(boundToSecret); st.Authenticated || !strings.Contains(st.Error, "has been deleted") {
		t.Fatalf("the token of a deleted Secret: %+v", st)
	}

	// A legacy Secret-based token, filled in by kube-controller-manager's token
	// controller: valid while its Secret exists.
	mustKubectl(t, "create", "serviceaccount", "-n", ns, "legacy")
	secret := `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"legacy-token","namespace":"` + ns + `",
"annotations":{"kubernetes.io/service-account.name":"legacy"}},"type":"kubernetes.io/service-account-token"}`
	if out, err := kubectlIn(t, secret, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var legacy string
	eventually(t, 60*time.Second, "the token controller fills the Secret", func() (bool, string) {
		out, _ := kubectl(t, "-n", ns, "get", "secret", "legacy-token", "-o", "jsonpath={.data.token}")
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
		legacy = string(b)
		return err == nil && legacy != "", out
	})
	eventually(t, 30*time.Second, "kguard authenticates the legacy token", func() (bool, string) {
		st := review(legacy)
		return st.Authenticated && st.User.Username == "system:serviceaccount:"+ns+":legacy", st.Error
	})
	mustKubectl(t, "-n", ns, "delete", "secret", "legacy-token")
	eventually(t, 30*time.Second, "the legacy token is rejected once its Secret is gone", func() (bool, string) {
		st := review(legacy)
		return !st.Authenticated && strings.Contains(st.Error, "invalidated"), st.Error
	})
}
