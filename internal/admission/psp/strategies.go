package psp

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// Pod annotations that carry seccomp and AppArmor profiles.
const (
	seccompPodAnnotation             = corev1.SeccompPodAnnotationKey
	seccompContainerAnnotationPrefix = corev1.SeccompContainerAnnotationKeyPrefix
	// Spelled out: k8s.io/api v0.24, which test/upstream124 builds this
	// package against, has no constant for it (the later one,
	// corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix, is the same string).
	appArmorContainerAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/"
)

// safeSysctls are the sysctls every pod may set (Kubernetes v1.24).
var safeSysctls = map[string]bool{
	"kernel.shm_rmid_forced":              true,
	"net.ipv4.ip_local_port_range":        true,
	"net.ipv4.tcp_syncookies":             true,
	"net.ipv4.ping_group_range":           true,
	"net.ipv4.ip_unprivileged_port_start": true,
}

func inRanges(id int64, ranges []v1alpha1.IDRange) bool {
	for _, r := range ranges {
		if id >= r.Min && id <= r.Max {
			return true
		}
	}
	return false
}

// rangesString prints ranges as upstream does (%v of the IDRange slice).
func rangesString(ranges []v1alpha1.IDRange) string {
	parts := make([]string, len(ranges))
	for i, r := range ranges {
		parts[i] = fmt.Sprintf("{%d %d}", r.Min, r.Max)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// groupStrategy is the shared logic of fsGroup, supplementalGroups and runAsGroup.
type groupStrategy struct {
	rule   string // MustRunAs, MayRunAs, RunAsAny
	ranges []v1alpha1.IDRange
}

func (g groupStrategy) generate() []int64 {
	if g.rule == "MustRunAs" && len(g.ranges) > 0 {
		return []int64{g.ranges[0].Min}
	}
	return nil
}

func (g groupStrategy) generateSingle() *int64 {
	if v := g.generate(); v != nil {
		return &v[0]
	}
	return nil
}

func (g groupStrategy) validate(r *report, fld *field.Path, groups []int64) {
	switch g.rule {
	case "MustRunAs":
		if len(groups) == 0 {
			r.fail(func() *field.Error {
				return field.Invalid(fld, groups, "unable to validate empty groups against required ranges")
			})
		}
	case "MayRunAs":
	default:
		return
	}
	for _, id := range groups {
		if !inRanges(id, g.ranges) {
			r.fail(func() *field.Error {
				return field.Invalid(fld, groups, fmt.Sprintf("group %d must be in the ranges: %s", id, rangesString(g.ranges)))
			})
		}
	}
}

func runAsGroupStrategy(p *v1alpha1.PodSecurityPolicy) groupStrategy {
	if p.Spec.RunAsGroup == nil {
		return groupStrategy{rule: "RunAsAny"}
	}
	return groupStrategy{rule: string(p.Spec.RunAsGroup.Rule), ranges: p.Spec.RunAsGroup.Ranges}
}

// userGenerate is the RunAsUser default: MustRunAs gives the first range's min.
func userGenerate(p *v1alpha1.PodSecurityPolicy) *int64 {
	if p.Spec.RunAsUser.Rule == v1alpha1.RunAsUserStrategyMustRunAs && len(p.Spec.RunAsUser.Ranges) > 0 {
		v := p.Spec.RunAsUser.Ranges[0].Min
		return &v
	}
	return nil
}

func userValidate(r *report, p *v1alpha1.PodSecurityPolicy, sc *field.Path, runAsNonRoot *bool, runAsUser *int64) {
	switch p.Spec.RunAsUser.Rule {
	case v1alpha1.RunAsUserStrategyMustRunAs:
		if runAsUser == nil {
			r.fail(func() *field.Error { return field.Required(sc.Child("runAsUser"), "") })
		} else if !inRanges(*runAsUser, p.Spec.RunAsUser.Ranges) {
			r.fail(func() *field.Error {
				return field.Invalid(sc.Child("runAsUser"), *runAsUser, "must be in the ranges: "+rangesString(p.Spec.RunAsUser.Ranges))
			})
		}
	case v1alpha1.RunAsUserStrategyMustRunAsNonRoot:
		switch {
		case runAsNonRoot == nil && runAsUser == nil:
			r.fail(func() *field.Error { return field.Required(sc.Child("runAsNonRoot"), "must be true") })
		case runAsNonRoot != nil && !*runAsNonRoot:
			r.fail(func() *field.Error { return field.Invalid(sc.Child("runAsNonRoot"), false, "must be true") })
		case runAsUser != nil && *runAsUser == 0:
			r.fail(func() *field.Error {
				return field.Invalid(sc.Child("runAsUser"), *runAsUser, "running with the root UID is forbidden")
			})
		}
	}
}

func seLinuxValidate(r *report, p *v1alpha1.PodSecurityPolicy, fld *field.Path, got *corev1.SELinuxOptions) {
	if p.Spec.SELinux.Rule != v1alpha1.SELinuxStrategyMustRunAs {
		return
	}
	want := p.Spec.SELinux.SELinuxOptions
	if got == nil {
		r.fail(func() *field.Error { return field.Required(fld, "") })
		return
	}
	if !equalLevels(want.Level, got.Level) {
		r.fail(func() *field.Error { return field.Invalid(fld.Child("level"), got.Level, "must be "+want.Level) })
	}
	if got.Role != want.Role {
		r.fail(func() *field.Error { return field.Invalid(fld.Child("role"), got.Role, "must be "+want.Role) })
	}
	if got.Type != want.Type {
		r.fail(func() *field.Error { return field.Invalid(fld.Child("type"), got.Type, "must be "+want.Type) })
	}
	if got.User != want.User {
		r.fail(func() *field.Error { return field.Invalid(fld.Child("user"), got.User, "must be "+want.User) })
	}
}

// equalLevels compares MLS levels ("s0:c1,c2"), categories in any order.
func equalLevels(want, got string) bool {
	if want == got {
		return true
	}
	w, g := strings.SplitN(want, ":", 2), strings.SplitN(got, ":", 2)
	if len(w) != 2 || len(g) != 2 || w[0] != g[0] {
		return false
	}
	wc, gc := strings.Split(w[1], ","), strings.Split(g[1], ",")
	sort.Strings(wc)
	sort.Strings(gc)
	return strings.Join(wc, ",") == strings.Join(gc, ",")
}

func capSet(caps []corev1.Capability) map[string]bool {
	s := make(map[string]bool, len(caps))
	for _, c := range caps {
		s[string(c)] = true
	}
	return s
}

func sortedCaps(s map[string]bool) []corev1.Capability {
	if len(s) == 0 {
		return nil
	}
	out := make([]corev1.Capability, 0, len(s))
	for c := range s {
		out = append(out, corev1.Capability(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// capsGenerate adds the default capabilities the container does not drop and
// the required drops; it returns the container's own capabilities unchanged when
// there is nothing to add.
func capsGenerate(p *v1alpha1.PodSecurityPolicy, c *corev1.Container) *corev1.Capabilities {
	var own *corev1.Capabilities
	add, drop := map[string]bool{}, map[string]bool{}
	if c.SecurityContext != nil && c.SecurityContext.Capabilities != nil {
		own = c.SecurityContext.Capabilities
		add, drop = capSet(own.Add), capSet(own.Drop)
	}
	combinedAdd, combinedDrop := map[string]bool{}, map[string]bool{}
	for k := range add {
		combinedAdd[k] = true
	}
	for _, d := range p.Spec.DefaultAddCapabilities {
		if !drop[string(d)] {
			combinedAdd[string(d)] = true
		}
	}
	for k := range drop {
		combinedDrop[k] = true
	}
	for _, d := range p.Spec.RequiredDropCapabilities {
		combinedDrop[string(d)] = true
	}
	if len(combinedAdd) == len(add) && len(combinedDrop) == len(drop) {
		return own
	}
	return &corev1.Capabilities{Add: sortedCaps(combinedAdd), Drop: sortedCaps(combinedDrop)}
}

// capsValidate checks a container's capabilities; scPath is its securityContext.
func (p *provider) capsValidate(r *report, scPath *field.Path, caps *corev1.Capabilities) {
	spec := &p.psp.Spec
	if caps == nil {
		if len(spec.DefaultAddCapabilities) != 0 || len(spec.RequiredDropCapabilities) != 0 {
			r.fail(func() *field.Error {
				return field.Invalid(scPath.Child("capabilities"), caps, "required capabilities are not set on the securityContext")
			})
		}
		return
	}
	if p.allowedCaps[string(v1alpha1.AllowAllCapabilities)] {
		return
	}
	for _, c := range caps.Add {
		if !p.defaultCaps[string(c)] && !p.allowedCaps[string(c)] {
			r.fail(func() *field.Error {
				return field.Invalid(scPath.Child("capabilities", "add"), string(c), "capability may not be added")
			})
		}
	}
	for _, d := range spec.RequiredDropCapabilities {
		found := false
		for _, c := range caps.Drop {
			found = found || c == d
		}
		if !found {
			r.fail(func() *field.Error {
				return field.Invalid(scPath.Child("capabilities", "drop"), caps.Drop, fmt.Sprintf("%s is required to be dropped but was not found", d))
			})
		}
	}
}

func matchesPattern(name string, patterns []string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(name, prefix) {
				return true
			}
		} else if name == p {
			return true
		}
	}
	return false
}

func sysctlsValidate(r *report, p *v1alpha1.PodSecurityPolicy, pod *corev1.Pod) {
	if pod.Spec.SecurityContext == nil {
		return
	}
	for i, s := range pod.Spec.SecurityContext.Sysctls {
		switch {
		case matchesPattern(s.Name, p.Spec.ForbiddenSysctls):
			r.fail(func() *field.Error {
				return field.Forbidden(sysctlsPath.Index(i), fmt.Sprintf("sysctl %q is not allowed", s.Name))
			})
		case safeSysctls[s.Name], matchesPattern(s.Name, p.Spec.AllowedUnsafeSysctls):
		default:
			r.fail(func() *field.Error {
				return field.Forbidden(sysctlsPath.Index(i), fmt.Sprintf("unsafe sysctl %q is not allowed", s.Name))
			})
		}
	}
}

// seccompProfileName renders a seccompProfile field as its annotation value.
func seccompProfileName(sp *corev1.SeccompProfile) string {
	switch sp.Type {
	case corev1.SeccompProfileTypeRuntimeDefault:
		return "runtime/default"
	case corev1.SeccompProfileTypeUnconfined:
		return "unconfined"
	case corev1.SeccompProfileTypeLocalhost:
		if sp.LocalhostProfile != nil {
			return "localhost/" + *sp.LocalhostProfile
		}
	}
	return ""
}

type seccompStrategy struct {
	defaultProfile string
	allowed        map[string]bool
	allowedString  string
	allowAny       bool
}

func newSeccomp(p *v1alpha1.PodSecurityPolicy) seccompStrategy {
	s := seccompStrategy{defaultProfile: p.Annotations[v1alpha1.SeccompDefaultProfileAnnotation]}
	if list, ok := p.Annotations[v1alpha1.SeccompAllowedProfilesAnnotation]; ok {
		s.allowedString = list
		s.allowed = map[string]bool{}
		for _, name := range strings.Split(list, ",") {
			if name == "*" {
				s.allowAny = true
				continue
			}
			if name == "docker/default" || name == "runtime/default" {
				s.allowed["runtime/default"], s.allowed["docker/default"] = true, true
			}
			s.allowed[name] = true
		}
	}
	return s
}

func (s seccompStrategy) generate(pod *corev1.Pod) string {
	if v := pod.Annotations[seccompPodAnnotation]; v != "" {
		return v
	}
	if pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.SeccompProfile != nil {
		return seccompProfileName(pod.Spec.SecurityContext.SeccompProfile)
	}
	return s.defaultProfile
}

func (s seccompStrategy) allowedProfile(profile string) bool {
	if len(s.allowed) == 0 && profile == "" {
		return true
	}
	return s.allowAny || s.allowed[profile]
}

// check validates a profile; the annotation key is built only for an error.
func (s seccompStrategy) check(r *report, keyPrefix, name, profile string) {
	if !s.allowAny && len(s.allowed) == 0 && profile != "" {
		r.fail(func() *field.Error {
			return field.Forbidden(annotationsPath.Key(keyPrefix+name), "seccomp may not be set")
		})
		return
	}
	if !s.allowedProfile(profile) {
		r.fail(func() *field.Error {
			return field.Forbidden(annotationsPath.Key(keyPrefix+name), fmt.Sprintf("%s is not an allowed seccomp profile. Valid values are %v", profile, s.allowedString))
		})
	}
}

func (s seccompStrategy) validatePod(r *report, pod *corev1.Pod) {
	profile := pod.Annotations[seccompPodAnnotation]
	if profile == "" && pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.SeccompProfile != nil {
		profile = seccompProfileName(pod.Spec.SecurityContext.SeccompProfile)
	}
	s.check(r, seccompPodAnnotation, "", profile)
}

func (s seccompStrategy) validateContainer(r *report, pod *corev1.Pod, c *corev1.Container) {
	var profile string
	switch {
	case c.SecurityContext != nil && c.SecurityContext.SeccompProfile != nil:
		profile = seccompProfileName(c.SecurityContext.SeccompProfile)
	default:
		if v, ok := containerAnnotation(pod.Annotations, seccompContainerAnnotationPrefix, c.Name); ok {
			profile = v
		} else if pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.SeccompProfile != nil {
			profile = seccompProfileName(pod.Spec.SecurityContext.SeccompProfile)
		} else {
			profile = pod.Annotations[seccompPodAnnotation]
		}
	}
	s.check(r, seccompContainerAnnotationPrefix, c.Name, profile)
}

type appArmorStrategy struct {
	defaultProfile string
	allowed        map[string]bool // nil: no restriction
	allowedString  string
}

func newAppArmor(p *v1alpha1.PodSecurityPolicy) appArmorStrategy {
	s := appArmorStrategy{defaultProfile: p.Annotations[v1alpha1.AppArmorDefaultProfileAnnotation]}
	if list, ok := p.Annotations[v1alpha1.AppArmorAllowedProfilesAnnotation]; ok {
		s.allowedString = list
		s.allowed = map[string]bool{}
		for _, name := range strings.Split(list, ",") {
			s.allowed[name] = true
		}
	}
	return s
}

// generate sets the default profile for a container that has none.
func (s appArmorStrategy) generate(pod *corev1.Pod, c *corev1.Container) {
	if s.defaultProfile == "" {
		return
	}
	key := appArmorContainerAnnotationPrefix + c.Name
	if pod.Annotations[key] != "" {
		return
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[key] = s.defaultProfile
}

func (s appArmorStrategy) validate(r *report, pod *corev1.Pod, c *corev1.Container) {
	if s.allowed == nil {
		return
	}
	key := appArmorContainerAnnotationPrefix + c.Name
	profile := pod.Annotations[key]
	if profile == "" {
		if len(s.allowed) > 0 {
			r.fail(func() *field.Error { return field.Forbidden(annotationsPath.Key(key), "AppArmor profile must be set") })
		}
		return
	}
	if !s.allowed[profile] {
		r.fail(func() *field.Error {
			return field.Forbidden(annotationsPath.Key(key), fmt.Sprintf("%s is not an allowed profile. Allowed values: %q", profile, s.allowedString))
		})
	}
}

// containerAnnotation looks up annotations[prefix+name] without building the
// key: it runs for every container under every policy, and pods carry few
// annotations.
func containerAnnotation(annotations map[string]string, prefix, name string) (string, bool) {
	for k, v := range annotations {
		if len(k) == len(prefix)+len(name) && strings.HasPrefix(k, prefix) && k[len(prefix):] == name {
			return v, true
		}
	}
	return "", false
}
