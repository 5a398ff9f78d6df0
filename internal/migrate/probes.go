package migrate

import (
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kguard/kguard/internal/podspec"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// volumeSources holds a minimal source of each volume type a policy names.
var volumeSources = map[v1alpha1.FSType]corev1.VolumeSource{
	v1alpha1.AzureFile:             {AzureFile: &corev1.AzureFileVolumeSource{SecretName: "s", ShareName: "s"}},
	v1alpha1.Flocker:               {Flocker: &corev1.FlockerVolumeSource{DatasetName: "d"}},
	v1alpha1.FlexVolume:            {FlexVolume: &corev1.FlexVolumeSource{Driver: "d"}},
	v1alpha1.HostPath:              {HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib"}},
	v1alpha1.EmptyDir:              {EmptyDir: &corev1.EmptyDirVolumeSource{}},
	v1alpha1.GCEPersistentDisk:     {GCEPersistentDisk: &corev1.GCEPersistentDiskVolumeSource{PDName: "d"}},
	v1alpha1.AWSElasticBlockStore:  {AWSElasticBlockStore: &corev1.AWSElasticBlockStoreVolumeSource{VolumeID: "v"}},
	v1alpha1.GitRepo:               {GitRepo: &corev1.GitRepoVolumeSource{Repository: "r"}},
	v1alpha1.Secret:                {Secret: &corev1.SecretVolumeSource{SecretName: "s"}},
	v1alpha1.NFS:                   {NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/"}},
	v1alpha1.ISCSI:                 {ISCSI: &corev1.ISCSIVolumeSource{TargetPortal: "t", IQN: "i"}},
	v1alpha1.Glusterfs:             {Glusterfs: &corev1.GlusterfsVolumeSource{EndpointsName: "e", Path: "p"}},
	v1alpha1.PersistentVolumeClaim: {PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}},
	v1alpha1.RBD:                   {RBD: &corev1.RBDVolumeSource{CephMonitors: []string{"m"}, RBDImage: "i"}},
	v1alpha1.Cinder:                {Cinder: &corev1.CinderVolumeSource{VolumeID: "v"}},
	v1alpha1.CephFS:                {CephFS: &corev1.CephFSVolumeSource{Monitors: []string{"m"}}},
	v1alpha1.DownwardAPI:           {DownwardAPI: &corev1.DownwardAPIVolumeSource{}},
	v1alpha1.FC:                    {FC: &corev1.FCVolumeSource{}},
	v1alpha1.ConfigMap:             {ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}}},
	v1alpha1.VsphereVolume:         {VsphereVolume: &corev1.VsphereVirtualDiskVolumeSource{VolumePath: "p"}},
	v1alpha1.Quobyte:               {Quobyte: &corev1.QuobyteVolumeSource{Registry: "r", Volume: "v"}},
	v1alpha1.AzureDisk:             {AzureDisk: &corev1.AzureDiskVolumeSource{DiskName: "d", DataDiskURI: "u"}},
	v1alpha1.PhotonPersistentDisk:  {PhotonPersistentDisk: &corev1.PhotonPersistentDiskVolumeSource{PdID: "p"}},
	v1alpha1.StorageOS:             {StorageOS: &corev1.StorageOSVolumeSource{VolumeName: "v"}},
	v1alpha1.Projected:             {Projected: &corev1.ProjectedVolumeSource{}},
	v1alpha1.PortworxVolume:        {PortworxVolume: &corev1.PortworxVolumeSource{VolumeID: "v"}},
	v1alpha1.ScaleIO:               {ScaleIO: &corev1.ScaleIOVolumeSource{Gateway: "g", System: "s"}},
	v1alpha1.CSI:                   {CSI: &corev1.CSIVolumeSource{Driver: "d"}},
	v1alpha1.Ephemeral:             {Ephemeral: &corev1.EphemeralVolumeSource{}},
}

// mountedVolume is a probe with one volume, mounted by the container.
func mountedVolume(name string, src corev1.VolumeSource, readOnly bool) probe {
	return probe{name: name, tweak: func(p *corev1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "v", VolumeSource: src})
		c := &p.Spec.Containers[0]
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "v", MountPath: "/v", ReadOnly: readOnly})
	}}
}

func addCapability(name corev1.Capability) probe {
	return probe{name: "capability " + string(name), tweak: func(p *corev1.Pod) {
		sc := container(p)
		if sc.Capabilities == nil {
			sc.Capabilities = &corev1.Capabilities{}
		}
		sc.Capabilities.Add = append(sc.Capabilities.Add, name)
	}}
}

func hostPort(port int32) probe {
	return probe{name: "host port " + strconv.Itoa(int(port)), tweak: func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: port, HostPort: port}}
	}}
}

func sysctl(name string) probe {
	return probe{name: "sysctl " + name, tweak: func(p *corev1.Pod) {
		podSC(p).Sysctls = []corev1.Sysctl{{Name: name, Value: "1"}}
	}}
}

// seccompAnnotation and seccompField set a profile named as in a policy's
// allowedProfileNames, the deprecated way and the field way.
func seccompAnnotation(profile string) probe {
	return probe{name: "seccomp " + profile + " (annotation)", tweak: func(p *corev1.Pod) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[corev1.SeccompPodAnnotationKey] = profile
		if p.Spec.SecurityContext != nil {
			p.Spec.SecurityContext.SeccompProfile = nil
		}
	}}
}

func seccompField(profile string) (probe, bool) {
	sp := podspec.SeccompProfileOf(profile)
	if sp == nil {
		return probe{}, false
	}
	return probe{name: "seccomp " + profile, tweak: func(p *corev1.Pod) {
		podSC(p).SeccompProfile = sp.DeepCopy()
	}}, true
}

func appArmor(profile string) probe {
	return probe{name: "AppArmor " + profile, tweak: func(p *corev1.Pod) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+"c"] = profile
	}}
}

// unsafeSysctlFor names a sysctl that no Pod Security Standard allows and
// that pattern (a name, "prefix*" or "*") matches.
func unsafeSysctlFor(pattern string) string {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		if prefix == "" {
			return "kernel.msgmax"
		}
		return prefix + "kguard_probe"
	}
	return pattern
}

// derivedProbes are the probes a policy's own values call for: the fixed
// probes use one value per feature (a hostPath, a host port, a few
// capabilities), which a policy that allows only other values refuses, so
// that a grade from them alone would be stricter than the policy.
func derivedProbes(p *v1alpha1.PodSecurityPolicy) []probe {
	s := &p.Spec
	var out []probe
	for _, h := range s.AllowedHostPaths {
		out = append(out, mountedVolume("a hostPath volume of "+h.PathPrefix, corev1.VolumeSource{
			HostPath: &corev1.HostPathVolumeSource{Path: h.PathPrefix},
		}, h.ReadOnly))
	}
	for _, r := range s.HostPorts {
		out = append(out, hostPort(r.Min))
		if r.Max != r.Min {
			out = append(out, hostPort(r.Max))
		}
	}
	for _, caps := range [][]corev1.Capability{s.AllowedCapabilities, s.DefaultAddCapabilities} {
		for _, c := range caps {
			if c != v1alpha1.AllowAllCapabilities {
				out = append(out, addCapability(c))
			}
		}
	}
	for _, pattern := range s.AllowedUnsafeSysctls {
		out = append(out, sysctl(unsafeSysctlFor(pattern)))
	}
	types := s.Volumes
	for _, t := range types {
		if t == v1alpha1.All {
			types = nil
			for t := range volumeSources {
				types = append(types, t)
			}
			sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
			break
		}
	}
	for _, t := range types {
		if src, ok := volumeSources[t]; ok {
			out = append(out, mountedVolume("a "+string(t)+" volume", *src.DeepCopy(), false))
		}
	}
	for _, f := range s.AllowedFlexVolumes {
		out = append(out, mountedVolume("a flexVolume of driver "+f.Driver, corev1.VolumeSource{
			FlexVolume: &corev1.FlexVolumeSource{Driver: f.Driver},
		}, false))
	}
	for _, d := range s.AllowedCSIDrivers {
		out = append(out, mountedVolume("a csi volume of driver "+d.Name, corev1.VolumeSource{
			CSI: &corev1.CSIVolumeSource{Driver: d.Name},
		}, false))
	}
	if list, ok := p.Annotations[v1alpha1.SeccompAllowedProfilesAnnotation]; ok {
		for _, name := range strings.Split(list, ",") {
			if name = strings.TrimSpace(name); name == "" || name == "*" {
				continue
			}
			out = append(out, seccompAnnotation(name))
			if pr, ok := seccompField(name); ok {
				out = append(out, pr)
			}
		}
	}
	if list, ok := p.Annotations[v1alpha1.AppArmorAllowedProfilesAnnotation]; ok {
		for _, name := range strings.Split(list, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out = append(out, appArmor(name))
			}
		}
	}
	if se := s.SELinux; se.Rule == v1alpha1.SELinuxStrategyMustRunAs && se.SELinuxOptions != nil {
		opts := *se.SELinuxOptions
		out = append(out, probe{name: "the policy's SELinux options", tweak: func(p *corev1.Pod) {
			o := opts
			container(p).SELinuxOptions = &o
		}})
	}
	for _, pm := range s.AllowedProcMountTypes {
		pm := pm
		out = append(out, probe{name: "procMount " + string(pm), tweak: func(p *corev1.Pod) { container(p).ProcMount = &pm }})
	}
	if s.RunAsUser.Rule == v1alpha1.RunAsUserStrategyMustRunAs {
		for _, r := range s.RunAsUser.Ranges {
			for _, id := range []int64{r.Min, r.Max} {
				id := id
				out = append(out, probe{name: "runAsUser " + strconv.FormatInt(id, 10), tweak: func(p *corev1.Pod) { container(p).RunAsUser = &id }})
			}
		}
	}
	return out
}

// bases are the pods the probes start from: one that sets nothing, and
// restricted ones with each seccomp and AppArmor profile the policy allows,
// so that a policy that requires (say) a localhost seccomp profile still
// admits probes.
func bases(p *v1alpha1.PodSecurityPolicy) (out []func() *corev1.Pod) {
	out = []func() *corev1.Pod{basePod, compliantPod}
	defer func() {
		// A policy that refuses the default procMount admits only pods
		// that set another: without it, no base (and no probe that
		// leaves fields to the policy) would be admitted, and the plan
		// would list none of the policy's defaults.
		if pm, ok := requiredProcMount(p); ok {
			for i, base := range out {
				out[i] = func() *corev1.Pod {
					pod := base()
					for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
						for j := range cs {
							if cs[j].SecurityContext == nil {
								cs[j].SecurityContext = &corev1.SecurityContext{}
							}
							cs[j].SecurityContext.ProcMount = &pm
						}
					}
					return pod
				}
			}
		}
	}()
	if !allowsSomeSeccomp(p) {
		// The policy forbids any seccomp profile (no allowedProfileNames,
		// or an empty list).
		out = append(out, func() *corev1.Pod {
			pod := compliantPod()
			pod.Spec.SecurityContext.SeccompProfile = nil
			return pod
		})
	}
	var seccomp []*corev1.SeccompProfile
	if list, ok := p.Annotations[v1alpha1.SeccompAllowedProfilesAnnotation]; ok {
		for _, name := range strings.Split(list, ",") {
			if sp := podspec.SeccompProfileOf(strings.TrimSpace(name)); sp != nil && sp.Type != corev1.SeccompProfileTypeRuntimeDefault {
				seccomp = append(seccomp, sp)
			}
		}
	}
	var appArmor []string
	if list, ok := p.Annotations[v1alpha1.AppArmorAllowedProfilesAnnotation]; ok {
		for _, name := range strings.Split(list, ",") {
			if name = strings.TrimSpace(name); name != "" && name != "runtime/default" {
				appArmor = append(appArmor, name)
			}
		}
	}
	for _, sp := range seccomp {
		out = append(out, func() *corev1.Pod {
			pod := compliantPod()
			podSC(pod).SeccompProfile = sp.DeepCopy()
			return pod
		})
	}
	for _, name := range appArmor {
		out = append(out, func() *corev1.Pod {
			pod := compliantPod()
			pod.Annotations[corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+"c"] = name
			if len(seccomp) > 0 {
				podSC(pod).SeccompProfile = seccomp[0].DeepCopy()
			}
			return pod
		}, func() *corev1.Pod {
			// A policy that allows only other AppArmor profiles may also
			// forbid every seccomp profile.
			pod := compliantPod()
			pod.Annotations[corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+"c"] = name
			pod.Spec.SecurityContext.SeccompProfile = nil
			return pod
		})
	}
	return out
}

// requiredProcMount is the procMount a policy that refuses the default one
// allows instead (ok false when it allows the default).
func requiredProcMount(p *v1alpha1.PodSecurityPolicy) (pm corev1.ProcMountType, ok bool) {
	allowed := p.Spec.AllowedProcMountTypes
	if len(allowed) == 0 {
		return "", false
	}
	for _, t := range allowed {
		if t == corev1.DefaultProcMount {
			return "", false
		}
	}
	return allowed[0], true
}

// allowsSomeSeccomp reports whether a policy's allowedProfileNames names a
// profile: an absent or empty list forbids every one.
func allowsSomeSeccomp(p *v1alpha1.PodSecurityPolicy) bool {
	for _, name := range strings.Split(p.Annotations[v1alpha1.SeccompAllowedProfilesAnnotation], ",") {
		if strings.TrimSpace(name) != "" {
			return true
		}
	}
	return false
}
