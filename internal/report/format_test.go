package report

import (
	"testing"

	"github.com/spf13/pflag"
)

var _ pflag.Value = &FormatFlag{}

func TestFormatFlag(t *testing.T) {
	cases := []struct {
		name      string
		supported []Format
		set       string
		want      Format
		err       string
	}{
		{name: "default is the first", supported: []Format{Text, JSON}, want: Text},
		{name: "json", supported: []Format{Text, JSON}, set: "json", want: JSON},
		{name: "sarif", supported: []Format{Text, JSON, SARIF}, set: "sarif", want: SARIF},
		{name: "unsupported", supported: []Format{Text, JSON}, set: "sarif", want: Text, err: `unknown output format "sarif" (text, json)`},
		{name: "unknown", supported: []Format{Text, JSON, SARIF}, set: "yaml", want: Text, err: `unknown output format "yaml" (text, json, sarif)`},
		{name: "case matters", supported: []Format{Text, JSON}, set: "JSON", want: Text, err: `unknown output format "JSON" (text, json)`},
		{name: "empty", supported: []Format{Text, JSON}, set: "", want: Text, err: `unknown output format "" (text, json)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFormatFlag(tc.supported...)
			if tc.set != "" || tc.err != "" {
				err := f.Set(tc.set)
				if got := errString(err); got != tc.err {
					t.Fatalf("Set(%q) error %q, want %q", tc.set, got, tc.err)
				}
			}
			if f.Format() != tc.want || f.String() != string(tc.want) {
				t.Errorf("format %q (String %q), want %q", f.Format(), f.String(), tc.want)
			}
		})
	}
}

func TestFormatFlagUsage(t *testing.T) {
	for want, formats := range map[string][]Format{
		"output format: text":                {Text},
		"output format: text or json":        {Text, JSON},
		"output format: text, json or sarif": {Text, JSON, SARIF},
	} {
		if got := NewFormatFlag(formats...).Usage(); got != want {
			t.Errorf("Usage() = %q, want %q", got, want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
