package analysis

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kguard/kguard/internal/authz/rbac"
)

func init() {
	addCheck(&Check{
		ID: "KG010", Severity: High, Title: "grants to everyone in a broad group",
		Help: "system:authenticated is every user with any credential (with some providers, any account on the internet), system:unauthenticated is anonymous requests, system:serviceaccounts is every pod's identity. Bind named users or groups instead. Grants of health, version and discovery endpoints only (with any verb) are informational; of those and self-reviews or trust bundles, as the default roles give, low; any other anonymous grant is critical.",
		Evaluate: func(g *rbac.Grant) []Hit {
			s := g.Subject
			anonymous := (s.Kind == rbacv1.GroupKind && s.Name == "system:unauthenticated") || (s.Kind == rbacv1.UserKind && s.Name == "system:anonymous")
			broad := anonymous || (s.Kind == rbacv1.GroupKind && (s.Name == "system:authenticated" ||
				s.Name == "system:serviceaccounts" || strings.HasPrefix(s.Name, "system:serviceaccounts:")))
			if !broad || len(g.Rules) == 0 {
				return nil
			}
			h := Hit{Message: who(g) + " is granted " + g.RoleKind + " " + g.RoleName}
			// The rating follows what is granted, then who receives it.
			switch {
			case allRules(g.Rules, publicURLs):
				// Like the default system:public-info-viewer and system:discovery.
				h.Severity = sev(Info)
				h.Message += ", which only exposes public information (health, version, discovery)"
			case allRules(g.Rules, publicInfo):
				// Like the default system:basic-user.
				h.Severity = sev(Low)
				h.Message += ", which only exposes public information (health, version, discovery, self-reviews)"
			case allRules(g.Rules, readsPaths):
				h.Severity = sev(Medium)
				h.Message += ", which reads non-resource paths (metrics or debug endpoints may reveal internals)"
			case anonymous:
				h.Severity = sev(Critical)
				h.Message += ": anyone who reaches the API server, without credentials, holds it"
			}
			return []Hit{h}
		},
	})
}

func allRules(rules []rbacv1.PolicyRule, ok func(*rbacv1.PolicyRule) bool) bool {
	for i := range rules {
		if !ok(&rules[i]) {
			return false
		}
	}
	return true
}

// readsPaths reports whether the rule only allows get or head on non-resource URLs.
func readsPaths(r *rbacv1.PolicyRule) bool {
	return len(r.Resources) == 0 && subset(r.Verbs, "get", "head")
}

// publicPaths are the non-resource URLs the default roles open to everyone;
// each also stands for its sub-paths ("/healthz/etcd").
var publicPaths = []string{
	"/healthz", "/livez", "/readyz", "/version", "/api", "/apis", "/openapi",
	"/.well-known/openid-configuration", "/openid/v1/jwks",
}

// publicResources are resources whose reading or creating reveals nothing
// about others: reviews of one's own permissions, public CA bundles.
var publicResources = []struct {
	group, resource string
	verbs           []string
}{
	{"authorization.k8s.io", "selfsubjectaccessreviews", []string{"create"}},
	{"authorization.k8s.io", "selfsubjectrulesreviews", []string{"create"}},
	{"authentication.k8s.io", "selfsubjectreviews", []string{"create"}},
	{"certificates.k8s.io", "clustertrustbundles", []string{"get", "list", "watch"}},
}

// publicInfo reports whether the rule grants only public information.
func publicInfo(r *rbacv1.PolicyRule) bool {
	if len(r.NonResourceURLs) > 0 {
		return publicURLs(r)
	}
	if len(r.ResourceNames) > 0 && len(r.Resources) == 0 {
		return false
	}
	for _, g := range r.APIGroups {
		for _, res := range r.Resources {
			if !publicResource(g, res, r.Verbs) {
				return false
			}
		}
	}
	return len(r.APIGroups) > 0 && len(r.Resources) > 0
}

// publicURLs reports whether the rule grants only public non-resource URLs,
// with any verb: the API server serves GET (and HEAD) alone on them.
func publicURLs(r *rbacv1.PolicyRule) bool {
	if len(r.NonResourceURLs) == 0 || len(r.Resources) > 0 {
		return false
	}
	for _, u := range r.NonResourceURLs {
		if !publicPath(u) {
			return false
		}
	}
	return true
}

func publicPath(u string) bool {
	u = strings.TrimSuffix(strings.TrimSuffix(u, "*"), "/")
	for _, p := range publicPaths {
		if u == p || strings.HasPrefix(u, p+"/") {
			return true
		}
	}
	return false
}

func publicResource(group, resource string, verbs []string) bool {
	for _, p := range publicResources {
		if p.group == group && p.resource == resource && subset(verbs, p.verbs...) {
			return true
		}
	}
	return false
}

// subset reports whether every value is one of allowed ("*" never is).
func subset(values []string, allowed ...string) bool {
	for _, v := range values {
		ok := false
		for _, a := range allowed {
			ok = ok || v == a
		}
		if !ok {
			return false
		}
	}
	return true
}
