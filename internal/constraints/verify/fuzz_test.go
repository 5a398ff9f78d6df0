package verify

import (
	"os"
	"testing"
	"testing/fstest"
)

// FuzzReadSuite: any file reads as a suite, as not a suite, or is refused
// with an error; nothing panics.
func FuzzReadSuite(f *testing.F) {
	b, err := os.ReadFile("../testdata/gatekeeper-library/library/general/requiredlabels/suite.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("kind: Suite\napiVersion: test.gatekeeper.sh/v1alpha1\ntests:\n- name: x\n  cases:\n  - assertions:\n    - violations: yes\n"))
	f.Add([]byte("kind: Suite\napiVersion: test.gatekeeper.sh/v1alpha1\ntests: {}\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		fsys := fstest.MapFS{"s/suite.yaml": {Data: raw}}
		s, isSuite, err := readSuite(fsys, "s/suite.yaml")
		if err == nil && isSuite && s == nil {
			t.Fatal("a suite read as nil")
		}
		if err != nil && !isSuite {
			t.Fatalf("an error for a file that is not a suite: %v", err)
		}
		if s != nil {
			r := &Runner{FS: fsys}
			r.RunSuite(t.Context(), s)
		}
	})
}
