package podspec

import (
	"testing"

	"gomodules.xyz/jsonpatch/v2"
)

func TestOrderOps(t *testing.T) {
	ops := []jsonpatch.Operation{
		{Operation: "add", Path: "/spec/tolerations"},
		{Operation: "remove", Path: "/spec/containers/2/x"},
		{Operation: "add", Path: "/metadata/labels/b"},
		{Operation: "remove", Path: "/spec/containers/1/x"},
		{Operation: "add", Path: "/spec/nodeSelector"},
		{Operation: "add", Path: "/metadata/labels/a"},
		{Operation: "add", Path: "/spec/volumes/-"},
	}
	orderOps(ops)
	var got []string
	for _, op := range ops {
		got = append(got, op.Path)
	}
	want := []string{"/metadata/labels/a", "/metadata/labels/b", "/spec/containers/2/x", "/spec/containers/1/x", "/spec/nodeSelector", "/spec/tolerations", "/spec/volumes/-"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v (ops under one array keep their order)", got, want)
		}
	}
}
