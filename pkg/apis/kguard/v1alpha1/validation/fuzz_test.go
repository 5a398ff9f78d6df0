package validation

import (
	"testing"

	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// FuzzDecodeAndValidate: arbitrary PSP documents decode strictly or fail, and
// validation never panics; a policy that validates has the strategies the
// engine relies on.
func FuzzDecodeAndValidate(f *testing.F) {
	f.Add([]byte("apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: p}\nspec: {seLinux: {rule: RunAsAny}, runAsUser: {rule: MustRunAs, ranges: [{min: 1, max: 2}]}, supplementalGroups: {rule: RunAsAny}, fsGroup: {rule: RunAsAny}}\n"))
	f.Add([]byte("metadata: {name: p, annotations: {seccomp.security.alpha.kubernetes.io/allowedProfileNames: 'localhost/../x'}}\nspec: {allowedUnsafeSysctls: ['*', 'a*'], forbiddenSysctls: ['a.b'], runtimeClass: {allowedRuntimeClassNames: ['*', x], defaultRuntimeClassName: y}}\n"))
	f.Add([]byte("spec: {allowedHostPaths: [{pathPrefix: ''}], hostPorts: [{min: 5, max: 1}], runAsGroup: {rule: MayRunAs}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return
		}
		var p v1alpha1.PodSecurityPolicy
		if strict, err := sigsjson.UnmarshalStrict(j, &p); err != nil || len(strict) > 0 {
			return
		}
		v1alpha1.SetDefaults(&p)
		if errs := Validate(&p); len(errs) == 0 {
			s := p.Spec
			if s.RunAsUser.Rule == v1alpha1.RunAsUserStrategyMustRunAs && len(s.RunAsUser.Ranges) == 0 {
				t.Fatal("valid MustRunAs without ranges")
			}
			if s.SELinux.Rule == v1alpha1.SELinuxStrategyMustRunAs && s.SELinux.SELinuxOptions == nil {
				t.Fatal("valid SELinux MustRunAs without options")
			}
			if s.AllowPrivilegeEscalation == nil {
				t.Fatal("defaults not applied")
			}
		}
	})
}
