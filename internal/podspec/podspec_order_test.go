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
	// Beside an element added, the changes inside one element, one after
	// the other (CreatePatch's map order), are ordered by path among
	// themselves; found by FuzzStructDiff (sysctls).
	for _, first := range []string{"/x/sysctls/0/value", "/x/sysctls/0/name"} {
		second := map[string]string{"/x/sysctls/0/value": "/x/sysctls/0/name", "/x/sysctls/0/name": "/x/sysctls/0/value"}[first]
		mixed := []jsonpatch.Operation{{Operation: "add", Path: "/x/sysctls/1"}, {Operation: "replace", Path: first}, {Operation: "replace", Path: second}}
		orderOps(mixed)
		if mixed[0].Path != "/x/sysctls/1" || mixed[1].Path != "/x/sysctls/0/name" || mixed[2].Path != "/x/sysctls/0/value" {
			t.Errorf("changes inside one element beside an added one: %v", mixed)
		}
	}
}
