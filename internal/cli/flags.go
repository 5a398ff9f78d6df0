package cli

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/spf13/pflag"

	"github.com/kguard/kguard/internal/admission/clusterimagepolicy"
	"github.com/kguard/kguard/internal/admission/constraints"
	"github.com/kguard/kguard/internal/imagepolicy"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/registry"

	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/podsecuritypolicy"
	"github.com/kguard/kguard/internal/admission/tenancy"
	"github.com/kguard/kguard/internal/snapshot"
)

// authorizationFlags are kube-apiserver's authorization flags, shared by
// `check`, the `authz` commands and `serve`.
type authorizationFlags struct {
	modes        []string
	policyFile   string
	defaultRoles bool
}

func (f *authorizationFlags) add(fs *pflag.FlagSet, defaultRolesHelp string) {
	fs.StringSliceVar(&f.modes, "authorization-mode", []string{"RBAC"}, "ordered authorizers: RBAC, ABAC, AlwaysAllow, AlwaysDeny, Tenant (kguard.io Tenants: denies what tenants must never do)")
	fs.StringVar(&f.policyFile, "authorization-policy-file", "", "ABAC policy file (JSON lines), required by --authorization-mode=ABAC")
	fs.BoolVar(&f.defaultRoles, "default-roles", false, defaultRolesHelp)
}

// admissionFlags are the admission chain and Pod Security flags, shared by
// `check` and `serve`.
type admissionFlags struct {
	plugins                                             []string
	pss                                                 string
	pspAppArmorAnnotationOnly                           bool
	constraintsNoCEL                                    bool
	exemptUsers, exemptNamespaces, exemptRuntimeClasses []string
	images                                              imageFlags
}

// imageFlags configure image verification (the ClusterImagePolicy plugin
// and `kguard image verify`).
type imageFlags struct {
	trustedRoot, registryCA, noMatch, secretNamespace string
	registryTimeout, cacheTTL                         time.Duration
	allNamespaces, offline                            bool
}

func (f *imageFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.trustedRoot, "trusted-root", "", "Sigstore trusted_root.json for keyless ClusterImagePolicy authorities that name no TrustRoot (kguard never fetches it)")
	fs.StringVar(&f.registryCA, "registry-ca-file", "", "PEM CAs that registries' certificates may chain to, besides the system's")
	fs.DurationVar(&f.registryTimeout, "registry-timeout", 5*time.Second, "bound on each registry call (resolving a tag, reading signatures); a registry that does not answer in time refuses the image")
	fs.StringVar(&f.noMatch, "image-policy-no-match", "deny", "an image that no ClusterImagePolicy matches: deny, warn or allow (policy-controller's no-match-policy)")
	fs.BoolVar(&f.allNamespaces, "image-policy-all-namespaces", false, "verify images in every namespace; by default only in namespaces labelled policy.sigstore.dev/include=true")
	fs.DurationVar(&f.cacheTTL, "image-policy-cache-ttl", 60*time.Second, "how long tag resolutions and image verdicts are kept")
	defaultNS := os.Getenv("POD_NAMESPACE")
	if defaultNS == "" {
		defaultNS = clusterimagepolicy.DefaultSecretNamespace
	}
	fs.StringVar(&f.secretNamespace, "image-policy-secret-namespace", defaultNS, "kguard's namespace, whose Secrets a ClusterImagePolicy's key.secretRef names (default: $POD_NAMESPACE, else kguard)")
}

// config is the ClusterImagePolicy plugin's configuration; offline, images
// that a policy matches are refused with "offline" rather than looked up.
func (f *imageFlags) config() (clusterimagepolicy.Config, error) {
	noMatch, err := imagepolicy.ParseNoMatch(f.noMatch)
	if err != nil {
		return clusterimagepolicy.Config{}, fmt.Errorf("--image-policy-no-match: %w", err)
	}
	cfg := clusterimagepolicy.Config{NoMatch: noMatch, AllNamespaces: f.allNamespaces, CacheTTL: f.cacheTTL, SecretNamespace: f.secretNamespace}
	if f.trustedRoot != "" {
		tr, err := root.NewTrustedRootFromPath(f.trustedRoot)
		if err != nil {
			return cfg, fmt.Errorf("--trusted-root: %w", err)
		}
		cfg.TrustedRoot = tr
	}
	if !f.offline {
		c, err := registry.New(registry.Config{Timeout: f.registryTimeout, CAFile: f.registryCA})
		if err != nil {
			return cfg, err
		}
		cfg.Registry = c
	}
	return cfg, nil
}

func (f *admissionFlags) add(fs *pflag.FlagSet, pluginsHelp string) {
	f.addPodSecurity(fs, pluginsHelp)
	f.images.add(fs)
	fs.BoolVar(&f.constraintsNoCEL, "constraints-no-cel", false, "Constraints: run ConstraintTemplates' Rego only, never their K8sNativeValidation (CEL) code (Gatekeeper runs CEL first when a template has it, as kguard does by default)")
	fs.BoolVar(&f.pspAppArmorAnnotationOnly, "psp-apparmor-annotation-only", false, "PodSecurityPolicy: set a policy's default AppArmor profile as the annotation only, as v1.24 did (by default the appArmorProfile field too, which spares Kubernetes >= 1.30's deprecation warning)")
}

// addPodSecurity adds the flags that say which pods are admitted: the
// plugins and the Pod Security defaults and exemptions (all that `authz
// paths` needs; check and serve add the rest).
func (f *admissionFlags) addPodSecurity(fs *pflag.FlagSet, pluginsHelp string) {
	fs.StringSliceVar(&f.plugins, "enable-admission-plugins", nil, pluginsHelp)
	fs.StringVar(&f.pss, "pss", "", "cluster default Pod Security Standard, LEVEL[:VERSION] (privileged, baseline, restricted; version latest or v1.x); default privileged:latest, as the built-in")
	fs.StringSliceVar(&f.exemptUsers, "pss-exempt-username", nil, "Pod Security exemption: usernames")
	fs.StringSliceVar(&f.exemptNamespaces, "pss-exempt-namespace", nil, "Pod Security exemption: namespaces")
	fs.StringSliceVar(&f.exemptRuntimeClasses, "pss-exempt-runtime-class", nil, "Pod Security exemption: runtime class names")
}

// podSecurity is the cluster-wide Pod Security configuration of the flags:
// --pss sets the enforce, audit and warn defaults alike.
func (f *admissionFlags) podSecurity() (podsecurity.Config, error) {
	level, version, err := parsePSS(f.pss)
	if err != nil {
		return podsecurity.Config{}, err
	}
	// Pod Security settings for a chain without PodSecurity would be
	// ignored: what they should refuse would be admitted without a word.
	configured := f.pss != "" || len(f.exemptUsers)+len(f.exemptNamespaces)+len(f.exemptRuntimeClasses) > 0
	if configured && len(f.plugins) > 0 && !slices.Contains(f.plugins, podsecurity.PluginName) {
		return podsecurity.Config{}, fmt.Errorf("--pss and --pss-exempt-* configure the PodSecurity plugin, which --enable-admission-plugins %s leaves out: add PodSecurity to it or drop them", strings.Join(f.plugins, ","))
	}
	return podsecurity.Config{Enforce: level, EnforceVersion: version, Audit: level, AuditVersion: version, Warn: level, WarnVersion: version,
		ExemptUsernames: f.exemptUsers, ExemptNamespaces: f.exemptNamespaces, ExemptRuntimeClasses: f.exemptRuntimeClasses}, nil
}

// config is the snapshot configuration of both flag sets.
func config(az *authorizationFlags, ad *admissionFlags) (snapshot.Config, error) {
	pss, err := ad.podSecurity()
	if err != nil {
		return snapshot.Config{}, err
	}
	images, err := ad.images.config()
	if err != nil {
		return snapshot.Config{}, err
	}
	return snapshot.Config{AuthorizationModes: az.modes, ABACFile: az.policyFile, DefaultRoles: az.defaultRoles,
		AdmissionPlugins: ad.plugins, PSS: pss, PSP: podsecuritypolicy.Config{AppArmorAnnotationOnly: ad.pspAppArmorAnnotationOnly},
		ImagePolicy: images, Constraints: constraints.Config{NoCEL: ad.constraintsNoCEL}}, nil
}

// defaultPlugins is the chain of an empty --enable-admission-plugins for the
// offline commands, from what the policies hold: PodSecurityPolicy when
// there are policies, then PodSecurity, ClusterImagePolicy when there are
// image policies, Constraints when there are templates, constraints or Rego,
// and Tenancy first when there are Tenants.
func defaultPlugins(set *policy.Set) []string {
	names := podSecurityPlugins(set)
	if len(set.ClusterImagePolicies) > 0 {
		names = append(names, clusterimagepolicy.PluginName)
	}
	if len(set.ConstraintTemplates)+len(set.Constraints)+len(set.RegoModules) > 0 {
		names = append(names, constraints.PluginName)
	}
	return names
}

// podSecurityPlugins are the default plugins that judge what a pod may do
// on its node, for the policies of set: Tenancy when it holds Tenants (first:
// what it injects, the seccomp profile, is what the others judge),
// PodSecurityPolicy when it holds policies, then PodSecurity. check adds the
// image and constraint plugins; authz paths uses these alone.
func podSecurityPlugins(set *policy.Set) []string {
	var out []string
	if len(set.Tenants) > 0 {
		out = append(out, tenancy.PluginName)
	}
	if len(set.PodSecurityPolicies) > 0 {
		out = append(out, podsecuritypolicy.PluginName)
	}
	return append(out, podsecurity.PluginName)
}

// loadPolicyFlag reads the inputs of --policy. Inputs that hold no object at
// all (an empty file or directory, a wrong path in CI) are an error: judged
// without the policies meant, everything would be admitted.
func loadPolicyFlag(paths []string, stdin io.Reader, namespace string) (*policy.Set, error) {
	set, err := policy.Load(paths, stdin, policy.WithNamespace(namespace))
	if err != nil {
		return nil, err
	}
	if set.Empty() {
		return nil, fmt.Errorf("nothing to read: no objects in --policy %s", strings.Join(paths, ", --policy "))
	}
	return set, nil
}
