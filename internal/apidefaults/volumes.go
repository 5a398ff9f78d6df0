package apidefaults

import corev1 "k8s.io/api/core/v1"

// volumes is SetDefaults_Volume and the volume sources' defaults.
func volumes(vs []corev1.Volume) {
	for i := range vs {
		s := &vs[i].VolumeSource
		if (*s == corev1.VolumeSource{}) {
			s.EmptyDir = &corev1.EmptyDirVolumeSource{}
		}
		if s.HostPath != nil && s.HostPath.Type == nil {
			unset := corev1.HostPathUnset
			s.HostPath.Type = &unset
		}
		if s.Secret != nil {
			mode(&s.Secret.DefaultMode, corev1.SecretVolumeSourceDefaultMode)
		}
		if s.ConfigMap != nil {
			mode(&s.ConfigMap.DefaultMode, corev1.ConfigMapVolumeSourceDefaultMode)
		}
		if s.DownwardAPI != nil {
			mode(&s.DownwardAPI.DefaultMode, corev1.DownwardAPIVolumeSourceDefaultMode)
		}
		if s.Projected != nil {
			mode(&s.Projected.DefaultMode, corev1.ProjectedVolumeSourceDefaultMode)
		}
	}
}

func mode(m **int32, def int32) {
	if *m == nil {
		*m = &def
	}
}
