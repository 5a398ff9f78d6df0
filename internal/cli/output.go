package cli

import (
	"github.com/spf13/cobra"

	"github.com/kguard/kguard/internal/report"
)

// addOutputFlag gives c the -o/--output flag, accepting formats, the first by
// default. A format c does not support is a usage error when flags are parsed.
func addOutputFlag(c *cobra.Command, formats ...report.Format) *report.FormatFlag {
	f := report.NewFormatFlag(formats...)
	c.Flags().VarP(f, "output", "o", f.Usage())
	return f
}

// sarifDriver is kguard as the tool of a SARIF run, with its rules.
func sarifDriver(rules []report.ReportingDescriptor) report.Driver {
	return report.Driver{Name: "kguard", InformationURI: "https://github.com/kguard/kguard", Version: kguardVersion(), Rules: rules}
}
