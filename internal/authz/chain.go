// Package authz chains kguard's authorizers the way kube-apiserver's
// --authorization-mode does, and answers SubjectAccessReviews with the chain.
// The authorizers themselves live in rbac/ and abac/; analysis/ walks grants.
package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/authorization/union"

	"github.com/kguard/kguard/internal/authz/abac"
	"github.com/kguard/kguard/internal/authz/defaultroles"
	"github.com/kguard/kguard/internal/authz/rbac"
	tenantauthz "github.com/kguard/kguard/internal/authz/tenant"
	"github.com/kguard/kguard/internal/policy"
	tenantown "github.com/kguard/kguard/internal/tenant"
)

// Authorization modes, spelt as kube-apiserver's --authorization-mode values
// (Tenant is kguard's own).
const (
	ModeRBAC        = "RBAC"
	ModeABAC        = "ABAC"
	ModeAlwaysAllow = "AlwaysAllow"
	ModeAlwaysDeny  = "AlwaysDeny"
	ModeTenant      = "Tenant"
)

// Modes lists the modes kguard evaluates.
var Modes = []string{ModeAlwaysAllow, ModeAlwaysDeny, ModeABAC, ModeRBAC, ModeTenant}

// mode builds one authorizer of the chain; it may record itself in c.
type mode func(cfg Config, objects *policy.Set, c *Chain) (authorizer.Authorizer, authorizer.RuleResolver, error)

// modes are the constructors of the modes kguard evaluates.
var kguardModes = map[string]mode{
	ModeAlwaysAllow: func(Config, *policy.Set, *Chain) (authorizer.Authorizer, authorizer.RuleResolver, error) {
		a := authorizerfactory.NewAlwaysAllowAuthorizer()
		return a, a, nil
	},
	ModeAlwaysDeny: func(Config, *policy.Set, *Chain) (authorizer.Authorizer, authorizer.RuleResolver, error) {
		a := authorizerfactory.NewAlwaysDenyAuthorizer()
		return a, a, nil
	},
	ModeABAC: func(cfg Config, _ *policy.Set, c *Chain) (authorizer.Authorizer, authorizer.RuleResolver, error) {
		a, err := abac.NewFromFile(cfg.ABACFile)
		if err != nil {
			return nil, nil, err
		}
		c.ABAC = a
		c.Warnings = append(c.Warnings, a.Warnings()...)
		return a, a, nil
	},
	ModeRBAC: func(_ Config, objects *policy.Set, c *Chain) (authorizer.Authorizer, authorizer.RuleResolver, error) {
		a := rbac.New(objects)
		c.RBAC = a
		c.Warnings = append(c.Warnings, a.Warnings()...)
		return unprefixed{a, ModeRBAC + ": "}, a, nil
	},
	ModeTenant: func(_ Config, objects *policy.Set, c *Chain) (authorizer.Authorizer, authorizer.RuleResolver, error) {
		own, err := tenantown.New(objects.Tenants, objects.Namespaces)
		if err != nil {
			return nil, nil, configErrorf("authorization mode Tenant: %v", err)
		}
		a := tenantauthz.New(own)
		c.Tenant = a
		return a, a, nil
	},
}

// ErrConfig is matched (errors.Is) by every configuration error.
var ErrConfig = errors.New("invalid authorization configuration")

// Config says which authorizers to chain and what they read.
type Config struct {
	// Modes in evaluation order; empty means RBAC alone.
	Modes []string
	// ABACFile is the policy file of mode ABAC (--authorization-policy-file).
	ABACFile string
	// Objects are the RBAC objects (may be nil).
	Objects *policy.Set
	// DefaultRoles adds the Kubernetes default ClusterRoles and ClusterRoleBindings.
	DefaultRoles bool
}

// Chain is an immutable authorizer chain.
type Chain struct {
	// Authorizer is the union of the modes: the first Allow or Deny wins and
	// NoOpinion falls through; when every mode has no opinion the request is not allowed.
	Authorizer authorizer.Authorizer
	// RuleResolver lists a user's rules across the modes (can-i --list).
	RuleResolver authorizer.RuleResolver
	// Objects are the input objects plus, with DefaultRoles, the default roles.
	Objects *policy.Set
	// RBAC is the RBAC authorizer, nil when RBAC is not a mode.
	RBAC *rbac.Authorizer
	// ABAC is the ABAC authorizer, nil when ABAC is not a mode.
	ABAC *abac.Authorizer
	// Tenant is the Tenant mode, nil when it is not a mode.
	Tenant *tenantauthz.Authorizer
	// modes are the modes, in order.
	modes []string
	// Warnings are what was ignored while building (bindings to missing roles, unknown ABAC fields).
	Warnings []string
}

func configErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// New validates cfg as kube-apiserver validates its authorization flags and builds the chain.
func New(cfg Config) (*Chain, error) {
	modes := cfg.Modes
	if len(modes) == 0 {
		modes = []string{ModeRBAC}
	}
	seen := map[string]bool{}
	for _, m := range modes {
		switch _, known := kguardModes[m]; {
		case known:
		case m == "Node" || m == "Webhook":
			return nil, configErrorf("authorization mode %q is not evaluated offline by kguard (supported: %s)", m, strings.Join(Modes, ","))
		default:
			return nil, configErrorf("unknown authorization mode %q (supported: %s)", m, strings.Join(Modes, ","))
		}
		if seen[m] {
			return nil, configErrorf("authorization mode %q is specified more than once", m)
		}
		seen[m] = true
	}
	if seen[ModeABAC] && cfg.ABACFile == "" {
		return nil, configErrorf("authorization mode ABAC requires an ABAC policy file (--authorization-policy-file)")
	}
	if !seen[ModeABAC] && cfg.ABACFile != "" {
		return nil, configErrorf("an ABAC policy file is given but ABAC is not an authorization mode")
	}

	c := &Chain{modes: modes}
	// The Tenant mode only denies, so it must come before every mode that
	// allows: after one, what that mode allows is never denied by it
	// (RBAC,Tenant keeps none of its guardrails from what RBAC grants). A
	// warning, not an error: ABAC or AlwaysAllow before it can be meant (a
	// break-glass user above the tenants' limits).
	for _, m := range modes {
		if !seen[ModeTenant] || m == ModeTenant {
			break
		}
		if m != ModeAlwaysDeny {
			c.Warnings = append(c.Warnings, fmt.Sprintf("authorization mode Tenant comes after %s: what %s allows is never denied by the Tenant mode (put Tenant first: --authorization-mode Tenant,%s)", m, m, m))
		}
	}

	objects := cfg.Objects
	if objects == nil {
		objects = &policy.Set{}
	}
	if cfg.DefaultRoles {
		defaults, err := defaultroles.Set()
		if err != nil {
			return nil, fmt.Errorf("loading the default roles: %w", err)
		}
		objects = policy.Merge(withoutOverridden(defaults, objects), objects)
	}

	c.Objects = objects
	var authorizers []union.NamedAuthorizer
	var resolvers []authorizer.RuleResolver
	for _, m := range modes {
		a, rr, err := kguardModes[m](cfg, objects, c)
		if err != nil {
			return nil, err
		}
		authorizers = append(authorizers, union.NamedAuthorizer{AuthorizerName: m, Authorizer: a})
		resolvers = append(resolvers, rr)
	}
	u, err := union.New(authorizers...)
	if err != nil {
		return nil, configErrorf("%v", err)
	}
	c.Authorizer = u
	c.RuleResolver = union.NewRuleResolvers(resolvers...)
	return c, nil
}

// unprefixed drops the mode name an authorizer puts at the start of its
// no-opinion reasons ("RBAC: role ... not found"), because the union puts it
// there again: kube-apiserver answers "RBAC: RBAC: ...". Allow and Deny
// reasons pass through the union unprefixed and are left alone.
type unprefixed struct {
	authorizer.Authorizer
	prefix string
}

func (u unprefixed) Authorize(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	d, reason, err := u.Authorizer.Authorize(ctx, attrs)
	if d == authorizer.DecisionNoOpinion {
		reason = strings.TrimPrefix(reason, u.prefix)
	}
	return d, reason, err
}

// withoutOverridden drops the default ClusterRoles and ClusterRoleBindings that
// the input also defines: a dump of a live cluster already holds them, possibly
// edited, and the cluster's version wins.
func withoutOverridden(defaults, input *policy.Set) *policy.Set {
	roles := map[string]bool{}
	for _, r := range input.ClusterRoles {
		roles[r.Name] = true
	}
	bindings := map[string]bool{}
	for _, b := range input.ClusterRoleBindings {
		bindings[b.Name] = true
	}
	out := &policy.Set{}
	for _, r := range defaults.ClusterRoles {
		if !roles[r.Name] {
			out.ClusterRoles = append(out.ClusterRoles, r)
		}
	}
	for _, b := range defaults.ClusterRoleBindings {
		if !bindings[b.Name] {
			out.ClusterRoleBindings = append(out.ClusterRoleBindings, b)
		}
	}
	return out
}

func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the review: %w", err)
	}
	return b, nil
}
