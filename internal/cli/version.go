package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func init() { register(newVersionCommand) }

func newVersionCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print kguard's version and build information",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			version, commit := buildVersion()
			fmt.Fprintf(s.Out, "kguard %s (commit %s)\n", version, commit)
			return nil
		},
	}
}

// buildVersion reads kguard's module version and VCS commit from the build.
func buildVersion() (version, commit string) {
	version, commit = "(devel)", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" {
				commit = kv.Value
			}
		}
	}
	return version, commit
}
