package sbom

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"
	"github.com/spdx/tools-golang/spdxlib"
)

const noAssertion = "NOASSERTION"

// SPDX builds the SPDX 2.3 document of b: the main module as the package the
// document DESCRIBES, one package per dependency that the main package
// DEPENDS_ON, each with its purl, and the binary as a file GENERATED_FROM the
// main package with its SHA-256 and SHA-1 and the Go version and build
// settings in its comment. A module's go.sum checksum (h1:) is an annotation:
// it hashes the module's file tree as Go's dirhash does, which no SPDX
// checksum algorithm names, so it is not passed off as a SHA256 checksum.
// The document is validated before it is returned.
func SPDX(b *Binary, o Options) (*spdx.Document, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	main, deps := modules(b.Build)
	ids := newIDs()
	annotator := common.Annotator{AnnotatorType: "Tool", Annotator: o.tool()}
	mainPkg := spdxPackage(main, ids.next("Package-"+main.Path), "APPLICATION", annotator, o.created())
	file := &spdx.File{
		FileName:           "./" + b.Name,
		FileSPDXIdentifier: ids.next("File-" + b.Name),
		FileTypes:          []string{"BINARY", "APPLICATION"},
		Checksums: []common.Checksum{
			{Algorithm: common.SHA1, Value: b.SHA1},
			{Algorithm: common.SHA256, Value: b.SHA256},
		},
		LicenseConcluded:  noAssertion,
		FileCopyrightText: noAssertion,
		FileComment:       goVersionM(b),
	}
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      b.Name,
		DocumentNamespace: o.namespace(b),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: o.tool()}},
			Created:  o.created(),
		},
		Packages: []*spdx.Package{mainPkg},
		Files:    []*spdx.File{file},
		Relationships: []*spdx.Relationship{
			relationship("DOCUMENT", common.TypeRelationshipDescribe, mainPkg.PackageSPDXIdentifier),
			relationship(file.FileSPDXIdentifier, common.TypeRelationshipGeneratedFrom, mainPkg.PackageSPDXIdentifier),
		},
	}
	for _, d := range deps {
		p := spdxPackage(d, ids.next("Package-"+d.Path), "LIBRARY", annotator, o.created())
		doc.Packages = append(doc.Packages, p)
		doc.Relationships = append(doc.Relationships,
			relationship(mainPkg.PackageSPDXIdentifier, common.TypeRelationshipDependsOn, p.PackageSPDXIdentifier))
	}
	if err := ValidateSPDX(doc); err != nil {
		return nil, fmt.Errorf("SPDX document of %s: %w", b.Name, err)
	}
	return doc, nil
}

func spdxPackage(m Module, id common.ElementID, purpose string, annotator common.Annotator, created string) *spdx.Package {
	p := &spdx.Package{
		PackageName:               m.Path,
		PackageSPDXIdentifier:     id,
		PackageVersion:            m.Version,
		PackageDownloadLocation:   noAssertion,
		FilesAnalyzed:             false,
		IsFilesAnalyzedTagPresent: true,
		PrimaryPackagePurpose:     purpose,
	}
	if purl := m.PURL(); purl != "" {
		p.PackageExternalReferences = []*spdx.PackageExternalReference{{
			Category: common.CategoryPackageManager,
			RefType:  common.TypePackageManagerPURL,
			Locator:  purl,
		}}
	}
	switch {
	case m.Dir != "":
		p.PackageComment = fmt.Sprintf("replaces %s with the local directory %s: no module version, no checksum", m.Replaces, m.Dir)
	case m.Replaces != "":
		p.PackageComment = "replaces " + m.Replaces
	}
	if m.Sum != "" {
		p.Annotations = []spdx.Annotation{{
			Annotator:         annotator,
			AnnotationDate:    created,
			AnnotationType:    "OTHER",
			AnnotationComment: "go.sum checksum " + m.Sum + " (Go module dirhash: base64 SHA-256 over the module's file list, not a file's SHA-256)",
		}}
	}
	return p
}

func relationship(a common.ElementID, typ string, b common.ElementID) *spdx.Relationship {
	return &spdx.Relationship{
		RefA:         common.DocElementID{ElementRefID: a},
		RefB:         common.DocElementID{ElementRefID: b},
		Relationship: typ,
	}
}

// goVersionM is the binary's Go version and build settings as `go version -m` shows them.
func goVersionM(b *Binary) string {
	var s strings.Builder
	fmt.Fprintf(&s, "built with %s", b.Build.GoVersion)
	if b.Build.Path != "" {
		fmt.Fprintf(&s, "\npath\t%s", b.Build.Path)
	}
	for _, kv := range settings(b.Build) {
		fmt.Fprintf(&s, "\nbuild\t%s", kv)
	}
	return s.String()
}

// ids makes SPDX element identifiers (SPDXRef- then letters, digits, '.' and
// '-') out of module paths, numbering the ones that would collide.
type ids map[common.ElementID]bool

func newIDs() ids { return ids{"DOCUMENT": true} }

var idUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

func (s ids) next(name string) common.ElementID {
	base := common.ElementID(idUnsafe.ReplaceAllString(name, "-"))
	id := base
	for n := 2; s[id]; n++ {
		id = base + common.ElementID("-"+strconv.Itoa(n))
	}
	s[id] = true
	return id
}

var idSyntax = regexp.MustCompile(`^[A-Za-z0-9.-]+$`)

// ValidateSPDX checks doc with the SPDX library's validation (every
// relationship names an element of the document) and adds what kguard's
// documents must also hold: the mandatory fields of SPDX 2.3, unique
// well-formed identifiers, a SHA1 checksum per file, a described package.
func ValidateSPDX(doc *spdx.Document) error {
	if err := spdxlib.ValidateDocument(doc); err != nil {
		return err
	}
	if doc.SPDXVersion != spdx.Version || doc.DataLicense != spdx.DataLicense || doc.SPDXIdentifier != "DOCUMENT" {
		return fmt.Errorf("document header must be %s, %s, SPDXRef-DOCUMENT; saw %q, %q, %q", spdx.Version, spdx.DataLicense, doc.SPDXVersion, doc.DataLicense, doc.SPDXIdentifier)
	}
	if doc.DocumentName == "" || doc.DocumentNamespace == "" || strings.Contains(doc.DocumentNamespace, "#") {
		return fmt.Errorf("document needs a name and a namespace URI without '#'; saw %q, %q", doc.DocumentName, doc.DocumentNamespace)
	}
	if doc.CreationInfo == nil || doc.CreationInfo.Created == "" || len(doc.CreationInfo.Creators) == 0 {
		return fmt.Errorf("document needs creation info with a time and a creator")
	}
	seen := map[common.ElementID]bool{}
	checkID := func(id common.ElementID) error {
		if !idSyntax.MatchString(string(id)) {
			return fmt.Errorf("identifier SPDXRef-%s must hold only letters, digits, '.' and '-'", id)
		}
		if seen[id] {
			return fmt.Errorf("identifier SPDXRef-%s is used twice", id)
		}
		seen[id] = true
		return nil
	}
	for _, p := range doc.Packages {
		if err := checkID(p.PackageSPDXIdentifier); err != nil {
			return err
		}
		if p.PackageName == "" || p.PackageDownloadLocation == "" {
			return fmt.Errorf("package SPDXRef-%s needs a name and a downloadLocation (NOASSERTION at least)", p.PackageSPDXIdentifier)
		}
		for _, r := range p.PackageExternalReferences {
			if r.RefType == common.TypePackageManagerPURL && !strings.HasPrefix(r.Locator, "pkg:") {
				return fmt.Errorf("package SPDXRef-%s: purl %q must start with pkg:", p.PackageSPDXIdentifier, r.Locator)
			}
		}
	}
	for _, f := range doc.Files {
		if err := checkID(f.FileSPDXIdentifier); err != nil {
			return err
		}
		if !hasSHA1(f.Checksums) {
			return fmt.Errorf("file SPDXRef-%s needs a SHA1 checksum (SPDX 2.3 section 8.4)", f.FileSPDXIdentifier)
		}
	}
	described, err := spdxlib.GetDescribedPackageIDs(doc)
	if err != nil {
		return err
	}
	if len(described) == 0 {
		return fmt.Errorf("document describes no package")
	}
	return nil
}

func hasSHA1(cs []common.Checksum) bool {
	for _, c := range cs {
		if c.Algorithm == common.SHA1 && c.Value != "" {
			return true
		}
	}
	return false
}
