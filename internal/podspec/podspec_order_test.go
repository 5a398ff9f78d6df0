package podspec

import (
	"testing"

	"gomodules.xyz/jsonpatch/v2"
)

func TestOrderOps(t *testing.T) {
	ops := []jsonpatch.Operation{
		{Operation: "add", Path: "/spec/tolerations"},
		{Operation: "remove", Path: "/spec/containers/2"},
		{Operation: "add", Path: "/metadata/labels/b"},
		{Operation: "remove", Path: "/spec/containers/1"},
		{Operation: "add", Path: "/spec/nodeSelector"},
		{Operation: "add", Path: "/metadata/labels/a"},
		{Operation: "add", Path: "/spec/volumes/-"},
	}
	orderOps(ops)
	var got []string
	for _, op := range ops {
		got = append(got, op.Path)
	}
	want := []string{"/metadata/labels/a", "/metadata/labels/b", "/spec/containers/2", "/spec/containers/1", "/spec/nodeSelector", "/spec/tolerations", "/spec/volumes/-"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v (ops under one array keep their order)", got, want)
		}
	}
}

// Changes inside the elements of one array, none adding or removing an
// element, come out ordered by path; an element op keeps the array's order.
func TestOrderOpsInsideElements(t *testing.T) {
	ops := []jsonpatch.Operation{
		{Operation: "add", Path: "/spec/containers/1/imagePullPolicy"},
		{Operation: "add", Path: "/spec/containers/0/securityContext"},
		{Operation: "add", Path: "/spec/containers/0/imagePullPolicy"},
	}
	orderOps(ops)
	want := []string{"/spec/containers/0/imagePullPolicy", "/spec/containers/0/securityContext", "/spec/containers/1/imagePullPolicy"}
	for i := range want {
		if ops[i].Path != want[i] {
			t.Fatalf("got %v, want %v", ops, want)
		}
	}
	kept := []jsonpatch.Operation{
		{Operation: "remove", Path: "/spec/volumes/0"},
		{Operation: "replace", Path: "/spec/volumes/1/name"},
		{Operation: "replace", Path: "/spec/volumes/0/name"},
	}
	orderOps(kept)
	if kept[0].Path != "/spec/volumes/0" || kept[1].Path != "/spec/volumes/1/name" {
		t.Errorf("an array with an element removed was reordered: %v", kept)
	}
}
