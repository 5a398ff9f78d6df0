// Package apiresources names the resources kube-apiserver serves the
// built-in kinds as, with their scope, so that `kguard check`, which reads
// objects from files, builds the AdmissionRequest kube-apiserver would send
// for them: request.resource is the API's plural (endpoints, not
// endpointses), and a cluster-scoped kind (RuntimeClass, CSIDriver) has no
// namespace. The table is kube-apiserver v1.37's discovery (every group and
// version it serves; a kind keeps its plural and scope across versions),
// checked against k8s.io/kubernetes's api/discovery documents by
// test/upstream, and the kinds of the CRDs kguard's deploy/ installs.
package apiresources

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Mapping is how a kind is served.
type Mapping struct {
	Resource   string // the plural: networkpolicies
	Namespaced bool
}

// Lookup is the resource and scope of a kind. For a kind it does not know
// (a custom resource whose CRD kguard has not read), known is false and
// the mapping is a guess: the plural as kubectl guesses it
// (meta.UnsafeGuessKindToResource), namespaced unless the kind's name
// starts with "Cluster" (ClusterIssuer, ClusterPolicy).
func Lookup(gk schema.GroupKind) (m Mapping, known bool) {
	if m, ok := builtin[gk]; ok {
		return m, true
	}
	if m, ok := crds[gk]; ok {
		return m, true
	}
	if gk.Group == "constraints.gatekeeper.sh" {
		// Gatekeeper's constraint CRDs: cluster-scoped, the plural the
		// lowercase kind (k8srequiredlabels).
		return Mapping{Resource: strings.ToLower(gk.Kind)}, true
	}
	plural, _ := meta.UnsafeGuessKindToResource(gk.WithVersion(""))
	return Mapping{Resource: plural.Resource, Namespaced: !strings.HasPrefix(gk.Kind, "Cluster")}, false
}

// Builtin is the table of the kinds kube-apiserver v1.37 serves itself, for
// the test that checks it against upstream's discovery documents.
func Builtin() map[schema.GroupKind]Mapping {
	out := make(map[schema.GroupKind]Mapping, len(builtin))
	for k, v := range builtin {
		out[k] = v
	}
	return out
}

// crds are the kinds of the CustomResourceDefinitions of deploy/ and the
// policy kinds kguard reads that kube-apiserver no longer serves
// (PodSecurityPolicy, removed in v1.25).
var crds = map[schema.GroupKind]Mapping{
	{Group: "policy", Kind: "PodSecurityPolicy"}:                   {"podsecuritypolicies", false},
	{Group: "extensions", Kind: "PodSecurityPolicy"}:               {"podsecuritypolicies", false},
	{Group: "kguard.io", Kind: "PodSecurityPolicy"}:                {"podsecuritypolicies", false},
	{Group: "kguard.io", Kind: "Tenant"}:                           {"tenants", false},
	{Group: "policy.sigstore.dev", Kind: "ClusterImagePolicy"}:     {"clusterimagepolicies", false},
	{Group: "policy.sigstore.dev", Kind: "TrustRoot"}:              {"trustroots", false},
	{Group: "templates.gatekeeper.sh", Kind: "ConstraintTemplate"}: {"constrainttemplates", false},
	{Group: "config.gatekeeper.sh", Kind: "Config"}:                {"configs", true},
	{Group: "wgpolicyk8s.io", Kind: "PolicyReport"}:                {"policyreports", true},
	{Group: "wgpolicyk8s.io", Kind: "ClusterPolicyReport"}:         {"clusterpolicyreports", false},
}

// builtin is kube-apiserver v1.37's discovery: group and kind to resource and scope.
var builtin = map[schema.GroupKind]Mapping{
	{Group: "", Kind: "Binding"}:                                                      {"bindings", true},
	{Group: "", Kind: "ComponentStatus"}:                                              {"componentstatuses", false},
	{Group: "", Kind: "ConfigMap"}:                                                    {"configmaps", true},
	{Group: "", Kind: "Endpoints"}:                                                    {"endpoints", true},
	{Group: "", Kind: "Event"}:                                                        {"events", true},
	{Group: "", Kind: "LimitRange"}:                                                   {"limitranges", true},
	{Group: "", Kind: "Namespace"}:                                                    {"namespaces", false},
	{Group: "", Kind: "Node"}:                                                         {"nodes", false},
	{Group: "", Kind: "PersistentVolume"}:                                             {"persistentvolumes", false},
	{Group: "", Kind: "PersistentVolumeClaim"}:                                        {"persistentvolumeclaims", true},
	{Group: "", Kind: "Pod"}:                                                          {"pods", true},
	{Group: "", Kind: "PodTemplate"}:                                                  {"podtemplates", true},
	{Group: "", Kind: "ReplicationController"}:                                        {"replicationcontrollers", true},
	{Group: "", Kind: "ResourceQuota"}:                                                {"resourcequotas", true},
	{Group: "", Kind: "Secret"}:                                                       {"secrets", true},
	{Group: "", Kind: "Service"}:                                                      {"services", true},
	{Group: "", Kind: "ServiceAccount"}:                                               {"serviceaccounts", true},
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicy"}:          {"mutatingadmissionpolicies", false},
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicyBinding"}:   {"mutatingadmissionpolicybindings", false},
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:     {"mutatingwebhookconfigurations", false},
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}:        {"validatingadmissionpolicies", false},
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicyBinding"}: {"validatingadmissionpolicybindings", false},
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}:   {"validatingwebhookconfigurations", false},
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:                 {"customresourcedefinitions", false},
	{Group: "apiregistration.k8s.io", Kind: "APIService"}:                             {"apiservices", false},
	{Group: "apps", Kind: "ControllerRevision"}:                                       {"controllerrevisions", true},
	{Group: "apps", Kind: "DaemonSet"}:                                                {"daemonsets", true},
	{Group: "apps", Kind: "Deployment"}:                                               {"deployments", true},
	{Group: "apps", Kind: "ReplicaSet"}:                                               {"replicasets", true},
	{Group: "apps", Kind: "StatefulSet"}:                                              {"statefulsets", true},
	{Group: "authentication.k8s.io", Kind: "SelfSubjectReview"}:                       {"selfsubjectreviews", false},
	{Group: "authentication.k8s.io", Kind: "TokenReview"}:                             {"tokenreviews", false},
	{Group: "authorization.k8s.io", Kind: "LocalSubjectAccessReview"}:                 {"localsubjectaccessreviews", true},
	{Group: "authorization.k8s.io", Kind: "SelfSubjectAccessReview"}:                  {"selfsubjectaccessreviews", false},
	{Group: "authorization.k8s.io", Kind: "SelfSubjectRulesReview"}:                   {"selfsubjectrulesreviews", false},
	{Group: "authorization.k8s.io", Kind: "SubjectAccessReview"}:                      {"subjectaccessreviews", false},
	{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}:                           {"horizontalpodautoscalers", true},
	{Group: "batch", Kind: "CronJob"}:                                                 {"cronjobs", true},
	{Group: "batch", Kind: "Job"}:                                                     {"jobs", true},
	{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}:                 {"certificatesigningrequests", false},
	{Group: "certificates.k8s.io", Kind: "ClusterTrustBundle"}:                        {"clustertrustbundles", false},
	{Group: "certificates.k8s.io", Kind: "PodCertificateRequest"}:                     {"podcertificaterequests", true},
	{Group: "coordination.k8s.io", Kind: "Lease"}:                                     {"leases", true},
	{Group: "coordination.k8s.io", Kind: "LeaseCandidate"}:                            {"leasecandidates", true},
	{Group: "discovery.k8s.io", Kind: "EndpointSlice"}:                                {"endpointslices", true},
	{Group: "events.k8s.io", Kind: "Event"}:                                           {"events", true},
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "FlowSchema"}:                       {"flowschemas", false},
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "PriorityLevelConfiguration"}:       {"prioritylevelconfigurations", false},
	{Group: "internal.apiserver.k8s.io", Kind: "StorageVersion"}:                      {"storageversions", false},
	{Group: "lifecycle.k8s.io", Kind: "Eviction"}:                                     {"evictions", true},
	{Group: "lifecycle.k8s.io", Kind: "EvictionRequest"}:                              {"evictionrequests", true},
	{Group: "networking.k8s.io", Kind: "IPAddress"}:                                   {"ipaddresses", false},
	{Group: "networking.k8s.io", Kind: "Ingress"}:                                     {"ingresses", true},
	{Group: "networking.k8s.io", Kind: "IngressClass"}:                                {"ingressclasses", false},
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"}:                               {"networkpolicies", true},
	{Group: "networking.k8s.io", Kind: "ServiceCIDR"}:                                 {"servicecidrs", false},
	{Group: "node.k8s.io", Kind: "RuntimeClass"}:                                      {"runtimeclasses", false},
	{Group: "policy", Kind: "PodDisruptionBudget"}:                                    {"poddisruptionbudgets", true},
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:                         {"clusterroles", false},
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:                  {"clusterrolebindings", false},
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:                                {"roles", true},
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:                         {"rolebindings", true},
	{Group: "resource.k8s.io", Kind: "DeviceClass"}:                                   {"deviceclasses", false},
	{Group: "resource.k8s.io", Kind: "DeviceTaintRule"}:                               {"devicetaintrules", false},
	{Group: "resource.k8s.io", Kind: "ResourceClaim"}:                                 {"resourceclaims", true},
	{Group: "resource.k8s.io", Kind: "ResourceClaimTemplate"}:                         {"resourceclaimtemplates", true},
	{Group: "resource.k8s.io", Kind: "ResourcePoolStatusRequest"}:                     {"resourcepoolstatusrequests", false},
	{Group: "resource.k8s.io", Kind: "ResourceSlice"}:                                 {"resourceslices", false},
	{Group: "scheduling.k8s.io", Kind: "CompositePodGroup"}:                           {"compositepodgroups", true},
	{Group: "scheduling.k8s.io", Kind: "PodGroup"}:                                    {"podgroups", true},
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:                               {"priorityclasses", false},
	{Group: "scheduling.k8s.io", Kind: "Workload"}:                                    {"workloads", true},
	{Group: "storage.k8s.io", Kind: "CSIDriver"}:                                      {"csidrivers", false},
	{Group: "storage.k8s.io", Kind: "CSINode"}:                                        {"csinodes", false},
	{Group: "storage.k8s.io", Kind: "CSIStorageCapacity"}:                             {"csistoragecapacities", true},
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                                   {"storageclasses", false},
	{Group: "storage.k8s.io", Kind: "VolumeAttachment"}:                               {"volumeattachments", false},
	{Group: "storage.k8s.io", Kind: "VolumeAttributesClass"}:                          {"volumeattributesclasses", false},
	{Group: "storagemigration.k8s.io", Kind: "StorageVersionMigration"}:               {"storageversionmigrations", false},
}
