package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kguard/kguard/internal/apidefaults"
	"github.com/kguard/kguard/internal/cli"
	"github.com/kguard/kguard/internal/server"
	"github.com/kguard/kguard/internal/snapshot"
	"github.com/kguard/kguard/internal/source"
)

// The equivalence of `kguard check` and `kguard serve`: the same objects, the same policies
// and the same user must get the same answer offline and from the webhook.
//
// check admits an object in one call; kube-apiserver calls the webhook twice, /mutate and
// then /validate with the mutated object (and only if /mutate allowed it). The comparison:
//   - allowed:  check.allowed == mutate.allowed && validate.allowed
//   - message:  check's status (message, reason, code) == the first denial's
//   - patch:    check.patch == mutate.patch (validate never patches) when the pod is
//     admitted; when /validate denies it, check reports no patch (nothing is stored).
//     Byte for byte: a patch is the same bytes every run (a failure says when two
//     patches differ only in the order of their operations).
//   - warnings: check.warnings == mutate's followed by validate's (when validate ran)
//   - audit annotations: check's == the union of mutate's and validate's, except
//     validate-policy, the PodSecurityPolicy /validate re-validated against: it must name
//     the policy mutate admitted with (admit-policy), and check, which admits once, has none.
//
// check defaults objects as the API server does before admission; the webhook receives them
// defaulted, so the pods sent to it are defaulted with apidefaults.Pod first.

const checkUser = "system:serviceaccount:psp-example:fake-user"

// checkGroups are the groups check gives --as checkUser (and kube-apiserver gives the
// ServiceAccount's token).
var checkGroups = []string{"system:serviceaccounts", "system:serviceaccounts:psp-example", "system:authenticated"}

// equivalencePolicies adds to the bundled examples namespaces with Pod Security labels and
// grants of the example policies in them, so that both plugins decide.
const equivalencePolicies = `apiVersion: v1
kind: Namespace
metadata: {name: gen-restricted, labels: {pod-security.kubernetes.io/enforce: restricted}}
---
apiVersion: v1
kind: Namespace
metadata: {name: gen-baseline, labels: {pod-security.kubernetes.io/enforce: baseline, pod-security.kubernetes.io/warn: restricted, pod-security.kubernetes.io/audit: restricted}}
---
apiVersion: v1
kind: Namespace
metadata: {name: gen-privileged, labels: {pod-security.kubernetes.io/enforce: privileged, pod-security.kubernetes.io/warn: baseline, pod-security.kubernetes.io/audit: baseline}}
---
apiVersion: v1
kind: Namespace
metadata: {name: gen-versioned, labels: {pod-security.kubernetes.io/enforce: baseline, pod-security.kubernetes.io/enforce-version: v1.23, pod-security.kubernetes.io/warn: restricted, pod-security.kubernetes.io/warn-version: v1.25}}
---
apiVersion: v1
kind: Namespace
metadata: {name: gen-pss-restricted, labels: {pod-security.kubernetes.io/enforce: restricted, pod-security.kubernetes.io/audit: restricted}}
---
apiVersion: v1
kind: Namespace
metadata: {name: gen-pss-baseline, labels: {pod-security.kubernetes.io/enforce: baseline, pod-security.kubernetes.io/warn: restricted}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: gen-use-restricted}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], resourceNames: [restricted], verbs: [use]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: gen-use-example-restricted}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], resourceNames: [example, restricted], verbs: [use]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: gen-use-privileged}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], resourceNames: [privileged], verbs: [use]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: gen-use-example}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], resourceNames: [example], verbs: [use]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: gen, namespace: gen-restricted}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gen-use-restricted}
subjects: [{kind: ServiceAccount, name: fake-user, namespace: psp-example}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: gen, namespace: gen-baseline}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gen-use-example-restricted}
subjects: [{kind: ServiceAccount, name: fake-user, namespace: psp-example}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: gen, namespace: gen-privileged}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gen-use-privileged}
subjects: [{kind: ServiceAccount, name: fake-user, namespace: psp-example}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: gen, namespace: gen-pss-restricted}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gen-use-privileged}
subjects: [{kind: ServiceAccount, name: fake-user, namespace: psp-example}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: gen, namespace: gen-pss-baseline}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gen-use-privileged}
subjects: [{kind: ServiceAccount, name: fake-user, namespace: psp-example}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: gen-default-sa, namespace: gen-versioned}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gen-use-example}
subjects: [{kind: ServiceAccount, name: default, namespace: gen-versioned}]
`

// equivalenceNamespaces: in the gen-pss-* ones the user may use the privileged policy, so
// that Pod Security decides alone.
var equivalenceNamespaces = []string{"psp-example", "gen-restricted", "gen-baseline", "gen-privileged", "gen-versioned", "gen-pss-restricted", "gen-pss-baseline"}

func TestCheckAndServeAgree(t *testing.T) {
	policyDir := t.TempDir()
	for _, src := range []string{"policies", "grant"} {
		copyDir(t, filepath.Join("testdata", "psp", src), policyDir)
	}
	if err := os.WriteFile(filepath.Join(policyDir, "equivalence.yaml"), []byte(equivalencePolicies), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startOver(t, policyDir)

	t.Run("examples", func(t *testing.T) {
		compareCheckAndServe(t, e, policyDir, filepath.Join("testdata", "psp", "pods"))
	})
	t.Run("generated", func(t *testing.T) {
		r := mrand.New(mrand.NewPCG(1, 2))
		var buf bytes.Buffer
		for i := range 400 {
			b, err := json.Marshal(randomPod(r, i))
			if err != nil {
				t.Fatal(err)
			}
			buf.WriteString("---\n")
			buf.Write(b)
			buf.WriteString("\n")
		}
		pods := filepath.Join(t.TempDir(), "pods.yaml")
		if err := os.WriteFile(pods, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		compareCheckAndServe(t, e, policyDir, pods)
	})
}

// startOver serves the policies of dir over TLS, as `kguard serve --policy-dir dir`.
func startOver(t *testing.T, dir string) *env {
	t.Helper()
	e := &env{pki: newPKI(t), dir: dir, done: make(chan error, 2)}
	srv, err := server.New(server.Config{CertFile: e.pki.certFile, KeyFile: e.pki.keyFile})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.url = "https://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.client = e.pki.client(true)
	go func() { e.done <- srv.Serve(ctx, ln) }()
	e.files = &source.Files{Paths: []string{dir}, Interval: time.Hour, Config: snapshot.Config{}}
	go func() { e.done <- e.files.Run(ctx, srv) }()
	t.Cleanup(cancel)
	e.waitReady(t)
	return e
}

// checkOutput is the part of `kguard check -o json` compared.
type checkOutput struct {
	Results []struct {
		APIVersion string                         `json:"apiVersion"`
		Kind       string                         `json:"kind"`
		Namespace  string                         `json:"namespace"`
		Name       string                         `json:"name"`
		File       string                         `json:"file"`
		Line       int                            `json:"line"`
		Evaluated  bool                           `json:"evaluated"`
		Response   *admissionv1.AdmissionResponse `json:"response"`
	} `json:"results"`
}

// verdict is one admission answer in the terms compared.
type verdict struct {
	Allowed     bool
	Message     string
	Reason      metav1.StatusReason
	Code        int32
	Patch       string
	Warnings    []string
	Annotations map[string]string
}

func fromResponse(r *admissionv1.AdmissionResponse) verdict {
	v := verdict{Allowed: r.Allowed, Warnings: r.Warnings, Annotations: r.AuditAnnotations}
	if r.Result != nil {
		v.Message, v.Reason, v.Code = r.Result.Message, r.Result.Reason, r.Result.Code
	}
	if len(r.Patch) > 0 {
		v.Patch = string(r.Patch)
	}
	return v
}

func compareCheckAndServe(t *testing.T, e *env, policyDir, objects string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main([]string{"check", "--policy", policyDir, "--as", checkUser, "-o", "json", objects},
		cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	if code != 0 && code != 1 {
		t.Fatalf("kguard check exited %d: %s", code, errb.String())
	}
	var got checkOutput
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("check -o json: %v\n%s", err, out.String())
	}
	docs := readObjects(t, objects)
	if len(docs) != len(got.Results) {
		t.Fatalf("check answered %d objects, %d read", len(got.Results), len(docs))
	}
	var compared, denied, deniedPSS, patched, warned int
	for i, res := range got.Results {
		where := fmt.Sprintf("%s:%d %s %s/%s", res.File, res.Line, res.Kind, res.Namespace, res.Name)
		if !res.Evaluated || res.Response == nil {
			continue
		}
		pod, patchPrefix := podOf(t, docs[i])
		want := fromResponse(res.Response)
		if patchPrefix != "" { // a workload: its template's patch, as the pod's
			want.Patch = strings.ReplaceAll(want.Patch, `"path":"`+patchPrefix+`/metadata`, `"path":"/metadata`)
			want.Patch = strings.ReplaceAll(want.Patch, `"path":"`+patchPrefix+`/spec`, `"path":"/spec`)
		}
		served := serveVerdict(t, e, fmt.Sprint(i), pod)
		compared++
		switch {
		case !want.Allowed && strings.Contains(want.Message, "violates PodSecurity"):
			deniedPSS++
		case !want.Allowed:
			denied++
		case want.Patch != "":
			patched++
		}
		if len(want.Warnings) > 0 {
			warned++
		}
		if !served.Allowed && want.Patch == "" {
			// A denied pod is not stored: check reports no patch for it, while
			// kube-apiserver got one from /mutate before /validate denied.
			served.Patch = ""
		}
		if !reflect.DeepEqual(normalize(want), normalize(served)) {
			note := ""
			if want.Patch != served.Patch && samePatchEffect(t, pod, want.Patch, served.Patch) {
				note = " (the patches have the same effect: their operations are in another order)"
			}
			t.Errorf("%s: check and serve differ%s\ncheck: %s\nserve: %s", where, note, dump(want), dump(served))
		}
	}
	if compared == 0 {
		t.Fatal("nothing compared")
	}
	t.Logf("%d objects compared: %d denied by PodSecurityPolicy, %d by PodSecurity, %d admitted with a patch, %d with warnings",
		compared, denied, deniedPSS, patched, warned)
}

// serveVerdict asks /mutate, applies its patch and asks /validate, as kube-apiserver does,
// and combines the two answers as described above.
func serveVerdict(t *testing.T, e *env, uid string, pod *corev1.Pod) verdict {
	t.Helper()
	apidefaults.Pod(&pod.ObjectMeta, &pod.Spec)
	obj, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	_, body := e.postJSON(t, server.PathMutate, equivalenceReview(uid+"-m", pod.Namespace, obj))
	mutate := fromResponse(decodeAdmission(t, body))
	if !mutate.Allowed {
		return mutate
	}
	if mutate.Patch != "" {
		p, err := jsonpatch.DecodePatch([]byte(mutate.Patch))
		if err != nil {
			t.Fatalf("mutate patch: %v: %s", err, mutate.Patch)
		}
		if obj, err = p.Apply(obj); err != nil {
			t.Fatalf("applying the mutate patch: %v: %s", err, mutate.Patch)
		}
	}
	_, body = e.postJSON(t, server.PathValidate, equivalenceReview(uid+"-v", pod.Namespace, obj))
	validate := fromResponse(decodeAdmission(t, body))
	out := validate
	out.Patch = mutate.Patch
	out.Warnings = append(append([]string(nil), mutate.Warnings...), validate.Warnings...)
	out.Annotations = map[string]string{}
	for k, v := range mutate.Annotations {
		out.Annotations[k] = v
	}
	for k, v := range validate.Annotations {
		if k == "validate-policy" {
			if v != mutate.Annotations["admit-policy"] {
				t.Errorf("%s: /validate re-validated against %q, /mutate admitted with %q", pod.Name, v, mutate.Annotations["admit-policy"])
			}
			continue
		}
		if old, ok := out.Annotations[k]; ok && old != v {
			t.Errorf("%s: audit annotation %s is %q from /mutate and %q from /validate", pod.Name, k, old, v)
		}
		out.Annotations[k] = v
	}
	return out
}

// samePatchEffect reports whether two JSON Patches turn pod (as defaulted and sent to
// /mutate) into the same object.
func samePatchEffect(t *testing.T, pod *corev1.Pod, a, b string) bool {
	t.Helper()
	if a == "" || b == "" {
		return false
	}
	obj, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	apply := func(patch string) any {
		p, err := jsonpatch.DecodePatch([]byte(patch))
		if err != nil {
			t.Fatalf("%v: %s", err, patch)
		}
		out, err := p.Apply(obj)
		if err != nil {
			t.Fatalf("applying %s: %v", patch, err)
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	return reflect.DeepEqual(apply(a), apply(b))
}

func equivalenceReview(uid, ns string, pod []byte) map[string]any {
	return map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": map[string]any{
		"uid": uid, "kind": map[string]string{"version": "v1", "kind": "Pod"}, "resource": map[string]string{"version": "v1", "resource": "pods"},
		"namespace": ns, "operation": string(admissionv1.Create),
		"userInfo": map[string]any{"username": checkUser, "groups": checkGroups}, "object": json.RawMessage(pod)}}
}

func normalize(v verdict) verdict {
	if len(v.Warnings) == 0 {
		v.Warnings = nil
	}
	if len(v.Annotations) == 0 {
		v.Annotations = nil
	}
	return v
}

func dump(v verdict) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// readObjects reads the documents of a file or directory in check's order (files sorted
// by name, documents in file order); each is one JSON object.
func readObjects(t *testing.T, path string) [][]byte {
	t.Helper()
	files := []string{path}
	if fi, err := os.Stat(path); err != nil {
		t.Fatal(err)
	} else if fi.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			t.Fatal(err)
		}
		files = files[:0]
		for _, en := range entries {
			files = append(files, filepath.Join(path, en.Name()))
		}
		sort.Strings(files)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split("\n"+string(b), "\n---") {
			j, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if s := strings.TrimSpace(string(j)); s == "null" || s == "" {
				continue
			}
			out = append(out, j)
		}
	}
	return out
}

// podOf returns the pod an object is (a Pod) or will create (a workload's template, named
// after it), and the JSON pointer of the template in the workload ("" for a Pod).
func podOf(t *testing.T, doc []byte) (*corev1.Pod, string) {
	t.Helper()
	var head metav1.TypeMeta
	if err := json.Unmarshal(doc, &head); err != nil {
		t.Fatal(err)
	}
	switch head.Kind {
	case "Pod":
		var p corev1.Pod
		if err := json.Unmarshal(doc, &p); err != nil {
			t.Fatal(err)
		}
		return &p, ""
	case "Deployment":
		var d appsv1.Deployment
		if err := json.Unmarshal(doc, &d); err != nil {
			t.Fatal(err)
		}
		p := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: d.Spec.Template.ObjectMeta, Spec: d.Spec.Template.Spec}
		p.Name, p.Namespace = d.Name, d.Namespace
		return p, "/spec/template"
	}
	t.Fatalf("no pod for a %s in this test", head.Kind)
	return nil, ""
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		b, err := os.ReadFile(filepath.Join(from, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, en.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// randomPod is pod i of the generated set: a random mix of the fields PodSecurityPolicy
// and the Pod Security Standards look at, in a random namespace.
func randomPod(r *mrand.Rand, i int) *corev1.Pod {
	pick := func(n int) int { return r.IntN(n) }
	boolPtr := func() *bool {
		switch pick(3) {
		case 0:
			return nil
		case 1:
			b := true
			return &b
		}
		b := false
		return &b
	}
	int64Ptr := func(vals ...int64) *int64 {
		if pick(2) == 0 {
			return nil
		}
		v := vals[pick(len(vals))]
		return &v
	}
	p := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("gen-%03d", i), Namespace: equivalenceNamespaces[pick(len(equivalenceNamespaces))]}}
	if pick(3) == 0 {
		p.Spec.ServiceAccountName = "default"
	}
	p.Spec.HostNetwork = pick(6) == 0
	p.Spec.HostPID = pick(8) == 0
	p.Spec.HostIPC = pick(10) == 0
	if pick(2) == 0 {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: boolPtr(), RunAsUser: int64Ptr(0, 1000, 65534), FSGroup: int64Ptr(0, 2000)}
		if pick(2) == 0 {
			p.Spec.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: []corev1.SeccompProfileType{corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined}[pick(2)]}
		}
	}
	volumes := []corev1.Volume{
		{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}}}},
		{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}},
	}
	for _, v := range volumes {
		if pick(4) == 0 {
			p.Spec.Volumes = append(p.Spec.Volumes, v)
		}
	}
	caps := []corev1.Capability{"NET_ADMIN", "SYS_ADMIN", "NET_BIND_SERVICE", "CHOWN", "SYS_TIME"}
	container := func(name string) corev1.Container {
		c := corev1.Container{Name: name, Image: "registry.example.com/app:1.0"}
		if pick(4) == 0 {
			c.Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: []int32{0, 8080}[pick(2)]}}
		}
		if pick(3) != 0 {
			sc := &corev1.SecurityContext{Privileged: boolPtr(), AllowPrivilegeEscalation: boolPtr(), RunAsUser: int64Ptr(0, 1000), RunAsNonRoot: boolPtr(), ReadOnlyRootFilesystem: boolPtr()}
			if pick(2) == 0 {
				sc.Capabilities = &corev1.Capabilities{}
				if pick(2) == 0 {
					sc.Capabilities.Drop = []corev1.Capability{"ALL"}
				}
				if pick(2) == 0 {
					sc.Capabilities.Add = []corev1.Capability{caps[pick(len(caps))]}
				}
			}
			if pick(4) == 0 {
				sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
			}
			c.SecurityContext = sc
		}
		for _, v := range p.Spec.Volumes {
			if pick(2) == 0 {
				c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: v.Name, MountPath: "/mnt/" + v.Name, ReadOnly: pick(2) == 0})
			}
		}
		return c
	}
	p.Spec.Containers = []corev1.Container{container("app")}
	if pick(3) == 0 {
		p.Spec.Containers = append(p.Spec.Containers, container("sidecar"))
	}
	if pick(4) == 0 {
		p.Spec.InitContainers = []corev1.Container{container("init")}
	}
	return p
}
