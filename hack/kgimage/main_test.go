package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSetImage(t *testing.T) {
	b, err := os.ReadFile("../../deploy/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kustomization.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := setImage(path, "kguard", "registry.example.com/team/kguard", "sha256:0123"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "- name: kguard\n  newName: registry.example.com/team/kguard\n  digest: sha256:0123\n\nlabels:"
	if !strings.Contains(string(got), want) || strings.Contains(string(got), "newTag: latest") {
		t.Fatalf("got:\n%s", got)
	}
	// Everything else, comments included, is as it was.
	if strings.Count(string(got), "\n") != strings.Count(string(b), "\n") {
		t.Errorf("%d lines, was %d", strings.Count(string(got), "\n"), strings.Count(string(b), "\n"))
	}
}
