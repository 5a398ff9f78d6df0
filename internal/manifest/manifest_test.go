package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string // Identity@line
		wantErr string
	}{
		{
			name: "multi document with comments and empty documents",
			in: `# leading comment
---
apiVersion: v1
kind: Namespace
metadata:
  name: a
---
# only a comment
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: r
  namespace: a
`,
			want: []string{"Namespace a@3", "Role a/r@10"},
		},
		{
			name: "list expands items",
			in: `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: first}
- apiVersion: v1
  kind: Namespace
  metadata: {name: second}
`,
			want: []string{"Namespace first@1", "Namespace second@1"},
		},
		{
			name: "typed list (kubectl get roles -o yaml)",
			in:   `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleList","items":[{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r","namespace":"n"}}]}`,
			want: []string{"Role n/r@1"},
		},
		{
			name:    "missing kind",
			in:      "apiVersion: v1\nmetadata: {name: x}\n",
			wantErr: "in.yaml:1: object has no kind",
		},
		{
			name:    "missing apiVersion in second document",
			in:      "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\nkind: Pod\n",
			wantErr: "in.yaml:5: object has no apiVersion",
		},
		{
			name:    "yaml syntax error has absolute line",
			in:      "apiVersion: v1\nkind: Namespace\n---\napiVersion: v1\nkind: [\n",
			wantErr: "in.yaml:4: invalid YAML",
		},
		{
			name:    "duplicate keys are rejected",
			in:      "apiVersion: v1\nkind: Namespace\nkind: Pod\n",
			wantErr: "in.yaml:1: invalid YAML",
		},
		{
			name:    "scalar document",
			in:      "hello\n",
			wantErr: "in.yaml:1: not a Kubernetes object: the document is a string, not a mapping",
		},
		{
			name:    "metadata that is not a mapping is named, not a Go type",
			in:      "apiVersion: v1\nkind: Pod\nmetadata: hello\n",
			wantErr: "in.yaml:1: not a Kubernetes object: metadata is a string, not a mapping",
		},
		{
			name:    "an item of a List that is not an object",
			in:      "apiVersion: v1\nkind: List\nitems:\n- 3\n",
			wantErr: "(items[0]): not a Kubernetes object: the item is a number, not a mapping",
		},
		{
			name: "JSON stream of pretty-printed objects (yq -o json)",
			in:   "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Namespace\",\n  \"metadata\": {\"name\": \"a\"}\n}\n{\n  \"apiVersion\": \"apps/v1\",\n  \"kind\": \"DaemonSet\",\n  \"metadata\": {\"name\": \"d\", \"namespace\": \"a\"}\n}\n",
			want: []string{"Namespace a@1", "DaemonSet a/d@6"},
		},
		{
			name: "JSON objects on one line and after comments",
			in:   "# from a tool\n\n" + `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}} {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"b"}}` + "\n\n" + `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"c"}}`,
			want: []string{"Namespace a@3", "Namespace b@3", "Namespace c@5"},
		},
		{
			name: "JSON stream after a YAML document",
			in:   "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n" + `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"b"}}` + "\n" + `{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"c"}}]}`,
			want: []string{"Namespace a@1", "Namespace b@5", "Namespace c@6"},
		},
		{
			name:    "trailing garbage after a JSON object",
			in:      "{\"apiVersion\":\"v1\",\n\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\"}}\n\ngarbage\n",
			wantErr: "in.yaml:4: invalid JSON after the object on line 1",
		},
		{
			name:    "truncated second JSON object",
			in:      `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}` + "\n" + `{"apiVersion":"v1",`,
			wantErr: "in.yaml:2: invalid JSON after the object on line 1",
		},
		{
			name:    "duplicate keys in the second JSON object",
			in:      `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}` + "\n" + `{"apiVersion":"v1","kind":"Namespace","kind":"Pod"}`,
			wantErr: "in.yaml:2: invalid YAML",
		},
		{
			name:    "top-level JSON array is refused",
			in:      `[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}]`,
			wantErr: "in.yaml:1: a top-level array is not a Kubernetes object",
		},
		{
			name:    "top-level YAML sequence is refused",
			in:      "- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n",
			wantErr: "in.yaml:1: a top-level array is not a Kubernetes object",
		},
		{
			name:    "two flow-style YAML objects in one document",
			in:      "{apiVersion: v1, kind: Namespace, metadata: {name: a}}\n{apiVersion: v1, kind: Namespace, metadata: {name: b}}\n",
			wantErr: "in.yaml:1: invalid YAML after the end of the first object",
		},
		{
			name: "one flow-style YAML object",
			in:   "{apiVersion: v1, kind: Namespace, metadata: {name: a}}\n",
			want: []string{"Namespace a@1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := Read(strings.NewReader(tc.in), "in.yaml")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				if !errors.Is(err, ErrInput) {
					t.Errorf("error %v does not match ErrInput", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range docs {
				got = append(got, d.Identity()+"@"+strconv.Itoa(d.Line))
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDecodeStrict(t *testing.T) {
	docs, err := Read(strings.NewReader("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\nspce: {}\n"), "ns.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var obj struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Metadata   map[string]any `json:"metadata"`
		Spec       map[string]any `json:"spec"`
	}
	err = docs[0].Decode(&obj)
	if err == nil || !strings.Contains(err.Error(), `unknown field "spce"`) || !strings.HasPrefix(err.Error(), "ns.yaml:1:") {
		t.Fatalf("Decode error = %v, want an unknown-field error at ns.yaml:1", err)
	}
}

func TestReadPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n")
	write("a/a.json", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}`)
	write("notes.txt", "not read")

	docs, err := ReadPaths([]string{dir, "-"}, strings.NewReader("apiVersion: v1\nkind: Namespace\nmetadata: {name: stdin}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range docs {
		names = append(names, d.Name)
	}
	if got := strings.Join(names, ","); got != "a,b,stdin" {
		t.Errorf("names = %s, want a,b,stdin (directory in lexical order, then stdin)", got)
	}

	_, err = ReadPaths([]string{filepath.Join(dir, "missing.yaml")}, nil)
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") || !errors.Is(err, ErrInput) {
		t.Errorf("missing file error = %v", err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: List\nitems: []\n")
	f.Add(`{"apiVersion":"v1","kind":"PodList","items":[{"apiVersion":"v1","kind":"Pod"}]}`)
	f.Add("---\n--- \n\t- [\n")
	f.Add("{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}\n{\"apiVersion\":\"v1\",\"kind\":\"Secret\"} x")
	f.Add("{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}{\"apiVersion\":\"v1\",\"kind\":\"Secret\"}")
	f.Add("{apiVersion: v1, kind: Pod} {kind: Secret}")
	f.Add("# c\n[{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}]")
	f.Fuzz(func(t *testing.T, in string) {
		docs, err := Read(strings.NewReader(in), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrInput) {
				t.Fatalf("error %v does not match ErrInput", err)
			}
			return
		}
		var stream strings.Builder
		for _, d := range docs {
			if d.APIVersion == "" || d.Kind == "" {
				t.Fatalf("document without apiVersion/kind accepted: %+v", d)
			}
			stream.Write(d.JSON)
			stream.WriteByte('\n')
		}
		// What was read, written back as a JSON stream, reads back whole:
		// no object is dropped or invented.
		again, err := Read(strings.NewReader(stream.String()), "again")
		if err != nil {
			t.Fatalf("re-reading the JSON stream of %d documents: %v", len(docs), err)
		}
		if len(again) != len(docs) {
			t.Fatalf("read %d documents, the JSON stream of them reads as %d", len(docs), len(again))
		}
		for i := range docs {
			if again[i].Identity() != docs[i].Identity() {
				t.Fatalf("document %d: %s, re-read as %s", i, docs[i].Identity(), again[i].Identity())
			}
		}
	})
}
