package podspec

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestAppArmorProfiles(t *testing.T) {
	for v, want := range map[string]string{"runtime/default": "RuntimeDefault", "unconfined": "Unconfined", "localhost/x": "Localhost/x", "localhost/": "", "docker/default": "", "": ""} {
		got := ""
		if f := AppArmorProfileOf(v); f != nil {
			got = profileString(string(f.Type), f.LocalhostProfile)
			if back := AppArmorAnnotationOf(f); back != v {
				t.Errorf("%q: field %s spelt back as %q", v, got, back)
			}
		}
		if got != want {
			t.Errorf("%q: %q, want %q", v, got, want)
		}
	}
	empty := ""
	for _, f := range []*corev1.AppArmorProfile{{Type: corev1.AppArmorProfileTypeLocalhost}, {Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: &empty}, {Type: "Other"}} {
		if v := AppArmorAnnotationOf(f); v != "" {
			t.Errorf("%+v: annotation %q, want none", f, v)
		}
	}
}

func TestSeccompProfiles(t *testing.T) {
	for v, want := range map[string]string{"runtime/default": "RuntimeDefault", "docker/default": "RuntimeDefault", "unconfined": "Unconfined",
		"localhost/x": "Localhost/x", "localhost/": "", "": "", "other": ""} {
		got := ""
		if f := SeccompProfileOf(v); f != nil {
			got = profileString(string(f.Type), f.LocalhostProfile)
		}
		if got != want {
			t.Errorf("%q: %q, want %q", v, got, want)
		}
	}
}

// profileString is a profile as the tests spell it: its type, and
// "/name" for a localhost profile.
func profileString(typ string, localhost *string) string {
	if localhost != nil {
		return typ + "/" + *localhost
	}
	return typ
}
