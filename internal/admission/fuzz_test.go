package admission

import (
	"bytes"
	"context"
	"errors"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/podspec"
)

// FuzzCheck runs arbitrary manifests through what `kguard check` does: read,
// find the pod, admit through PSP and PSS. Malformed input is an input error;
// a denial always carries a status; nothing panics.
func FuzzCheck(f *testing.F) {
	f.Add([]byte(typicalPod))
	f.Add([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {}, template: {spec: {hostPID: true, containers: [{name: c}]}}}\n"))
	f.Add([]byte("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {schedule: x, jobTemplate: {spec: {template: {spec: {volumes: [{name: v}], containers: [{name: c, securityContext: {privileged: true}}]}}}}}\n"))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: []}}]\n"))
	c := chainFor(f, PluginPodSecurityPolicy, PluginPodSecurity)
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := manifest.Read(bytes.NewReader(data), "fuzz.yaml")
		if err != nil {
			if !errors.Is(err, manifest.ErrInput) {
				t.Fatalf("not an input error: %v", err)
			}
			return
		}
		for i := range docs {
			w, err := podspec.Decode(&docs[i])
			if err != nil {
				if !errors.Is(err, manifest.ErrInput) {
					t.Fatalf("not an input error: %v", err)
				}
				continue
			}
			if w == nil {
				continue
			}
			r := c.Admit(context.Background(), &Request{Operation: admissionv1.Create, Workload: w, Resource: "x", Name: docs[i].Name, Namespace: "shop", User: alice})
			if !r.Allowed && (r.Result == nil || r.Result.Message == "") {
				t.Fatal("a denial without a status")
			}
			if r.Allowed && r.Result != nil {
				t.Fatal("allowed with a failure status")
			}
		}
	})
}
