// Package sbom turns a Go binary's build information (what `go version -m`
// shows) into a software bill of materials: an SPDX 2.3 document
// (github.com/spdx/tools-golang) or a CycloneDX 1.5 BOM
// (github.com/CycloneDX/cyclonedx-go). It reads what it is given and returns
// documents as data; encoding and printing are the caller's.
package sbom

import (
	"crypto/sha1"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
)

// ErrNotGoBinary is returned by Inspect for a file that carries no Go build
// information: not an executable, or an executable not built by Go.
var ErrNotGoBinary = errors.New("not a Go binary")

// Binary is a Go executable: its name, its content digests and its build
// information.
type Binary struct {
	Name   string // base name of the file, e.g. "kguard-linux-amd64"
	SHA256 string // hex SHA-256 of the whole file
	SHA1   string // hex SHA-1 of the whole file (SPDX 2.3 requires one per file)
	Build  *debug.BuildInfo
}

// Inspect reads the build information and digests of the size bytes of r,
// the binary called name. A file without Go build information is ErrNotGoBinary.
func Inspect(name string, r io.ReaderAt, size int64) (*Binary, error) {
	bi, err := buildinfo.Read(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (%v)", name, ErrNotGoBinary, err)
	}
	h256, h1 := sha256.New(), sha1.New()
	if _, err := io.Copy(io.MultiWriter(h256, h1), io.NewSectionReader(r, 0, size)); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return &Binary{
		Name:   baseName(name),
		SHA256: hex.EncodeToString(h256.Sum(nil)),
		SHA1:   hex.EncodeToString(h1.Sum(nil)),
		Build:  bi,
	}, nil
}

// Options are what a document records beyond the binary itself.
type Options struct {
	// Created is the document's creation time; set it from SOURCE_DATE_EPOCH
	// for reproducible documents. The zero time is refused.
	Created time.Time
	// ToolVersion is kguard's version, recorded as the document's creator.
	ToolVersion string
}

func (o Options) check() error {
	if o.Created.IsZero() {
		return errors.New("sbom: no creation time (e.g. Options{Created: time.Now()})")
	}
	return nil
}

// created is the creation time as both formats write it: UTC, to the second.
func (o Options) created() string { return o.Created.UTC().Format(time.RFC3339) }

func (o Options) tool() string {
	if o.ToolVersion == "" {
		return "kguard"
	}
	return "kguard-" + o.ToolVersion
}

// namespace identifies one document: the binary's SHA-256 and the creation
// time, so the same binary at the same time gives the same document and
// another time another one.
func (o Options) namespace(b *Binary) string {
	return fmt.Sprintf("https://github.com/kguard/kguard/sbom/%s-%s-%d", url.PathEscape(b.Name), b.SHA256, o.Created.Unix())
}

// Module is one module linked into the binary, as the document lists it.
type Module struct {
	Path    string // the module whose code is in the binary (a replacement's, if replaced by a module)
	Version string // its version; "" for the main module built outside a version, or a directory replacement
	Sum     string // its go.sum checksum, "h1:..." (base64 SHA-256 of the module's dirhash, not of a file)
	// Replaces is the requirement this module replaces ("path@version"), if any.
	Replaces string
	// Dir is the local directory of a directory replacement: no version, no checksum.
	Dir string
}

// PURL is the module's package URL, pkg:golang/PATH@VERSION, or "" for a
// directory replacement, which has no module identity.
func (m Module) PURL() string {
	if m.Dir != "" {
		return ""
	}
	segs := strings.Split(m.Path, "/")
	for i, s := range segs {
		segs[i] = purlEscape(s)
	}
	p := "pkg:golang/" + strings.Join(segs, "/")
	if m.Version != "" {
		p += "@" + purlEscape(m.Version)
	}
	return p
}

// modules are the main module and then the dependencies, in the order of the
// build information (sorted by path).
func modules(bi *debug.BuildInfo) (main Module, deps []Module) {
	main = Module{Path: bi.Main.Path, Version: bi.Main.Version, Sum: bi.Main.Sum}
	if main.Path == "" { // built outside a module (go build file.go): the package path
		main.Path = bi.Path
	}
	if main.Version == "(devel)" {
		main.Version = ""
	}
	for _, d := range bi.Deps {
		deps = append(deps, dependency(d))
	}
	return main, deps
}

func dependency(d *debug.Module) Module {
	r := d.Replace
	if r == nil {
		return Module{Path: d.Path, Version: d.Version, Sum: d.Sum}
	}
	replaces := d.Path + "@" + d.Version
	if r.Version == "" { // a directory: no module version, no checksum
		return Module{Path: d.Path, Replaces: replaces, Dir: r.Path}
	}
	return Module{Path: r.Path, Version: r.Version, Sum: r.Sum, Replaces: replaces}
}

// settings are the build settings as `go version -m` prints them, "key=value".
func settings(bi *debug.BuildInfo) []string {
	out := make([]string, 0, len(bi.Settings))
	for _, s := range bi.Settings {
		out = append(out, s.Key+"="+s.Value)
	}
	return out
}

// purlEscape percent-encodes all but the characters a purl leaves bare.
func purlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".-_~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func baseName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		return name[i+1:]
	}
	return name
}
