package authn

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
)

// TestBoundObjects checks the kubernetes.io binding of bound tokens as
// kube-apiserver's validator does (pkg/serviceaccount/claims.go): a token
// bound to a Node alone is checked against the Node, a pod-bound token's node
// is passed on, and a binding kguard cannot check is refused, not ignored.
func TestBoundObjects(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := writeFile(t, "sa.pub", pemPublic(t, &key.PublicKey))
	rs := newSigner(t, key, jose.RS256)
	now := time.Now()
	old := metav1.NewTime(now.Add(-2 * time.Minute))
	recent := metav1.NewTime(now.Add(-10 * time.Second))
	c := &cluster{
		sas:  map[string]*corev1.ServiceAccount{"apps/builder": {ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "apps", UID: "sa-uid"}}},
		pods: map[string]*corev1.Pod{"apps/web-1": {ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "apps", UID: "pod-uid"}}},
		nodes: map[string]*corev1.Node{
			"node-a":        {ObjectMeta: metav1.ObjectMeta{Name: "node-a", UID: "node-uid"}},
			"node-draining": {ObjectMeta: metav1.ObjectMeta{Name: "node-draining", UID: "drain-uid", DeletionTimestamp: &recent}},
			"node-deleted":  {ObjectMeta: metav1.ObjectMeta{Name: "node-deleted", UID: "del-uid", DeletionTimestamp: &old}},
		},
	}
	node := func(name, uid string) map[string]any {
		return map[string]any{"node": map[string]string{"name": name, "uid": uid}}
	}
	future := now.Add(time.Hour)
	token := func(extra map[string]any) string { return rs.token(bound("apps", "builder", "sa-uid", future, extra)) }
	webhook := map[string]any{
		"validatingwebhookconfiguration": map[string]string{"name": "policy", "uid": "vwc-uid"},
		"attestations":                   map[string]any{"authentication.kubernetes.io/admission-review-api-groups": []string{"apps"}},
	}

	for _, tc := range []struct {
		name     string
		token    string
		noLookup bool
		node     string // expected node-name extra
		err      string // "": authenticated
	}{
		{name: "bound to a node", token: token(node("node-a", "node-uid")), node: "node-a"},
		{name: "bound to a node being deleted", token: token(node("node-draining", "drain-uid")), node: "node-draining"},
		{name: "node gone", token: token(node("node-b", "u")), err: "node node-b has been deleted"},
		{name: "node deleted long ago", token: token(node("node-deleted", "del-uid")), err: "node node-deleted has been deleted"},
		{name: "node recreated", token: token(node("node-a", "old-uid")), err: "node UID (node-uid) does not match service account node ref claim (old-uid)"},
		{name: "pod-bound token naming its node", node: "node-gone",
			token: token(map[string]any{"pod": map[string]string{"name": "web-1", "uid": "pod-uid"}, "node": map[string]string{"name": "node-gone", "uid": "x"}})},
		{name: "pod-bound token naming its node, pod gone", err: "pod apps/web-2 has been deleted",
			token: token(map[string]any{"pod": map[string]string{"name": "web-2", "uid": "pod-uid"}, "node": map[string]string{"name": "node-a", "uid": "node-uid"}})},
		{name: "bound to a node, lookup off", token: token(node("node-b", "u")), noLookup: true, node: "node-b"},
		{name: "bound to a webhook configuration", token: token(webhook),
			err: `kubernetes.io claims kguard cannot verify ("attestations", "validatingwebhookconfiguration")`},
		{name: "bound to a webhook configuration, lookup off", token: token(webhook), noLookup: true, err: "cannot verify"},
		{name: "bound to a future kind", token: token(map[string]any{"widget": map[string]string{"name": "w", "uid": "u"}}), err: `("widget")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ServiceAccountConfig{KeyFiles: []string{keyFile}, Issuers: []string{issuer}, Lookup: c}
			if tc.noLookup {
				cfg.Lookup = nil
			}
			a, err := NewServiceAccountTokens(cfg)
			if err != nil {
				t.Fatal(err)
			}
			resp, ok, err := a.AuthenticateToken(context.Background(), tc.token)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got ok=%v err=%v, want an error containing %q", ok, err, tc.err)
				}
				return
			}
			if err != nil || !ok {
				t.Fatalf("got ok=%v err=%v, want authenticated", ok, err)
			}
			if got := resp.User.GetExtra()[serviceaccount.NodeNameKey]; len(got) != 1 || got[0] != tc.node {
				t.Fatalf("node-name extra %q, want %q (extra %v)", got, tc.node, resp.User.GetExtra())
			}
		})
	}
}
