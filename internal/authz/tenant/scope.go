package tenant

// clusterScoped are the cluster-scoped resources ("group/resource") the Tenant
// mode knows: Kubernetes' built-in ones as of v1.37 (`kubectl api-resources
// --namespaced=false`, alpha and beta APIs included) and those of the CRDs
// kguard and the policies it reads install. The mode sees only a request's
// attributes, not the API server's discovery, so every other resource,
// another CRD's included, is treated as namespaced: a request without a
// namespace on it reaches every namespace's objects and is denied to a
// tenant's members (fail closed). A cluster-scoped CRD missing here is denied
// cluster-wide reads to them, never granted more.
var clusterScoped = map[string]bool{
	// core
	"/componentstatuses": true,
	"/namespaces":        true,
	"/nodes":             true,
	"/persistentvolumes": true,
	// admissionregistration.k8s.io
	"admissionregistration.k8s.io/mutatingwebhookconfigurations":     true,
	"admissionregistration.k8s.io/validatingwebhookconfigurations":   true,
	"admissionregistration.k8s.io/validatingadmissionpolicies":       true,
	"admissionregistration.k8s.io/validatingadmissionpolicybindings": true,
	"admissionregistration.k8s.io/mutatingadmissionpolicies":         true,
	"admissionregistration.k8s.io/mutatingadmissionpolicybindings":   true,
	"apiextensions.k8s.io/customresourcedefinitions":                 true,
	"apiregistration.k8s.io/apiservices":                             true,
	// the reviews (localsubjectaccessreviews is namespaced)
	"authentication.k8s.io/tokenreviews":                       true,
	"authentication.k8s.io/selfsubjectreviews":                 true,
	"authorization.k8s.io/subjectaccessreviews":                true,
	"authorization.k8s.io/selfsubjectaccessreviews":            true,
	"authorization.k8s.io/selfsubjectrulesreviews":             true,
	"certificates.k8s.io/certificatesigningrequests":           true,
	"certificates.k8s.io/clustertrustbundles":                  true,
	"flowcontrol.apiserver.k8s.io/flowschemas":                 true,
	"flowcontrol.apiserver.k8s.io/prioritylevelconfigurations": true,
	"internal.apiserver.k8s.io/storageversions":                true,
	"networking.k8s.io/ingressclasses":                         true,
	"networking.k8s.io/ipaddresses":                            true,
	"networking.k8s.io/servicecidrs":                           true,
	"node.k8s.io/runtimeclasses":                               true,
	"rbac.authorization.k8s.io/clusterroles":                   true,
	"rbac.authorization.k8s.io/clusterrolebindings":            true,
	"resource.k8s.io/deviceclasses":                            true,
	"resource.k8s.io/resourceslices":                           true,
	"resource.k8s.io/devicetaintrules":                         true,
	"scheduling.k8s.io/priorityclasses":                        true,
	"storage.k8s.io/csidrivers":                                true,
	"storage.k8s.io/csinodes":                                  true,
	"storage.k8s.io/storageclasses":                            true,
	"storage.k8s.io/volumeattachments":                         true,
	"storage.k8s.io/volumeattributesclasses":                   true,
	"storagemigration.k8s.io/storageversionmigrations":         true,
	// PodSecurityPolicies, in every group RBAC may grant "use" on them in
	// (internal/admission/psp.UseAPIGroups: the PSP plugin asks with no
	// namespace too).
	"policy/podsecuritypolicies":     true,
	"extensions/podsecuritypolicies": true,
	"kguard.io/podsecuritypolicies":  true,
	// kguard's CRDs and the policy CRDs it reads (deploy/).
	"kguard.io/tenants":                           true,
	"policy.sigstore.dev/clusterimagepolicies":    true,
	"policy.sigstore.dev/trustroots":              true,
	"templates.gatekeeper.sh/constrainttemplates": true,
	"wgpolicyk8s.io/clusterpolicyreports":         true,
}

// clusterScopedGroups are API groups whose every resource is cluster-scoped:
// Gatekeeper's constraints, one resource per ConstraintTemplate.
var clusterScopedGroups = map[string]bool{"constraints.gatekeeper.sh": true}

// ClusterScoped reports whether group/resource is known to be a
// cluster-scoped resource (see clusterScoped); the Tenant mode takes every
// other resource as namespaced, and `kguard authz can-i` asks about the
// known ones without a namespace.
func ClusterScoped(group, resource string) bool {
	return clusterScoped[group+"/"+resource] || clusterScopedGroups[group]
}
