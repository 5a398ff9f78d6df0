package v1alpha1

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
