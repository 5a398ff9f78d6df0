package admission_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/podsecuritypolicy"
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
	c := chainFor(f, podsecuritypolicy.PluginName, podsecurity.PluginName)
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
			r := c.Admit(context.Background(), &admission.Request{Operation: admissionv1.Create, Workload: w, Resource: "x", Name: docs[i].Name, Namespace: "shop", User: alice})
			if !r.Allowed && (r.Result == nil || r.Result.Message == "") {
				t.Fatal("a denial without a status")
			}
			if r.Allowed && r.Result != nil {
				t.Fatal("allowed with a failure status")
			}
		}
	})
}

// FuzzReview: any AdmissionReview body is answered (with the request's uid)
// or refused as malformed; never a panic, and an undecodable pod is never allowed.
func FuzzReview(f *testing.F) {
	c := chainFor(f, podsecuritypolicy.PluginName, podsecurity.PluginName)
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","resource":{"version":"v1","resource":"pods"},"namespace":"shop","operation":"CREATE","userInfo":{"username":"alice","groups":["system:authenticated"]},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`), uint8(1))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u2","resource":{"version":"v1","resource":"pods"},"operation":"UPDATE","object":{"spec":{}},"oldObject":{"spec":{"containers":[]}}}}`), uint8(2))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u3","resource":{"version":"v1","resource":"pods"},"operation":"CREATE","object":{"spec":{"containers":"x"}}}}`), uint8(0))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u4","object":{"spec":{"containers":"x"}}}}`), uint8(129))
	// PodSecurity alone: the mutating pass reads only the review's head.
	pssOnly := chainFor(f, podsecurity.PluginName)
	f.Fuzz(func(t *testing.T, body []byte, phase uint8) {
		chain := c
		if phase >= 128 {
			chain = pssOnly
		}
		out, err := chain.Review(context.Background(), body, admission.Phase(phase%3))
		if err != nil {
			if !errors.Is(err, admission.ErrReview) {
				t.Fatalf("error not matching ErrReview: %v", err)
			}
			return
		}
		var in, got admissionv1.AdmissionReview
		if json.Unmarshal(out, &got) != nil || got.Response == nil {
			t.Fatalf("answer is not an AdmissionReview: %s", out)
		}
		if json.Unmarshal(body, &in) == nil && in.Request != nil && got.Response.UID != in.Request.UID {
			t.Fatalf("uid %q answered as %q", in.Request.UID, got.Response.UID)
		}
		if got.Response.Allowed && got.Response.Result != nil {
			t.Fatalf("allowed with a failure status: %s", out)
		}
	})
}
