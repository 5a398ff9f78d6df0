package constraints

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/policy"
)

// library50 is the gatekeeper-library's pod-security-policy templates with
// 50 constraints: their samples' constraints, renamed, repeated.
func library50(b *testing.B) *policy.Set {
	b.Helper()
	dirs, err := filepath.Glob(filepath.Join(library, "pod-security-policy", "*", "template.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	var docs, samples []manifest.Document
	for _, d := range dirs {
		d = filepath.Dir(d)
		t, err := manifest.ReadFile(filepath.Join(d, "template.yaml"))
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, t...)
		cs, _ := filepath.Glob(filepath.Join(d, "samples", "*", "constraint.yaml"))
		for _, c := range cs {
			s, err := manifest.ReadFile(c)
			if err != nil {
				b.Fatal(err)
			}
			samples = append(samples, s...)
		}
	}
	for i := 0; i < 50; i++ {
		c := samples[i%len(samples)]
		var obj map[string]any
		if err := json.Unmarshal(c.JSON, &obj); err != nil {
			b.Fatal(err)
		}
		obj["metadata"].(map[string]any)["name"] = fmt.Sprintf("%s-%d", c.Name, i)
		c.JSON, _ = json.Marshal(obj)
		docs = append(docs, c)
	}
	set, err := policy.FromDocuments(docs)
	if err != nil {
		b.Fatal(err)
	}
	return set
}

// A typical restricted two-container pod, as kube-apiserver sends it.
const benchPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"team-a","labels":{"app":"web"}},
"spec":{"securityContext":{"runAsNonRoot":true,"runAsUser":1000,"fsGroup":500,"seccompProfile":{"type":"RuntimeDefault"}},
"containers":[{"name":"app","image":"registry.example/team/app:v1","securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"capabilities":{"drop":["ALL"]}},"resources":{"limits":{"cpu":"500m","memory":"256Mi"}}},
{"name":"proxy","image":"registry.example/team/proxy:v2","securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"capabilities":{"drop":["ALL"]}}}],
"volumes":[{"name":"data","emptyDir":{}}]}}`

// BenchmarkReview50: one AdmissionReview of a typical pod through the
// validating pass of the Constraints plugin with 50 constraints.
func BenchmarkReview50(b *testing.B) {
	for _, mode := range []struct {
		name string
		cfg  Config
	}{{"cel", Config{}}, {"rego", Config{NoCEL: true}}} {
		b.Run(mode.name, func(b *testing.B) {
			set := library50(b)
			c, err := admission.NewChain([]string{PluginName}, admission.Inputs{Policies: set}, map[string]any{PluginName: mode.cfg})
			if err != nil {
				b.Fatal(err)
			}
			body := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1",` +
				`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},` +
				`"name":"web","namespace":"team-a","operation":"CREATE","userInfo":{"username":"alice"},"object":` + benchPod + `}}`)
			out, err := c.Review(context.Background(), body, admission.PhaseValidate)
			if err != nil || !strings.Contains(string(out), `"allowed":true`) {
				b.Fatalf("%v %s", err, out)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Review(context.Background(), body, admission.PhaseValidate); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
