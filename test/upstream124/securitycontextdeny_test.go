package upstream124

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	_ "k8s.io/kubernetes/pkg/apis/apps/install" // v1 defaults and conversions of Deployments
	_ "k8s.io/kubernetes/pkg/apis/core/install" // v1 defaults and conversions of Pods
	"k8s.io/kubernetes/plugin/pkg/admission/securitycontext/scdeny"
)

// The SecurityContextDeny differential: random requests, each answered by
// v1.24's in-tree plugin (plugin/pkg/admission/securitycontext/scdeny, its
// Validate on the internal objects, called as kube-apiserver's admission
// chain calls it: only for the operations its Handler handles) and by kguard's
// webhook: `kguard serve --enable-admission-plugins SecurityContextDeny`, run
// from kguard's own module (kguard's admission chain does not build against
// k8s.io/api v0.24, which this module pins), answering AdmissionReviews over
// HTTPS on /validate and /mutate.
//
// Both sides see one request as kube-apiserver v1.24 handles it: the body a
// client sends is decoded, defaulted and converted to the internal version
// (the in-tree plugin's object); a webhook is sent that object converted back
// to v1 and encoded in JSON.
//
// Compared: allowed or not, and the denial's message and status (upstream's
// Forbidden StatusError, which kube-apiserver returns as it is, and kguard's
// webhook status, which kube-apiserver prefixes with `admission webhook ...
// denied the request: `). The /mutate pass must allow without a patch.

// scServer is a running `kguard serve`.
type scServer struct {
	url    string
	client *http.Client
}

var (
	scOnce   sync.Once
	scShared *scServer
	scErr    error
	scStop   func()
)

// TestMain stops the kguard server a test started, if any.
func TestMain(m *testing.M) {
	code := m.Run()
	if scStop != nil {
		scStop()
	}
	os.Exit(code)
}

// kguardServe builds kguard from the repository's module and serves the
// webhooks with SecurityContextDeny alone; one server for the test binary.
func kguardServe(t *testing.T) *scServer {
	t.Helper()
	scOnce.Do(func() { scShared, scStop, scErr = startKguardServe() })
	if scErr != nil {
		t.Fatal(scErr)
	}
	return scShared
}

func startKguardServe() (*scServer, func(), error) {
	dir, err := os.MkdirTemp("", "kguard-scdeny-")
	if err != nil {
		return nil, nil, err
	}
	bin := filepath.Join(dir, "kguard")
	build := exec.Command("go", "build", "-o", bin, "./cmd/kguard")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("building kguard: %v\n%s", err, out)
	}
	certPEM, keyPEM, pool, err := selfSigned()
	if err != nil {
		return nil, nil, err
	}
	certFile, keyFile, policies := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "policies")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.Mkdir(policies, 0o700); err != nil {
		return nil, nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0") // a free port for kguard
	if err != nil {
		return nil, nil, err
	}
	addr := l.Addr().String()
	l.Close()
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", "--listen-address", addr, "--tls-cert-file", certFile, "--tls-private-key-file", keyFile,
		"--policy-dir", policies, "--enable-admission-plugins", "SecurityContextDeny", "--shutdown-delay", "0", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
	}
	s := &scServer{url: "https://" + addr, client: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 4}}}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := s.client.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("kguard serve is not ready (%v):\n%s", err, logs.String())
		}
	}
}

// selfSigned is a serving certificate for 127.0.0.1 and the pool trusting it.
func selfSigned() (certPEM, keyPEM []byte, pool *x509.CertPool, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kguard"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), pool, nil
}

// review posts the request to kguard's endpoint (/validate or /mutate).
func (s *scServer) review(t *testing.T, endpoint string, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	t.Helper()
	body, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.client.Post(s.url+endpoint, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var review admissionv1.AdmissionReview
	if resp.StatusCode != http.StatusOK || json.Unmarshal(out, &review) != nil || review.Response == nil || review.Response.UID != req.UID {
		t.Fatalf("kguard %s: HTTP %d: %s\nfor %s", endpoint, resp.StatusCode, out, body)
	}
	return review.Response
}

// scGen draws pods with random pod- and container-level security contexts.
type scGen struct{ gen }

var scIDs = []int64{0, 1, 1000, 65534}

func (g scGen) id() *int64 { v := scIDs[g.n(len(scIDs))]; return &v }

func (g scGen) seLinux() *corev1.SELinuxOptions {
	return []*corev1.SELinuxOptions{{}, {Level: "s0:c1,c2"}, {User: "system_u", Role: "system_r", Type: "container_t"}}[g.n(3)]
}

// podSecurityContext sets each field with probability about 1/5, so that a
// fair share of pods sets none of the forbidden ones.
func (g scGen) podSecurityContext() *corev1.PodSecurityContext {
	if g.one(4) {
		return nil
	}
	sc := &corev1.PodSecurityContext{}
	if g.one(6) {
		sc.SupplementalGroups = [][]int64{{1000}, {0, 5}}[g.n(2)]
	}
	if g.one(6) {
		sc.SELinuxOptions = g.seLinux()
	}
	if g.one(6) {
		sc.RunAsUser = g.id()
	}
	if g.one(6) {
		sc.FSGroup = g.id()
	}
	if g.one(4) {
		sc.RunAsGroup = g.id()
	}
	if g.one(4) {
		sc.RunAsNonRoot = g.optBool()
	}
	if g.one(6) {
		p := []corev1.PodFSGroupChangePolicy{corev1.FSGroupChangeAlways, corev1.FSGroupChangeOnRootMismatch}[g.n(2)]
		sc.FSGroupChangePolicy = &p
	}
	if g.one(6) {
		sc.Sysctls = []corev1.Sysctl{{Name: "net.core.somaxconn", Value: "1024"}}
	}
	if g.one(6) {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	if g.one(8) {
		sc.WindowsOptions = &corev1.WindowsSecurityContextOptions{RunAsUserName: ptrString("ContainerUser")}
	}
	return sc
}

func (g scGen) containerSecurityContext() *corev1.SecurityContext {
	if g.one(3) {
		return nil
	}
	sc := &corev1.SecurityContext{}
	if g.one(8) {
		sc.SELinuxOptions = g.seLinux()
	}
	if g.one(8) {
		sc.RunAsUser = g.id()
	}
	if g.one(4) {
		sc.RunAsGroup = g.id()
	}
	if g.one(4) {
		sc.RunAsNonRoot = g.optBool()
	}
	if g.one(5) {
		sc.Privileged = g.optBool()
	}
	if g.one(5) {
		sc.AllowPrivilegeEscalation = g.optBool()
	}
	if g.one(5) {
		sc.ReadOnlyRootFilesystem = g.optBool()
	}
	if g.one(5) {
		sc.Capabilities = &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}}
	}
	if g.one(6) {
		pm := corev1.DefaultProcMount
		sc.ProcMount = &pm
	}
	if g.one(6) {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
	}
	if g.one(8) {
		sc.WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: ptrBool(false)}
	}
	return sc
}

func ptrString(s string) *string { return &s }

func (g scGen) container(name string) corev1.Container {
	return corev1.Container{Name: name, Image: "nginx:1", SecurityContext: g.containerSecurityContext()}
}

// pod is a random pod: 0–2 init containers, 1–3 containers, 0–2 ephemeral
// containers (which upstream never looks at), random security contexts.
func (g scGen) pod() *corev1.Pod {
	p := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns}}
	p.Spec.SecurityContext = g.podSecurityContext()
	for i := range g.n(3) {
		p.Spec.InitContainers = append(p.Spec.InitContainers, g.container(fmt.Sprintf("init%d", i)))
	}
	for i := range 1 + g.n(3) {
		p.Spec.Containers = append(p.Spec.Containers, g.container(fmt.Sprintf("c%d", i)))
	}
	if g.one(3) {
		for i := range 1 + g.n(2) {
			c := g.container(fmt.Sprintf("debug%d", i))
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(c)})
		}
	}
	return p
}

// updated is old with new security contexts for the pod or some containers.
func (g scGen) updated(old *corev1.Pod) *corev1.Pod {
	p := old.DeepCopy()
	for range 1 + g.n(2) {
		switch g.n(4) {
		case 0:
			p.Spec.SecurityContext = g.podSecurityContext()
		case 1:
			p.Spec.Containers[g.n(len(p.Spec.Containers))].SecurityContext = g.containerSecurityContext()
		case 2:
			if len(p.Spec.InitContainers) > 0 {
				p.Spec.InitContainers[0].SecurityContext = g.containerSecurityContext()
			}
		default:
			c := g.container(fmt.Sprintf("debug%d", len(p.Spec.EphemeralContainers)))
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(c)})
		}
	}
	return p
}

// scRequest is one request: what the client sent (body, oldBody: the
// stored object's JSON) and where.
type scRequest struct {
	op                 admissionv1.Operation
	subresource        string
	kind               schema.GroupVersionKind
	resource           schema.GroupVersionResource
	name               string // the request's name ("" for a CREATE with generateName)
	body, oldBody      []byte
	emptySupplementary bool // body sets "supplementalGroups": [] (omitted by json.Marshal of the Go type)
}

func (r scRequest) String() string {
	return fmt.Sprintf("%s %s/%s (kind %s) subresource=%q name=%q\nbody:    %s\noldBody: %s",
		r.op, r.resource.Group, r.resource.Resource, r.kind.Kind, r.subresource, r.name, r.body, r.oldBody)
}

// body is the JSON a client sends for obj; with emptyGroups it writes the
// pod's (or template's) spec.securityContext.supplementalGroups as [],
// which the Go type cannot express once encoded (omitempty).
func clientBody(t *testing.T, obj runtime.Object, emptyGroups bool) []byte {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	if !emptyGroups {
		return b
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	spec := m["spec"].(map[string]any)
	if tmpl, ok := spec["template"].(map[string]any); ok {
		spec = tmpl["spec"].(map[string]any)
	}
	sc, _ := spec["securityContext"].(map[string]any)
	if sc == nil {
		sc = map[string]any{}
		spec["securityContext"] = sc
	}
	sc["supplementalGroups"] = []any{}
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	return b
}

func (g scGen) request(t *testing.T) scRequest {
	r := scRequest{kind: schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, resource: schema.GroupVersionResource{Version: "v1", Resource: "pods"}}
	pod := g.pod()
	r.name = pod.Name
	// Now and then a pod whose client wrote "supplementalGroups": [].
	if g.one(25) && (pod.Spec.SecurityContext == nil || pod.Spec.SecurityContext.SupplementalGroups == nil) {
		r.emptySupplementary = true
	}
	switch k := g.n(20); {
	case k < 8:
		r.op = admissionv1.Create
		if g.one(5) { // generateName: the request names nothing; the object carries the generated name
			r.name, pod.GenerateName, pod.Name = "", "p-", "p-x7k2q"
		}
		r.body = clientBody(t, pod, r.emptySupplementary)
	case k < 16:
		r.op = admissionv1.Update
		r.oldBody = clientBody(t, pod, false)
		r.body = clientBody(t, g.updated(pod), r.emptySupplementary)
	case k < 17:
		r.op = admissionv1.Delete
		r.oldBody = clientBody(t, pod, false)
	case k < 18:
		r.op, r.subresource = admissionv1.Update, []string{"ephemeralcontainers", "status", "resize", "foo"}[g.n(4)]
		r.oldBody = clientBody(t, pod, false)
		r.body = clientBody(t, g.updated(pod), r.emptySupplementary)
	default:
		r.op = []admissionv1.Operation{admissionv1.Create, admissionv1.Update}[g.n(2)]
		var obj, old runtime.Object
		switch g.n(3) {
		case 0:
			r.kind = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
			r.resource = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
			d := func(p *corev1.Pod) *appsv1.Deployment {
				return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
					ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
					Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
						Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: p.Spec}}}
			}
			obj, old = d(g.updated(pod)), d(pod)
		case 1:
			r.kind = schema.GroupVersionKind{Version: "v1", Kind: "PodTemplate"}
			r.resource = schema.GroupVersionResource{Version: "v1", Resource: "podtemplates"}
			pt := func(p *corev1.Pod) *corev1.PodTemplate {
				return &corev1.PodTemplate{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodTemplate"},
					ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Template: corev1.PodTemplateSpec{Spec: p.Spec}}
			}
			obj, old = pt(g.updated(pod)), pt(pod)
			r.emptySupplementary = false // clientBody writes it under spec only
		default: // a custom resource named pods, shaped like a Pod
			r.kind = schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Pod"}
			r.resource = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "pods"}
			up := g.updated(pod)
			up.APIVersion, pod.APIVersion = "example.com/v1", "example.com/v1"
			obj, old = up, pod
		}
		r.name = obj.(metav1.Object).GetName()
		r.body = clientBody(t, obj, r.emptySupplementary)
		if r.op == admissionv1.Update {
			r.oldBody = clientBody(t, old, false)
		}
	}
	return r
}

// apiserverObjects is what kube-apiserver v1.24 makes of a body: the
// internal object its in-tree plugins see (decoded by its codec, defaulted,
// converted; Unstructured for a custom resource), and the v1 JSON a webhook
// is sent (that object converted back to the request's version).
func apiserverObjects(t *testing.T, r scRequest, body []byte) (runtime.Object, []byte) {
	t.Helper()
	if body == nil {
		return nil, nil
	}
	if r.kind.Group == "example.com" {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(body); err != nil {
			t.Fatal(err)
		}
		return u, body
	}
	internalGV := schema.GroupVersion{Group: r.kind.Group, Version: runtime.APIVersionInternal}
	obj, gvk, err := legacyscheme.Codecs.UniversalDecoder(internalGV).Decode(body, nil, nil)
	if err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	if gvk.Kind != r.kind.Kind {
		t.Fatalf("decoded a %v", gvk)
	}
	versioned, err := legacyscheme.Scheme.ConvertToVersion(obj.DeepCopyObject(), r.kind.GroupVersion())
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(versioned)
	if err != nil {
		t.Fatal(err)
	}
	return obj, out
}

var scUser = &user.DefaultInfo{Name: "alice", Groups: []string{user.AllAuthenticated}}

// scUpstream is kube-apiserver's validating admission calling the plugin:
// only for the operations its Handler handles.
func scUpstream(plugin *scdeny.Plugin, r scRequest, obj, old runtime.Object) error {
	op := admission.Operation(r.op)
	if !plugin.Handles(op) {
		return nil
	}
	var opts runtime.Object = &metav1.CreateOptions{}
	if r.op == admissionv1.Update {
		opts = &metav1.UpdateOptions{}
	}
	attrs := admission.NewAttributesRecord(obj, old, r.kind, ns, r.name, r.resource, r.subresource, op, opts, false, scUser)
	return plugin.Validate(context.Background(), attrs, nil)
}

func ptrTo[T any](v T) *T { return &v }

// compareSecurityContextDeny runs one request through both sides; problem is
// "" when they agree. denied is upstream's answer.
func compareSecurityContextDeny(t *testing.T, s *scServer, plugin *scdeny.Plugin, r scRequest, uid int) (denied bool, problem string) {
	t.Helper()
	obj, objJSON := apiserverObjects(t, r, r.body)
	old, oldJSON := apiserverObjects(t, r, r.oldBody)
	upErr := scUpstream(plugin, r, obj, old)
	req := &admissionv1.AdmissionRequest{Kind: metav1.GroupVersionKind(r.kind), Resource: metav1.GroupVersionResource(r.resource),
		SubResource: r.subresource, RequestKind: ptrTo(metav1.GroupVersionKind(r.kind)), RequestResource: ptrTo(metav1.GroupVersionResource(r.resource)),
		RequestSubResource: r.subresource, Name: r.name, Namespace: ns, Operation: r.op,
		UserInfo: authenticationv1.UserInfo{Username: scUser.Name, Groups: scUser.Groups}, DryRun: ptrTo(false)}
	req.Object.Raw, req.OldObject.Raw = objJSON, oldJSON
	req.UID = reviewUID(uid, "m")
	if m := s.review(t, "/mutate", req); !m.Allowed || len(m.Patch) != 0 {
		return upErr != nil, fmt.Sprintf("/mutate: allowed=%v patch=%s result=%+v", m.Allowed, m.Patch, m.Result)
	}
	req.UID = reviewUID(uid, "v")
	resp := s.review(t, "/validate", req)
	if upErr == nil {
		if !resp.Allowed {
			return false, fmt.Sprintf("upstream allows, kguard denies: %q", resp.Result.Message)
		}
		return false, ""
	}
	var se *apierrors.StatusError
	if !errors.As(upErr, &se) {
		return true, fmt.Sprintf("upstream's error is no StatusError: %v", upErr)
	}
	if resp.Allowed {
		return true, fmt.Sprintf("upstream denies (%q), kguard allows", upErr.Error())
	}
	want := se.Status()
	if got := resp.Result; got.Message != want.Message || got.Code != want.Code || got.Reason != want.Reason {
		return true, fmt.Sprintf("denials differ:\nupstream %d %s %q\nkguard   %d %s %q", want.Code, want.Reason, want.Message, got.Code, got.Reason, got.Message)
	}
	return true, ""
}

// emptyGroupsClass is the one difference found, inherent to webhooks: see
// TestSecurityContextDenyEmptySupplementalGroups.
const emptyGroupsClass = `"supplementalGroups": [] in the body`

// webhookView is r as a webhook sees it: the body kube-apiserver sends
// (an empty supplementalGroups list is not written), which the in-tree
// plugin is then asked about too.
func webhookView(t *testing.T, r scRequest) scRequest {
	t.Helper()
	_, sent := apiserverObjects(t, r, r.body)
	r.body, r.emptySupplementary = sent, false
	return r
}

func reviewUID(i int, pass string) types.UID { return types.UID(fmt.Sprintf("%d-%s", i, pass)) }

// TestSecurityContextDenyMatchesUpstream124 is the differential on random
// requests.
func TestSecurityContextDenyMatchesUpstream124(t *testing.T) {
	start := time.Now()
	s := kguardServe(t)
	built := time.Since(start)
	g := scGen{gen{mathrand.New(mathrand.NewPCG(124, 7))}}
	plugin := scdeny.NewSecurityContextDeny()
	const n = 6000
	disagreements, denied, emptyGroups := 0, 0, 0
	byKind := map[string]int{}
	messages := map[string]int{}
	classes := map[string]int{} // disagreements by class
	for i := range n {
		r := g.request(t)
		key := string(r.op) + " " + r.resource.GroupResource().String()
		if r.subresource != "" {
			key += "/" + r.subresource
		}
		byKind[key]++
		if r.emptySupplementary {
			emptyGroups++
			// The in-tree plugin refuses the [] the webhook is never sent:
			// count those, and hold kguard to upstream on what it is sent.
			if _, problem := compareSecurityContextDeny(t, s, plugin, r, i); problem != "" {
				classes[emptyGroupsClass]++
			}
			r = webhookView(t, r)
		}
		d, problem := compareSecurityContextDeny(t, s, plugin, r, i)
		if problem != "" {
			disagreements++
			class := "other"
			if classes[class]++; classes[class] <= 3 {
				t.Errorf("case %d (%s): %s\n%s", i, class, problem, r)
			}
			continue
		}
		if d {
			denied++
			obj, _ := apiserverObjects(t, r, r.body)
			msg := scUpstream(plugin, r, obj, nil).Error()
			messages[msg[strings.Index(msg, " is forbidden: ")+len(" is forbidden: "):]]++
		}
	}
	if disagreements > 0 {
		t.Errorf("%d of %d requests disagree, by class: %v", disagreements, n, classes)
	}
	if classes[emptyGroupsClass] == 0 {
		t.Errorf("no request reached the %s difference: the generator misses it", emptyGroupsClass)
	}
	t.Logf("%d requests differ only by the %s the webhook is never sent (answered as upstream answers the object sent)", classes[emptyGroupsClass], emptyGroupsClass)
	t.Logf("%d random requests in %v (kguard built and serving in %v; %v): %d denied by upstream (%v), %d with \"supplementalGroups\": [] in the body",
		n, time.Since(start).Round(time.Millisecond), built.Round(time.Millisecond), byKind, denied, messages, emptyGroups)
	if denied < n/5 || n-denied < n/5 || len(messages) < 6 || emptyGroups < n/100 {
		t.Errorf("the generator covers too little: %d denied of %d, %d messages", denied, n, len(messages))
	}
}

// TestSecurityContextDenyEmptySupplementalGroups is the minimal case of the
// disagreement the random test finds. A client sends a pod with
// "securityContext": {"supplementalGroups": []}. kube-apiserver v1.24 decodes
// it to an empty, non-nil slice, which conversion to the internal version
// keeps, and the in-tree plugin refuses it: its test is
// `pod.Spec.SecurityContext.SupplementalGroups != nil`
// (k8s.io/kubernetes@v1.24.17/plugin/pkg/admission/securitycontext/scdeny/admission.go,
// Validate). A webhook is sent the object encoded in v1 JSON, where
// supplementalGroups is `json:"supplementalGroups,omitempty"`
// (k8s.io/api@v0.24.17/core/v1/types.go, PodSecurityContext): the empty list
// is not written, and kguard's webhook, seeing no field, admits the pod (or,
// when the pod also sets a field upstream tests later, names that one).
// `kguard check` on the same manifest reads the [] and denies, as upstream.
// No webhook can do better; the test holds kguard's webhook to upstream's
// answer on the object it is sent, and shows that upstream's answer on the
// client's body differs (README.md, the SecurityContextDeny row).
func TestSecurityContextDenyEmptySupplementalGroups(t *testing.T) {
	s := kguardServe(t)
	plugin := scdeny.NewSecurityContextDeny()
	for i, body := range []string{
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns"},"spec":{"securityContext":{"supplementalGroups":[]},"containers":[{"name":"c","image":"nginx:1"}]}}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns"},"spec":{"securityContext":{"supplementalGroups":[],"runAsUser":1000},"containers":[{"name":"c","image":"nginx:1"}]}}`,
	} {
		r := scRequest{op: admissionv1.Create, kind: schema.GroupVersionKind{Version: "v1", Kind: "Pod"},
			resource: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, name: "p", body: []byte(body), emptySupplementary: true}
		obj, sent := apiserverObjects(t, r, r.body)
		if strings.Contains(string(sent), "supplementalGroups") {
			t.Fatalf("the webhook is sent the field: %s", sent)
		}
		t.Logf("client's body: %s\nthe webhook's object: %s", body, sent)
		t.Logf("upstream: %v", scUpstream(plugin, r, obj, nil))
		if _, problem := compareSecurityContextDeny(t, s, plugin, r, 1_000_000+i); problem == "" {
			t.Errorf("case %d: kguard's webhook answers the client's body as the in-tree plugin does, though it is not sent the []", i)
		}
		if _, problem := compareSecurityContextDeny(t, s, plugin, webhookView(t, r), 2_000_000+i); problem != "" {
			t.Errorf("case %d, the object the webhook is sent: %s", i, problem)
		}
	}
}
