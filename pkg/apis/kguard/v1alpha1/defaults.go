package v1alpha1

import corev1 "k8s.io/api/core/v1"

// SetDefaults applies the policy/v1beta1 defaults: allowPrivilegeEscalation,
// when unset, is true.
func SetDefaults(p *PodSecurityPolicy) {
	if p.Spec.AllowPrivilegeEscalation == nil {
		t := true
		p.Spec.AllowPrivilegeEscalation = &t
	}
}

// AllFSTypes lists every volume type a policy may name, "*" excluded.
var AllFSTypes = []FSType{
	AzureFile, Flocker, FlexVolume, HostPath, EmptyDir, GCEPersistentDisk, AWSElasticBlockStore, GitRepo,
	Secret, NFS, ISCSI, Glusterfs, PersistentVolumeClaim, RBD, Cinder, CephFS, DownwardAPI, FC, ConfigMap,
	VsphereVolume, Quobyte, AzureDisk, PhotonPersistentDisk, StorageOS, Projected, PortworxVolume, ScaleIO,
	CSI, Ephemeral,
}

// DefaultBlockedEgressCIDRs are the instance metadata CIDRs a tenant's pods
// may not reach unless the Tenant lists others: IPv4 link-local (the AWS, GCP
// and Azure metadata services at 169.254.169.254) and AWS's IPv6 endpoint.
var DefaultBlockedEgressCIDRs = []string{"169.254.0.0/16", "fd00:ec2::254/128"}

// SetTenantDefaults applies the defaults that isolate a tenant, each said on
// its field: the node taint kguard.io/tenant=<name>:NoSchedule and node label
// kguard.io/tenant=<name>, mode inject, level restricted (without
// podSecurityPolicies), seccomp RuntimeDefault, SELinux perPod, Service types
// [ClusterIP], and the metadata CIDRs blocked. It must run after the name is
// set; an explicit value is never changed.
func SetTenantDefaults(t *Tenant) {
	s := &t.Spec
	if s.Nodes.Taint == nil {
		s.Nodes.Taint = &TenantTaint{Key: TenantLabel, Value: t.Name, Effect: corev1.TaintEffectNoSchedule}
	}
	if len(s.Nodes.Labels) == 0 {
		s.Nodes.Labels = map[string]string{TenantLabel: t.Name}
	}
	if s.Nodes.Mode == "" {
		s.Nodes.Mode = TenantNodeModeInject
	}
	if s.PodSecurity.Level == "" && len(s.PodSecurity.PodSecurityPolicies) == 0 {
		s.PodSecurity.Level = PodSecurityLevelRestricted
	}
	if s.PodSecurity.Seccomp == "" {
		s.PodSecurity.Seccomp = corev1.SeccompProfileTypeRuntimeDefault
	}
	if s.PodSecurity.SELinux == "" {
		s.PodSecurity.SELinux = TenantSELinuxPerPod
	}
	if len(s.Services.AllowedTypes) == 0 {
		s.Services.AllowedTypes = []corev1.ServiceType{corev1.ServiceTypeClusterIP}
	}
	if len(s.Network.BlockedEgressCIDRs) == 0 {
		s.Network.BlockedEgressCIDRs = append([]string(nil), DefaultBlockedEgressCIDRs...)
	}
}
