package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/pod-security-admission/api"

	"github.com/kguard/kguard/internal/admission/psp"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// The soundness attack: random policies over every field that matters to the
// standards, and random pods more adversarial than the probes (several
// containers of each kind, pod- versus container-level settings, fields the
// probes never set). Whatever a policy admits must pass the level migrate
// grades it.

func oneOf[T any](r *rand.Rand, xs ...T) T { return xs[r.Intn(len(xs))] }

func some(r *rand.Rand, n int, choices ...string) []string {
	var out []string
	for _, c := range choices {
		if r.Intn(n) == 0 {
			out = append(out, c)
		}
	}
	return out
}

func quoted(xs []string) string {
	b, _ := json.Marshal(xs)
	return string(b)
}

var soundCaps = []string{"NET_BIND_SERVICE", "CHOWN", "NET_RAW", "SYS_ADMIN", "SYS_TIME", "KILL", "AUDIT_WRITE", "ALL", "*"}

var soundVolumeTypes = func() []string {
	var out []string
	for t := range volumeSources {
		out = append(out, string(t))
	}
	sort.Strings(out)
	return out
}()

// soundPolicy writes a valid random policy; strict ones allow each
// permissive feature rarely, so that every level gets graded.
func soundPolicy(r *rand.Rand, i int) string {
	for {
		y := soundPolicyTry(r, i)
		if _, err := policy.Read(strings.NewReader(y), "random.yaml"); err == nil {
			return y
		}
	}
}

func soundPolicyTry(r *rand.Rand, i int) string {
	k := oneOf(r, 4, 12, 40) // 1 in k: a permissive choice
	loose := func() bool { return r.Intn(k) == 0 }
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata:\n  name: s%d\n  annotations:\n    kguard.test/none: \"\"\n", i)
	if !loose() {
		ps := []string{oneOf(r, "runtime/default", "docker/default", "localhost/x")}
		if loose() {
			ps = nil
		}
		for _, p := range []string{"runtime/default", "localhost/y", "unconfined", "*"} {
			if loose() {
				ps = append(ps, p)
			}
		}
		fmt.Fprintf(&b, "    seccomp.security.alpha.kubernetes.io/allowedProfileNames: %q\n", strings.Join(ps, ","))
		if len(ps) > 0 && r.Intn(2) == 0 {
			d := oneOf(r, ps...)
			if d == "*" {
				d = "runtime/default"
			}
			fmt.Fprintf(&b, "    seccomp.security.alpha.kubernetes.io/defaultProfileName: %q\n", d)
		}
	}
	if !loose() {
		ps := []string{oneOf(r, "runtime/default", "localhost/a")}
		if loose() {
			ps = append(ps, "unconfined")
		}
		if loose() {
			ps = nil
		}
		fmt.Fprintf(&b, "    apparmor.security.beta.kubernetes.io/allowedProfileNames: %q\n", strings.Join(ps, ","))
		if len(ps) > 0 && r.Intn(2) == 0 {
			fmt.Fprintf(&b, "    apparmor.security.beta.kubernetes.io/defaultProfileName: %q\n", oneOf(r, ps...))
		}
	} else if r.Intn(2) == 0 {
		fmt.Fprintf(&b, "    apparmor.security.beta.kubernetes.io/defaultProfileName: %q\n", oneOf(r, "runtime/default", "unconfined"))
	}
	b.WriteString("spec:\n")
	for _, f := range []string{"privileged", "hostNetwork", "hostPID", "hostIPC"} {
		if loose() {
			fmt.Fprintf(&b, "  %s: true\n", f)
		}
	}
	if r.Intn(4) == 0 {
		b.WriteString("  readOnlyRootFilesystem: true\n")
	}
	ape := !loose()
	if ape {
		b.WriteString("  allowPrivilegeEscalation: false\n")
	} else if r.Intn(2) == 0 {
		b.WriteString("  allowPrivilegeEscalation: true\n")
		if r.Intn(2) == 0 {
			fmt.Fprintf(&b, "  defaultAllowPrivilegeEscalation: %v\n", r.Intn(2) == 0)
		}
	}
	if !ape && r.Intn(3) == 0 {
		b.WriteString("  defaultAllowPrivilegeEscalation: false\n")
	}
	dropAll := !loose()
	if dropAll {
		b.WriteString("  requiredDropCapabilities: [ALL]\n")
	} else if cs := some(r, 4, "NET_RAW", "SYS_ADMIN", "KILL"); len(cs) > 0 {
		fmt.Fprintf(&b, "  requiredDropCapabilities: %s\n", quoted(cs))
	}
	var allowed []string
	if r.Intn(3) == 0 {
		allowed = append(allowed, "NET_BIND_SERVICE")
	}
	for _, c := range []string{"CHOWN", "NET_RAW", "SYS_ADMIN", "KILL", "AUDIT_WRITE", "*"} {
		if loose() {
			allowed = append(allowed, c)
		}
	}
	if len(allowed) > 0 {
		fmt.Fprintf(&b, "  allowedCapabilities: %s\n", quoted(allowed))
	}
	var defAdd []string
	if r.Intn(6) == 0 {
		defAdd = append(defAdd, "NET_BIND_SERVICE")
	}
	for _, c := range []string{"CHOWN", "NET_RAW", "SYS_ADMIN"} {
		if loose() {
			defAdd = append(defAdd, c)
		}
	}
	if len(defAdd) > 0 {
		fmt.Fprintf(&b, "  defaultAddCapabilities: %s\n", quoted(defAdd))
	}
	var vols []string
	if loose() && loose() {
		vols = []string{"*"}
	} else {
		vols = some(r, 2, "configMap", "secret", "emptyDir", "projected", "downwardAPI", "persistentVolumeClaim", "csi", "ephemeral")
		for _, t := range soundVolumeTypes {
			if loose() && r.Intn(4) == 0 {
				vols = append(vols, t)
			}
		}
		if loose() {
			vols = append(vols, "hostPath")
		}
	}
	fmt.Fprintf(&b, "  volumes: %s\n", quoted(vols))
	if hp := some(r, 3, "/", "/proc", "/var/log", "/etc", "/var/lib"); len(hp) > 0 {
		b.WriteString("  allowedHostPaths:\n")
		for _, h := range hp {
			fmt.Fprintf(&b, "  - {pathPrefix: %q, readOnly: %v}\n", h, r.Intn(2) == 0)
		}
	}
	if fs := some(r, 3, "d", "other"); len(fs) > 0 {
		b.WriteString("  allowedFlexVolumes:\n")
		for _, f := range fs {
			fmt.Fprintf(&b, "  - {driver: %s}\n", f)
		}
	}
	if ds := some(r, 3, "d", "other"); len(ds) > 0 {
		b.WriteString("  allowedCSIDrivers:\n")
		for _, d := range ds {
			fmt.Fprintf(&b, "  - {name: %s}\n", d)
		}
	}
	if loose() {
		lo := int32(oneOf(r, 0, 1, 80, 8000))
		fmt.Fprintf(&b, "  hostPorts: [{min: %d, max: %d}]\n", lo, lo+int32(r.Intn(100)))
	}
	if loose() {
		ss := oneOf(r, []string{"*"}, []string{"net.*"}, []string{"kernel.*"}, []string{"net.core.somaxconn"}, []string{"kernel.shm_rmid_forced", "net.ipv4.tcp_keepalive_time"})
		fmt.Fprintf(&b, "  allowedUnsafeSysctls: %s\n", quoted(ss))
	}
	if ss := some(r, 4, "kernel.msgmax", "kernel.sem", "net.core.*", "net.ipv4.tcp_syncookies"); len(ss) > 0 {
		fmt.Fprintf(&b, "  forbiddenSysctls: %s\n", quoted(ss))
	}
	if loose() {
		fmt.Fprintf(&b, "  allowedProcMountTypes: %s\n", quoted(oneOf(r, []string{"Default", "Unmasked"}, []string{"Unmasked"})))
	} else if r.Intn(4) == 0 {
		b.WriteString("  allowedProcMountTypes: [Default]\n")
	}
	switch r.Intn(4) {
	case 0, 1:
		b.WriteString("  runAsUser: {rule: MustRunAsNonRoot}\n")
	case 2:
		fmt.Fprintf(&b, "  runAsUser: {rule: MustRunAs, ranges: [{min: %d, max: %d}]}\n", oneOf(r, 0, 1, 1000, 1000), oneOf(r, 1000, 2000))
	default:
		b.WriteString("  runAsUser: {rule: RunAsAny}\n")
	}
	switch r.Intn(3) {
	case 0:
		fmt.Fprintf(&b, "  runAsGroup: {rule: MustRunAs, ranges: [{min: %d, max: 2000}]}\n", oneOf(r, 0, 1000))
	case 1:
		b.WriteString("  runAsGroup: {rule: RunAsAny}\n")
	}
	if r.Intn(2) == 0 {
		opts := oneOf(r, "{type: container_t}", "{type: container_t}", "{level: \"s0:c1,c2\"}", "{type: container_init_t, level: s0}")
		if loose() {
			opts = oneOf(r, "{type: spc_t}", "{user: system_u, role: system_r, type: container_t}")
		}
		fmt.Fprintf(&b, "  seLinux: {rule: MustRunAs, seLinuxOptions: %s}\n", opts)
	} else {
		b.WriteString("  seLinux: {rule: RunAsAny}\n")
	}
	for _, g := range []string{"supplementalGroups", "fsGroup"} {
		if r.Intn(2) == 0 {
			fmt.Fprintf(&b, "  %s: {rule: MustRunAs, ranges: [{min: %d, max: 65535}]}\n", g, oneOf(r, 0, 1))
		} else {
			fmt.Fprintf(&b, "  %s: {rule: RunAsAny}\n", g)
		}
	}
	return b.String()
}

func soundSC(r *rand.Rand) *corev1.SecurityContext {
	if r.Intn(4) == 0 {
		return nil
	}
	sc := &corev1.SecurityContext{}
	if r.Intn(8) == 0 {
		sc.Privileged = boolPtr(r.Intn(2) == 0)
	}
	if r.Intn(2) == 0 {
		sc.AllowPrivilegeEscalation = boolPtr(r.Intn(3) != 0)
	}
	if r.Intn(2) == 0 {
		sc.AllowPrivilegeEscalation = boolPtr(r.Intn(3) == 0)
	}
	if r.Intn(3) == 0 {
		sc.RunAsNonRoot = boolPtr(r.Intn(3) != 0)
	}
	if r.Intn(3) == 0 {
		sc.RunAsUser = int64Ptr(oneOf[int64](r, 0, 1, 1000, 1500, 5000))
	}
	if r.Intn(4) == 0 {
		sc.RunAsGroup = int64Ptr(oneOf[int64](r, 0, 1000))
	}
	if r.Intn(2) == 0 {
		c := &corev1.Capabilities{}
		for _, a := range some(r, 5, "NET_BIND_SERVICE", "CHOWN", "NET_RAW", "SYS_ADMIN", "KILL") {
			c.Add = append(c.Add, corev1.Capability(a))
		}
		for _, d := range some(r, 2, "ALL", "NET_RAW", "SYS_ADMIN", "KILL") {
			c.Drop = append(c.Drop, corev1.Capability(d))
		}
		sc.Capabilities = c
	}
	if r.Intn(8) == 0 {
		pm := oneOf(r, corev1.UnmaskedProcMount, corev1.DefaultProcMount)
		sc.ProcMount = &pm
	}
	if r.Intn(5) == 0 {
		sc.SELinuxOptions = soundSELinux(r)
	}
	if r.Intn(3) == 0 {
		sc.SeccompProfile = soundSeccomp(r)
	}
	if r.Intn(6) == 0 {
		sc.AppArmorProfile = soundAppArmor(r)
	}
	if r.Intn(4) == 0 {
		sc.ReadOnlyRootFilesystem = boolPtr(r.Intn(2) == 0)
	}
	return sc
}

func soundSELinux(r *rand.Rand) *corev1.SELinuxOptions {
	return oneOf(r,
		&corev1.SELinuxOptions{Type: "container_t"},
		&corev1.SELinuxOptions{Type: "spc_t"},
		&corev1.SELinuxOptions{User: "system_u", Role: "system_r", Type: "container_t"},
		&corev1.SELinuxOptions{Level: "s0:c2,c1"},
		&corev1.SELinuxOptions{Type: "container_init_t", Level: "s0"},
		&corev1.SELinuxOptions{Role: "system_r"},
	)
}

func soundSeccomp(r *rand.Rand) *corev1.SeccompProfile {
	x, y := "x", "y"
	return oneOf(r,
		&corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		&corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined},
		&corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &x},
		&corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &y},
	)
}

func soundAppArmor(r *rand.Rand) *corev1.AppArmorProfile {
	a := "a"
	return oneOf(r,
		&corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault},
		&corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined},
		&corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: &a},
	)
}

func soundContainer(r *rand.Rand, name string) corev1.Container {
	c := corev1.Container{Name: name, Image: "i", SecurityContext: soundSC(r)}
	if r.Intn(6) == 0 {
		port := oneOf[int32](r, 0, 1, 80, 8050, 9000)
		c.Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: port}}
	}
	if r.Intn(10) == 0 {
		h := oneOf(r, corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Host: "10.0.0.1", Port: intstr.FromInt32(80)}},
			corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Host: "10.0.0.1", Port: intstr.FromInt32(80)}})
		c.LivenessProbe = &corev1.Probe{ProbeHandler: h}
	}
	if r.Intn(15) == 0 {
		c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Host: "10.0.0.1", Port: intstr.FromInt32(80)}}}
	}
	return c
}

var soundHostPaths = []string{"/", "/proc/sys", "/var/log/pods", "/etc/ssl", "/srv", "/var/lib"}

func soundPod(r *rand.Rand) *corev1.Pod {
	p := basePod()
	var names []string
	p.Spec.Containers = nil
	for i := range 1 + r.Intn(2) {
		names = append(names, fmt.Sprintf("c%d", i))
		p.Spec.Containers = append(p.Spec.Containers, soundContainer(r, fmt.Sprintf("c%d", i)))
	}
	if r.Intn(3) == 0 {
		names = append(names, "i0")
		p.Spec.InitContainers = append(p.Spec.InitContainers, soundContainer(r, "i0"))
	}
	if r.Intn(4) == 0 {
		names = append(names, "e0")
		c := soundContainer(r, "e0")
		c.Ports, c.LivenessProbe, c.Lifecycle = nil, nil, nil // not allowed on ephemeral containers
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(c)})
	}
	if r.Intn(3) != 0 {
		psc := &corev1.PodSecurityContext{}
		if r.Intn(2) == 0 {
			psc.RunAsNonRoot = boolPtr(r.Intn(3) != 0)
		}
		if r.Intn(3) == 0 {
			psc.RunAsUser = int64Ptr(oneOf[int64](r, 0, 1, 1000, 5000))
		}
		if r.Intn(4) == 0 {
			psc.RunAsGroup = int64Ptr(oneOf[int64](r, 0, 1000))
		}
		if r.Intn(4) == 0 {
			psc.FSGroup = int64Ptr(oneOf[int64](r, 0, 1000))
		}
		if r.Intn(4) == 0 {
			psc.SupplementalGroups = []int64{oneOf[int64](r, 0, 1000)}
		}
		if r.Intn(2) == 0 {
			psc.SeccompProfile = soundSeccomp(r)
		}
		if r.Intn(6) == 0 {
			psc.AppArmorProfile = soundAppArmor(r)
		}
		if r.Intn(4) == 0 {
			psc.SELinuxOptions = soundSELinux(r)
		}
		for _, s := range some(r, 6, "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
			"net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.core.somaxconn", "kernel.msgmax", "kernel.sem", "net.ipv4.tcp_rmem") {
			psc.Sysctls = append(psc.Sysctls, corev1.Sysctl{Name: s, Value: "1"})
		}
		p.Spec.SecurityContext = psc
	}
	if r.Intn(10) == 0 {
		p.Spec.HostNetwork = true
	}
	if r.Intn(10) == 0 {
		p.Spec.HostPID = true
	}
	if r.Intn(10) == 0 {
		p.Spec.HostIPC = true
	}
	if r.Intn(12) == 0 {
		// Windows: hostProcess requires the host network and every container
		// to be a hostProcess one (API validation).
		p.Spec.OS = &corev1.PodOS{Name: corev1.Windows}
		if r.Intn(2) == 0 {
			p.Spec.HostNetwork = true
			if p.Spec.SecurityContext == nil {
				p.Spec.SecurityContext = &corev1.PodSecurityContext{}
			}
			p.Spec.SecurityContext.WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: boolPtr(true)}
		}
	}
	// Volumes, mounted by the first container.
	for i := range r.Intn(3) {
		var src corev1.VolumeSource
		switch r.Intn(4) {
		case 0:
			src = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: oneOf(r, soundHostPaths...)}}
		case 1:
			src = corev1.VolumeSource{FlexVolume: &corev1.FlexVolumeSource{Driver: oneOf(r, "d", "other", "third")}}
		case 2:
			src = corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: oneOf(r, "d", "other", "third")}}
		default:
			v := volumeSources[v1alpha1.FSType(oneOf(r, soundVolumeTypes...))]
			src = *v.DeepCopy()
		}
		name := fmt.Sprintf("v%d", i)
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: src})
		p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: name, MountPath: "/" + name, ReadOnly: r.Intn(2) == 0})
	}
	// Annotations: seccomp (pod and container) and AppArmor, by container.
	ann := map[string]string{}
	if r.Intn(4) == 0 {
		ann[corev1.SeccompPodAnnotationKey] = oneOf(r, "runtime/default", "docker/default", "unconfined", "localhost/x")
	}
	for _, n := range names {
		if r.Intn(6) == 0 {
			ann[corev1.SeccompContainerAnnotationKeyPrefix+n] = oneOf(r, "runtime/default", "unconfined", "localhost/y")
		}
		if r.Intn(3) == 0 {
			ann[corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+n] = oneOf(r, "runtime/default", "unconfined", "localhost/a")
		}
	}
	if len(ann) > 0 {
		p.Annotations = ann
	}
	return p
}

// tweakedPod starts from a pod the policy's own bases describe, spread over
// several containers of each kind, and changes a few features at random.
func tweakedPod(r *rand.Rand, p *v1alpha1.PodSecurityPolicy) *corev1.Pod {
	bs := bases(p)
	pod := oneOf(r, bs...)()
	c0 := pod.Spec.Containers[0]
	aa, hasAA := pod.Annotations[corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+"c"]
	clone := func(name string) corev1.Container {
		c := *c0.DeepCopy()
		c.Name = name
		if hasAA {
			pod.Annotations[corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+name] = aa
		}
		return c
	}
	if r.Intn(2) == 0 {
		pod.Spec.Containers = append(pod.Spec.Containers, clone("c2"))
	}
	if r.Intn(2) == 0 {
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, clone("i0"))
	}
	if r.Intn(2) == 0 {
		pod.Spec.EphemeralContainers = append(pod.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(clone("e0"))})
	}
	var all []*corev1.Container
	for i := range pod.Spec.InitContainers {
		all = append(all, &pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		all = append(all, &pod.Spec.Containers[i])
	}
	for i := range pod.Spec.EphemeralContainers {
		all = append(all, (*corev1.Container)(&pod.Spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
	sc := func() *corev1.SecurityContext {
		c := oneOf(r, all...)
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		return c.SecurityContext
	}
	regular := func() *corev1.Container { return &pod.Spec.Containers[r.Intn(len(pod.Spec.Containers))] }
	features := []func(){
		func() { podSC(pod).RunAsNonRoot = boolPtr(false); sc().RunAsNonRoot = boolPtr(true) },
		func() { podSC(pod).RunAsNonRoot = nil; sc().RunAsUser = int64Ptr(oneOf[int64](r, 1, 1000, 2000)) },
		func() { podSC(pod).RunAsNonRoot = nil; podSC(pod).RunAsUser = int64Ptr(oneOf[int64](r, 1, 1000)) },
		func() { podSC(pod).RunAsUser = int64Ptr(0) },
		func() { sc().RunAsUser = int64Ptr(oneOf[int64](r, 0, 1, 1000, 1500)) },
		func() { sc().RunAsNonRoot = boolPtr(r.Intn(2) == 0) },
		func() { sc().RunAsGroup = int64Ptr(oneOf[int64](r, 0, 1000)) },
		func() { sc().Privileged = boolPtr(true) },
		func() { sc().AllowPrivilegeEscalation = oneOf(r, boolPtr(true), nil) },
		func() { sc().Capabilities = nil },
		func() {
			s := sc()
			if s.Capabilities == nil {
				s.Capabilities = &corev1.Capabilities{}
			}
			s.Capabilities.Add = append(s.Capabilities.Add, corev1.Capability(oneOf(r, "NET_BIND_SERVICE", "CHOWN", "NET_RAW", "SYS_ADMIN", "KILL", "AUDIT_WRITE")))
		},
		func() {
			s := sc()
			if s.Capabilities != nil {
				s.Capabilities.Drop = []corev1.Capability{corev1.Capability(oneOf(r, "all", "NET_RAW", "ALL"))}
			}
		},
		func() { pm := corev1.UnmaskedProcMount; sc().ProcMount = &pm },
		func() { sc().SELinuxOptions = soundSELinux(r) },
		func() { podSC(pod).SELinuxOptions = soundSELinux(r) },
		func() { sc().SeccompProfile = soundSeccomp(r) },
		func() { podSC(pod).SeccompProfile = soundSeccomp(r) },
		func() { podSC(pod).SeccompProfile = nil },
		func() { sc().AppArmorProfile = soundAppArmor(r) },
		func() { podSC(pod).AppArmorProfile = soundAppArmor(r) },
		func() {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+oneOf(r, all...).Name] = oneOf(r, "runtime/default", "unconfined", "localhost/a")
		},
		func() {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[corev1.SeccompContainerAnnotationKeyPrefix+oneOf(r, all...).Name] = oneOf(r, "runtime/default", "unconfined", "localhost/y", "localhost/x")
		},
		func() {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[corev1.SeccompPodAnnotationKey] = oneOf(r, "runtime/default", "unconfined", "localhost/y", "localhost/x", "docker/default")
		},
		func() { sc().ReadOnlyRootFilesystem = boolPtr(r.Intn(2) == 0) },
		func() {
			podSC(pod).Sysctls = append(podSC(pod).Sysctls, corev1.Sysctl{Name: oneOf(r, "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
				"net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_rmem", "net.core.somaxconn", "kernel.msgmax", "kernel.sem", "net.ipv4.tcp_slow_start_after_idle"), Value: "1"})
		},
		func() { pod.Spec.HostNetwork = true },
		func() { pod.Spec.HostPID = true },
		func() { pod.Spec.HostIPC = true },
		func() {
			regular().Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: oneOf[int32](r, 0, 1, 80, 8050, 9000)}}
		},
		func() {
			regular().LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Host: "10.0.0.1", Port: intstr.FromInt32(80)}}}
		},
		func() {
			pod.Spec.OS = &corev1.PodOS{Name: corev1.Windows}
			if r.Intn(2) == 0 {
				pod.Spec.HostNetwork = true
				podSC(pod).WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: boolPtr(true)}
			}
		},
		func() { pod.Spec.HostUsers = boolPtr(false) },
		func() {
			var src corev1.VolumeSource
			switch r.Intn(3) {
			case 0:
				src = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: oneOf(r, soundHostPaths...)}}
			case 1:
				src = corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: oneOf(r, "d", "other", "third")}}
			default:
				v := volumeSources[v1alpha1.FSType(oneOf(r, soundVolumeTypes...))]
				src = *v.DeepCopy()
			}
			name := fmt.Sprintf("w%d", len(pod.Spec.Volumes))
			pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: src})
			c := regular()
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: "/" + name, ReadOnly: r.Intn(2) == 0})
		},
	}
	for range 1 + r.Intn(3) {
		oneOf(r, features...)()
	}
	return pod
}

// compliantish makes a random pod likelier to be admitted by strict
// policies: it sets, where unset, what restricted asks for.
func compliantish(r *rand.Rand, p *corev1.Pod) {
	if r.Intn(2) == 0 {
		return
	}
	psc := podSC(p)
	if psc.RunAsNonRoot == nil && r.Intn(2) == 0 {
		psc.RunAsNonRoot = boolPtr(true)
	}
	if psc.SeccompProfile == nil && p.Annotations[corev1.SeccompPodAnnotationKey] == "" && r.Intn(2) == 0 {
		psc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	visit := func(c *corev1.Container) {
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		sc := c.SecurityContext
		if sc.AllowPrivilegeEscalation == nil {
			sc.AllowPrivilegeEscalation = boolPtr(false)
		}
		if sc.Capabilities == nil {
			sc.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
		}
		if r.Intn(2) == 0 {
			if p.Annotations == nil {
				p.Annotations = map[string]string{}
			}
			k := corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix + c.Name
			if _, ok := p.Annotations[k]; !ok {
				p.Annotations[k] = "runtime/default"
			}
		}
	}
	for i := range p.Spec.InitContainers {
		visit(&p.Spec.InitContainers[i])
	}
	for i := range p.Spec.Containers {
		visit(&p.Spec.Containers[i])
	}
	for i := range p.Spec.EphemeralContainers {
		visit((*corev1.Container)(&p.Spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
}

// TestSoundnessRandom: every pod a random policy admits passes the level
// migrate grades the policy, at several versions of the standards.
func TestSoundnessRandom(t *testing.T) {
	policies, pods := 200, 150
	if testing.Short() {
		policies, pods = 80, 100
	}
	u := &user.DefaultInfo{Name: "kguard:test"}
	for _, version := range []string{"latest", "v1.24", "v1.30"} {
		t.Run(version, func(t *testing.T) {
			r := rand.New(rand.NewSource(7))
			pl, err := NewPlanner(version)
			if err != nil {
				t.Fatal(err)
			}
			graded := map[string]int{}
			admittedPairs, invalid, otherwise := 0, 0, 0
			failures := map[string]string{}
			failCount := map[string]int{}
			for i := range policies {
				yaml := soundPolicy(r, i)
				s, err := policy.Read(strings.NewReader(yaml), "random.yaml")
				if err != nil {
					invalid++
					continue
				}
				p := s.PodSecurityPolicies[0]
				plan, err := pl.PlanPolicy(context.Background(), p)
				if err != nil {
					continue
				}
				graded[plan.Level]++
				if plan.Otherwise == "restricted" {
					otherwise++
				}
				engine := policyEngine(t, p)
				for range pods {
					pod := podFor(r, p)
					res := engine.Admit(context.Background(), psp.Attributes{Operation: "CREATE", Pod: pod, Namespace: pod.Namespace, User: u})
					if !res.Allowed {
						continue
					}
					admitted := res.Pod
					// The API server copies AppArmor fields to annotations
					// before kguard's validating pass, which then judges them.
					changed, invalid := syncAppArmor(admitted)
					if invalid {
						continue
					}
					if changed {
						res = engine.Admit(context.Background(), psp.Attributes{Operation: "CREATE", Pod: admitted, Namespace: pod.Namespace, User: u, Validate: true})
						if !res.Allowed {
							continue
						}
						admitted = res.Pod
					}
					admittedPairs++
					syncProfiles(admitted)
					lv := api.LevelVersion{Level: api.Level(plan.Level), Version: pl.version}
					for _, cr := range pl.evaluator.EvaluatePod(lv, &admitted.ObjectMeta, &admitted.Spec) {
						if cr.Allowed {
							continue
						}
						if slices.ContainsFunc(plan.Requires, func(g Gap) bool { return g.Check == cr.ForbiddenReason }) {
							continue // what the plan says manifests must meet themselves
						}
						key := plan.Level + ": " + cr.ForbiddenReason
						failCount[key]++
						if _, ok := failures[key]; !ok {
							pj, _ := json.Marshal(pod)
							failures[key] = fmt.Sprintf("graded %s, but admits a pod it forbids: %s (%s)\npolicy:\n%s\npod: %s",
								plan.Level, cr.ForbiddenReason, cr.ForbiddenDetail, yaml, pj)
						}
					}
				}
			}
			keys := make([]string, 0, len(failures))
			for k := range failures {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				t.Errorf("%d× %s\n%s", failCount[k], k, failures[k])
			}
			t.Logf("graded %v, %d admitted pairs, %d invalid policies", graded, admittedPairs, invalid)
			if admittedPairs < policies*pods/50 {
				t.Errorf("only %d admitted pairs", admittedPairs)
			}
			if otherwise < policies/50 {
				t.Errorf("restricted apart from some checks only %d times", otherwise)
			}
			for _, lv := range levels {
				if graded[string(lv)] < policies/50 {
					t.Errorf("level %s graded only %d times: %v", lv, graded[string(lv)], graded)
				}
			}
		})
	}
}

// syncAppArmor does what the API server does to a pod it creates: an
// AppArmor field with no annotation sets the annotation. It reports whether
// it changed the pod, and whether API validation refuses it (an annotation
// that disagrees with the field).
func syncAppArmor(p *corev1.Pod) (changed, invalid bool) {
	var podProfile *corev1.AppArmorProfile
	if p.Spec.SecurityContext != nil {
		podProfile = p.Spec.SecurityContext.AppArmorProfile
	}
	visit := func(c *corev1.Container) {
		prof := podProfile
		if c.SecurityContext != nil && c.SecurityContext.AppArmorProfile != nil {
			prof = c.SecurityContext.AppArmorProfile
		}
		key := corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix + c.Name
		if prof == nil {
			return
		}
		v := "runtime/default"
		switch prof.Type {
		case corev1.AppArmorProfileTypeUnconfined:
			v = "unconfined"
		case corev1.AppArmorProfileTypeLocalhost:
			v = "localhost/" + *prof.LocalhostProfile
		}
		if a := p.Annotations[key]; a != "" {
			invalid = invalid || a != v
			return
		}
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[key] = v
		changed = true
	}
	for i := range p.Spec.InitContainers {
		visit(&p.Spec.InitContainers[i])
	}
	for i := range p.Spec.Containers {
		visit(&p.Spec.Containers[i])
	}
	for i := range p.Spec.EphemeralContainers {
		visit((*corev1.Container)(&p.Spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
	return changed, invalid
}

// policyEngine is kguard's PSP engine over p alone, every user allowed to use it.
func policyEngine(t *testing.T, p *v1alpha1.PodSecurityPolicy) *psp.Engine {
	t.Helper()
	e, err := psp.NewEngine([]*v1alpha1.PodSecurityPolicy{p}, authorizerfactory.NewAlwaysAllowAuthorizer())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// podFor is a random pod for policy p: an adversarial one made nearly
// compliant one time in three, else one of p's own values tweaked.
func podFor(r *rand.Rand, p *v1alpha1.PodSecurityPolicy) *corev1.Pod {
	if r.Intn(3) == 0 {
		pod := soundPod(r)
		compliantish(r, pod)
		return pod
	}
	return tweakedPod(r, p)
}
