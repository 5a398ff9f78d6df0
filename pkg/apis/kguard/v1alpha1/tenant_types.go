package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TenantLabel is the key of a tenant's default node taint and node label; its
// value is the tenant's name.
const TenantLabel = "kguard.io/tenant"

// Tenant is a group of namespaces given to one team, and the guardrails that
// keep it from the others: its owners, its nodes, the pod security, Services,
// network access and quota of its namespaces, and the labels every object in
// them carries.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=ktenant
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="NODES",type=string,JSONPath=`.spec.nodes.mode`
// +kubebuilder:printcolumn:name="LEVEL",type=string,JSONPath=`.spec.podSecurity.level`
// +kubebuilder:printcolumn:name="SELINUX",type=string,JSONPath=`.spec.podSecurity.seLinux`
// +kubebuilder:printcolumn:name="SERVICES",type=string,JSONPath=`.spec.services.allowedTypes`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
type Tenant struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what the tenant owns and the rules of its namespaces.
	Spec TenantSpec `json:"spec,omitempty"`
	// Status is what the tenant controller last observed.
	// +optional
	Status TenantStatus `json:"status,omitempty"`
}

// TenantList is a list of Tenants.
//
// +kubebuilder:object:root=true
type TenantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Tenant `json:"items"`
}

// TenantSpec is a tenant's owners, namespaces and rules. Every field has a
// default that isolates the tenant (SetTenantDefaults); a tenant opts out of
// a rule explicitly.
type TenantSpec struct {
	// Owners are the users, groups and ServiceAccounts that administer the
	// tenant's namespaces (they get RoleBindings in them, and authorization
	// denies them everything outside them).
	// +optional
	Owners TenantOwners `json:"owners,omitempty"`
	// Namespaces are the tenant's namespaces. A namespace belongs to at most
	// one tenant: two tenants naming or selecting one namespace is a
	// validation error naming both.
	Namespaces TenantNamespaces `json:"namespaces"`
	// Nodes are the tenant's dedicated nodes: their taint and labels, and
	// whether pods get the matching toleration and nodeSelector injected or
	// must carry them.
	// +optional
	Nodes TenantNodes `json:"nodes,omitempty"`
	// PodSecurity is the pod security of the tenant's namespaces.
	// +optional
	PodSecurity TenantPodSecurity `json:"podSecurity,omitempty"`
	// Services are the Service features the tenant may use.
	// +optional
	Services TenantServices `json:"services,omitempty"`
	// Network is the network isolation of the tenant's namespaces.
	// +optional
	Network TenantNetwork `json:"network,omitempty"`
	// Quota are the ResourceQuota and LimitRange created in each of the
	// tenant's namespaces; unset creates none.
	// +optional
	Quota TenantQuota `json:"quota,omitempty"`
	// RequiredLabels are labels every object in the tenant's namespaces
	// carries: an object created without them gets them, and one with another
	// value for a key is refused. Keys and values are label keys and values.
	// +optional
	RequiredLabels map[string]string `json:"requiredLabels,omitempty"`
}

// TenantOwners are the subjects that administer a tenant. Empty is allowed: a
// tenant then has no owners, only the cluster's administrators.
type TenantOwners struct {
	// Users are user names, as authentication gives them.
	// +optional
	Users []string `json:"users,omitempty"`
	// Groups are group names, as authentication gives them.
	// +optional
	Groups []string `json:"groups,omitempty"`
	// ServiceAccounts are ServiceAccounts, by namespace and name.
	// +optional
	ServiceAccounts []ServiceAccountReference `json:"serviceAccounts,omitempty"`
}

// ServiceAccountReference names a ServiceAccount.
type ServiceAccountReference struct {
	// Namespace is the ServiceAccount's namespace.
	Namespace string `json:"namespace"`
	// Name is the ServiceAccount's name.
	Name string `json:"name"`
}

// TenantNamespaces are a tenant's namespaces: those named and those whose
// labels match the selector. At least one of them must be set.
type TenantNamespaces struct {
	// Names are namespaces by name; they need not exist yet. The system
	// namespaces (kube-system, kube-public, kube-node-lease) cannot be a
	// tenant's.
	// +optional
	Names []string `json:"names,omitempty"`
	// Selector selects namespaces by their labels. An empty selector (which
	// would select every namespace) is invalid.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// TenantNodes are a tenant's dedicated nodes.
type TenantNodes struct {
	// Taint is the taint of the tenant's nodes, which keeps other tenants' pods
	// off them; the tenant's pods tolerate it. Default: kguard.io/tenant=<name>:NoSchedule.
	// Its effect is NoSchedule or NoExecute (PreferNoSchedule would not keep
	// other pods off).
	// +optional
	Taint *TenantTaint `json:"taint,omitempty"`
	// Labels are labels of the tenant's nodes, the nodeSelector of its pods,
	// which keeps them on its nodes. Default: kguard.io/tenant: <name>.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// Mode is what happens to a pod of the tenant without the toleration or
	// the nodeSelector: "inject" (the default) adds them, "require" refuses
	// the pod.
	// +optional
	// +kubebuilder:validation:Enum=inject;require
	Mode TenantNodeMode `json:"mode,omitempty"`
}

// TenantTaint is a node taint, without the time it was added.
type TenantTaint struct {
	// Key is the taint's key, a qualified name (as a label key).
	Key string `json:"key"`
	// Value is the taint's value, a label value; may be empty.
	// +optional
	Value string `json:"value,omitempty"`
	// Effect is NoSchedule or NoExecute.
	Effect corev1.TaintEffect `json:"effect"`
}

// TenantNodeMode is inject or require.
type TenantNodeMode string

const (
	// TenantNodeModeInject adds the tenant's toleration and nodeSelector to its pods.
	TenantNodeModeInject TenantNodeMode = "inject"
	// TenantNodeModeRequire refuses the tenant's pods without them.
	TenantNodeModeRequire TenantNodeMode = "require"
)

// TenantPodSecurity is the pod security of a tenant's namespaces.
type TenantPodSecurity struct {
	// Level is the Pod Security Standard enforced in the tenant's namespaces
	// (their pod-security.kubernetes.io/enforce label): privileged, baseline
	// or restricted. Default: restricted when podSecurityPolicies is empty,
	// otherwise unset (the PodSecurityPolicies alone decide).
	// +optional
	// +kubebuilder:validation:Enum=privileged;baseline;restricted
	Level PodSecurityLevel `json:"level,omitempty"`
	// PodSecurityPolicies are the names of kguard PodSecurityPolicies the
	// tenant's ServiceAccounts may use.
	// +optional
	PodSecurityPolicies []string `json:"podSecurityPolicies,omitempty"`
	// Seccomp is the seccomp profile given to pods that set none:
	// RuntimeDefault (the default), or Unconfined to give none.
	// +optional
	// +kubebuilder:validation:Enum=RuntimeDefault;Unconfined
	Seccomp corev1.SeccompProfileType `json:"seccomp,omitempty"`
	// SELinux is how pods get SELinux MCS levels (seLinuxOptions.level):
	// perPod (the default) gives every pod a pair of categories no other
	// running pod holds, perTenant gives each tenant one pair, off gives none.
	// +optional
	// +kubebuilder:validation:Enum=perPod;perTenant;off
	SELinux TenantSELinuxMode `json:"seLinux,omitempty"`
}

// PodSecurityLevel is a Pod Security Standard: privileged, baseline or restricted.
type PodSecurityLevel string

const (
	PodSecurityLevelPrivileged PodSecurityLevel = "privileged"
	PodSecurityLevelBaseline   PodSecurityLevel = "baseline"
	PodSecurityLevelRestricted PodSecurityLevel = "restricted"
)

// TenantSELinuxMode is perPod, perTenant or off.
type TenantSELinuxMode string

const (
	// TenantSELinuxPerPod gives each running pod its own MCS category pair.
	TenantSELinuxPerPod TenantSELinuxMode = "perPod"
	// TenantSELinuxPerTenant gives each tenant one MCS category pair.
	TenantSELinuxPerTenant TenantSELinuxMode = "perTenant"
	// TenantSELinuxOff assigns no MCS levels.
	TenantSELinuxOff TenantSELinuxMode = "off"
)

// TenantServices are the Service features a tenant may use.
type TenantServices struct {
	// ExternalIPs allows Services with spec.externalIPs. Default false:
	// forbidden, as any tenant could intercept traffic to any IP with them
	// (CVE-2020-8554).
	// +optional
	ExternalIPs bool `json:"externalIPs,omitempty"`
	// AllowedTypes are the Service types the tenant may create: ClusterIP,
	// NodePort, LoadBalancer, ExternalName. Default: [ClusterIP].
	// +optional
	AllowedTypes []corev1.ServiceType `json:"allowedTypes,omitempty"`
	// LoadBalancerSourceRanges are CIDRs; every LoadBalancer Service of the
	// tenant must set spec.loadBalancerSourceRanges within them. Required when
	// allowedTypes has LoadBalancer, forbidden otherwise.
	// +optional
	LoadBalancerSourceRanges []string `json:"loadBalancerSourceRanges,omitempty"`
}

// TenantNetwork is the network isolation of a tenant's namespaces.
type TenantNetwork struct {
	// BlockedEgressCIDRs are CIDRs the tenant's pods may not reach, the
	// instance metadata services. Default: 169.254.0.0/16 (IPv4 link-local:
	// AWS, GCP, Azure metadata) and fd00:ec2::254/128 (AWS IPv6 metadata).
	// +optional
	BlockedEgressCIDRs []string `json:"blockedEgressCIDRs,omitempty"`
	// IngressFrom are the sources allowed to reach the tenant's pods besides
	// its own namespaces; by default nothing else is.
	// +optional
	IngressFrom []TenantIngressPeer `json:"ingressFrom,omitempty"`
}

// TenantIngressPeer is one source of ingress: exactly one field is set.
type TenantIngressPeer struct {
	// Tenant is another tenant, whose namespaces may reach this one's.
	// +optional
	Tenant string `json:"tenant,omitempty"`
	// NamespaceSelector selects namespaces by their labels (an ingress
	// controller's, a monitoring system's). It may not be empty.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// CIDR is an IP block, e.g. a load balancer's.
	// +optional
	CIDR string `json:"cidr,omitempty"`
}

// TenantQuota are the quota templates of a tenant's namespaces.
type TenantQuota struct {
	// ResourceQuota is the spec of the ResourceQuota created in each of the
	// tenant's namespaces; unset creates none.
	// +optional
	ResourceQuota *corev1.ResourceQuotaSpec `json:"resourceQuota,omitempty"`
	// LimitRange is the spec of the LimitRange created in each of the
	// tenant's namespaces; unset creates none.
	// +optional
	LimitRange *corev1.LimitRangeSpec `json:"limitRange,omitempty"`
}

// TenantStatus is what the tenant controller last observed.
type TenantStatus struct {
	// Conditions are the tenant's conditions (e.g. Ready), one per type.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}
