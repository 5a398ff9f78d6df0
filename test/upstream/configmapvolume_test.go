package upstream

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	volumeutil "k8s.io/kubernetes/pkg/volume/util"

	"github.com/kguard/kguard/internal/policy"
)

const volumePSP = `apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: example}
spec:
  privileged: false
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  runAsUser: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: ['*']
`

func volumeBinding(name, user string) string {
	return `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ` + name + `, namespace: apps}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: User, name: ` + user + `, apiGroup: rbac.authorization.k8s.io}]
`
}

// TestPolicyDirOnKubeletVolume lays --policy-dir out with the kubelet's own
// AtomicWriter, the code that writes ConfigMap, Secret and projected volumes,
// and loads it with kguard, before and after an update: every object is read
// once, from the version the volume shows.
func TestPolicyDirOnKubeletVolume(t *testing.T) {
	dir := t.TempDir()
	w, err := volumeutil.NewAtomicWriter(dir, "kguard-policies")
	if err != nil {
		t.Fatal(err)
	}
	write := func(files map[string]string) {
		t.Helper()
		payload := map[string]volumeutil.FileProjection{}
		for name, body := range files {
			payload[name] = volumeutil.FileProjection{Data: []byte(body), Mode: 0o644}
		}
		if err := w.Write(payload, nil); err != nil {
			t.Fatal(err)
		}
	}
	load := func() (psps int, bindings string) {
		t.Helper()
		set, err := policy.Load([]string{dir}, nil)
		if err != nil {
			t.Fatalf("loading the volume: %v", err)
		}
		var got []string
		for _, b := range set.RoleBindings {
			for _, s := range b.Subjects {
				got = append(got, b.Name+"="+s.Name)
			}
		}
		return len(set.PodSecurityPolicies), strings.Join(got, ",")
	}

	write(map[string]string{"psp.yaml": volumePSP, "rbac.yaml": volumeBinding("viewers", "alice"), "old.yaml": volumeBinding("legacy", "carol")})
	if psps, bindings := load(); psps != 1 || bindings != "legacy=carol,viewers=alice" {
		t.Fatalf("first version: %d PSPs, bindings %s", psps, bindings)
	}
	// The update changes a file, removes one and adds one in a subdirectory
	// (a projected volume item with a nested path: a link to a directory).
	write(map[string]string{"psp.yaml": volumePSP, "rbac.yaml": volumeBinding("viewers", "bob"), "tenants/t.yaml": volumeBinding("tenant", "dave")})
	if psps, bindings := load(); psps != 1 || bindings != "viewers=bob,tenant=dave" {
		t.Fatalf("after the update: %d PSPs, bindings %s (want only the new version)", psps, bindings)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if _, err := os.Lstat(filepath.Join(dir, "..data")); err != nil {
		t.Fatalf("not the kubelet layout (%v): %v", names, err)
	}
	t.Logf("volume entries: %v", names)
}
