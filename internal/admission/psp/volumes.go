package psp

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// volumeType names a volume's source as a PodSecurityPolicy does.
func volumeType(v *corev1.Volume) v1alpha1.FSType {
	s := &v.VolumeSource
	switch {
	case s.HostPath != nil:
		return v1alpha1.HostPath
	case s.EmptyDir != nil:
		return v1alpha1.EmptyDir
	case s.GCEPersistentDisk != nil:
		return v1alpha1.GCEPersistentDisk
	case s.AWSElasticBlockStore != nil:
		return v1alpha1.AWSElasticBlockStore
	case s.GitRepo != nil:
		return v1alpha1.GitRepo
	case s.Secret != nil:
		return v1alpha1.Secret
	case s.NFS != nil:
		return v1alpha1.NFS
	case s.ISCSI != nil:
		return v1alpha1.ISCSI
	case s.Glusterfs != nil:
		return v1alpha1.Glusterfs
	case s.PersistentVolumeClaim != nil:
		return v1alpha1.PersistentVolumeClaim
	case s.RBD != nil:
		return v1alpha1.RBD
	case s.FlexVolume != nil:
		return v1alpha1.FlexVolume
	case s.Cinder != nil:
		return v1alpha1.Cinder
	case s.CephFS != nil:
		return v1alpha1.CephFS
	case s.Flocker != nil:
		return v1alpha1.Flocker
	case s.DownwardAPI != nil:
		return v1alpha1.DownwardAPI
	case s.FC != nil:
		return v1alpha1.FC
	case s.AzureFile != nil:
		return v1alpha1.AzureFile
	case s.ConfigMap != nil:
		return v1alpha1.ConfigMap
	case s.VsphereVolume != nil:
		return v1alpha1.VsphereVolume
	case s.Quobyte != nil:
		return v1alpha1.Quobyte
	case s.AzureDisk != nil:
		return v1alpha1.AzureDisk
	case s.PhotonPersistentDisk != nil:
		return v1alpha1.PhotonPersistentDisk
	case s.StorageOS != nil:
		return v1alpha1.StorageOS
	case s.Projected != nil:
		return v1alpha1.Projected
	case s.PortworxVolume != nil:
		return v1alpha1.PortworxVolume
	case s.ScaleIO != nil:
		return v1alpha1.ScaleIO
	case s.CSI != nil:
		return v1alpha1.CSI
	case s.Ephemeral != nil:
		return v1alpha1.Ephemeral
	}
	return "" // image volumes and future sources: never allowed by type, only by "*"
}

// onlyServiceAccountToken reports whether a projected volume is the one the
// API server injects for ServiceAccount tokens (token, kube-root-ca.crt and
// the namespace), which a policy allowing secret volumes also allows.
func onlyServiceAccountToken(v *corev1.ProjectedVolumeSource) bool {
	for _, s := range v.Sources {
		if s.ServiceAccountToken == nil && s.ConfigMap == nil && s.DownwardAPI == nil {
			return false
		}
		if t := s.ServiceAccountToken; t != nil && (t.Path != "token" || t.Audience != "") {
			return false
		}
		if s.ConfigMap != nil && s.ConfigMap.Name != "kube-root-ca.crt" {
			return false
		}
		if s.DownwardAPI != nil {
			for _, d := range s.DownwardAPI.Items {
				if d.Path != "namespace" || d.FieldRef == nil || d.FieldRef.APIVersion != "v1" || d.FieldRef.FieldPath != "metadata.namespace" {
					return false
				}
			}
		}
	}
	return true
}

// hasPathPrefix: "/foo" is a prefix of "/foo" and "/foo/bar", not of "/food".
func hasPathPrefix(s, prefix string) bool {
	s, prefix = strings.TrimSuffix(s, "/"), strings.TrimSuffix(prefix, "/")
	if !strings.HasPrefix(s, prefix) {
		return false
	}
	return len(s) == len(prefix) || s[len(prefix)] == '/'
}

// hostPathAllowed: any path when the policy lists none; otherwise a listed
// prefix, read-only when every matching prefix is read-only.
func (p *provider) hostPathAllowed(path string) (allowed, readOnly bool) {
	if len(p.psp.Spec.AllowedHostPaths) == 0 {
		return true, false
	}
	for _, a := range p.psp.Spec.AllowedHostPaths {
		if hasPathPrefix(path, a.PathPrefix) {
			if !a.ReadOnly {
				return true, false
			}
			allowed, readOnly = true, true
		}
	}
	return allowed, readOnly
}

func (p *provider) validateVolumes(r *report, pod *corev1.Pod) {
	allowed := p.volumes
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		t := volumeType(v)
		if t == "" && !allowed[v1alpha1.All] {
			r.fail(func() *field.Error {
				return field.Invalid(volumesPath.Index(i), "", fmt.Sprintf("unknown volume type for volume: %q", v.Name))
			})
			continue
		}
		if !allowed[v1alpha1.All] && !allowed[t] && !(allowed[v1alpha1.Secret] && t == v1alpha1.Projected && onlyServiceAccountToken(v.Projected)) {
			r.fail(func() *field.Error {
				return field.Invalid(volumesPath.Index(i), string(t), fmt.Sprintf("%s volumes are not allowed to be used", t))
			})
			continue
		}
		switch t {
		case v1alpha1.HostPath:
			ok, readOnly := p.hostPathAllowed(v.HostPath.Path)
			if !ok {
				r.fail(func() *field.Error {
					return field.Invalid(volumesPath.Index(i).Child("hostPath", "pathPrefix"), v.HostPath.Path, "is not allowed to be used")
				})
			} else if readOnly {
				containers(&pod.Spec, func(c *corev1.Container, path *field.Path) {
					for j, m := range c.VolumeMounts {
						if m.Name == v.Name && !m.ReadOnly {
							r.fail(func() *field.Error {
								return field.Invalid(path.Child("volumeMounts").Index(j).Child("readOnly"), false, "must be read-only")
							})
						}
					}
				})
			}
		case v1alpha1.FlexVolume:
			if len(p.psp.Spec.AllowedFlexVolumes) > 0 {
				found := false
				for _, d := range p.psp.Spec.AllowedFlexVolumes {
					found = found || d.Driver == v.FlexVolume.Driver
				}
				if !found {
					r.fail(func() *field.Error {
						return field.Invalid(volumesPath.Index(i).Child("driver"), v.FlexVolume.Driver, "Flexvolume driver is not allowed to be used")
					})
				}
			}
		case v1alpha1.CSI:
			if len(p.psp.Spec.AllowedCSIDrivers) > 0 {
				found := false
				for _, d := range p.psp.Spec.AllowedCSIDrivers {
					found = found || d.Name == v.CSI.Driver
				}
				if !found {
					r.fail(func() *field.Error {
						return field.Invalid(volumesPath.Index(i).Child("csi", "driver"), v.CSI.Driver, "Inline CSI driver is not allowed to be used")
					})
				}
			}
		}
	}
}
