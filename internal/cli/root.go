// Package cli holds kguard's commands. Each command parses its flags, reads its
// inputs and calls the engines; it decides nothing on its own.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command.
const (
	ExitOK     = 0 // everything allowed / admitted
	ExitDenied = 1 // something was denied
	ExitUsage  = 2 // bad usage or unreadable input
)

// ExitError carries an exit code out of a command. A nil Err means the
// command already printed what it had to say.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// usageError marks err as bad usage or bad input (exit 2).
func usageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// denied reports that something was denied (exit 1) after the command printed its result.
func denied() error { return &ExitError{Code: ExitDenied} }

// Streams are a command's standard input, output and error.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// NewRootCommand builds the kguard command tree.
func NewRootCommand(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "kguard",
		Short: "kguard: the Kubernetes security chain — authentication, authorization, admission",
		Long: `kguard is the Kubernetes security chain in one binary: authentication,
authorization (RBAC, ABAC, mode chains) and admission (PodSecurityPolicy,
Pod Security Standards, Gatekeeper constraints and plain OPA policies, signed
images, Tenants, and upstream plugins such as AlwaysPullImages),
with the audit of what already runs. The same engines answer offline in CI
and as the webhooks of a live cluster.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	// Flag parsing errors are usage errors.
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError(fmt.Errorf("%w\nSee '%s --help'.", err, c.CommandPath()))
	})
	for _, add := range subcommands {
		root.AddCommand(add(s))
	}
	return root
}

// subcommands register themselves from their own files (init), so that adding
// a command never means editing this one.
var subcommands []func(Streams) *cobra.Command

func register(f func(Streams) *cobra.Command) { subcommands = append(subcommands, f) }

// Main runs kguard with the process's arguments and returns its exit code.
func Main(args []string, s Streams) int {
	root := NewRootCommand(s)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(s.Err, "error:", ee.Err)
		}
		return ee.Code
	}
	// cobra's own errors (unknown command, wrong number of arguments) are usage errors.
	fmt.Fprintln(s.Err, "error:", err)
	return ExitUsage
}

// StdStreams are the process's streams.
func StdStreams() Streams { return Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }
