// Package source builds the policy snapshots `kguard serve` answers from —
// out of files (watched and reloaded atomically) or out of a cluster
// (client-go informers) — with the same engines as the offline commands.
package source

import (
	"fmt"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/psp"
	"github.com/kguard/kguard/internal/authn"
	"github.com/kguard/kguard/internal/authz"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/server"
)

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
	// StrictDecoding denies reviewed pods with fields kguard's types do not
	// know (--strict-decoding); by default they are ignored with a warning.
	StrictDecoding bool
}

// DefaultAdmissionPlugins are the plugins of an empty --enable-admission-plugins.
var DefaultAdmissionPlugins = []string{admission.PluginPodSecurityPolicy, admission.PluginPodSecurity}

// Build makes a snapshot of set. Any error leaves the caller's current
// snapshot in place: nothing half-built is ever served.
func Build(cfg Config, set *policy.Set) (*server.Snapshot, error) {
	az, err := authz.New(authz.Config{Modes: cfg.AuthorizationModes, ABACFile: cfg.ABACFile, Objects: set, DefaultRoles: cfg.DefaultRoles})
	if err != nil {
		return nil, err
	}
	snap := &server.Snapshot{Authorizer: az.Authorizer}
	plugins := cfg.AdmissionPlugins
	if len(plugins) == 0 {
		plugins = DefaultAdmissionPlugins
	}
	engines := admission.Snapshot{}
	for _, p := range plugins {
		switch p {
		case admission.PluginPodSecurityPolicy:
			// `use` is authorized by the whole chain, as kube-apiserver authorizes it.
			if engines.PSP, err = psp.NewEngine(set.PodSecurityPolicies, az.Authorizer); err != nil {
				return nil, err
			}
			engines.PSP = engines.PSP.WithRuleResolver(az.RuleResolver)
		case admission.PluginPodSecurity:
			if engines.PSS, err = podsecurity.New(cfg.PSS, set.Namespaces); err != nil {
				return nil, err
			}
		}
	}
	if snap.Admission, err = admission.NewChain(plugins, engines); err != nil {
		return nil, err
	}
	snap.Admission = snap.Admission.WithStrictDecoding(cfg.StrictDecoding)
	if cfg.Authn.TokenFile != "" || len(cfg.Authn.ServiceAccount.KeyFiles) > 0 {
		a, err := authn.New(cfg.Authn)
		if err != nil {
			return nil, err
		}
		snap.Authenticator = a.Token
	}
	snap.Describe = fmt.Sprintf("%d PodSecurityPolicies, %d Roles, %d ClusterRoles, %d RoleBindings, %d ClusterRoleBindings, %d Namespaces; authorization %v; admission %v",
		len(set.PodSecurityPolicies), len(set.Roles), len(set.ClusterRoles), len(set.RoleBindings), len(set.ClusterRoleBindings), len(set.Namespaces),
		orRBAC(cfg.AuthorizationModes), plugins)
	return snap, nil
}

func orRBAC(modes []string) []string {
	if len(modes) == 0 {
		return []string{authz.ModeRBAC}
	}
	return modes
}
