package source

import (
	"errors"
	"os"
	"path/filepath"
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
		"bad PSS level":     {PSS: podsecurityConfig("superstrict")},
	} {
		if _, err := Build(cfg, &policy.Set{}); err == nil {
			t.Errorf("%s: built", name)
		} else if name == "unknown mode" && !errors.Is(err, authz.ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestFilesReloadDetection(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
	write("README.txt", "not a manifest")
	f := &Files{Paths: []string{dir}}
	first := f.fingerprint(f.policyFiles())
	if f.fingerprint(f.policyFiles()) != first {
		t.Fatal("fingerprint not stable")
	}
	write("README.txt", "changed, but not a manifest")
	if f.fingerprint(f.policyFiles()) != first {
		t.Fatal("a non-manifest file changed the fingerprint")
	}
	write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n")
	if f.fingerprint(f.policyFiles()) == first {
		t.Fatal("a changed manifest kept the fingerprint")
	}
	write("broken.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: [\n")
	if _, err := f.Load(); err == nil || !strings.Contains(err.Error(), "broken.yaml") {
		t.Fatalf("a broken file: %v", err)
	}
	// A missing input is an error too, not an empty policy set.
	if _, err := (&Files{Paths: []string{filepath.Join(dir, "missing")}}).Load(); err == nil {
		t.Fatal("a missing policy path loaded")
	}
}

func podsecurityConfig(level string) podsecurity.Config { return podsecurity.Config{Enforce: level} }
