package snapshot

import (
	"errors"
	"strings"
	"testing"

	"github.com/kguard/kguard/internal/admission/constraints"
	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/authz"
	"github.com/kguard/kguard/internal/policy"
)

func TestBuild(t *testing.T) {
	snap, err := Build(Config{}, &policy.Set{})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Authorizer == nil || snap.Admission == nil || snap.Authenticator != nil {
		t.Fatalf("defaults: %+v", snap)
	}
	if got := snap.Admission.Plugins(); strings.Join(got, ",") != "PodSecurityPolicy,PodSecurity" {
		t.Fatalf("default plugins %v", got)
	}
	for name, cfg := range map[string]Config{
		"unknown mode":      {AuthorizationModes: []string{"Magic"}},
		"ABAC without file": {AuthorizationModes: []string{"ABAC"}},
		"unknown plugin":    {AdmissionPlugins: []string{"NodeRestriction"}},
		"bad PSS level":     {PSS: podsecurity.Config{Enforce: "superstrict"}},
	} {
		if _, err := Build(cfg, &policy.Set{}); err == nil {
			t.Errorf("%s: built", name)
		} else if name == "unknown mode" && !errors.Is(err, authz.ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Rego modules loaded while the Constraints plugin is off are named in a
// warning: kguard serve would otherwise admit silently what they refuse.
func TestBuildWarnsRegoWithoutConstraints(t *testing.T) {
	set := &policy.Set{RegoModules: []policy.RegoModule{{Name: "deny.rego", Source: "package a\ndeny contains \"no\" if true\n"}}}
	snap, err := Build(Config{}, set)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(snap.Warnings, "\n"), "1 Rego modules, 0 ConstraintTemplates and 0 constraints are not enforced") {
		t.Errorf("warnings %q do not say the Rego module is not enforced", snap.Warnings)
	}
	snap, err = Build(Config{AdmissionPlugins: []string{constraints.PluginName}}, set)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Warnings) != 0 {
		t.Errorf("with the Constraints plugin: warnings %q", snap.Warnings)
	}
}
