package psp

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// provider applies one policy to pods: mutate fills in what the policy
// defaults, validate lists what it forbids. The semantics, field paths and
// messages are those of the Kubernetes v1.24 PodSecurityPolicy provider.
type provider struct {
	psp      *v1alpha1.PodSecurityPolicy
	fsGroup  groupStrategy
	supGroup groupStrategy
	runAsGrp groupStrategy
	seccomp  seccompStrategy
	apparmor appArmorStrategy
	// Sets precomputed from the policy.
	volumes                  map[v1alpha1.FSType]bool
	allowedCaps, defaultCaps map[string]bool
}

func newProvider(p *v1alpha1.PodSecurityPolicy) *provider {
	pr := &provider{
		psp:         p,
		fsGroup:     groupStrategy{rule: string(p.Spec.FSGroup.Rule), ranges: p.Spec.FSGroup.Ranges},
		supGroup:    groupStrategy{rule: string(p.Spec.SupplementalGroups.Rule), ranges: p.Spec.SupplementalGroups.Ranges},
		runAsGrp:    runAsGroupStrategy(p),
		seccomp:     newSeccomp(p),
		apparmor:    newAppArmor(p),
		volumes:     map[v1alpha1.FSType]bool{},
		allowedCaps: capSet(p.Spec.AllowedCapabilities),
		defaultCaps: capSet(p.Spec.DefaultAddCapabilities),
	}
	for _, t := range p.Spec.Volumes {
		pr.volumes[t] = true
	}
	return pr
}

// containers visits init containers, containers and ephemeral containers, in
// that order, with their field paths.
func containers(spec *corev1.PodSpec, visit func(c *corev1.Container, path *field.Path)) {
	for i := range spec.InitContainers {
		visit(&spec.InitContainers[i], containerPath(initContainersDir, i))
	}
	for i := range spec.Containers {
		visit(&spec.Containers[i], containerPath(containersDir, i))
	}
	for i := range spec.EphemeralContainers {
		visit((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon), containerPath(ephemeralDir, i))
	}
}

// mutate applies the policy's defaults to pod (which it modifies).
func (p *provider) mutate(pod *corev1.Pod) {
	psc := pod.Spec.SecurityContext
	ensure := func() {
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
	}
	if psc == nil || psc.SupplementalGroups == nil {
		if g := p.supGroup.generate(); g != nil {
			ensure()
			psc.SupplementalGroups = g
		}
	}
	if psc == nil || psc.FSGroup == nil {
		if g := p.fsGroup.generateSingle(); g != nil {
			ensure()
			psc.FSGroup = g
		}
	}
	if (psc == nil || psc.SELinuxOptions == nil) && p.psp.Spec.SELinux.Rule == v1alpha1.SELinuxStrategyMustRunAs {
		ensure()
		psc.SELinuxOptions = p.psp.Spec.SELinux.SELinuxOptions.DeepCopy()
	}
	if profile := p.seccomp.generate(pod); profile != "" {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[seccompPodAnnotation] = profile
	}
	pod.Spec.SecurityContext = psc
	if rc := p.psp.Spec.RuntimeClass; rc != nil && pod.Spec.RuntimeClassName == nil && rc.DefaultRuntimeClassName != nil {
		name := *rc.DefaultRuntimeClassName
		pod.Spec.RuntimeClassName = &name
	}
	containers(&pod.Spec, func(c *corev1.Container, _ *field.Path) { p.mutateContainer(pod, c) })
}

func (p *provider) mutateContainer(pod *corev1.Pod, c *corev1.Container) {
	psc := pod.Spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	sc := c.SecurityContext
	ensure := func() {
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
	}
	runAsUser := func() *int64 {
		if sc != nil && sc.RunAsUser != nil {
			return sc.RunAsUser
		}
		return psc.RunAsUser
	}
	if runAsUser() == nil {
		if uid := userGenerate(p.psp); uid != nil {
			ensure()
			sc.RunAsUser = uid
		}
	}
	if (sc == nil || sc.RunAsGroup == nil) && psc.RunAsGroup == nil {
		if gid := p.runAsGrp.generateSingle(); gid != nil {
			ensure()
			sc.RunAsGroup = gid
		}
	}
	if (sc == nil || sc.SELinuxOptions == nil) && psc.SELinuxOptions == nil && p.psp.Spec.SELinux.Rule == v1alpha1.SELinuxStrategyMustRunAs {
		ensure()
		sc.SELinuxOptions = p.psp.Spec.SELinux.SELinuxOptions.DeepCopy()
	}
	p.apparmor.generate(pod, c)
	runAsNonRoot := psc.RunAsNonRoot
	if sc != nil && sc.RunAsNonRoot != nil {
		runAsNonRoot = sc.RunAsNonRoot
	}
	if runAsNonRoot == nil && runAsUser() == nil && p.psp.Spec.RunAsUser.Rule == v1alpha1.RunAsUserStrategyMustRunAsNonRoot {
		ensure()
		t := true
		sc.RunAsNonRoot = &t
	}
	if caps := capsGenerate(p.psp, c); caps != nil {
		ensure()
		sc.Capabilities = caps
	}
	if p.psp.Spec.ReadOnlyRootFilesystem && (sc == nil || sc.ReadOnlyRootFilesystem == nil) {
		ensure()
		t := true
		sc.ReadOnlyRootFilesystem = &t
	}
	if d := p.psp.Spec.DefaultAllowPrivilegeEscalation; d != nil && (sc == nil || sc.AllowPrivilegeEscalation == nil) {
		ensure()
		v := *d
		sc.AllowPrivilegeEscalation = &v
	}
	if a := p.psp.Spec.AllowPrivilegeEscalation; a != nil && !*a && (sc == nil || sc.AllowPrivilegeEscalation == nil) {
		ensure()
		f := false
		sc.AllowPrivilegeEscalation = &f
	}
	c.SecurityContext = sc
}

// report collects validation failures. In quick mode (full false) it only
// records that something failed and builds no error — most policies refuse
// most pods, and the errors are shown only when every usable policy refuses.
type report struct {
	full   bool
	failed bool
	errs   field.ErrorList
}

// fail records a failure; mk builds the error only when errors are wanted.
func (r *report) fail(mk func() *field.Error) {
	r.failed = true
	if r.full {
		r.errs = append(r.errs, mk())
	}
}

// validate lists every way pod breaks the policy.
func (p *provider) validate(pod *corev1.Pod) field.ErrorList {
	r := &report{full: true}
	p.check(r, pod)
	return r.errs
}

// admits reports whether the pod passes the policy, building no error.
func (p *provider) admits(pod *corev1.Pod) bool {
	var r report
	p.check(&r, pod)
	return !r.failed
}

func (p *provider) check(r *report, pod *corev1.Pod) {
	psc := pod.Spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	var fsGroups []int64
	if psc.FSGroup != nil {
		fsGroups = []int64{*psc.FSGroup}
	}
	p.fsGroup.validate(r, fsGroupPath, fsGroups)
	p.supGroup.validate(r, supGroupsPath, psc.SupplementalGroups)
	p.seccomp.validatePod(r, pod)
	seLinuxValidate(r, p.psp, podSELinuxPath, psc.SELinuxOptions)
	if !p.psp.Spec.HostNetwork && pod.Spec.HostNetwork {
		r.fail(func() *field.Error {
			return field.Invalid(podSCPath.Child("hostNetwork"), true, "Host network is not allowed to be used")
		})
	}
	if !p.psp.Spec.HostPID && pod.Spec.HostPID {
		r.fail(func() *field.Error {
			return field.Invalid(podSCPath.Child("hostPID"), true, "Host PID is not allowed to be used")
		})
	}
	if !p.psp.Spec.HostIPC && pod.Spec.HostIPC {
		r.fail(func() *field.Error {
			return field.Invalid(podSCPath.Child("hostIPC"), true, "Host IPC is not allowed to be used")
		})
	}
	sysctlsValidate(r, p.psp, pod)
	p.validateVolumes(r, pod)
	if !p.runtimeClassAllowed(pod) {
		r.fail(func() *field.Error {
			return field.Invalid(specPath.Child("runtimeClassName"), *pod.Spec.RuntimeClassName, "")
		})
	}
	containers(&pod.Spec, func(c *corev1.Container, path *field.Path) {
		p.validateContainer(r, pod, psc, c, path)
	})
}

// effective is a container's identity settings: its own, else the pod's.
func effective(psc *corev1.PodSecurityContext, sc *corev1.SecurityContext) (runAsUser *int64, runAsNonRoot *bool, runAsGroup *int64, seLinux *corev1.SELinuxOptions) {
	runAsUser, runAsNonRoot, runAsGroup, seLinux = psc.RunAsUser, psc.RunAsNonRoot, psc.RunAsGroup, psc.SELinuxOptions
	if sc.RunAsUser != nil {
		runAsUser = sc.RunAsUser
	}
	if sc.RunAsNonRoot != nil {
		runAsNonRoot = sc.RunAsNonRoot
	}
	if sc.RunAsGroup != nil {
		runAsGroup = sc.RunAsGroup
	}
	if sc.SELinuxOptions != nil {
		seLinux = sc.SELinuxOptions
	}
	return
}

func (p *provider) validateContainer(r *report, pod *corev1.Pod, psc *corev1.PodSecurityContext, c *corev1.Container, path *field.Path) {
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	scPath := securityContextPath(path)
	runAsUser, runAsNonRoot, runAsGroup, seLinux := effective(psc, sc)
	userValidate(r, p.psp, scPath, runAsNonRoot, runAsUser)
	var groups []int64
	if runAsGroup != nil {
		groups = []int64{*runAsGroup}
	}
	p.runAsGrp.validate(r, scPath, groups)
	if p.psp.Spec.SELinux.Rule == v1alpha1.SELinuxStrategyMustRunAs {
		seLinuxValidate(r, p.psp, scPath.Child("seLinuxOptions"), seLinux)
	}
	p.apparmor.validate(r, pod, c)
	p.seccomp.validateContainer(r, pod, c)
	if p.privilegedForbidden(sc) {
		r.fail(func() *field.Error {
			return field.Invalid(scPath.Child("privileged"), true, "Privileged containers are not allowed")
		})
	}
	if procMount, ok := p.procMountAllowed(sc); !ok {
		r.fail(func() *field.Error {
			return field.Invalid(scPath.Child("procMount"), procMount, "ProcMountType is not allowed")
		})
	}
	p.capsValidate(r, scPath, sc.Capabilities)
	for _, port := range c.Ports {
		if port.HostPort > 0 && !p.hostPortAllowed(port.HostPort) {
			r.fail(func() *field.Error {
				return field.Invalid(path.Child("hostPort"), port.HostPort,
					fmt.Sprintf("Host port %d is not allowed to be used. Allowed ports: [%s]", port.HostPort, p.hostPortRanges()))
			})
		}
	}
	if p.psp.Spec.ReadOnlyRootFilesystem {
		if sc.ReadOnlyRootFilesystem == nil {
			r.fail(func() *field.Error {
				return field.Invalid(scPath.Child("readOnlyRootFilesystem"), sc.ReadOnlyRootFilesystem, "ReadOnlyRootFilesystem may not be nil and must be set to true")
			})
		} else if !*sc.ReadOnlyRootFilesystem {
			r.fail(func() *field.Error {
				return field.Invalid(scPath.Child("readOnlyRootFilesystem"), false, "ReadOnlyRootFilesystem must be set to true")
			})
		}
	}
	if a := p.psp.Spec.AllowPrivilegeEscalation; a != nil && !*a && (sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation) {
		r.fail(func() *field.Error {
			return field.Invalid(scPath.Child("allowPrivilegeEscalation"), sc.AllowPrivilegeEscalation, "Allowing privilege escalation for containers is not allowed")
		})
	}
}

// runtimeClassAllowed: an unset runtimeClassName is always allowed.
func (p *provider) runtimeClassAllowed(pod *corev1.Pod) bool {
	rc := p.psp.Spec.RuntimeClass
	if rc == nil || pod.Spec.RuntimeClassName == nil {
		return true
	}
	for _, n := range rc.AllowedRuntimeClassNames {
		if n == v1alpha1.AllowAllRuntimeClassNames || n == *pod.Spec.RuntimeClassName {
			return true
		}
	}
	return false
}

func (p *provider) privilegedForbidden(sc *corev1.SecurityContext) bool {
	return !p.psp.Spec.Privileged && sc != nil && sc.Privileged != nil && *sc.Privileged
}

// procMountAllowed returns the container's procMount and whether the policy allows it.
func (p *provider) procMountAllowed(sc *corev1.SecurityContext) (corev1.ProcMountType, bool) {
	procMount := corev1.DefaultProcMount
	if sc != nil && sc.ProcMount != nil {
		procMount = *sc.ProcMount
	}
	found := len(p.psp.Spec.AllowedProcMountTypes) == 0 && procMount == corev1.DefaultProcMount
	for _, pm := range p.psp.Spec.AllowedProcMountTypes {
		found = found || pm == procMount
	}
	return procMount, found
}

// refusesUnchanged reports whether the policy refuses the pod for a field its
// defaulting never writes — host namespaces, sysctls, volumes, the runtime
// class when set, privileged, procMount, host ports — or for a value already
// set, which defaulting keeps (user and group ids, added capabilities,
// readOnlyRootFilesystem false, allowPrivilegeEscalation true), or for the
// seccomp profile defaulting would choose, so that the pod need not be copied
// and defaulted to know the policy refuses it.
func (p *provider) refusesUnchanged(pod *corev1.Pod) bool {
	s := &p.psp.Spec
	if (!s.HostNetwork && pod.Spec.HostNetwork) || (!s.HostPID && pod.Spec.HostPID) || (!s.HostIPC && pod.Spec.HostIPC) {
		return true
	}
	var r report
	sysctlsValidate(&r, p.psp, pod)
	p.validateVolumes(&r, pod)
	if r.failed {
		return true
	}
	if !p.runtimeClassAllowed(pod) {
		return true
	}
	// Defaulting fills only unset fields: ids and groups already set are
	// validated as they are.
	psc := pod.Spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if psc.FSGroup != nil {
		p.fsGroup.validate(&r, fsGroupPath, []int64{*psc.FSGroup})
	}
	if psc.SupplementalGroups != nil {
		p.supGroup.validate(&r, supGroupsPath, psc.SupplementalGroups)
	}
	// The pod's seccomp profile after defaulting is what generate returns.
	p.seccomp.check(&r, seccompPodAnnotation, "", p.seccomp.generate(pod))
	if r.failed {
		return true
	}
	refused := false
	containers(&pod.Spec, func(c *corev1.Container, path *field.Path) {
		if refused {
			return
		}
		sc := c.SecurityContext
		if _, ok := p.procMountAllowed(sc); !ok || p.privilegedForbidden(sc) {
			refused = true
			return
		}
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		runAsUser, runAsNonRoot, runAsGroup, _ := effective(psc, sc)
		var q report
		if runAsUser != nil { // then defaulting sets neither runAsUser nor runAsNonRoot
			userValidate(&q, p.psp, path, runAsNonRoot, runAsUser)
		}
		if runAsGroup != nil {
			p.runAsGrp.validate(&q, path, []int64{*runAsGroup})
		}
		if sc.Capabilities != nil && !p.allowedCaps[string(v1alpha1.AllowAllCapabilities)] {
			for _, c := range sc.Capabilities.Add { // defaulting keeps the container's own adds
				if !p.defaultCaps[string(c)] && !p.allowedCaps[string(c)] {
					q.failed = true
				}
			}
		}
		if q.failed ||
			(s.ReadOnlyRootFilesystem && sc.ReadOnlyRootFilesystem != nil && !*sc.ReadOnlyRootFilesystem) ||
			(s.AllowPrivilegeEscalation != nil && !*s.AllowPrivilegeEscalation && sc.AllowPrivilegeEscalation != nil && *sc.AllowPrivilegeEscalation) {
			refused = true
			return
		}
		for _, port := range c.Ports {
			if port.HostPort > 0 && !p.hostPortAllowed(port.HostPort) {
				refused = true
			}
		}
	})
	return refused
}

func (p *provider) hostPortAllowed(port int32) bool {
	for _, r := range p.psp.Spec.HostPorts {
		if port >= r.Min && port <= r.Max {
			return true
		}
	}
	return false
}

func (p *provider) hostPortRanges() string {
	var parts []string
	for _, r := range p.psp.Spec.HostPorts {
		if r.Min == r.Max {
			parts = append(parts, fmt.Sprint(r.Min))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", r.Min, r.Max))
		}
	}
	return strings.Join(parts, ",")
}
