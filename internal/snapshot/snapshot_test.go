package snapshot

import (
	"errors"
	"strings"
	"testing"

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
