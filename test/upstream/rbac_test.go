package upstream

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/kubernetes/pkg/registry/rbac/validation"
	upstreamrbac "k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac"

	"github.com/kguard/kguard/internal/authz/rbac"
	"github.com/kguard/kguard/internal/policy"
)

// upstreamAuthorizer is the Kubernetes RBAC authorizer over the same objects,
// with upstream's own in-memory listers.
func upstreamAuthorizer(s *policy.Set) *upstreamrbac.RBACAuthorizer {
	_, static := validation.NewTestRuleResolver(s.Roles, s.RoleBindings, s.ClusterRoles, s.ClusterRoleBindings)
	return upstreamrbac.New(static, static, static, static)
}

// worlds is how many random object sets each differential test draws
// (KGUARD_DIFF_WORLDS raises it for a longer run).
func worlds() int {
	if n, err := strconv.Atoi(os.Getenv("KGUARD_DIFF_WORLDS")); err == nil && n > 0 {
		return n
	}
	return 300
}

func describe(a authorizer.AttributesRecord) string {
	return fmt.Sprintf("user=%s groups=%v verb=%s ns=%q group=%q resource=%q sub=%q name=%q path=%q resourceRequest=%v",
		a.User.GetName(), a.User.GetGroups(), a.Verb, a.Namespace, a.APIGroup, a.Resource, a.Subresource, a.Name, a.Path, a.ResourceRequest)
}

func TestRBACDecisionsMatchUpstream(t *testing.T) {
	ctx := context.Background()
	decisions, allowed := 0, 0
	for w := range worlds() {
		seed := uint64(w)
		r := rand.New(rand.NewPCG(seed, 1))
		set := randomSet(r, 4+r.IntN(30))
		up, ours := upstreamAuthorizer(set), rbac.New(set)
		for range 150 {
			req := randomRequest(r)
			ud, ureason, _ := up.Authorize(ctx, req)
			kd, kreason, _ := ours.Authorize(ctx, req)
			decisions++
			if ud != kd {
				t.Fatalf("world seed %d: %s\nupstream %v (%s)\nkguard   %v (%s)", seed, describe(req), ud, ureason, kd, kreason)
			}
			if ud == authorizer.DecisionAllow {
				allowed++
				// Reasons name a binding; both must name one allowing the request.
				if !strings.HasPrefix(kreason, "RBAC: allowed by ") {
					t.Fatalf("world seed %d: reason %q", seed, kreason)
				}
			} else if (ureason == "") != (kreason == "") {
				t.Fatalf("world seed %d: %s\nupstream reason %q\nkguard reason   %q", seed, describe(req), ureason, kreason)
			}
		}
	}
	if allowed == 0 || allowed == decisions {
		t.Fatalf("the generator is degenerate: %d of %d allowed", allowed, decisions)
	}
	t.Logf("%d decisions identical (%d allowed) over %d random worlds", decisions, allowed, worlds())
}

func ruleStrings(rr []authorizer.ResourceRuleInfo, nr []authorizer.NonResourceRuleInfo) []string {
	var out []string
	for _, x := range rr {
		out = append(out, fmt.Sprintf("R %v %v %v %v", x.GetVerbs(), x.GetAPIGroups(), x.GetResources(), x.GetResourceNames()))
	}
	for _, x := range nr {
		out = append(out, fmt.Sprintf("N %v %v", x.GetVerbs(), x.GetNonResourceURLs()))
	}
	sort.Strings(out)
	return out
}

func TestRBACRulesForMatchesUpstream(t *testing.T) {
	ctx := context.Background()
	for w := range worlds() {
		seed := uint64(w)
		r := rand.New(rand.NewPCG(seed, 2))
		set := randomSet(r, 4+r.IntN(30))
		up, ours := upstreamAuthorizer(set), rbac.New(set)
		for range 20 {
			u := randomUser(r)
			ns := pick(r, append(namespaces, ""))
			urr, unr, uinc, uerr := up.RulesFor(ctx, u, ns)
			krr, knr, kinc, kerr := ours.RulesFor(ctx, u, ns)
			if uinc != kinc || (uerr == nil) != (kerr == nil) {
				t.Fatalf("world seed %d user %v ns %q: incomplete %v/%v err %v/%v", seed, u, ns, uinc, kinc, uerr, kerr)
			}
			if a, b := ruleStrings(urr, unr), ruleStrings(krr, knr); strings.Join(a, "\n") != strings.Join(b, "\n") {
				t.Fatalf("world seed %d user %v ns %q:\nupstream %v\nkguard   %v", seed, u, ns, a, b)
			}
		}
	}
}
