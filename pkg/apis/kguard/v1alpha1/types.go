package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations of a PodSecurityPolicy that govern seccomp and AppArmor profiles
// (the pod-level annotations of the same prefixes are what they govern).
const (
	SeccompAllowedProfilesAnnotation  = "seccomp.security.alpha.kubernetes.io/allowedProfileNames"
	SeccompDefaultProfileAnnotation   = "seccomp.security.alpha.kubernetes.io/defaultProfileName"
	AppArmorAllowedProfilesAnnotation = "apparmor.security.beta.kubernetes.io/allowedProfileNames"
	AppArmorDefaultProfileAnnotation  = "apparmor.security.beta.kubernetes.io/defaultProfileName"
	// PodAnnotation records on an admitted pod the policy that admitted it.
	PodAnnotation = "kubernetes.io/psp"
)

// PodSecurityPolicy governs the security-sensitive fields of pods: which a pod
// may set, and the defaults it gets. A request may use a policy when the
// requesting user or the pod's ServiceAccount is allowed the verb "use" on it.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=kpsp
// +kubebuilder:printcolumn:name="PRIV",type=boolean,JSONPath=`.spec.privileged`
// +kubebuilder:printcolumn:name="CAPS",type=string,JSONPath=`.spec.allowedCapabilities`
// +kubebuilder:printcolumn:name="SELINUX",type=string,JSONPath=`.spec.seLinux.rule`
// +kubebuilder:printcolumn:name="RUNASUSER",type=string,JSONPath=`.spec.runAsUser.rule`
// +kubebuilder:printcolumn:name="FSGROUP",type=string,JSONPath=`.spec.fsGroup.rule`
// +kubebuilder:printcolumn:name="SUPGROUP",type=string,JSONPath=`.spec.supplementalGroups.rule`
// +kubebuilder:printcolumn:name="READONLYROOTFS",type=boolean,JSONPath=`.spec.readOnlyRootFilesystem`
// +kubebuilder:printcolumn:name="VOLUMES",type=string,JSONPath=`.spec.volumes`
type PodSecurityPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what the policy allows and defaults.
	Spec PodSecurityPolicySpec `json:"spec,omitempty"`
}

// PodSecurityPolicyList is a list of PodSecurityPolicies.
//
// +kubebuilder:object:root=true
type PodSecurityPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PodSecurityPolicy `json:"items"`
}

// PodSecurityPolicySpec is the policy/v1beta1 PodSecurityPolicySpec.
type PodSecurityPolicySpec struct {
	// Privileged allows privileged containers.
	// +optional
	Privileged bool `json:"privileged,omitempty"`
	// DefaultAddCapabilities are added to every container unless it drops them;
	// they may not also be required-drop.
	// +optional
	DefaultAddCapabilities []corev1.Capability `json:"defaultAddCapabilities,omitempty"`
	// RequiredDropCapabilities are dropped from every container.
	// +optional
	RequiredDropCapabilities []corev1.Capability `json:"requiredDropCapabilities,omitempty"`
	// AllowedCapabilities may be added by containers; "*" allows any.
	// +optional
	AllowedCapabilities []corev1.Capability `json:"allowedCapabilities,omitempty"`
	// Volumes are the allowed volume types; "*" allows all.
	// +optional
	Volumes []FSType `json:"volumes,omitempty"`
	// HostNetwork allows the host's network namespace.
	// +optional
	HostNetwork bool `json:"hostNetwork,omitempty"`
	// HostPorts are the allowed host port ranges.
	// +optional
	HostPorts []HostPortRange `json:"hostPorts,omitempty"`
	// HostPID allows the host's PID namespace.
	// +optional
	HostPID bool `json:"hostPID,omitempty"`
	// HostIPC allows the host's IPC namespace.
	// +optional
	HostIPC bool `json:"hostIPC,omitempty"`
	// SELinux is the strategy for the SELinux context.
	SELinux SELinuxStrategyOptions `json:"seLinux"`
	// RunAsUser is the strategy for the user ID.
	RunAsUser RunAsUserStrategyOptions `json:"runAsUser"`
	// RunAsGroup is the strategy for the primary group ID; unset allows any.
	// +optional
	RunAsGroup *RunAsGroupStrategyOptions `json:"runAsGroup,omitempty"`
	// SupplementalGroups is the strategy for supplemental groups.
	SupplementalGroups SupplementalGroupsStrategyOptions `json:"supplementalGroups"`
	// FSGroup is the strategy for the volume-owning group.
	FSGroup FSGroupStrategyOptions `json:"fsGroup"`
	// ReadOnlyRootFilesystem requires (and defaults) read-only root filesystems.
	// +optional
	ReadOnlyRootFilesystem bool `json:"readOnlyRootFilesystem,omitempty"`
	// DefaultAllowPrivilegeEscalation defaults allowPrivilegeEscalation of containers.
	// +optional
	DefaultAllowPrivilegeEscalation *bool `json:"defaultAllowPrivilegeEscalation,omitempty"`
	// AllowPrivilegeEscalation allows containers to set allowPrivilegeEscalation=true;
	// unset means true (policy/v1beta1 default).
	// +optional
	AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation,omitempty"`
	// AllowedHostPaths are the allowed hostPath prefixes; empty allows any.
	// +optional
	AllowedHostPaths []AllowedHostPath `json:"allowedHostPaths,omitempty"`
	// AllowedFlexVolumes are the allowed FlexVolume drivers; empty allows any.
	// +optional
	AllowedFlexVolumes []AllowedFlexVolume `json:"allowedFlexVolumes,omitempty"`
	// AllowedCSIDrivers are the allowed inline CSI drivers; empty allows any.
	// +optional
	AllowedCSIDrivers []AllowedCSIDriver `json:"allowedCSIDrivers,omitempty"`
	// AllowedUnsafeSysctls are unsafe sysctls (or "prefix*" patterns, "*") allowed.
	// +optional
	AllowedUnsafeSysctls []string `json:"allowedUnsafeSysctls,omitempty"`
	// ForbiddenSysctls are sysctls (or patterns) forbidden, safe ones included.
	// +optional
	ForbiddenSysctls []string `json:"forbiddenSysctls,omitempty"`
	// AllowedProcMountTypes are the allowed procMount types; empty means Default only.
	// +optional
	AllowedProcMountTypes []corev1.ProcMountType `json:"allowedProcMountTypes,omitempty"`
	// RuntimeClass is the strategy for runtimeClassName; unset allows any.
	// +optional
	RuntimeClass *RuntimeClassStrategyOptions `json:"runtimeClass,omitempty"`
}

// AllowedHostPath is an allowed hostPath prefix. "/foo" allows "/foo" and
// "/foo/bar", not "/food". ReadOnly requires read-only mounts of it.
type AllowedHostPath struct {
	PathPrefix string `json:"pathPrefix,omitempty"`
	ReadOnly   bool   `json:"readOnly,omitempty"`
}

// AllowAllCapabilities in allowedCapabilities allows any capability.
const AllowAllCapabilities corev1.Capability = "*"

// FSType names a volume type as in the pod's volume source field.
type FSType string

// The volume types of Kubernetes v1.24.
const (
	AzureFile             FSType = "azureFile"
	Flocker               FSType = "flocker"
	FlexVolume            FSType = "flexVolume"
	HostPath              FSType = "hostPath"
	EmptyDir              FSType = "emptyDir"
	GCEPersistentDisk     FSType = "gcePersistentDisk"
	AWSElasticBlockStore  FSType = "awsElasticBlockStore"
	GitRepo               FSType = "gitRepo"
	Secret                FSType = "secret"
	NFS                   FSType = "nfs"
	ISCSI                 FSType = "iscsi"
	Glusterfs             FSType = "glusterfs"
	PersistentVolumeClaim FSType = "persistentVolumeClaim"
	RBD                   FSType = "rbd"
	Cinder                FSType = "cinder"
	CephFS                FSType = "cephFS"
	DownwardAPI           FSType = "downwardAPI"
	FC                    FSType = "fc"
	ConfigMap             FSType = "configMap"
	VsphereVolume         FSType = "vsphereVolume"
	Quobyte               FSType = "quobyte"
	AzureDisk             FSType = "azureDisk"
	PhotonPersistentDisk  FSType = "photonPersistentDisk"
	StorageOS             FSType = "storageos"
	Projected             FSType = "projected"
	PortworxVolume        FSType = "portworxVolume"
	ScaleIO               FSType = "scaleIO"
	CSI                   FSType = "csi"
	Ephemeral             FSType = "ephemeral"
	All                   FSType = "*"
)

// AllowedFlexVolume is an allowed FlexVolume driver.
type AllowedFlexVolume struct {
	Driver string `json:"driver"`
}

// AllowedCSIDriver is an allowed inline CSI driver.
type AllowedCSIDriver struct {
	Name string `json:"name"`
}

// HostPortRange is an inclusive range of host ports.
type HostPortRange struct {
	Min int32 `json:"min"`
	Max int32 `json:"max"`
}

// SELinuxStrategyOptions: MustRunAs requires (and defaults) seLinuxOptions.
type SELinuxStrategyOptions struct {
	Rule           SELinuxStrategy        `json:"rule"`
	SELinuxOptions *corev1.SELinuxOptions `json:"seLinuxOptions,omitempty"`
}

// SELinuxStrategy is MustRunAs or RunAsAny.
type SELinuxStrategy string

const (
	SELinuxStrategyMustRunAs SELinuxStrategy = "MustRunAs"
	SELinuxStrategyRunAsAny  SELinuxStrategy = "RunAsAny"
)

// RunAsUserStrategyOptions: MustRunAs requires a UID in ranges (default: the
// first range's min), MustRunAsNonRoot requires a non-zero UID, RunAsAny allows any.
type RunAsUserStrategyOptions struct {
	Rule   RunAsUserStrategy `json:"rule"`
	Ranges []IDRange         `json:"ranges,omitempty"`
}

// RunAsGroupStrategyOptions: MustRunAs requires and defaults a GID in ranges,
// MayRunAs requires it only when set, RunAsAny allows any.
type RunAsGroupStrategyOptions struct {
	Rule   RunAsGroupStrategy `json:"rule"`
	Ranges []IDRange          `json:"ranges,omitempty"`
}

// IDRange is an inclusive range of IDs.
type IDRange struct {
	Min int64 `json:"min"`
	Max int64 `json:"max"`
}

// RunAsUserStrategy is MustRunAs, MustRunAsNonRoot or RunAsAny.
type RunAsUserStrategy string

const (
	RunAsUserStrategyMustRunAs        RunAsUserStrategy = "MustRunAs"
	RunAsUserStrategyMustRunAsNonRoot RunAsUserStrategy = "MustRunAsNonRoot"
	RunAsUserStrategyRunAsAny         RunAsUserStrategy = "RunAsAny"
)

// RunAsGroupStrategy is MayRunAs, MustRunAs or RunAsAny.
type RunAsGroupStrategy string

const (
	RunAsGroupStrategyMayRunAs  RunAsGroupStrategy = "MayRunAs"
	RunAsGroupStrategyMustRunAs RunAsGroupStrategy = "MustRunAs"
	RunAsGroupStrategyRunAsAny  RunAsGroupStrategy = "RunAsAny"
)

// FSGroupStrategyOptions: MustRunAs requires and defaults an fsGroup in ranges,
// MayRunAs requires it only when set, RunAsAny allows any.
type FSGroupStrategyOptions struct {
	Rule   FSGroupStrategyType `json:"rule,omitempty"`
	Ranges []IDRange           `json:"ranges,omitempty"`
}

// FSGroupStrategyType is MayRunAs, MustRunAs or RunAsAny.
type FSGroupStrategyType string

const (
	FSGroupStrategyMayRunAs  FSGroupStrategyType = "MayRunAs"
	FSGroupStrategyMustRunAs FSGroupStrategyType = "MustRunAs"
	FSGroupStrategyRunAsAny  FSGroupStrategyType = "RunAsAny"
)

// SupplementalGroupsStrategyOptions: as FSGroupStrategyOptions, for supplemental groups.
type SupplementalGroupsStrategyOptions struct {
	Rule   SupplementalGroupsStrategyType `json:"rule,omitempty"`
	Ranges []IDRange                      `json:"ranges,omitempty"`
}

// SupplementalGroupsStrategyType is MayRunAs, MustRunAs or RunAsAny.
type SupplementalGroupsStrategyType string

const (
	SupplementalGroupsStrategyMayRunAs  SupplementalGroupsStrategyType = "MayRunAs"
	SupplementalGroupsStrategyMustRunAs SupplementalGroupsStrategyType = "MustRunAs"
	SupplementalGroupsStrategyRunAsAny  SupplementalGroupsStrategyType = "RunAsAny"
)

// RuntimeClassStrategyOptions: the allowed runtimeClassNames ("*" any; empty:
// only pods without one) and the default.
type RuntimeClassStrategyOptions struct {
	AllowedRuntimeClassNames []string `json:"allowedRuntimeClassNames"`
	DefaultRuntimeClassName  *string  `json:"defaultRuntimeClassName,omitempty"`
}

// AllowAllRuntimeClassNames in allowedRuntimeClassNames allows any.
const AllowAllRuntimeClassNames = "*"
