package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	spdxjson "github.com/spdx/tools-golang/json"

	"github.com/kguard/kguard/internal/sbom"
)

// buildKguard builds ./cmd/kguard into a temporary directory, as a user's
// binary would be, and returns its path.
func buildKguard(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kguard")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/kguard")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kguard: %v\n%s", err, out)
	}
	return bin
}

// moduleVersion is the version of module path that kguard's go.mod selects.
func moduleVersion(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", path).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}

func TestSBOM(t *testing.T) {
	bin := buildKguard(t)
	k8sAPI := moduleVersion(t, "k8s.io/api")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")

	t.Run("spdx", func(t *testing.T) {
		code, out, errOut := run(t, "", "sbom", bin)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		doc, err := spdxjson.Read(strings.NewReader(out))
		if err != nil {
			t.Fatalf("output is no SPDX JSON document: %v", err)
		}
		if err := sbom.ValidateSPDX(doc); err != nil {
			t.Fatalf("invalid document: %v", err)
		}
		if doc.CreationInfo.Created != "2023-11-14T22:13:20Z" {
			t.Errorf("created = %s, want SOURCE_DATE_EPOCH's time", doc.CreationInfo.Created)
		}
		versions := map[string]string{}
		for _, p := range doc.Packages {
			versions[p.PackageName] = p.PackageVersion
		}
		if _, ok := versions["github.com/kguard/kguard"]; !ok || doc.Packages[0].PackageName != "github.com/kguard/kguard" {
			t.Errorf("the first package is %s, want kguard's main module", doc.Packages[0].PackageName)
		}
		if versions["k8s.io/api"] != k8sAPI {
			t.Errorf("k8s.io/api version = %q, want %q", versions["k8s.io/api"], k8sAPI)
		}
		if !strings.Contains(out, `"referenceLocator": "pkg:golang/k8s.io/api@`+k8sAPI+`"`) {
			t.Error("no purl for k8s.io/api")
		}
		if !strings.Contains(doc.Files[0].FileComment, "build\t-trimpath=true") {
			t.Errorf("the binary's comment lacks -trimpath: %q", doc.Files[0].FileComment)
		}
		_, again, _ := run(t, "", "sbom", bin)
		if again != out {
			t.Error("two runs with SOURCE_DATE_EPOCH on one binary differ")
		}
	})

	t.Run("cyclonedx", func(t *testing.T) {
		code, out, errOut := run(t, "", "sbom", "-o", "cyclonedx", bin)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var bom cdx.BOM
		if err := cdx.NewBOMDecoder(strings.NewReader(out), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
			t.Fatal(err)
		}
		if bom.SpecVersion != cdx.SpecVersion1_5 || bom.Metadata.Component.Name != "github.com/kguard/kguard" {
			t.Errorf("specVersion %v, subject %q", bom.SpecVersion, bom.Metadata.Component.Name)
		}
		found := false
		for _, c := range *bom.Components {
			found = found || c.PackageURL == "pkg:golang/k8s.io/api@"+k8sAPI
		}
		if !found {
			t.Error("no k8s.io/api component with its purl")
		}
		_, again, _ := run(t, "", "sbom", "-o", "cyclonedx", bin)
		if again != out {
			t.Error("two runs with SOURCE_DATE_EPOCH on one binary differ")
		}
	})

	t.Run("several binaries make a JSON stream", func(t *testing.T) {
		code, out, errOut := run(t, "", "sbom", bin, bin)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		dec := json.NewDecoder(strings.NewReader(out))
		n := 0
		for dec.More() {
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 2 {
			t.Errorf("%d documents, want 2", n)
		}
	})
}

func TestSBOMRefuses(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "hello.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable() // a Go binary: the refusal must still write nothing
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, env string
		args      []string
		wantErr   string
	}{
		{"not a Go binary", "", []string{"sbom", exe, script}, script + ": not a Go binary"},
		{"a directory", "", []string{"sbom", dir}, dir + ": not a Go binary"},
		{"a missing file", "", []string{"sbom", filepath.Join(dir, "missing")}, "missing: no such file"},
		{"a bad SOURCE_DATE_EPOCH", "yesterday", []string{"sbom", exe}, `SOURCE_DATE_EPOCH must be seconds since 1970 (e.g. 1700000000), saw "yesterday"`},
		{"an unknown format", "", []string{"sbom", "-o", "sarif", exe}, `unknown output format "sarif" (spdx, cyclonedx)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tc.env)
			code, out, errOut := run(t, "", tc.args...)
			if code != ExitUsage || out != "" || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d, stdout %d bytes, stderr %q; want exit 2, nothing written, an error containing %q", code, len(out), errOut, tc.wantErr)
			}
		})
	}
}
