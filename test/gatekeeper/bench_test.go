package gatekeeper

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"testing"

	mutationtypes "github.com/open-policy-agent/gatekeeper/v3/pkg/mutation/types"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/target"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kguard/kguard/internal/constraints"
)

// benchConstraints is how many constraints the benchmark's policies hold.
const benchConstraints = 50

// pspPolicies50 are the library's pod-security-policy templates with 50
// constraints: the samples' own, then copies under other names that
// exclude other namespaces, round-robin over the templates' samples.
func pspPolicies50(tb testing.TB) []policy {
	tb.Helper()
	policies := libraryPolicies(tb, false)
	type ref struct{ p, c int }
	var samples []ref
	total := 0
	for i, p := range policies {
		for j := range p.constraints {
			samples = append(samples, ref{i, j})
		}
		total += len(p.constraints)
	}
	for k := 0; total < benchConstraints; k++ {
		s := samples[k%len(samples)]
		p := &policies[s.p]
		c := editConstraint(tb, p.constraints[s.c], func(c map[string]any) {
			meta := c["metadata"].(map[string]any)
			meta["name"] = fmt.Sprintf("%s-copy%d", meta["name"], k)
			match := c["spec"].(map[string]any)["match"].(map[string]any)
			match["excludedNamespaces"] = []any{"kube-system", fmt.Sprintf("team-%d", k)}
		})
		p.constraints = append(p.constraints, c)
		total++
	}
	return policies
}

// restrictedPod is a typical pod that meets the restricted Pod Security
// Standard: two containers, non-root, no privilege escalation, every
// capability dropped, RuntimeDefault seccomp, limits set.
const restrictedPod = `{
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {
    "name": "web-7d4b9c6f5-x2x9k", "namespace": "default",
    "labels": {"app": "web", "pod-template-hash": "7d4b9c6f5"},
    "annotations": {
      "container.apparmor.security.beta.kubernetes.io/web": "runtime/default",
      "container.apparmor.security.beta.kubernetes.io/sidecar": "runtime/default"
    }
  },
  "spec": {
    "securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
    "volumes": [{"name": "cache", "emptyDir": {}}, {"name": "config", "configMap": {"name": "web"}}],
    "containers": [
      {
        "name": "web", "image": "registry.example.com/team/web:1.4.2",
        "ports": [{"containerPort": 8080}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "cache", "mountPath": "/cache"}, {"name": "config", "mountPath": "/etc/web", "readOnly": true}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}}
      },
      {
        "name": "sidecar", "image": "registry.example.com/team/proxy:2.0.1",
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}
      }
    ]
  }
}`

func webhookRequest() (*admissionv1.AdmissionRequest, *corev1.Namespace) {
	req := &admissionv1.AdmissionRequest{
		UID:       "6f1c1a7e-0000-4000-8000-000000000002",
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Name:      "web-7d4b9c6f5-x2x9k",
		Namespace: "default",
		Operation: admissionv1.Create,
	}
	req.UserInfo.Username = "system:serviceaccount:kube-system:replicaset-controller"
	req.Object.Raw = []byte(restrictedPod)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default", Labels: map[string]string{"kubernetes.io/metadata.name": "default"}}}
	return req, ns
}

// BenchmarkConstraints50 reviews one admission request of a restricted pod
// against 50 pod-security-policy constraints at the webhook's enforcement
// point, with kguard and with Gatekeeper's client (Rego driver), after
// checking once that both report the same violations.
func BenchmarkConstraints50(b *testing.B) {
	policies := pspPolicies50(b)
	ours := kguardSet(b, policies, constraints.Options{NoCEL: true})
	theirs := gatekeeperClient(b, policies, constraints.PointWebhook)
	if n := len(ours.Constraints()); n != benchConstraints {
		b.Fatalf("%d constraints, want %d", n, benchConstraints)
	}
	ctx := context.Background()
	req, ns := webhookRequest()
	kguardReview := func() []violation {
		return kguardViolations(ctx, ours, &constraints.Review{Request: req, Namespace: ns}, constraints.PointWebhook)
	}
	gatekeeperReview := func() []violation {
		vs, err := gatekeeperViolations(ctx, theirs, &target.AugmentedReview{
			AdmissionRequest: req, Namespace: ns, Source: mutationtypes.SourceTypeOriginal, IsAdmission: true,
		}, constraints.PointWebhook)
		if err != nil {
			b.Fatal(err)
		}
		return vs
	}
	kg, gk := kguardReview(), gatekeeperReview()
	if !slices.Equal(kg, gk) {
		onlyKguard, onlyGatekeeper := diffViolations(kg, gk)
		b.Fatalf("kguard and Gatekeeper disagree\nonly kguard:     %v\nonly Gatekeeper: %v", onlyKguard, onlyGatekeeper)
	}
	b.Logf("%d constraints, %d violations: %v", benchConstraints, len(kg), kg)

	// ns/op is a review's latency; kguard spreads a review's evaluations
	// over the cores, so its CPU time (the process's, GC included) per
	// review is reported beside it.
	b.Run("kguard", func(b *testing.B) {
		b.ReportAllocs()
		cpu := processCPU()
		for b.Loop() {
			kguardReview()
		}
		b.ReportMetric(float64(processCPU()-cpu)/1e3/float64(b.N), "cpu-µs/op")
	})
	b.Run("gatekeeper", func(b *testing.B) {
		b.ReportAllocs()
		cpu := processCPU()
		for b.Loop() {
			gatekeeperReview()
		}
		b.ReportMetric(float64(processCPU()-cpu)/1e3/float64(b.N), "cpu-µs/op")
	})
}

// processCPU is the user and system CPU time of the process so far, in ns.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
