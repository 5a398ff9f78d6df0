package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

func valid() *v1alpha1.PodSecurityPolicy {
	return &v1alpha1.PodSecurityPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: v1alpha1.PodSecurityPolicySpec{
			SELinux:            v1alpha1.SELinuxStrategyOptions{Rule: v1alpha1.SELinuxStrategyRunAsAny},
			RunAsUser:          v1alpha1.RunAsUserStrategyOptions{Rule: v1alpha1.RunAsUserStrategyRunAsAny},
			SupplementalGroups: v1alpha1.SupplementalGroupsStrategyOptions{Rule: v1alpha1.SupplementalGroupsStrategyRunAsAny},
			FSGroup:            v1alpha1.FSGroupStrategyOptions{Rule: v1alpha1.FSGroupStrategyRunAsAny},
		},
	}
}

func TestValidate(t *testing.T) {
	no, yes := false, true
	cases := []struct {
		name   string
		tweak  func(p *v1alpha1.PodSecurityPolicy)
		field  string // the path of the one expected error, "" for valid
		detail string
	}{
		{"valid", func(p *v1alpha1.PodSecurityPolicy) {}, "", ""},
		{"bad name", func(p *v1alpha1.PodSecurityPolicy) { p.Name = "Not_Valid" }, "metadata.name", "RFC 1123"},
		{"namespaced", func(p *v1alpha1.PodSecurityPolicy) { p.Namespace = "x" }, "metadata.namespace", "cluster-scoped"},
		{"unknown runAsUser rule", func(p *v1alpha1.PodSecurityPolicy) { p.Spec.RunAsUser.Rule = "Whatever" }, "spec.runAsUser.rule", "supported values"},
		{"runAsUser MustRunAs without ranges", func(p *v1alpha1.PodSecurityPolicy) { p.Spec.RunAsUser.Rule = "MustRunAs" }, "spec.runAsUser.ranges", "requires at least one range"},
		{"fsGroup MustRunAs without ranges", func(p *v1alpha1.PodSecurityPolicy) { p.Spec.FSGroup.Rule = "MustRunAs" }, "spec.fsGroup.ranges", "requires at least one range"},
		{"supplementalGroups MayRunAs without ranges", func(p *v1alpha1.PodSecurityPolicy) { p.Spec.SupplementalGroups.Rule = "MayRunAs" }, "spec.supplementalGroups.ranges", ""},
		{"inverted range", func(p *v1alpha1.PodSecurityPolicy) {
			p.Spec.RunAsUser = v1alpha1.RunAsUserStrategyOptions{Rule: "MustRunAs", Ranges: []v1alpha1.IDRange{{Min: 10, Max: 5}}}
		}, "spec.runAsUser.ranges[0].min", "greater than max"},
		{"negative range", func(p *v1alpha1.PodSecurityPolicy) {
			p.Spec.FSGroup = v1alpha1.FSGroupStrategyOptions{Rule: "MustRunAs", Ranges: []v1alpha1.IDRange{{Min: -1, Max: 5}}}
		}, "spec.fsGroup.ranges[0].min", "negative"},
		{"runAsGroup RunAsAny with ranges", func(p *v1alpha1.PodSecurityPolicy) {
			p.Spec.RunAsGroup = &v1alpha1.RunAsGroupStrategyOptions{Rule: "RunAsAny", Ranges: []v1alpha1.IDRange{{Min: 1, Max: 2}}}
		}, "spec.runAsGroup.ranges", "must be empty"},
		{"runAsGroup MustRunAs without ranges", func(p *v1alpha1.PodSecurityPolicy) {
			p.Spec.RunAsGroup = &v1alpha1.RunAsGroupStrategyOptions{Rule: "MustRunAs"}
		}, "spec.runAsGroup.ranges", "at least one range"},
		{"SELinux MustRunAs without options", func(p *v1alpha1.PodSecurityPolicy) { p.Spec.SELinux.Rule = "MustRunAs" }, "spec.seLinux.seLinuxOptions", ""},
		{"unknown volume", func(p *v1alpha1.PodSecurityPolicy) { p.Spec.Volumes = []v1alpha1.FSType{"configMap", "floppy"} }, "spec.volumes", "floppy"},
		{"cap both dropped and allowed", func(p *v1alpha1.PodSecurityPolicy) {
			p.Spec.RequiredDropCapabilities = []corev1.Capability{"NET_RAW"}
			p.Spec.AllowedCapabilities = []corev1.Capability{"net_raw"}
		}, "spec.allowedCapabilities", "requiredDropCapabilities"},
		{"cap both dropped and default-added", func(p *v1alpha1.PodSecurityPolicy) {
			p.Spec.RequiredDropCapabilities = []corev1.Capability{"NET_RAW"}
			p.Spec.DefaultAddCapabilities = []corev1.Capability{"NET_RAW"}
		}, "spec.defaultAddCapabilities", "requiredDropCapabilities"},
		{"drop with wildcard allowed", func(p *v1alpha1.PodSecurityPolicy) {
			p.Spec.RequiredDropCapabilities = []corev1.Capability{"NET_RAW"}
			p.Spec.AllowedCapabilities = []corev1.Capability{"*"}
		}, "spec.requiredDropCapabilities", "wildcard"},
		{"default escalation without allowing it", func(p *v1alpha1.PodSecurityPolicy) {
			p.Spec.DefaultAllowPrivilegeEscalation, p.Spec.AllowPrivilegeEscalation = &yes, &no
		}, "spec.defaultAllowPrivilegeEscalation", "without also setting"},
		{"bad proc mount", func(p *v1alpha1.PodSecurityPolicy) { p.Spec.AllowedProcMountTypes = []corev1.ProcMountType{"Weird"} }, "spec.allowedProcMountTypes[0]", ""},
		{"empty host path", func(p *v1alpha1.PodSecurityPolicy) { p.Spec.AllowedHostPaths = []v1alpha1.AllowedHostPath{{}} }, "spec.allowedHostPaths[0]", "required"},
		{"host path with ..", func(p *v1alpha1.PodSecurityPolicy) {
			p.Spec.AllowedHostPaths = []v1alpha1.AllowedHostPath{{PathPrefix: "/var/../etc"}}
		}, "spec.allowedHostPaths[0]", "'..'"},
		{"flex without driver", func(p *v1alpha1.PodSecurityPolicy) { p.Spec.AllowedFlexVolumes = []v1alpha1.AllowedFlexVolume{{}} }, "spec.allowedFlexVolumes[0].driver", ""},
		{"csi driver name", func(p *v1alpha1.PodSecurityPolicy) {
			p.Spec.AllowedCSIDrivers = []v1alpha1.AllowedCSIDriver{{Name: "bad name"}}
		}, "spec.allowedCSIDrivers[0].name", ""},
		{"bad sysctl pattern", func(p *v1alpha1.PodSecurityPolicy) { p.Spec.ForbiddenSysctls = []string{"kernel.*.x"} }, "spec.forbiddenSysctls[0]", "match regex"},
		{"star with others", func(p *v1alpha1.PodSecurityPolicy) { p.Spec.AllowedUnsafeSysctls = []string{"*", "kernel.msg*"} }, "spec.allowedUnsafeSysctls.items", ""},
		{"allowed and forbidden overlap", func(p *v1alpha1.PodSecurityPolicy) {
			p.Spec.AllowedUnsafeSysctls = []string{"kernel.shm_rmid_forced"}
			p.Spec.ForbiddenSysctls = []string{"kernel.*"}
		}, "spec.allowedUnsafeSysctls[0]", "overlaps with kernel.*"},
		{"runtime class default not allowed", func(p *v1alpha1.PodSecurityPolicy) {
			d := "gvisor"
			p.Spec.RuntimeClass = &v1alpha1.RuntimeClassStrategyOptions{AllowedRuntimeClassNames: []string{"kata"}, DefaultRuntimeClassName: &d}
		}, "spec.runtimeClass.allowedRuntimeClassNames", "must be allowed"},
		{"bad seccomp annotation", func(p *v1alpha1.PodSecurityPolicy) {
			p.Annotations = map[string]string{v1alpha1.SeccompDefaultProfileAnnotation: "bogus"}
		}, "metadata.annotations[seccomp.security.alpha.kubernetes.io/defaultProfileName]", "seccomp"},
		{"bad apparmor annotation", func(p *v1alpha1.PodSecurityPolicy) {
			p.Annotations = map[string]string{v1alpha1.AppArmorAllowedProfilesAnnotation: "runtime/default,bogus"}
		}, "metadata.annotations[apparmor.security.beta.kubernetes.io/allowedProfileNames]", "AppArmor"},
		{"seccomp star allowed", func(p *v1alpha1.PodSecurityPolicy) {
			p.Annotations = map[string]string{v1alpha1.SeccompAllowedProfilesAnnotation: "*,localhost/profiles/a.json"}
		}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := valid()
			tc.tweak(p)
			errs := Validate(p)
			if tc.field == "" {
				if len(errs) != 0 {
					t.Fatalf("errors: %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != tc.field || !strings.Contains(errs[0].Error(), tc.detail) {
				t.Fatalf("errors = %v, want one at %s mentioning %q", errs, tc.field, tc.detail)
			}
		})
	}
}
