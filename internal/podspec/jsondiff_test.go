package podspec

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
)

// libraryDiff is the patch the library gives, ordered as patch.diff orders it.
func libraryDiff(t *testing.T, path string, before, after any) []jsonpatch.Operation {
	t.Helper()
	b, _ := json.Marshal(before)
	a, _ := json.Marshal(after)
	ops, err := jsonpatch.CreatePatch(b, a)
	if err != nil {
		t.Fatal(err)
	}
	orderOps(ops)
	for i := range ops {
		ops[i].Path = path + ops[i].Path
	}
	return ops
}

// encoded is each operation's JSON; the library orders the operations of one
// member by map order, so those of one first segment are compared sorted.
func encoded(t *testing.T, ops []jsonpatch.Operation) []string {
	t.Helper()
	out := make([]string, len(ops))
	for i := range ops {
		b, err := json.Marshal(&ops[i])
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(b)
	}
	for i := 0; i < len(ops); {
		j := i
		for j < len(ops) && firstSegment(ops[j].Path[len("/x"):]) == firstSegment(ops[i].Path[len("/x"):]) {
			j++
		}
		sort.Strings(out[i:j])
		i = j
	}
	return out
}

// The member by member diff gives the library's operations, encoded to the
// same bytes, for the values admission changes.
func TestDiffMembersAsLibrary(t *testing.T) {
	one, two, yes, no := int64(1), int64(2), true, false
	proc := corev1.UnmaskedProcMount
	loc := "profiles/<a&b>"
	bad := "x\xffy"
	values := []any{
		&corev1.SecurityContext{},
		&corev1.SecurityContext{RunAsUser: &one, RunAsNonRoot: &yes, AllowPrivilegeEscalation: &no, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
		&corev1.SecurityContext{RunAsUser: &two, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_BIND_SERVICE"}}},
		&corev1.SecurityContext{RunAsUser: &one, RunAsNonRoot: &yes, AllowPrivilegeEscalation: &no, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}},
		&corev1.SecurityContext{AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: &loc}},
		&corev1.SecurityContext{SELinuxOptions: &corev1.SELinuxOptions{User: "u", Role: "r", Type: "t", Level: "s0"}, Privileged: &yes, ProcMount: &proc},
		&corev1.SecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Level: "s1"}, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		&corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{RunAsUserName: &bad}, ReadOnlyRootFilesystem: &yes},
	}
	podValues := []any{
		&corev1.PodSecurityContext{},
		&corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		&corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}, FSGroup: &one, SupplementalGroups: []int64{1}},
		&corev1.PodSecurityContext{FSGroup: &two, SupplementalGroups: []int64{1, 2}, RunAsUser: &one, RunAsGroup: &two,
			Sysctls: []corev1.Sysctl{{Name: "a", Value: "1"}}, SELinuxOptions: &corev1.SELinuxOptions{Type: "t", Level: "s0"}},
		&corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "a", Value: "2"}, {Name: "b", Value: "<&>"}}, SELinuxOptions: &corev1.SELinuxOptions{User: "u"}},
	}
	volumes := []any{
		&corev1.Volume{Name: "v"},
		&corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		&corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/a/b~c"}}},
	}
	for _, set := range [][]any{values, podValues, volumes} {
		for i, before := range set {
			for j, after := range set {
				var p patch
				b, _ := json.Marshal(before)
				a, _ := json.Marshal(after)
				if !p.diffMembers("/x", b, a) {
					t.Fatalf("%d -> %d: not diffed member by member", i, j)
				}
				got, want := encoded(t, p.ops), encoded(t, libraryDiff(t, "/x", before, after))
				if len(got) != len(want) {
					t.Fatalf("%d -> %d:\n got %q\nwant %q", i, j, got, want)
				}
				for k := range got {
					if got[k] != want[k] {
						t.Fatalf("%d -> %d, operation %d:\n got %q\nwant %q", i, j, k, got, want)
					}
				}
			}
		}
	}
}

// What diffMembers does not handle is left to the library, untouched.
func TestDiffMembersDeclines(t *testing.T) {
	for _, tc := range []struct{ name, before, after string }{
		{"not objects", `[1]`, `[2]`},
		{"escaped name", `{"a\"b":1}`, `{}`},
		{"name with a slash", `{}`, `{"a/b":1}`},
		{"name with a tilde", `{"a~b":1}`, `{}`},
		{"repeated name", `{"a":1,"a":2}`, `{}`},
		{"truncated", `{"a":1}`, `{"a":"1}`},
	} {
		var p patch
		if p.diffMembers("/x", []byte(tc.before), []byte(tc.after)) || len(p.ops) > 0 {
			t.Errorf("%s: diffed: %v", tc.name, p.ops)
		}
	}
}

func TestCanonical(t *testing.T) {
	for raw, want := range map[string]bool{
		`1`: true, `"a\u003cb"`: true, `[1,2]`: true, `{"a":1,"b":{"c":2,"d":3}}`: true, `{}`: true,
		`{"b":1,"a":2}`: false, `{"a":{"d":1,"c":2}}`: false, `"x\ufffdy"`: false, `[{"a":1}]`: false,
		`{"a":1,"a":2}`: false, `{"a/b":1}`: false, `{"a~b":1}`: false, `{"a\"b":1}`: false, `{"a":1,}`: false,
	} {
		if got := canonical([]byte(raw)); got != want {
			t.Errorf("canonical(%s) = %v, want %v", raw, got, want)
		}
	}
}

// FuzzCanonical: what encoding/json writes of a security context (the
// values addedValue is given) and canonical passes is what encoding/json
// writes again from its decoded value, byte for byte (addedValue then puts
// the bytes in the patch as they are).
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{`{"seLinuxOptions":{"level":"s0:c1,c2"}}`, `{"seLinuxOptions":{"user":"u","role":"r"},"sysctls":[{"name":"a","value":"\ufffd"}]}`,
		`{"capabilities":{"add":["X"]},"windowsOptions":{"gmsaCredentialSpecName":"<a>","hostProcess":true}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var pod corev1.PodSecurityContext
		var container corev1.SecurityContext
		var values []any
		if json.Unmarshal(in, &pod) == nil {
			values = append(values, &pod, pod.SELinuxOptions, pod.WindowsOptions, pod.SeccompProfile, pod.Sysctls, pod.AppArmorProfile)
		}
		if json.Unmarshal(in, &container) == nil {
			values = append(values, &container, container.Capabilities, container.SELinuxOptions, container.WindowsOptions)
		}
		for _, x := range values {
			raw, err := json.Marshal(x)
			if err != nil || !canonical(raw) {
				continue
			}
			var v any
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				t.Fatal(err)
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, raw) {
				t.Fatalf("canonical(%s), but it encodes again as %s", raw, again)
			}
		}
	})
}

// FuzzDiffMembers: for any two security contexts, the member by member diff
// gives the library's operations, encoded to the same bytes.
func FuzzDiffMembers(f *testing.F) {
	f.Add([]byte(`{"runAsUser":1,"capabilities":{"drop":["ALL"]}}`), []byte(`{"runAsUser":2,"seLinuxOptions":{"user":"u","level":"s0"},"appArmorProfile":{"type":"Localhost","localhostProfile":"<\u2028\ufffd>"}}`))
	f.Fuzz(func(t *testing.T, before, after []byte) {
		var b, a corev1.SecurityContext
		if json.Unmarshal(before, &b) != nil || json.Unmarshal(after, &a) != nil {
			return
		}
		var p patch
		bj, _ := json.Marshal(&b)
		aj, _ := json.Marshal(&a)
		if !p.diffMembers("/x", bj, aj) {
			t.Fatalf("not diffed member by member: %s %s", bj, aj)
		}
		got, want := encoded(t, p.ops), encoded(t, libraryDiff(t, "/x", &b, &a))
		if len(got) != len(want) {
			t.Fatalf("\n got %q\nwant %q", got, want)
		}
		for k := range got {
			if got[k] != want[k] {
				t.Fatalf("operation %d:\n got %q\nwant %q", k, got, want)
			}
		}
	})
}

// firstSegment is the first token of a JSON Pointer ("/a/b" -> "a").
func firstSegment(pointer string) string {
	s := strings.TrimPrefix(pointer, "/")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i]
	}
	return s
}
