// Package validation checks PodSecurityPolicies as the Kubernetes v1.24 API
// server's policy validation did, every error carrying its field path, plus
// what upstream only found when building the policy's strategies (a MustRunAs
// strategy without ranges), so that a broken policy is refused when loaded
// instead of silently never admitting anything. Tenants are validated in the
// same style by the sibling package tenantvalidation.
package validation

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// Validate returns every problem of p, with field paths.
func Validate(p *v1alpha1.PodSecurityPolicy) field.ErrorList {
	var errs field.ErrorList
	meta := field.NewPath("metadata")
	if p.Name == "" {
		errs = append(errs, field.Required(meta.Child("name"), "name or generateName is required"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(p.Name) {
			errs = append(errs, field.Invalid(meta.Child("name"), p.Name, msg))
		}
	}
	if p.Namespace != "" {
		errs = append(errs, field.Forbidden(meta.Child("namespace"), "not allowed on this type: PodSecurityPolicy is cluster-scoped"))
	}
	errs = append(errs, validateAnnotations(p.Annotations, meta.Child("annotations"))...)
	errs = append(errs, ValidateSpec(&p.Spec, field.NewPath("spec"))...)
	return errs
}

// ValidateSpec validates a PodSecurityPolicySpec.
func ValidateSpec(s *v1alpha1.PodSecurityPolicySpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateRule(fld.Child("runAsUser"), string(s.RunAsUser.Rule), s.RunAsUser.Ranges,
		[]string{"MustRunAs", "MustRunAsNonRoot", "RunAsAny"}, "MustRunAs")...)
	if s.RunAsGroup != nil {
		g := fld.Child("runAsGroup")
		switch s.RunAsGroup.Rule {
		case v1alpha1.RunAsGroupStrategyRunAsAny:
			if len(s.RunAsGroup.Ranges) != 0 {
				errs = append(errs, field.Invalid(g.Child("ranges"), s.RunAsGroup.Ranges, "Ranges must be empty"))
			}
		case v1alpha1.RunAsGroupStrategyMustRunAs, v1alpha1.RunAsGroupStrategyMayRunAs:
			if len(s.RunAsGroup.Ranges) == 0 {
				errs = append(errs, field.Invalid(g.Child("ranges"), s.RunAsGroup.Ranges, "must provide at least one range"))
			}
			errs = append(errs, validateRanges(g.Child("ranges"), s.RunAsGroup.Ranges)...)
		default:
			errs = append(errs, field.NotSupported(g.Child("rule"), s.RunAsGroup.Rule, []string{"MustRunAs", "RunAsAny", "MayRunAs"}))
		}
	}
	sel := fld.Child("seLinux")
	switch s.SELinux.Rule {
	case v1alpha1.SELinuxStrategyRunAsAny:
	case v1alpha1.SELinuxStrategyMustRunAs:
		if s.SELinux.SELinuxOptions == nil {
			errs = append(errs, field.Required(sel.Child("seLinuxOptions"), "MustRunAs requires seLinuxOptions"))
		}
	default:
		errs = append(errs, field.NotSupported(sel.Child("rule"), s.SELinux.Rule, []string{"MustRunAs", "RunAsAny"}))
	}
	errs = append(errs, validateRule(fld.Child("supplementalGroups"), string(s.SupplementalGroups.Rule), s.SupplementalGroups.Ranges,
		[]string{"MayRunAs", "MustRunAs", "RunAsAny"}, "MustRunAs", "MayRunAs")...)
	errs = append(errs, validateRule(fld.Child("fsGroup"), string(s.FSGroup.Rule), s.FSGroup.Ranges,
		[]string{"MayRunAs", "MustRunAs", "RunAsAny"}, "MustRunAs", "MayRunAs")...)

	allowedVolumes := map[v1alpha1.FSType]bool{v1alpha1.All: true}
	var volumeNames []string
	for _, t := range v1alpha1.AllFSTypes {
		allowedVolumes[t] = true
		volumeNames = append(volumeNames, string(t))
	}
	volumeNames = append(volumeNames, "*")
	sort.Strings(volumeNames)
	for _, v := range s.Volumes {
		if !allowedVolumes[v] {
			errs = append(errs, field.NotSupported(fld.Child("volumes"), v, volumeNames))
		}
	}

	if len(s.RequiredDropCapabilities) > 0 && hasCap(v1alpha1.AllowAllCapabilities, s.AllowedCapabilities) {
		errs = append(errs, field.Invalid(fld.Child("requiredDropCapabilities"), s.RequiredDropCapabilities,
			"must be empty when all capabilities are allowed by a wildcard"))
	}
	errs = append(errs, capsAgainstDrops(s.RequiredDropCapabilities, s.DefaultAddCapabilities, fld.Child("defaultAddCapabilities"))...)
	errs = append(errs, capsAgainstDrops(s.RequiredDropCapabilities, s.AllowedCapabilities, fld.Child("allowedCapabilities"))...)
	if d := s.DefaultAllowPrivilegeEscalation; d != nil && *d && s.AllowPrivilegeEscalation != nil && !*s.AllowPrivilegeEscalation {
		errs = append(errs, field.Invalid(fld.Child("defaultAllowPrivilegeEscalation"), d,
			"Cannot set DefaultAllowPrivilegeEscalation to true without also setting AllowPrivilegeEscalation to true"))
	}
	for i, t := range s.AllowedProcMountTypes {
		if t != corev1.DefaultProcMount && t != corev1.UnmaskedProcMount {
			errs = append(errs, field.NotSupported(fld.Child("allowedProcMountTypes").Index(i), t, []string{"Default", "Unmasked"}))
		}
	}
	for i, hp := range s.AllowedHostPaths {
		p := fld.Child("allowedHostPaths").Index(i)
		if hp.PathPrefix == "" {
			errs = append(errs, field.Required(p, "is required"))
			break
		}
		for _, part := range strings.Split(hp.PathPrefix, "/") {
			if part == ".." {
				errs = append(errs, field.Invalid(p, hp.PathPrefix, "must not contain '..'"))
				break
			}
		}
	}
	for i, fv := range s.AllowedFlexVolumes {
		if fv.Driver == "" {
			errs = append(errs, field.Required(fld.Child("allowedFlexVolumes").Index(i).Child("driver"), "must specify a driver"))
		}
	}
	for i, d := range s.AllowedCSIDrivers {
		p := fld.Child("allowedCSIDrivers").Index(i).Child("name")
		switch {
		case d.Name == "":
			errs = append(errs, field.Required(p, ""))
		case len(d.Name) > 63:
			errs = append(errs, field.TooLong(p, d.Name, 63))
		default:
			for _, msg := range validation.IsDNS1123Subdomain(strings.ToLower(d.Name)) {
				errs = append(errs, field.Invalid(p, d.Name, msg))
			}
		}
	}
	errs = append(errs, validateSysctls(fld.Child("allowedUnsafeSysctls"), s.AllowedUnsafeSysctls)...)
	errs = append(errs, validateSysctls(fld.Child("forbiddenSysctls"), s.ForbiddenSysctls)...)
	errs = append(errs, sysctlsOverlap(fld.Child("allowedUnsafeSysctls"), fld.Child("forbiddenSysctls"), s.AllowedUnsafeSysctls, s.ForbiddenSysctls)...)
	errs = append(errs, validateRuntimeClass(fld.Child("runtimeClass"), s.RuntimeClass)...)
	return errs
}

// validateRule checks a strategy's rule and ranges; rules in needRanges must have at least one.
func validateRule(fld *field.Path, rule string, ranges []v1alpha1.IDRange, supported []string, needRanges ...string) field.ErrorList {
	var errs field.ErrorList
	ok := false
	for _, s := range supported {
		ok = ok || s == rule
	}
	if !ok {
		errs = append(errs, field.NotSupported(fld.Child("rule"), rule, supported))
	}
	for _, n := range needRanges {
		if rule == n && len(ranges) == 0 {
			errs = append(errs, field.Required(fld.Child("ranges"), rule+" requires at least one range"))
		}
	}
	return append(errs, validateRanges(fld.Child("ranges"), ranges)...)
}

func validateRanges(fld *field.Path, ranges []v1alpha1.IDRange) field.ErrorList {
	var errs field.ErrorList
	for i, r := range ranges {
		p := fld.Index(i)
		if r.Min < 0 {
			errs = append(errs, field.Invalid(p.Child("min"), r.Min, "min cannot be negative"))
		}
		if r.Max < 0 {
			errs = append(errs, field.Invalid(p.Child("max"), r.Max, "max cannot be negative"))
		}
		if r.Min > r.Max {
			errs = append(errs, field.Invalid(p.Child("min"), r.Min, "min cannot be greater than max"))
		}
	}
	return errs
}

func hasCap(c corev1.Capability, caps []corev1.Capability) bool {
	for _, x := range caps {
		if strings.EqualFold(string(x), string(c)) {
			return true
		}
	}
	return false
}

func capsAgainstDrops(drops, caps []corev1.Capability, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, c := range caps {
		if hasCap(c, drops) {
			errs = append(errs, field.Invalid(fld, c, fmt.Sprintf("capability is listed in %s and requiredDropCapabilities", fld.String())))
		}
	}
	return errs
}

const (
	sysctlSegmentFmt = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
	sysctlPatternFmt = "(" + sysctlSegmentFmt + "\\.)*([a-z0-9][-_a-z0-9]*)?[a-z0-9*]"
	sysctlMaxLength  = 253
)

var sysctlPattern = regexp.MustCompile("^" + sysctlPatternFmt + "$")

func validateSysctls(fld *field.Path, sysctls []string) field.ErrorList {
	var errs field.ErrorList
	all := false
	for i, s := range sysctls {
		switch {
		case s == "":
			errs = append(errs, field.Invalid(fld.Index(i), s, "empty sysctl not allowed"))
		case len(s) > sysctlMaxLength || !sysctlPattern.MatchString(s):
			errs = append(errs, field.Invalid(fld.Index(i), s, fmt.Sprintf("must have at most %d characters and match regex %s", sysctlMaxLength, sysctlPatternFmt)))
		case s[0] == '*':
			all = true
		}
	}
	if all && len(sysctls) > 1 {
		errs = append(errs, field.Forbidden(fld.Child("items"), "if '*' is present, must not specify other sysctls"))
	}
	return errs
}

// sysctlsOverlap forbids a sysctl both allowed-unsafe and forbidden.
func sysctlsOverlap(allowedFld, forbiddenFld *field.Path, allowed, forbidden []string) field.ErrorList {
	var errs field.ErrorList
	for i, a := range allowed {
		aPrefix, aPattern := strings.CutSuffix(a, "*")
		for j, f := range forbidden {
			fPrefix, fPattern := strings.CutSuffix(f, "*")
			switch {
			case aPattern && fPattern:
				if strings.HasPrefix(aPrefix, fPrefix) {
					errs = append(errs, field.Invalid(allowedFld.Index(i), a, "sysctl overlaps with "+f))
				} else if strings.HasPrefix(fPrefix, aPrefix) {
					errs = append(errs, field.Invalid(forbiddenFld.Index(j), f, "sysctl overlaps with "+a))
				}
			case aPattern:
				if strings.HasPrefix(f, aPrefix) {
					errs = append(errs, field.Invalid(forbiddenFld.Index(j), f, "sysctl overlaps with "+a))
				}
			case fPattern:
				if strings.HasPrefix(a, fPrefix) {
					errs = append(errs, field.Invalid(allowedFld.Index(i), a, "sysctl overlaps with "+f))
				}
			case a == f:
				errs = append(errs, field.Invalid(allowedFld.Index(i), a, "sysctl overlaps with "+f))
			}
		}
	}
	return errs
}

func validateRuntimeClass(fld *field.Path, rc *v1alpha1.RuntimeClassStrategyOptions) field.ErrorList {
	if rc == nil {
		return nil
	}
	var errs field.ErrorList
	allowed := map[string]bool{}
	names := fld.Child("allowedRuntimeClassNames")
	for i, n := range rc.AllowedRuntimeClassNames {
		if n != v1alpha1.AllowAllRuntimeClassNames {
			for _, msg := range validation.IsDNS1123Subdomain(n) {
				errs = append(errs, field.Invalid(names.Index(i), n, msg))
			}
		}
		if allowed[n] {
			errs = append(errs, field.Duplicate(names.Index(i), n))
		}
		allowed[n] = true
	}
	if d := rc.DefaultRuntimeClassName; d != nil {
		for _, msg := range validation.IsDNS1123Subdomain(*d) {
			errs = append(errs, field.Invalid(fld.Child("defaultRuntimeClassName"), *d, msg))
		}
		if !allowed[*d] && !allowed[v1alpha1.AllowAllRuntimeClassNames] {
			errs = append(errs, field.Required(names, fmt.Sprintf("default %q must be allowed", *d)))
		}
	}
	if allowed[v1alpha1.AllowAllRuntimeClassNames] && len(rc.AllowedRuntimeClassNames) > 1 {
		errs = append(errs, field.Invalid(names, rc.AllowedRuntimeClassNames, "if '*' is present, must not specify other RuntimeClass names"))
	}
	return errs
}

// validateAnnotations checks the seccomp and AppArmor profile annotations.
func validateAnnotations(a map[string]string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if p := a[v1alpha1.AppArmorDefaultProfileAnnotation]; p != "" {
		if err := appArmorProfile(p); err != nil {
			errs = append(errs, field.Invalid(fld.Key(v1alpha1.AppArmorDefaultProfileAnnotation), p, err.Error()))
		}
	}
	if list := a[v1alpha1.AppArmorAllowedProfilesAnnotation]; list != "" {
		for _, p := range strings.Split(list, ",") {
			if err := appArmorProfile(p); err != nil {
				errs = append(errs, field.Invalid(fld.Key(v1alpha1.AppArmorAllowedProfilesAnnotation), list, err.Error()))
			}
		}
	}
	if p := a[v1alpha1.SeccompDefaultProfileAnnotation]; p != "" {
		errs = append(errs, seccompProfile(p, fld.Key(v1alpha1.SeccompDefaultProfileAnnotation))...)
	}
	if list := a[v1alpha1.SeccompAllowedProfilesAnnotation]; list != "" {
		for _, p := range strings.Split(list, ",") {
			if p != "*" {
				errs = append(errs, seccompProfile(p, fld.Key(v1alpha1.SeccompAllowedProfilesAnnotation))...)
			}
		}
	}
	return errs
}

func appArmorProfile(p string) error {
	if p == "runtime/default" || p == "unconfined" {
		return nil
	}
	if strings.HasPrefix(p, "localhost/") && len(p) > len("localhost/") {
		return nil
	}
	return fmt.Errorf("invalid AppArmor profile name: %q", p)
}

func seccompProfile(p string, fld *field.Path) field.ErrorList {
	switch {
	case p == "runtime/default", p == "docker/default", p == "unconfined":
		return nil
	case strings.HasPrefix(p, "localhost/"):
		name := strings.TrimPrefix(p, "localhost/")
		if name == "" || path.IsAbs(name) || strings.Contains("/"+name+"/", "/../") {
			return field.ErrorList{field.Invalid(fld, p, "must be a relative path without '..'")}
		}
		return nil
	}
	return field.ErrorList{field.Invalid(fld, p, "must be a valid seccomp profile")}
}
