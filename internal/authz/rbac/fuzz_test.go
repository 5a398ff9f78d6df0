package rbac

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/policy"
)

// FuzzDecodeAndAuthorize feeds arbitrary bytes through the RBAC object decoder
// and the authorizer: malformed input must be an input error, never a panic,
// and a request without user is never allowed.
func FuzzDecodeAndAuthorize(f *testing.F) {
	for _, name := range []string{"roles.yaml", "bindings.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(fixture))
	f.Add([]byte(aggregation))
	f.Add([]byte("kind: RoleBinding\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: x}\n"))
	f.Add([]byte("{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":[{}]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := manifest.Read(bytes.NewReader(data), "fuzz.yaml")
		if err != nil {
			if !errors.Is(err, manifest.ErrInput) {
				t.Fatalf("read error is not an input error: %v", err)
			}
			return
		}
		s, err := policy.FromDocuments(docs)
		if err != nil {
			if !errors.Is(err, manifest.ErrInput) {
				t.Fatalf("decode error is not an input error: %v", err)
			}
			return
		}
		a := New(s)
		ctx := context.Background()
		u := &user.DefaultInfo{Name: "alice", Groups: []string{"system:authenticated", "g"}}
		for _, attrs := range []authorizer.AttributesRecord{
			{User: u, Verb: "get", Resource: "pods", Namespace: "default", Name: "x", ResourceRequest: true},
			{User: u, Verb: "list", APIGroup: "apps", Resource: "deployments", Subresource: "scale", ResourceRequest: true},
			{User: u, Verb: "get", Path: "/healthz"},
		} {
			if d, _, _ := a.Authorize(ctx, attrs); d == authorizer.DecisionDeny {
				t.Fatal("RBAC denied")
			}
			attrs.User = nil
			if d, _, _ := a.Authorize(ctx, attrs); d == authorizer.DecisionAllow {
				t.Fatal("allowed a request without a user")
			}
		}
		_, _, _, _ = a.RulesFor(ctx, u, "default")
		Grants(s)
	})
}
