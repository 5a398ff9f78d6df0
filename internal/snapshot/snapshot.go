// Package snapshot builds what every kguard decision reads: one immutable
// Snapshot of authentication, authorization and admission, made by one
// builder from configuration and policy objects. `kguard check`, the authz
// commands and `kguard serve` (files and cluster mode) all build it here, so
// they answer alike. A snapshot is never modified once built; sources build a
// new one on every change and publish it.
package snapshot

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/clusterimagepolicy"
	"github.com/kguard/kguard/internal/admission/constraints"
	"github.com/kguard/kguard/internal/admission/plugins"
	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/podsecuritypolicy"
	"github.com/kguard/kguard/internal/admission/tenancy"
	"github.com/kguard/kguard/internal/authn"
	"github.com/kguard/kguard/internal/authz"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// Snapshot is one generation of everything a decision reads. It is never
// modified once published; a reload builds a new one.
type Snapshot struct {
	Authenticator authenticator.Token   // nil: authentication is not configured
	Authorizer    authorizer.Authorizer // the --authorization-mode chain
	Admission     *admission.Chain      // the --enable-admission-plugins chain
	// Describe says what was loaded, for the log (counts, never contents).
	Describe string
	// Warnings are what the load ignored or overrode (duplicate tokens,
	// bindings to missing roles, unknown ABAC fields...).
	Warnings []string
	// Generation is set by the server that serves it.
	Generation uint64
	// Tenants and Namespaces are the kguard.io Tenants and the Namespaces
	// the snapshot was built from (shared, never modified): the tenant
	// reconciler of `kguard controller` renders them.
	Tenants    []*v1alpha1.Tenant
	Namespaces []*corev1.Namespace
	// TenantsComplete: Tenants are all the source's (policy.Set's).
	TenantsComplete bool
	// RefusedTenants are the source's Tenants refused (policy.Set's):
	// Tenants hold their last good versions, if any.
	RefusedTenants []policy.RefusedTenant
}

// Config is what a snapshot is built from besides the policy objects.
type Config struct {
	// Authorization: kube-apiserver's --authorization-mode and --authorization-policy-file.
	AuthorizationModes []string
	ABACFile           string
	// DefaultRoles adds the Kubernetes default roles (files mode: a cluster
	// already holds them).
	DefaultRoles bool
	// Authentication; nothing configured leaves /authenticate unconfigured.
	Authn authn.Config
	// Admission: the ordered plugins (empty: PodSecurityPolicy,PodSecurity)
	// and the cluster-wide Pod Security configuration.
	AdmissionPlugins []string
	PSS              podsecurity.Config
	// PSP configures the PodSecurityPolicy plugin (zero: the defaults).
	PSP podsecuritypolicy.Config
	// ImagePolicy configures the ClusterImagePolicy plugin: its registry
	// client, trust root and no-match rule.
	ImagePolicy clusterimagepolicy.Config
	// Constraints configures the Constraints plugin (Gatekeeper, plain Rego).
	Constraints constraints.Config
	// Tenancy configures the Tenancy plugin: the SELinux MCS allocator that
	// outlives snapshots (nil Levels: each snapshot's own, offline).
	Tenancy tenancy.Config
	// Pods reads live pods for the admission plugins that need the pod a
	// request names (DenyEscalatingExec): cluster mode only, nil offline.
	Pods admission.PodGetter
	// StrictDecoding denies reviewed pods with fields kguard's types do not
	// know (--strict-decoding); by default they are ignored with a warning.
	StrictDecoding bool
}

// Build makes a snapshot of set. Any error leaves the caller's current
// snapshot in place: nothing half-built is ever served.
func Build(cfg Config, set *policy.Set) (*Snapshot, error) {
	p, err := BuildPolicies(cfg, set)
	if err != nil {
		return nil, err
	}
	a, err := BuildAuthn(cfg)
	if err != nil {
		return nil, err
	}
	return Combine(p, a), nil
}

// Policies is the part of a snapshot built from policy objects and the ABAC
// file: authorization and admission.
type Policies struct {
	Authorizer authorizer.Authorizer
	Admission  *admission.Chain
	Describe   string
	Warnings   []string
	// Tenants, Namespaces, TenantsComplete and RefusedTenants are the
	// set's, for Snapshot.
	Tenants         []*v1alpha1.Tenant
	Namespaces      []*corev1.Namespace
	TenantsComplete bool
	RefusedTenants  []policy.RefusedTenant
}

// Authn is the part of a snapshot built from the token file and the
// ServiceAccount keys; nil Token: /authenticate is not configured.
type Authn struct {
	Token    authenticator.Token
	Warnings []string
}

// Combine makes one snapshot of the two parts, which sources reload on their
// own: a broken policy file must not keep a revoked token valid.
func Combine(p *Policies, a *Authn) *Snapshot {
	return &Snapshot{Authorizer: p.Authorizer, Admission: p.Admission, Authenticator: a.Token,
		Describe: p.Describe, Warnings: append(append([]string(nil), p.Warnings...), a.Warnings...),
		Tenants: p.Tenants, Namespaces: p.Namespaces, TenantsComplete: p.TenantsComplete, RefusedTenants: p.RefusedTenants}
}

// BuildPolicies builds authorization and admission from set.
func BuildPolicies(cfg Config, set *policy.Set) (*Policies, error) {
	az, err := authz.New(authz.Config{Modes: cfg.AuthorizationModes, ABACFile: cfg.ABACFile, Objects: set, DefaultRoles: cfg.DefaultRoles})
	if err != nil {
		return nil, err
	}
	out := &Policies{Authorizer: az.Authorizer, Warnings: append(append([]string(nil), set.Warnings...), az.Warnings...),
		Tenants: set.Tenants, Namespaces: set.Namespaces, TenantsComplete: set.TenantsComplete, RefusedTenants: set.RefusedTenants}
	names := plugins.Or(cfg.AdmissionPlugins)
	in := admission.Inputs{Policies: set, Authorizer: az.Authorizer, RuleResolver: az.RuleResolver, Pods: cfg.Pods}
	if out.Admission, err = admission.NewChain(names, in, map[string]any{podsecurity.PluginName: cfg.PSS, podsecuritypolicy.PluginName: cfg.PSP, clusterimagepolicy.PluginName: cfg.ImagePolicy, constraints.PluginName: cfg.Constraints, tenancy.PluginName: cfg.Tenancy}); err != nil {
		return nil, err
	}
	out.Admission = out.Admission.WithStrictDecoding(cfg.StrictDecoding)
	if n := len(set.RegoModules) + len(set.ConstraintTemplates) + len(set.Constraints); n > 0 && out.Admission.Plugin(constraints.PluginName) == nil {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%d Rego modules, %d ConstraintTemplates and %d constraints are not enforced: the %s admission plugin is not in --enable-admission-plugins",
			len(set.RegoModules), len(set.ConstraintTemplates), len(set.Constraints), constraints.PluginName))
	}
	out.Describe = fmt.Sprintf("%d ConstraintTemplates, %d constraints, %d Rego modules, %d ClusterImagePolicies, %d TrustRoots, %d PodSecurityPolicies, %d Roles, %d ClusterRoles, %d RoleBindings, %d ClusterRoleBindings, %d Namespaces, %d Tenants; authorization %v; admission %v",
		len(set.ConstraintTemplates), len(set.Constraints), len(set.RegoModules), len(set.ClusterImagePolicies), len(set.TrustRoots), len(set.PodSecurityPolicies), len(set.Roles), len(set.ClusterRoles), len(set.RoleBindings), len(set.ClusterRoleBindings), len(set.Namespaces), len(set.Tenants),
		orRBAC(cfg.AuthorizationModes), names)
	return out, nil
}

// BuildAuthn builds the token authenticators of cfg (none configured: an
// empty Authn).
func BuildAuthn(cfg Config) (*Authn, error) {
	if cfg.Authn.TokenFile == "" && len(cfg.Authn.ServiceAccount.KeyFiles) == 0 {
		return &Authn{}, nil
	}
	a, err := authn.New(cfg.Authn)
	if err != nil {
		return nil, err
	}
	return &Authn{Token: a.Token, Warnings: a.Warnings}, nil
}

func orRBAC(modes []string) []string {
	if len(modes) == 0 {
		return []string{authz.ModeRBAC}
	}
	return modes
}
