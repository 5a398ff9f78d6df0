package verify

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/kguard/kguard/internal/constraints"
)

// TestGatekeeperLibrary runs every suite of the gatekeeper-library, as
// `gator verify` does, with CEL on (Gatekeeper's default: K8sNativeValidation
// first) and off (Rego only).
func TestGatekeeperLibrary(t *testing.T) {
	fsys := os.DirFS("../testdata/gatekeeper-library")
	suites, err := ReadSuites(fsys, "library/...")
	if err != nil {
		t.Fatal(err)
	}
	if len(suites) < 49 {
		t.Fatalf("found %d suites, want the library's 49", len(suites))
	}
	for _, mode := range []struct {
		name string
		opts constraints.Options
	}{{"cel", constraints.Options{}}, {"rego", constraints.Options{NoCEL: true}}} {
		t.Run(mode.name, func(t *testing.T) {
			r := &Runner{FS: fsys, Options: mode.opts}
			cases := 0
			for _, s := range suites {
				res := r.RunSuite(context.Background(), s)
				if res.Error != "" {
					t.Errorf("%s: %s", s.Path, res.Error)
				}
				for _, tr := range res.Tests {
					if tr.Error != "" {
						t.Errorf("%s: %s: %s", s.Path, tr.Name, tr.Error)
					}
					for _, c := range tr.Cases {
						if c.Error != "" {
							t.Errorf("%s: %s/%s: %s", s.Path, tr.Name, c.Name, firstLine(c.Error))
						}
						if !c.Skipped {
							cases++
						}
					}
				}
			}
			t.Logf("%d suites, %d cases", len(suites), cases)
		})
	}
}

func firstLine(s string) string {
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return strings.ReplaceAll(s, "\n", " ")
}
