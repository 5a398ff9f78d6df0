//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// auditEvent is the part of an audit.k8s.io/v1 Event the test reads.
type auditEvent struct {
	Stage     string `json:"stage"`
	Verb      string `json:"verb"`
	ObjectRef *struct {
		Resource, Namespace, Name, Subresource string
	} `json:"objectRef"`
	Annotations map[string]string `json:"annotations"`
}

// podCreateAnnotations returns the annotations of the completed create of pod
// ns/name in kube-apiserver's audit log, nil while there is none.
func podCreateAnnotations(t *testing.T, ns, name string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(live.env["AUDIT_LOG"])
	if err != nil {
		t.Fatalf("reading the audit log (hack/e2e-cluster.sh sets --audit-log-path): %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log line %q: %v", sc.Text(), err)
		}
		if e.Stage == "ResponseComplete" && e.Verb == "create" && e.ObjectRef != nil && e.ObjectRef.Resource == "pods" &&
			e.ObjectRef.Subresource == "" && e.ObjectRef.Namespace == ns && e.ObjectRef.Name == name {
			return e.Annotations
		}
	}
	return nil
}

// kguard's audit annotations reach the audit log under its webhooks' names, and
// kube-apiserver refuses none of them: PodSecurityPolicy's admitting and
// validating policy, Pod Security's enforced level and its audit-level violations.
func TestAuditAnnotationsInAuditLog(t *testing.T) {
	defer kguardLogs(t)
	if live.env["AUDIT_LOG"] == "" || live.env["APISERVER_LOG"] == "" {
		t.Fatal("the env file has no AUDIT_LOG or APISERVER_LOG: start the cluster with the current hack/e2e-cluster.sh")
	}
	if out, err := kubectlIn(t, crd(t, "../../examples/psp/policies/privileged-psp.yaml"), "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "podsecuritypolicies.kguard.io", "privileged", "--ignore-not-found") })
	const ns = "audit-annotations"
	namespace := `apiVersion: v1
kind: Namespace
metadata: {name: ` + ns + `, labels: {pod-security.kubernetes.io/enforce: baseline, pod-security.kubernetes.io/audit: restricted}}
`
	if out, err := kubectlIn(t, namespace, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "namespace", ns, "--wait=false") })

	// Baseline admits the pause pod; restricted (the audit level) would not.
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"audited"},"spec":{"containers":[{"name":"c","image":"k8s.gcr.io/pause"}]}}`
	eventually(t, 30*time.Second, "the pod is admitted", func() (bool, string) {
		out, err := kubectlIn(t, pod, "-n", ns, "create", "-f", "-")
		return err == nil || strings.Contains(out, "AlreadyExists"), out
	})
	want := map[string]string{
		"mutate.kguard.io/admit-policy":       "privileged",
		"validate.kguard.io/validate-policy":  "privileged",
		"validate.kguard.io/enforce-policy":   "baseline:latest",
		"validate.kguard.io/audit-violations": `would violate PodSecurity "restricted:latest"`, // a prefix
	}
	eventually(t, 30*time.Second, "the pod's create in the audit log, with kguard's annotations", func() (bool, string) {
		got := podCreateAnnotations(t, ns, "audited")
		for k, v := range want {
			if !strings.HasPrefix(got[k], v) {
				return false, "annotations: " + toJSON(got)
			}
		}
		return true, ""
	})

	b, err := os.ReadFile(live.env["APISERVER_LOG"])
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "Failed to set admission audit annotation") && strings.Contains(line, "kguard.io") {
			t.Errorf("kube-apiserver refused an annotation of kguard's: %s", line)
		}
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
