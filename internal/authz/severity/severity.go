// Package severity is the one scale of `kguard authz audit` findings and
// `kguard authz paths` paths: a grant is rated by what it reaches.
package severity

import (
	"fmt"
	"strings"
)

// Severity orders findings and paths; the zero value is the lowest.
type Severity int

const (
	// Info is a grant of public information only (health, version and
	// discovery endpoints), or a path to nothing that matters.
	Info Severity = iota
	Low
	Medium
	// High reaches secrets, a node or ServiceAccount tokens.
	High
	// Critical reaches cluster-admin.
	Critical
)

var names = []string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(names) {
		return fmt.Sprintf("Severity(%d)", int(s))
	}
	return names[s]
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Parse reads "info", "low", "medium", "high" or "critical", in any case.
func Parse(s string) (Severity, error) {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (%s)", s, strings.Join(names, ", "))
}
