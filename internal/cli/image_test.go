package cli

import (
	"strings"
	"testing"
)

// image verify's exit status is the documented one: an image reference that
// does not parse is bad input (2), not a refusal (1).
func TestImageVerifyExitStatus(t *testing.T) {
	const policies = "examples/imagepolicy/signed-images.yaml"
	cases := []struct {
		name    string
		args    []string
		code    int
		out     string // substring of stdout
		errText string // substring of stderr
	}{
		{"static pass, warned", []string{"registry.k8s.io/pause:3.10"}, 0, "ADMITTED registry.k8s.io/pause:3.10", ""},
		{"no policy matches", []string{"--registry-timeout", "1ms", "other.example/app:v1"}, 1, "REFUSED  other.example/app:v1", ""},
		{"reference that does not parse", []string{"registry.k8s.io/pause:3.10", "UPPER/Bad::ref"}, 2, "", `image "UPPER/Bad::ref": could not parse reference`},
		{"empty reference", []string{""}, 2, "", `image "": could not parse reference`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errText := run(t, "", append([]string{"image", "verify", "--policy", policies}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errText)
			}
			if !strings.Contains(out, tc.out) {
				t.Errorf("stdout lacks %q:\n%s", tc.out, out)
			}
			if !strings.Contains(errText, tc.errText) {
				t.Errorf("stderr lacks %q:\n%s", tc.errText, errText)
			}
		})
	}
}
