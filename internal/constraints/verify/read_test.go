package verify

import (
	"errors"
	"testing"
	"testing/fstest"
)

// In a directory, YAML files that are not suites are skipped, but a file
// that does not parse as a YAML object fails the run, as in gator: a suite
// broken by its indentation must not disappear from a passing run.
func TestReadSuitesBrokenFile(t *testing.T) {
	suite := "apiVersion: test.gatekeeper.sh/v1alpha1\nkind: Suite\ntests: []\n"
	for name, tc := range map[string]struct {
		other string
		ok    bool
	}{
		"another object":     {"apiVersion: v1\nkind: ConfigMap\n", true},
		"empty":              {"", true},
		"broken indentation": {"apiVersion: test.gatekeeper.sh/v1alpha1\nkind: Suite\ntests:\n - name: a\n  template: t.yaml\n", false},
		"a list":             {"- a\n- b\n", false},
		"a scalar":           {"just text\n", false},
		"not YAML at all":    {"key: [unclosed\n", false},
	} {
		t.Run(name, func(t *testing.T) {
			fsys := fstest.MapFS{"s/suite.yaml": {Data: []byte(suite)}, "s/other.yaml": {Data: []byte(tc.other)}}
			suites, err := ReadSuites(fsys, "s")
			switch {
			case tc.ok && (err != nil || len(suites) != 1):
				t.Fatalf("got %d suites, error %v; want the one suite", len(suites), err)
			case !tc.ok && !errors.Is(err, ErrSuite):
				t.Fatalf("got %d suites, error %v; want an ErrSuite naming s/other.yaml", len(suites), err)
			}
		})
	}
}
