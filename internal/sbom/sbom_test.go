package sbom

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"
)

// fixture is a binary whose build information has each case the documents
// must carry: a plain dependency, a +incompatible version, a module
// replacement, a directory replacement, and two paths that make the same
// SPDX identifier once sanitized.
func fixture() *Binary {
	return &Binary{
		Name:   "app",
		SHA256: strings.Repeat("ab", 32),
		SHA1:   strings.Repeat("cd", 20),
		Build: &debug.BuildInfo{
			GoVersion: "go1.26.8",
			Path:      "example.com/app/cmd/app",
			Main:      debug.Module{Path: "example.com/app", Version: "v1.2.3"},
			Deps: []*debug.Module{
				{Path: "example.com/a-b", Version: "v1.0.0", Sum: "h1:AAAA="},
				{Path: "example.com/a_b", Version: "v2.0.0+incompatible", Sum: "h1:BBBB="},
				{Path: "example.com/local", Version: "v0.1.0", Replace: &debug.Module{Path: "../local"}},
				{Path: "example.com/old", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.0.1", Sum: "h1:CCCC="}},
			},
			Settings: []debug.BuildSetting{
				{Key: "-trimpath", Value: "true"}, {Key: "CGO_ENABLED", Value: "0"},
				{Key: "GOARCH", Value: "amd64"}, {Key: "GOOS", Value: "linux"},
				{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123456789abcdef"},
				{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "false"},
			},
		},
	}
}

var testOptions = Options{Created: time.Unix(1700000000, 0), ToolVersion: "v9.9.9"}

func TestPURL(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Module
		want string
	}{
		{"plain", Module{Path: "k8s.io/api", Version: "v0.37.2"}, "pkg:golang/k8s.io/api@v0.37.2"},
		{"incompatible", Module{Path: "example.com/a_b", Version: "v2.0.0+incompatible"}, "pkg:golang/example.com/a_b@v2.0.0%2Bincompatible"},
		{"no version", Module{Path: "example.com/app"}, "pkg:golang/example.com/app"},
		{"directory replacement", Module{Path: "example.com/local", Dir: "../local"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.m.PURL(); got != tc.want {
				t.Errorf("PURL() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSPDX(t *testing.T) {
	doc, err := SPDX(fixture(), testOptions)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := spdxjson.Write(doc, &buf); err != nil {
		t.Fatal(err)
	}
	back, err := spdxjson.Read(&buf)
	if err != nil {
		t.Fatalf("the written document does not read back: %v", err)
	}
	if err := ValidateSPDX(back); err != nil {
		t.Fatalf("the document read back is invalid: %v", err)
	}
	if back.CreationInfo.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("created = %q, want the time of the options", back.CreationInfo.Created)
	}
	pkgs := map[string]*spdx.Package{}
	for _, p := range back.Packages {
		pkgs[p.PackageName] = p
	}
	for _, tc := range []struct {
		name, version, purl, comment, sum string
	}{
		{"example.com/app", "v1.2.3", "pkg:golang/example.com/app@v1.2.3", "", ""},
		{"example.com/a-b", "v1.0.0", "pkg:golang/example.com/a-b@v1.0.0", "", "h1:AAAA="},
		{"example.com/a_b", "v2.0.0+incompatible", "pkg:golang/example.com/a_b@v2.0.0%2Bincompatible", "", "h1:BBBB="},
		{"example.com/local", "", "", "replaces example.com/local@v0.1.0 with the local directory ../local: no module version, no checksum", ""},
		{"example.com/fork", "v1.0.1", "pkg:golang/example.com/fork@v1.0.1", "replaces example.com/old@v1.0.0", "h1:CCCC="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pkgs[tc.name]
			if p == nil {
				t.Fatalf("no package %s", tc.name)
			}
			if p.PackageVersion != tc.version || p.PackageComment != tc.comment {
				t.Errorf("version, comment = %q, %q; want %q, %q", p.PackageVersion, p.PackageComment, tc.version, tc.comment)
			}
			var purl string
			for _, r := range p.PackageExternalReferences {
				if r.RefType == common.TypePackageManagerPURL {
					purl = r.Locator
				}
			}
			if purl != tc.purl {
				t.Errorf("purl = %q, want %q", purl, tc.purl)
			}
			if len(p.PackageChecksums) != 0 {
				t.Errorf("checksums = %v, want none (an h1: sum is no SPDX checksum)", p.PackageChecksums)
			}
			gotSum := len(p.Annotations) == 1 && strings.Contains(p.Annotations[0].AnnotationComment, " "+tc.sum+" ")
			if (tc.sum != "") != gotSum {
				t.Errorf("annotations = %+v, want one naming %q", p.Annotations, tc.sum)
			}
		})
	}
	if pkgs["example.com/a-b"].PackageSPDXIdentifier == pkgs["example.com/a_b"].PackageSPDXIdentifier {
		t.Errorf("two modules share the identifier %s", pkgs["example.com/a-b"].PackageSPDXIdentifier)
	}
	rels := map[string]int{}
	for _, r := range back.Relationships {
		rels[r.Relationship]++
	}
	if rels["DESCRIBES"] != 1 || rels["DEPENDS_ON"] != 4 || rels["GENERATED_FROM"] != 1 {
		t.Errorf("relationships = %v, want 1 DESCRIBES, 4 DEPENDS_ON, 1 GENERATED_FROM", rels)
	}
	if len(back.Files) != 1 {
		t.Fatalf("files = %d, want the binary", len(back.Files))
	}
	f := back.Files[0]
	if f.FileName != "./app" || len(f.Checksums) != 2 || f.Checksums[1].Value != strings.Repeat("ab", 32) {
		t.Errorf("file = %s %v, want ./app with its SHA1 and SHA256", f.FileName, f.Checksums)
	}
	for _, want := range []string{"built with go1.26.8", "build\t-trimpath=true", "build\tCGO_ENABLED=0", "build\tvcs.revision=0123456789abcdef", "build\tvcs.modified=false"} {
		if !strings.Contains(f.FileComment, want) {
			t.Errorf("file comment %q lacks %q", f.FileComment, want)
		}
	}
}

func TestDocumentsAreDeterministic(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(Options) ([]byte, error)
	}{
		{"spdx", func(o Options) ([]byte, error) {
			doc, err := SPDX(fixture(), o)
			if err != nil {
				return nil, err
			}
			var buf bytes.Buffer
			err = spdxjson.Write(doc, &buf)
			return buf.Bytes(), err
		}},
		{"cyclonedx", func(o Options) ([]byte, error) {
			bom, err := CycloneDX(fixture(), o)
			if err != nil {
				return nil, err
			}
			var buf bytes.Buffer
			err = cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).EncodeVersion(bom, CycloneDXVersion)
			return buf.Bytes(), err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tc.write(testOptions)
			if err != nil {
				t.Fatal(err)
			}
			b, err := tc.write(testOptions)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("two documents of one binary at one time differ:\n%s\n%s", a, b)
			}
			later := testOptions
			later.Created = later.Created.Add(time.Second)
			c, err := tc.write(later)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(a, c) {
				t.Error("documents made at two times are identical, namespace/serial number included")
			}
			if _, err := tc.write(Options{}); err == nil {
				t.Error("no creation time: no error")
			}
		})
	}
}

func TestCycloneDX(t *testing.T) {
	bom, err := CycloneDX(fixture(), testOptions)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).EncodeVersion(bom, CycloneDXVersion); err != nil {
		t.Fatal(err)
	}
	var back cdx.BOM
	if err := cdx.NewBOMDecoder(&buf, cdx.BOMFileFormatJSON).Decode(&back); err != nil {
		t.Fatal(err)
	}
	if back.SpecVersion != cdx.SpecVersion1_5 || !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(back.SerialNumber) {
		t.Errorf("specVersion, serialNumber = %v, %q; want 1.5 and a version 5 UUID URN", back.SpecVersion, back.SerialNumber)
	}
	main := back.Metadata.Component
	if main.PackageURL != "pkg:golang/example.com/app@v1.2.3" || main.BOMRef != main.PackageURL {
		t.Errorf("main component purl, bom-ref = %q, %q", main.PackageURL, main.BOMRef)
	}
	props := map[string]string{}
	for _, p := range *main.Properties {
		props[p.Name] = p.Value
	}
	if props[PropertyGoVersion] != "go1.26.8" || props[PropertyBuildPrefix+"-trimpath"] != "true" || props[PropertyBuildPrefix+"vcs.revision"] != "0123456789abcdef" {
		t.Errorf("main component properties = %v", props)
	}
	refs := map[string]cdx.Component{}
	for _, c := range *back.Components {
		refs[c.BOMRef] = c
	}
	if bin := refs["file:app"]; bin.Type != cdx.ComponentTypeFile || len(*bin.Hashes) != 2 || (*bin.Hashes)[0].Value != strings.Repeat("ab", 32) {
		t.Errorf("binary component = %+v", bin)
	}
	fork := refs["pkg:golang/example.com/fork@v1.0.1"]
	wantFork := []cdx.Property{{Name: PropertyGoSum, Value: "h1:CCCC="}, {Name: PropertyReplaces, Value: "example.com/old@v1.0.0"}}
	if fork.Properties == nil || len(*fork.Properties) != 2 || (*fork.Properties)[0] != wantFork[0] || (*fork.Properties)[1] != wantFork[1] {
		t.Errorf("replacement component properties = %v, want %v", fork.Properties, wantFork)
	}
	if fork.Hashes != nil {
		t.Errorf("replacement component hashes = %v, want none (an h1: sum is no file hash)", *fork.Hashes)
	}
	if _, ok := refs["module:example.com/local"]; !ok {
		t.Errorf("no component for the directory replacement; have %v", refs)
	}
	deps := *back.Dependencies
	if deps[0].Ref != main.BOMRef || len(*deps[0].Dependencies) != 4 || len(deps) != 5 {
		t.Errorf("dependencies = %+v, want the main module on the four modules, then each module", deps)
	}
}

func TestInspect(t *testing.T) {
	t.Run("a Go binary", func(t *testing.T) {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(exe)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		b, err := Inspect(exe, f, st.Size())
		if err != nil {
			t.Fatal(err)
		}
		if b.Build.Main.Path != "github.com/kguard/kguard" || len(b.SHA256) != 64 || len(b.SHA1) != 40 {
			t.Errorf("Inspect(test binary) = main %q, sha256 %q, sha1 %q", b.Build.Main.Path, b.SHA256, b.SHA1)
		}
	})
	t.Run("not a Go binary", func(t *testing.T) {
		data := []byte("#!/bin/sh\necho hello\n")
		_, err := Inspect("dir/hello.sh", bytes.NewReader(data), int64(len(data)))
		if !errors.Is(err, ErrNotGoBinary) || !strings.Contains(err.Error(), "dir/hello.sh") {
			t.Errorf("Inspect(shell script) = %v, want ErrNotGoBinary naming the file", err)
		}
	})
}
