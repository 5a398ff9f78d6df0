// Package policy turns manifests into typed policy objects. A Set is built
// once and never modified afterwards, so it can be shared by concurrent
// requests and swapped atomically when policies are reloaded.
package policy

import (
	"fmt"
	"io"
	"os"
	"sort"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/pkg/apis/gatekeeper"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1/tenantvalidation"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1/validation"
	"github.com/kguard/kguard/pkg/apis/sigstore"
)

// Set is every policy object read from some inputs.
type Set struct {
	Roles               []*rbacv1.Role
	ClusterRoles        []*rbacv1.ClusterRole
	RoleBindings        []*rbacv1.RoleBinding
	ClusterRoleBindings []*rbacv1.ClusterRoleBinding
	Namespaces          []*corev1.Namespace
	ServiceAccounts     []*corev1.ServiceAccount
	// Secrets hold what policies name by secretRef (ClusterImagePolicy
	// keys); kguard reads those of its own namespace.
	Secrets []*corev1.Secret
	// PodSecurityPolicies are read from policy/v1beta1 or
	// extensions/v1beta1 (verbatim, the same schema) or kguard.io/v1alpha1,
	// defaulted and validated.
	PodSecurityPolicies []*v1alpha1.PodSecurityPolicy
	// Tenants are kguard.io/v1alpha1 Tenants, defaulted and validated, each
	// alone and as a set (no namespace belongs to two of them; selectors are
	// matched against the Namespaces of the same input).
	Tenants []*v1alpha1.Tenant
	// TenantsComplete says that Tenants are every Tenant of the source (a
	// cluster serving the Tenant CRD): the tenant reconciler prunes the
	// objects of a Tenant not among them only then.
	TenantsComplete bool
	// RefusedTenants are the Tenants of the source refused (cluster mode:
	// one that does not convert, validate, or fit with the Tenants in
	// force), in name order: Tenants hold the last good version of each,
	// or nothing of it. The tenant reconciler writes their Ready condition.
	RefusedTenants []RefusedTenant
	// ClusterImagePolicies and TrustRoots are sigstore policy-controller's
	// objects (policy.sigstore.dev), read verbatim; they are compiled and
	// validated when a snapshot is built.
	ClusterImagePolicies []*sigstore.ClusterImagePolicy
	TrustRoots           []*sigstore.TrustRoot
	// ConstraintTemplates (templates.gatekeeper.sh), Constraints (any kind
	// of constraints.gatekeeper.sh, as read) and Gatekeeper Configs
	// (config.gatekeeper.sh: the sync list) are OPA Gatekeeper's objects,
	// compiled when a snapshot is built.
	ConstraintTemplates []*gatekeeper.ConstraintTemplate
	Constraints         []*unstructured.Unstructured
	GatekeeperConfigs   []*gatekeeper.Config
	// RegoModules are plain OPA admission policies: the data of ConfigMaps
	// labelled openpolicyagent.org/policy=rego (as kube-mgmt loads them),
	// and .rego files (kguard serve --policy-dir).
	RegoModules []RegoModule
	// Inventory are the objects Gatekeeper's referential templates read as
	// data.inventory, synced from the cluster (cluster mode; offline the
	// Others and Namespaces of the input are).
	Inventory []*unstructured.Unstructured

	// Others are the documents that are not policy objects (workloads, ...),
	// in input order.
	Others []manifest.Document

	// Warnings are about objects accepted with a change, each "file:line: ...":
	// a cluster-scoped object's metadata.namespace is cleared, as the API
	// server clears it.
	Warnings []string

	// sources maps each decoded object (by pointer) to "file:line".
	sources map[any]string
}

// RegoModule is one Rego module of a plain OPA policy.
type RegoModule struct {
	// Name says where it was read: a file, or "ConfigMap ns/name key".
	Name   string
	Source string
}

// RegoPolicyLabel marks the ConfigMaps whose data are Rego modules, as
// kube-mgmt's --policies label does.
const RegoPolicyLabel = "openpolicyagent.org/policy"

// Source returns where obj (a pointer held by the set) was read: "file:line",
// or "" when it was not read from a file.
func (s *Set) Source(obj any) string { return s.sources[obj] }

// BindingSources returns a lookup of the file and line of each
// ClusterRoleBinding and RoleBinding by kind, namespace ("" for a
// ClusterRoleBinding) and name ("" when unknown), built once for many
// lookups.
func (s *Set) BindingSources() func(kind, namespace, name string) string {
	m := make(map[string]string, len(s.ClusterRoleBindings)+len(s.RoleBindings))
	for _, b := range s.ClusterRoleBindings {
		m["ClusterRoleBinding//"+b.Name] = s.Source(b)
	}
	for _, b := range s.RoleBindings {
		m["RoleBinding/"+b.Namespace+"/"+b.Name] = s.Source(b)
	}
	return func(kind, namespace, name string) string { return m[kind+"/"+namespace+"/"+name] }
}

func (s *Set) setSource(obj any, pos string) {
	if s.sources == nil {
		s.sources = map[any]string{}
	}
	s.sources[obj] = pos
}

// rbacVersions are the RBAC API versions accepted; they share one schema.
var rbacVersions = map[string]bool{
	"rbac.authorization.k8s.io/v1":       true,
	"rbac.authorization.k8s.io/v1beta1":  true,
	"rbac.authorization.k8s.io/v1alpha1": true,
}

// A decoder decodes a document strictly into its typed object and returns
// the step that checks it and adds it to a Set.
type decoder func(d *manifest.Document) (metav1.Object, func(s *Set) error, error)

func rbacDecoder[T any, PT interface {
	*T
	metav1.Object
}](add func(s *Set, obj PT)) decoder {
	return func(d *manifest.Document) (metav1.Object, func(s *Set) error, error) {
		obj := PT(new(T))
		if err := d.Decode(obj); err != nil {
			return nil, nil, err
		}
		return obj, func(s *Set) error { add(s, obj); return nil }, nil
	}
}

var rbacKinds = map[string]decoder{
	"Role":               rbacDecoder(func(s *Set, o *rbacv1.Role) { s.Roles = append(s.Roles, o) }),
	"ClusterRole":        rbacDecoder(func(s *Set, o *rbacv1.ClusterRole) { s.ClusterRoles = append(s.ClusterRoles, o) }),
	"RoleBinding":        rbacDecoder(func(s *Set, o *rbacv1.RoleBinding) { s.RoleBindings = append(s.RoleBindings, o) }),
	"ClusterRoleBinding": rbacDecoder(func(s *Set, o *rbacv1.ClusterRoleBinding) { s.ClusterRoleBindings = append(s.ClusterRoleBindings, o) }),
}

var coreKinds = map[string]decoder{
	"Namespace":      rbacDecoder(func(s *Set, o *corev1.Namespace) { s.Namespaces = append(s.Namespaces, o) }),
	"ServiceAccount": rbacDecoder(func(s *Set, o *corev1.ServiceAccount) { s.ServiceAccounts = append(s.ServiceAccounts, o) }),
	"Secret":         rbacDecoder(func(s *Set, o *corev1.Secret) { s.Secrets = append(s.Secrets, o) }),
}

// pspVersions are the apiVersions a PodSecurityPolicy is read from: Kubernetes
// served the same schema as extensions/v1beta1 (until v1.16) and
// policy/v1beta1 (until v1.25); kguard.io/v1alpha1 keeps it.
var pspVersions = map[string]bool{
	"policy/v1beta1":     true,
	"extensions/v1beta1": true,
	"kguard.io/v1alpha1": true,
}

// clusterScoped are the policy kinds that have no namespace.
var clusterScoped = map[string]bool{
	"ClusterRole":        true,
	"ClusterRoleBinding": true,
	"Namespace":          true,
	"PodSecurityPolicy":  true,
	"Tenant":             true,
	"ClusterImagePolicy": true,
	"TrustRoot":          true,
	"ConstraintTemplate": true,
}

// sigstoreKinds are policy-controller's kinds, by apiVersion.
var sigstoreKinds = map[string]map[string]decoder{
	"policy.sigstore.dev/v1beta1": {
		"ClusterImagePolicy": rbacDecoder(func(s *Set, o *sigstore.ClusterImagePolicy) {
			s.ClusterImagePolicies = append(s.ClusterImagePolicies, o)
		}),
	},
	"policy.sigstore.dev/v1alpha1": {
		"ClusterImagePolicy": rbacDecoder(func(s *Set, o *sigstore.ClusterImagePolicy) {
			s.ClusterImagePolicies = append(s.ClusterImagePolicies, o)
		}),
		"TrustRoot": rbacDecoder(func(s *Set, o *sigstore.TrustRoot) { s.TrustRoots = append(s.TrustRoots, o) }),
	},
}

// An Option changes how documents are read into a Set.
type Option func(*options)

type options struct {
	namespace string
}

// WithNamespace gives namespaced policy objects (Role, RoleBinding,
// ServiceAccount) that name no namespace this one, as kubectl apply -n does.
// Without it such an object is an error.
func WithNamespace(ns string) Option { return func(o *options) { o.namespace = ns } }

// FromDocuments sorts documents into a Set. Policy objects are decoded
// strictly; an unknown field is an error naming the file and line.
func FromDocuments(docs []manifest.Document, opts ...Option) (*Set, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := &Set{}
	tenantDocs := map[*v1alpha1.Tenant]*manifest.Document{}
	for i := range docs {
		doc := docs[i]
		d := &doc
		var dec decoder
		switch {
		case rbacVersions[d.APIVersion]:
			dec = rbacKinds[d.Kind]
			if dec == nil {
				return nil, d.Errorf("unknown RBAC kind %q (expected Role, ClusterRole, RoleBinding or ClusterRoleBinding)", d.Kind)
			}
		case d.APIVersion == "v1" && d.Kind == "ConfigMap":
			dec = decodeRegoConfigMap
		case d.APIVersion == "v1":
			dec = coreKinds[d.Kind]
		case d.Kind == "PodSecurityPolicy" && pspVersions[d.APIVersion]:
			dec = decodePSP
		case d.Kind == "Tenant" && d.APIVersion == v1alpha1.SchemeGroupVersion.String():
			dec = decodeTenant
		case d.Group() == gatekeeper.TemplatesGroup:
			if d.Kind != "ConstraintTemplate" {
				return nil, d.Errorf("unknown %s kind %q (expected ConstraintTemplate)", d.APIVersion, d.Kind)
			}
			dec = rbacDecoder(func(s *Set, o *gatekeeper.ConstraintTemplate) {
				s.ConstraintTemplates = append(s.ConstraintTemplates, o)
			})
		case d.Group() == gatekeeper.ConstraintsGroup:
			dec = decodeConstraint
		case d.Group() == gatekeeper.ConfigGroup && d.Kind == "Config":
			dec = rbacDecoder(func(s *Set, o *gatekeeper.Config) { s.GatekeeperConfigs = append(s.GatekeeperConfigs, o) })
		case sigstoreKinds[d.APIVersion] != nil:
			dec = sigstoreKinds[d.APIVersion][d.Kind]
			if dec == nil {
				return nil, d.Errorf("unknown %s kind %q (expected ClusterImagePolicy or TrustRoot)", d.APIVersion, d.Kind)
			}
		}
		if dec == nil {
			s.Others = append(s.Others, *d)
			continue
		}
		obj, add, err := dec(d)
		if err != nil {
			return nil, err
		}
		s.scope(d, obj, o.namespace)
		if err := checkName(d); err != nil {
			return nil, err
		}
		if err := add(s); err != nil {
			return nil, err
		}
		s.setSource(obj, d.Position())
		if t, ok := obj.(*v1alpha1.Tenant); ok {
			tenantDocs[t] = d
		}
	}
	if err := s.checkTenants(tenantDocs); err != nil {
		return nil, err
	}
	// Pod Security reads the last definition of a Namespace: say when one
	// shadows another (a copy left beside the file), as RBAC does for Roles.
	seen := map[string]string{}
	for _, n := range s.Namespaces {
		if first, dup := seen[n.Name]; dup {
			s.Warnings = append(s.Warnings, fmt.Sprintf("Namespace %q is defined more than once (%s, %s); the last definition is used", n.Name, first, s.Source(n)))
		}
		seen[n.Name] = s.Source(n)
	}
	return s, nil
}

// checkTenants validates the Tenants as a set; an error is positioned at the
// first tenant that conflicts with one before it.
func (s *Set) checkTenants(docs map[*v1alpha1.Tenant]*manifest.Document) error {
	errs := tenantvalidation.ValidateTenants(s.Tenants, s.Namespaces)
	if len(errs) == 0 {
		return nil
	}
	// Conflicts are reported at the later tenant: the shortest prefix of
	// tenants that has errors ends with it.
	i := sort.Search(len(s.Tenants), func(i int) bool {
		return len(tenantvalidation.ValidateTenants(s.Tenants[:i+1], s.Namespaces)) > 0
	})
	t := s.Tenants[min(i, len(s.Tenants)-1)]
	return docs[t].Errorf("invalid Tenant %q: %v", t.Name, errs.ToAggregate())
}

// scope gives a namespaced object without a namespace the default one, and
// clears the namespace of a cluster-scoped object, with a warning.
func (s *Set) scope(d *manifest.Document, obj metav1.Object, namespace string) {
	switch {
	case clusterScoped[d.Kind], d.Group() == gatekeeper.ConstraintsGroup:
		if ns := obj.GetNamespace(); ns != "" {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s: %s %q is cluster-scoped: its metadata.namespace %q is ignored, as the API server ignores it",
				d.Position(), d.Kind, d.Name, ns))
			obj.SetNamespace("")
			d.Namespace = ""
		}
	case obj.GetNamespace() == "" && namespace != "":
		obj.SetNamespace(namespace)
		d.Namespace = namespace
	}
}

// decodeConstraint reads a Gatekeeper constraint as it is: its kind's
// schema is its template's, checked when a snapshot is built.
func decodeConstraint(d *manifest.Document) (metav1.Object, func(s *Set) error, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(d.JSON); err != nil {
		return nil, nil, d.Errorf("decoding %s: %v", d.Kind, err)
	}
	return u, func(s *Set) error { s.Constraints = append(s.Constraints, u); return nil }, nil
}

// decodeRegoConfigMap reads a ConfigMap: one labelled
// openpolicyagent.org/policy=rego holds Rego modules (each data key one);
// any other is not a policy object.
func decodeRegoConfigMap(d *manifest.Document) (metav1.Object, func(s *Set) error, error) {
	cm := &corev1.ConfigMap{}
	if err := d.Decode(cm); err != nil {
		return nil, nil, err
	}
	return cm, func(s *Set) error {
		if cm.Labels[RegoPolicyLabel] != "rego" {
			s.Others = append(s.Others, *d)
			return nil
		}
		s.RegoModules = append(s.RegoModules, ConfigMapModules(cm)...)
		return nil
	}, nil
}

// ConfigMapModules are the Rego modules of a labelled ConfigMap, in key order.
func ConfigMapModules(cm *corev1.ConfigMap) []RegoModule {
	keys := make([]string, 0, len(cm.Data))
	for k := range cm.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]RegoModule, 0, len(keys))
	for _, k := range keys {
		out = append(out, RegoModule{Name: fmt.Sprintf("ConfigMap %s/%s %s", cm.Namespace, cm.Name, k), Source: cm.Data[k]})
	}
	return out
}

// decodePSP reads a PodSecurityPolicy strictly; adding it applies the
// policy/v1beta1 defaults and refuses an invalid policy with every field error.
func decodePSP(d *manifest.Document) (metav1.Object, func(s *Set) error, error) {
	p := &v1alpha1.PodSecurityPolicy{}
	if err := d.Decode(p); err != nil {
		return nil, nil, err
	}
	return p, func(s *Set) error {
		if err := CheckPodSecurityPolicy(p); err != nil {
			return d.Errorf("%v", err)
		}
		s.PodSecurityPolicies = append(s.PodSecurityPolicies, p)
		return nil
	}, nil
}

// decodeTenant reads a Tenant strictly; adding it applies its defaults and
// refuses an invalid tenant with every field error.
func decodeTenant(d *manifest.Document) (metav1.Object, func(s *Set) error, error) {
	t := &v1alpha1.Tenant{}
	if err := d.Decode(t); err != nil {
		return nil, nil, err
	}
	return t, func(s *Set) error {
		if err := CheckTenant(t); err != nil {
			return d.Errorf("%v", err)
		}
		s.Tenants = append(s.Tenants, t)
		return nil
	}, nil
}

// CheckTenant applies the Tenant defaults to t and validates it, with every
// field error. Conflicts with other tenants are tenantvalidation.ValidateTenants'.
func CheckTenant(t *v1alpha1.Tenant) error {
	v1alpha1.SetTenantDefaults(t)
	if errs := tenantvalidation.ValidateTenant(t); len(errs) > 0 {
		return fmt.Errorf("invalid Tenant %q: %v", t.Name, errs.ToAggregate())
	}
	return nil
}

// CheckPodSecurityPolicy applies the policy/v1beta1 defaults to p and
// validates it as the API server did, with every field error.
func CheckPodSecurityPolicy(p *v1alpha1.PodSecurityPolicy) error {
	v1alpha1.SetDefaults(p)
	if errs := validation.Validate(p); len(errs) > 0 {
		return fmt.Errorf("invalid PodSecurityPolicy %q: %v", p.Name, errs.ToAggregate())
	}
	return nil
}

func checkName(d *manifest.Document) error {
	if d.Name == "" {
		return d.Errorf("%s has no metadata.name", d.Kind)
	}
	switch d.Kind {
	case "Role", "RoleBinding", "ServiceAccount", "Secret":
		if d.Namespace == "" {
			return d.Errorf("%s %q has no metadata.namespace (give it one, or name the namespace with -n NAMESPACE)", d.Kind, d.Name)
		}
	}
	return nil
}

// Read reads one YAML/JSON stream into a Set; source names it in errors.
func Read(r io.Reader, source string, opts ...Option) (*Set, error) {
	docs, err := manifest.Read(r, source)
	if err != nil {
		return nil, err
	}
	return FromDocuments(docs, opts...)
}

// Load reads paths (files, directories, "-") into a Set: YAML and JSON
// objects, and the Rego modules of .rego files (plain OPA policies).
func Load(paths []string, stdin io.Reader, opts ...Option) (*Set, error) {
	var manifests []string
	var modules []RegoModule
	for _, p := range paths {
		if p == "-" {
			manifests = append(manifests, p)
			continue
		}
		files, err := manifest.ExpandExt(p, RegoExt)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, &manifest.Error{Source: f, Item: -1, Err: err}
			}
			modules = append(modules, RegoModule{Name: f, Source: string(b)})
		}
		if len(files) == 1 && files[0] == p {
			continue // a .rego file, not a manifest
		}
		manifests = append(manifests, p)
	}
	var docs []manifest.Document
	if len(manifests) > 0 {
		var err error
		if docs, err = manifest.ReadPaths(manifests, stdin); err != nil {
			return nil, err
		}
	}
	s, err := FromDocuments(docs, opts...)
	if err != nil {
		return nil, err
	}
	s.RegoModules = append(s.RegoModules, modules...)
	return s, nil
}

// RegoExt is the extension of the Rego files Load reads.
const RegoExt = ".rego"

// RefusedTenant is a Tenant refused: the object stored, not the version
// in force.
type RefusedTenant struct {
	Name       string
	Generation int64  // the refused object's metadata.generation
	Reason     string // why it is refused
	// Conditions are the refused object's status.conditions, as stored:
	// the reconciler writes its Ready condition only when it changes.
	Conditions []metav1.Condition
}

// Len is the number of documents read into the set, policy objects and others.
func (s *Set) Len() int {
	return len(s.Roles) + len(s.ClusterRoles) + len(s.RoleBindings) + len(s.ClusterRoleBindings) +
		len(s.Namespaces) + len(s.ServiceAccounts) + len(s.Secrets) + len(s.PodSecurityPolicies) + len(s.Tenants) + len(s.ClusterImagePolicies) + len(s.TrustRoots) +
		len(s.ConstraintTemplates) + len(s.Constraints) + len(s.GatekeeperConfigs) + len(s.Others)
}

// Empty reports whether the set holds nothing at all: no object (Len) and
// no Rego module.
func (s *Set) Empty() bool { return s.Len() == 0 && len(s.RegoModules) == 0 }

// Merge returns a new Set holding the objects of both. It does not check
// the Tenants of a against those of b (tenantvalidation.ValidateTenants).
func Merge(a, b *Set) *Set {
	return &Set{
		Roles:                append(append([]*rbacv1.Role(nil), a.Roles...), b.Roles...),
		ClusterRoles:         append(append([]*rbacv1.ClusterRole(nil), a.ClusterRoles...), b.ClusterRoles...),
		RoleBindings:         append(append([]*rbacv1.RoleBinding(nil), a.RoleBindings...), b.RoleBindings...),
		ClusterRoleBindings:  append(append([]*rbacv1.ClusterRoleBinding(nil), a.ClusterRoleBindings...), b.ClusterRoleBindings...),
		Namespaces:           append(append([]*corev1.Namespace(nil), a.Namespaces...), b.Namespaces...),
		ServiceAccounts:      append(append([]*corev1.ServiceAccount(nil), a.ServiceAccounts...), b.ServiceAccounts...),
		PodSecurityPolicies:  append(append([]*v1alpha1.PodSecurityPolicy(nil), a.PodSecurityPolicies...), b.PodSecurityPolicies...),
		Tenants:              append(append([]*v1alpha1.Tenant(nil), a.Tenants...), b.Tenants...),
		RefusedTenants:       append(append([]RefusedTenant(nil), a.RefusedTenants...), b.RefusedTenants...),
		ClusterImagePolicies: append(append([]*sigstore.ClusterImagePolicy(nil), a.ClusterImagePolicies...), b.ClusterImagePolicies...),
		TrustRoots:           append(append([]*sigstore.TrustRoot(nil), a.TrustRoots...), b.TrustRoots...),
		Secrets:              append(append([]*corev1.Secret(nil), a.Secrets...), b.Secrets...),
		ConstraintTemplates:  append(append([]*gatekeeper.ConstraintTemplate(nil), a.ConstraintTemplates...), b.ConstraintTemplates...),
		Constraints:          append(append([]*unstructured.Unstructured(nil), a.Constraints...), b.Constraints...),
		GatekeeperConfigs:    append(append([]*gatekeeper.Config(nil), a.GatekeeperConfigs...), b.GatekeeperConfigs...),
		RegoModules:          append(append([]RegoModule(nil), a.RegoModules...), b.RegoModules...),
		Inventory:            append(append([]*unstructured.Unstructured(nil), a.Inventory...), b.Inventory...),
		Others:               append(append([]manifest.Document(nil), a.Others...), b.Others...),
		Warnings:             append(append([]string(nil), a.Warnings...), b.Warnings...),
		sources:              mergeSources(a.sources, b.sources),
	}
}

func mergeSources(a, b map[any]string) map[any]string {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make(map[any]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func (s *Set) String() string {
	return fmt.Sprintf("%d roles, %d clusterroles, %d rolebindings, %d clusterrolebindings, %d namespaces, %d podsecuritypolicies, %d tenants",
		len(s.Roles), len(s.ClusterRoles), len(s.RoleBindings), len(s.ClusterRoleBindings), len(s.Namespaces), len(s.PodSecurityPolicies), len(s.Tenants))
}
