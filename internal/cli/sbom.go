package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spf13/cobra"

	"github.com/kguard/kguard/internal/report"
	"github.com/kguard/kguard/internal/sbom"
)

func init() { register(newSBOMCommand) }

// The SBOM formats of kguard sbom's -o flag.
const (
	formatSPDX      report.Format = "spdx"
	formatCycloneDX report.Format = "cyclonedx"
)

func newSBOMCommand(s Streams) *cobra.Command {
	var output *report.FormatFlag
	c := &cobra.Command{
		Use:   "sbom BINARY...",
		Short: "Write the SBOM of Go binaries from their build information",
		Long: `Writes a software bill of materials for each Go binary, from the build information
the Go toolchain stamps into it (what 'go version -m' shows): the main module, every
dependency with its version, purl (pkg:golang/PATH@VERSION), go.sum checksum and
replacement, the Go version and the build settings, and the binary's own SHA-256.

-o spdx (default) writes an SPDX 2.3 JSON document: the main module is the package the
document describes and depends on one package per dependency; the binary is a file
generated from it. -o cyclonedx writes a CycloneDX 1.5 JSON BOM. A module's h1: checksum
is recorded as an annotation (SPDX) or a property (CycloneDX), not as a SHA-256: it
hashes Go's listing of the module's files, not a file.

With SOURCE_DATE_EPOCH set, the creation time is that time, and the same binary gives a
byte-identical document (the document namespace and serial number follow from the
binary's SHA-256 and that time). Several binaries give one JSON document each, one after
the other (a JSON stream). A file that is not a Go binary is an error (exit status 2) and
nothing is written.`,
		Example: `  kguard sbom bin/kguard > kguard.spdx.json
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) kguard sbom -o cyclonedx bin/kguard`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts, err := sbomOptions(os.Getenv("SOURCE_DATE_EPOCH"), time.Now())
			if err != nil {
				return usageError(err)
			}
			bins := make([]*sbom.Binary, 0, len(args))
			for _, path := range args {
				b, err := inspectBinary(path)
				if err != nil {
					return usageError(err)
				}
				bins = append(bins, b)
			}
			for _, b := range bins {
				if err := writeSBOM(s.Out, b, output.Format(), opts); err != nil {
					return err
				}
			}
			return nil
		},
	}
	output = addOutputFlag(c, formatSPDX, formatCycloneDX)
	return c
}

// sbomOptions takes the creation time from SOURCE_DATE_EPOCH (seconds since
// 1970, UTC) when it is set, else now.
func sbomOptions(sourceDateEpoch string, now time.Time) (sbom.Options, error) {
	opts := sbom.Options{Created: now, ToolVersion: kguardVersion()}
	if sourceDateEpoch != "" {
		sec, err := strconv.ParseInt(sourceDateEpoch, 10, 64)
		if err != nil || sec < 0 {
			return opts, fmt.Errorf("SOURCE_DATE_EPOCH must be seconds since 1970 (e.g. 1700000000), saw %q", sourceDateEpoch)
		}
		opts.Created = time.Unix(sec, 0)
	}
	return opts, nil
}

func inspectBinary(path string) (*sbom.Binary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (not a regular file)", path, sbom.ErrNotGoBinary)
	}
	return sbom.Inspect(path, f, st.Size())
}

func writeSBOM(w io.Writer, b *sbom.Binary, format report.Format, opts sbom.Options) error {
	switch format {
	case formatCycloneDX:
		bom, err := sbom.CycloneDX(b, opts)
		if err != nil {
			return err
		}
		return cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON).SetPretty(true).EncodeVersion(bom, sbom.CycloneDXVersion)
	default:
		doc, err := sbom.SPDX(b, opts)
		if err != nil {
			return err
		}
		return spdxjson.Write(doc, w, spdxjson.Indent("  "))
	}
}
