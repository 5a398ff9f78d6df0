// Package plugins links kguard's admission plugins into the binary: each
// registers itself with internal/admission from its package's init. Adding a
// plugin is its package plus one line here.
package plugins

import (
	_ "github.com/kguard/kguard/internal/admission/alwayspullimages"   // not a default, as in kube-apiserver
	_ "github.com/kguard/kguard/internal/admission/clusterimagepolicy" // sigstore image verification; not a default
	_ "github.com/kguard/kguard/internal/admission/constraints"        // Gatekeeper constraints and plain Rego; not a default
	_ "github.com/kguard/kguard/internal/admission/denyescalatingexec" // not a default, as in kube-apiserver
	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/podsecuritypolicy"
	_ "github.com/kguard/kguard/internal/admission/securitycontextdeny" // removed upstream in v1.30; not a default
	_ "github.com/kguard/kguard/internal/admission/tenancy"             // kguard.io Tenants (seed 004); not a default
)

// Default is the chain of an empty --enable-admission-plugins, in
// kube-apiserver's order.
var Default = []string{podsecuritypolicy.PluginName, podsecurity.PluginName}

// Or is names, or Default when names is empty (--enable-admission-plugins
// not given).
func Or(names []string) []string {
	if len(names) == 0 {
		return Default
	}
	return names
}
