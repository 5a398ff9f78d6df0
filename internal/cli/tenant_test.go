package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kguard/kguard/internal/manifest"
)

func TestTenantRender(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	invalid := write("invalid.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\napiVersion: kguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: t}\nspec:\n  namespaces: {names: [kube-system]}\n")
	misspelt := write("misspelt.yaml", "apiVersion: kguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: t}\nspec:\n  namespace: {names: [a]}\n")
	twice := write("twice.yaml", "apiVersion: kguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: t}\nspec: {namespaces: {names: [a]}}\n---\napiVersion: kguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: u}\nspec: {namespaces: {names: [a]}}\n")
	minimal := "apiVersion: kguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: t}\nspec: {namespaces: {names: [a]}}\n"
	for _, tc := range []struct {
		name    string
		args    []string
		stdin   string
		code    int
		out     string // substring of stdout
		errText string // substring of stderr
	}{
		{"no arguments", []string{"tenant", "render"}, "", 2, "", "nothing to read"},
		{"no Tenant", []string{"tenant", "render", "internal/cli/testdata/formats/rbac.yaml"}, "", 2, "", "no Tenant (kguard.io/v1alpha1) in internal/cli/testdata/formats/rbac.yaml"},
		{"invalid Tenant at its line", []string{"tenant", "render", invalid}, "", 2, "", invalid + ":5"},
		{"unknown field at its line", []string{"tenant", "render", misspelt}, "", 2, "", misspelt + ":1"},
		{"a namespace of two tenants", []string{"tenant", "render", twice}, "", 2, "", `namespace "a" belongs to tenant "t"`},
		{"text is not an output", []string{"tenant", "render", "-o", "text", twice}, "", 2, "", `unknown output format "text" (yaml, json)`},
		{"stdin", []string{"tenant", "render", "-f", "-"}, minimal, 0, "name: kguard-tenant-egress\n  namespace: a\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errText := run(t, tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errText, tc.errText) {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s\nwant stdout with %q, stderr with %q", code, tc.code, out, errText, tc.out, tc.errText)
			}
		})
	}
}

// TestTenantRenderReadsBack reads the output as kubectl would: YAML
// documents, or one v1 List, with the same objects.
func TestTenantRenderReadsBack(t *testing.T) {
	args := []string{tenancyExample + "/tenants.yaml", tenancyExample + "/namespaces.yaml"}
	code, yamlOut, _ := run(t, "", append([]string{"tenant", "render"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	docs, err := manifest.Read(strings.NewReader(yamlOut), "yaml output")
	if err != nil {
		t.Fatal(err)
	}
	code, jsonOut, _ := run(t, "", append([]string{"tenant", "render", "-o", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var list struct {
		APIVersion, Kind string
		Items            []json.RawMessage
	}
	if err := json.Unmarshal([]byte(jsonOut), &list); err != nil {
		t.Fatal(err)
	}
	if list.APIVersion != "v1" || list.Kind != "List" || len(list.Items) != len(docs) || len(docs) == 0 {
		t.Fatalf("a %s %s of %d items, %d YAML documents", list.APIVersion, list.Kind, len(list.Items), len(docs))
	}
	for i, d := range docs {
		var a, b any
		if err := json.Unmarshal(d.JSON, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(list.Items[i], &b); err != nil {
			t.Fatal(err)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Errorf("item %d differs:\n%s\n%s", i, ja, jb)
		}
	}
}

// TestTenancyExampleCopy keeps the test copy of examples/tenancy/tenants.yaml
// the same as the example.
func TestTenancyExampleCopy(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "tenancy", "tenants.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	copied, err := os.ReadFile(filepath.Join("testdata", "examples", "tenancy", "tenants.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(example, copied) {
		t.Fatal("internal/cli/testdata/examples/tenancy/tenants.yaml differs from examples/tenancy/tenants.yaml: copy it again")
	}
}
