// Package report owns kguard's machine-readable outputs: the -o flag that
// chooses one, and the SARIF 2.1.0 document that code-scanning tools read.
// Commands build their results as data and hand them here at the edge.
package report

import (
	"fmt"
	"strings"
)

// Format is an output format.
type Format string

// The formats kguard writes.
const (
	Text  Format = "text"
	JSON  Format = "json"
	SARIF Format = "sarif"
	DOT   Format = "dot" // Graphviz
	YAML  Format = "yaml"
	HTML  Format = "html" // a self-contained page for people
)

// FormatFlag is the value of a command's -o flag (a pflag.Value): one of the
// formats the command supports, the first of them by default.
type FormatFlag struct {
	value     Format
	supported []Format
}

// NewFormatFlag returns a flag accepting the supported formats, the first
// being the default. It panics without any: that is a programming error.
func NewFormatFlag(supported ...Format) *FormatFlag {
	if len(supported) == 0 {
		panic("report.NewFormatFlag: no formats")
	}
	return &FormatFlag{value: supported[0], supported: supported}
}

// Format is the chosen format.
func (f *FormatFlag) Format() Format { return f.value }

// Set chooses a format, rejecting one the command does not support with the
// list of those it does: unknown output format "x" (text, json, sarif).
func (f *FormatFlag) Set(s string) error {
	for _, v := range f.supported {
		if Format(s) == v {
			f.value = v
			return nil
		}
	}
	return fmt.Errorf("unknown output format %q (%s)", s, f.join(", ", ", "))
}

// String is the chosen format.
func (f *FormatFlag) String() string { return string(f.value) }

// Type names the value in help text, as for any string flag.
func (f *FormatFlag) Type() string { return "string" }

// Usage is the flag's help: "output format: text, json or sarif".
func (f *FormatFlag) Usage() string { return "output format: " + f.join(", ", " or ") }

// join lists the supported formats, with last before the final one.
func (f *FormatFlag) join(sep, last string) string {
	names := make([]string, len(f.supported))
	for i, v := range f.supported {
		names[i] = string(v)
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], sep) + last + names[len(names)-1]
}
