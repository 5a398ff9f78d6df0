package sbom

import (
	"crypto/sha1"
	"fmt"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// CycloneDXVersion is the specification version kguard writes.
const CycloneDXVersion = cdx.SpecVersion1_5

// Property names kguard adds to CycloneDX components (CycloneDX has no field
// for them): a module's go.sum checksum, the requirement a replacement
// replaces, a directory replacement, the Go version and each build setting.
const (
	PropertyGoSum       = "kguard:gomod:h1"
	PropertyReplaces    = "kguard:gomod:replaces"
	PropertyReplacedDir = "kguard:gomod:replaced-by-dir"
	PropertyGoVersion   = "kguard:go:version"
	PropertyBuildPrefix = "kguard:go:build:" // + the setting's key, e.g. kguard:go:build:GOOS
)

// CycloneDX builds the CycloneDX BOM of b (encode it as CycloneDXVersion):
// the main module is the BOM's subject (metadata.component, an application),
// the dependencies are library components and the binary a file component
// with its SHA-256 and SHA-1; every module has its purl, and the main module
// depends on each dependency. As in SPDX, a module's h1: checksum is a
// property, not a hash: it is not the SHA-256 of anything CycloneDX can name.
func CycloneDX(b *Binary, o Options) (*cdx.BOM, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	main, deps := modules(b.Build)
	refs := map[string]bool{"file:" + b.Name: true}
	mainComp := cdxComponent(main, cdx.ComponentTypeApplication, refs)
	props := append(*mainComp.Properties, cdx.Property{Name: PropertyGoVersion, Value: b.Build.GoVersion})
	for _, s := range b.Build.Settings {
		props = append(props, cdx.Property{Name: PropertyBuildPrefix + s.Key, Value: s.Value})
	}
	mainComp.Properties = &props

	file := cdx.Component{
		BOMRef: "file:" + b.Name,
		Type:   cdx.ComponentTypeFile,
		Name:   b.Name,
		Hashes: &[]cdx.Hash{
			{Algorithm: cdx.HashAlgoSHA256, Value: b.SHA256},
			{Algorithm: cdx.HashAlgoSHA1, Value: b.SHA1},
		},
		Description: "the Go binary built from " + mainComp.Name,
	}
	components := []cdx.Component{file}
	dependsOn := []string{}
	dependencies := []cdx.Dependency{}
	for _, d := range deps {
		c := cdxComponent(d, cdx.ComponentTypeLibrary, refs)
		components = append(components, c)
		dependsOn = append(dependsOn, c.BOMRef)
		dependencies = append(dependencies, cdx.Dependency{Ref: c.BOMRef})
	}
	dependencies = append([]cdx.Dependency{{Ref: mainComp.BOMRef, Dependencies: &dependsOn}}, dependencies...)

	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + uuid5(o.namespace(b))
	bom.Metadata = &cdx.Metadata{
		Timestamp: o.created(),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: "kguard", Version: o.ToolVersion,
		}}},
		Component: &mainComp,
	}
	bom.Components = &components
	bom.Dependencies = &dependencies
	return bom, nil
}

// cdxComponent is m as a component whose bom-ref is its purl, or for a
// directory replacement (no purl) or a repeated purl "module:PATH", numbered
// if need be; refs holds the bom-refs taken.
func cdxComponent(m Module, typ cdx.ComponentType, refs map[string]bool) cdx.Component {
	c := cdx.Component{
		Type:       typ,
		Name:       m.Path,
		Version:    m.Version,
		PackageURL: m.PURL(),
		Properties: &[]cdx.Property{},
	}
	c.BOMRef = c.PackageURL
	if c.BOMRef == "" {
		c.BOMRef = "module:" + m.Path
	}
	for n, base := 2, c.BOMRef; refs[c.BOMRef]; n++ {
		c.BOMRef = fmt.Sprintf("%s#%d", base, n)
	}
	refs[c.BOMRef] = true
	add := func(name, value string) {
		if value != "" {
			*c.Properties = append(*c.Properties, cdx.Property{Name: name, Value: value})
		}
	}
	add(PropertyGoSum, m.Sum)
	add(PropertyReplaces, m.Replaces)
	add(PropertyReplacedDir, m.Dir)
	return c
}

// uuid5 is the RFC 4122 version 5 (SHA-1, URL namespace) UUID of name, so
// a BOM's serial number follows from its binary and time as SPDX's namespace does.
func uuid5(name string) string {
	urlNS := []byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(urlNS)
	h.Write([]byte(name))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	x := fmt.Sprintf("%x", u)
	return strings.Join([]string{x[0:8], x[8:12], x[12:16], x[16:20], x[20:32]}, "-")
}
