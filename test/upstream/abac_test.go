package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/authorization/authorizer"
	upstreamabac "k8s.io/kubernetes/pkg/auth/authorizer/abac"

	"github.com/kguard/kguard/internal/authz/abac"
)

// upstreamExample is upstream's own example policy file, read from the module cache.
func upstreamExample(t *testing.T) string {
	t.Helper()
	dir := moduleDir(t, "k8s.io/kubernetes")
	return filepath.Join(dir, "pkg", "auth", "authorizer", "abac", "example_policy_file.jsonl")
}

func compareABAC(t *testing.T, path string, r *rand.Rand, requests int) (int, int) {
	t.Helper()
	up, uerr := upstreamabac.NewFromFile(path)
	ours, kerr := abac.NewFromFile(path)
	if (uerr == nil) != (kerr == nil) {
		b, _ := os.ReadFile(path)
		t.Fatalf("%s: upstream error %v, kguard error %v\n%s", path, uerr, kerr, b)
	}
	if uerr != nil {
		return 0, 0
	}
	ctx := context.Background()
	allowed := 0
	for range requests {
		req := randomRequest(r)
		if r.IntN(3) == 0 {
			req.Namespace = pick(r, []string{"projectCaribou", "kube-system", "ns0", ""})
		}
		ud, _, _ := up.Authorize(ctx, req)
		kd, _, _ := ours.Authorize(ctx, req)
		if ud != kd {
			b, _ := os.ReadFile(path)
			t.Fatalf("%s: %s\nupstream %v, kguard %v\npolicy:\n%s", path, describe(req), ud, kd, b)
		}
		if ud == authorizer.DecisionAllow {
			allowed++
		}
	}
	return requests, allowed
}

func TestABACExampleFilesMatchUpstream(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, path := range []string{upstreamExample(t), filepath.Join("..", "..", "examples", "abac", "policy.jsonl")} {
		n, allowed := compareABAC(t, path, r, 20000)
		if n == 0 || allowed == 0 {
			t.Fatalf("%s: %d requests, %d allowed: nothing compared", path, n, allowed)
		}
		t.Logf("%s: %d decisions identical (%d allowed)", filepath.Base(path), n, allowed)
	}
}

// randomABACLine writes a versioned or legacy line, sometimes malformed in the
// ways people get wrong (a string for a bool, a leading space in apiVersion,
// a missing kind), so that acceptance is compared too.
func randomABACLine(r *rand.Rand) string {
	spec := map[string]any{}
	set := func(key string, values ...string) {
		if r.IntN(2) == 0 {
			spec[key] = pick(r, values)
		}
	}
	set("user", "u0", "u1", "system:serviceaccount:ns0:sa0", "*", "")
	set("group", "g0", "system:authenticated", "system:unauthenticated", "*")
	set("namespace", "ns0", "ns1", "*", "")
	set("resource", "pods", "secrets", "deployments", "*", "pods/log")
	set("apiGroup", "", "apps", "*")
	set("nonResourcePath", "*", "/healthz", "/api/*", "/api", "")
	if r.IntN(2) == 0 {
		spec["readonly"] = true
	}
	switch r.IntN(12) {
	case 0:
		spec["readonly"] = "true"
	case 1:
		spec["unknownField"] = 1
	}
	var line map[string]any
	switch r.IntN(8) {
	case 0, 1, 2, 3:
		line = map[string]any{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": spec}
	case 4:
		line = map[string]any{"apiVersion": " abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": spec}
	case 5:
		line = map[string]any{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "spec": spec}
	default:
		delete(spec, "apiGroup")
		delete(spec, "nonResourcePath")
		line = spec
		if r.IntN(4) == 0 {
			line["kind"] = "Policy"
		}
		if r.IntN(4) == 0 {
			line["apiVersion"] = "abac.authorization.kubernetes.io/v0"
		}
	}
	b, _ := json.Marshal(line)
	return string(b)
}

func TestABACRandomFilesMatchUpstream(t *testing.T) {
	dir := t.TempDir()
	loaded, rejected, decisions := 0, 0, 0
	for w := range worlds() {
		r := rand.New(rand.NewPCG(uint64(w), 3))
		var lines []string
		for range 1 + r.IntN(6) {
			switch r.IntN(10) {
			case 0:
				lines = append(lines, "# a comment")
			case 1:
				lines = append(lines, "   ")
			default:
				lines = append(lines, randomABACLine(r))
			}
		}
		path := filepath.Join(dir, fmt.Sprintf("policy-%d.jsonl", w))
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		n, _ := compareABAC(t, path, r, 100)
		if n == 0 {
			rejected++
		} else {
			loaded++
			decisions += n
		}
	}
	if loaded == 0 || rejected == 0 {
		t.Fatalf("generator degenerate: %d files loaded, %d rejected", loaded, rejected)
	}
	t.Logf("%d files accepted by both (%d decisions identical), %d rejected by both", loaded, decisions, rejected)
}
