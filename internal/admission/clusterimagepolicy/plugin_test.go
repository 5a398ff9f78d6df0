package clusterimagepolicy

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/imagepolicy"
	"github.com/kguard/kguard/internal/policy"
)

const (
	signedDigest   = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	unsignedDigest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

// fakeRegistry: registry.example/app:signed and :unsigned, the first signed
// with key. Unit tests only; test/supplychain runs a real registry and cosign.
type fakeRegistry struct {
	sig       imagepolicy.Layer
	down      bool
	resolves  atomic.Int64
	artifacts atomic.Int64
}

func (f *fakeRegistry) Resolve(_ context.Context, ref string) (imagepolicy.Image, error) {
	f.resolves.Add(1)
	if f.down {
		return imagepolicy.Image{}, errors.New("dial tcp: connection refused")
	}
	repo, tag, _ := strings.Cut(ref, ":")
	d := map[string]string{"signed": signedDigest, "v1": signedDigest, "v2": signedDigest, "unsigned": unsignedDigest}[tag]
	if d == "" {
		return imagepolicy.Image{}, fmt.Errorf("%s: MANIFEST_UNKNOWN", ref)
	}
	return imagepolicy.Image{Ref: ref, Repository: repo, Digest: d}, nil
}

func (f *fakeRegistry) Artifacts(_ context.Context, repo, digest string, _ bool) (*imagepolicy.Artifacts, error) {
	f.artifacts.Add(1)
	if f.down {
		return nil, errors.New("dial tcp: connection refused")
	}
	if digest == signedDigest {
		return &imagepolicy.Artifacts{Signatures: []imagepolicy.Layer{f.sig}}, nil
	}
	return &imagepolicy.Artifacts{}, nil
}

// lastInputs are what setup built the plugin from (for a chain of it).
var lastInputs admission.Inputs

func setup(t *testing.T, cfg Config, mode string) (admission.Plugin, *fakeRegistry) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := cryptoutils.MarshalPublicKeyToPEM(k.Public())
	payload := []byte(`{"critical":{"identity":{"docker-reference":"registry.example/app"},"image":{"docker-manifest-digest":"` + signedDigest + `"},"type":"cosign container image signature"},"optional":null}`)
	s, _ := signature.LoadECDSASigner(k, crypto.SHA256)
	sig, err := s.SignMessage(strings.NewReader(string(payload)))
	if err != nil {
		t.Fatal(err)
	}
	reg := &fakeRegistry{sig: imagepolicy.Layer{Payload: payload, Annotations: map[string]string{"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig)}}}
	cip := &imagepolicy.ClusterImagePolicy{}
	doc := `{metadata: {name: signed-images}, spec: {mode: "` + mode + `", images: [{glob: "registry.example/**"}], authorities: [{name: key-0, key: {data: "` + strings.ReplaceAll(string(pub), "\n", `\n`) + `"}}]}}`
	if err := yaml.UnmarshalStrict([]byte(doc), cip); err != nil {
		t.Fatal(err)
	}
	set := &policy.Set{ClusterImagePolicies: []*imagepolicy.ClusterImagePolicy{cip},
		Namespaces: []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "in", Labels: map[string]string{IncludeLabel: "true"}}}, {ObjectMeta: metav1.ObjectMeta{Name: "out"}}}}
	cfg.Registry = reg
	lastInputs = admission.Inputs{Policies: set, Config: cfg}
	p, err := newPlugin(lastInputs)
	if err != nil {
		t.Fatal(err)
	}
	return p, reg
}

func pod(images ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "in"}}
	for i, img := range images {
		c := corev1.Container{Name: fmt.Sprintf("c%d", i), Image: img}
		if i == 0 {
			p.Spec.InitContainers = append(p.Spec.InitContainers, c)
		} else {
			p.Spec.Containers = append(p.Spec.Containers, c)
		}
	}
	return p
}

func TestPinsVerifiedImages(t *testing.T) {
	p, reg := setup(t, Config{}, "")
	m := p.(admission.Mutator)
	in := pod("registry.example/app:signed", "registry.example/app:signed", "registry.example/app@"+signedDigest)
	d := m.Mutate(context.Background(), &admission.Request{Namespace: "in", Operation: admissionv1.Create}, in)
	if d.Denied || d.Pod == nil {
		t.Fatalf("denied=%v %s, pod=%v", d.Denied, d.Reason, d.Pod)
	}
	want := "registry.example/app@" + signedDigest
	for _, c := range append(d.Pod.Spec.InitContainers, d.Pod.Spec.Containers...) {
		if c.Image != want {
			t.Errorf("container %s: image %q, want %q", c.Name, c.Image, want)
		}
	}
	if in.Spec.Containers[0].Image != "registry.example/app:signed" {
		t.Error("the pod given was changed in place")
	}
	// The digest reference needs no resolution; the tag is resolved once.
	if n := reg.resolves.Load(); n != 1 {
		t.Errorf("%d resolutions, want 1", n)
	}
	// Cached: another pod with the same images reads the registry no more.
	before := reg.artifacts.Load()
	if d := m.Mutate(context.Background(), &admission.Request{Namespace: "in"}, pod("registry.example/app:signed")); d.Denied {
		t.Fatal(d.Reason)
	}
	if reg.artifacts.Load() != before || reg.resolves.Load() != 1 {
		t.Errorf("cache missed: %d artifact reads, %d resolutions", reg.artifacts.Load(), reg.resolves.Load())
	}
	// The validating pass accepts the pinned pod, from the cache: a
	// policy's verdict is the digest's, whatever reference names it.
	reads := reg.artifacts.Load()
	if d := p.(admission.Validator).Validate(context.Background(), &admission.Request{Namespace: "in"}, d.Pod); d.Denied {
		t.Fatal(d.Reason)
	}
	if reg.artifacts.Load() != reads {
		t.Error("the pinned reference was verified again instead of from the cache")
	}
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, ns, mode string
		cfg            Config
		images         []string
		down           bool
		denied         string // "" admitted
		warning        string
	}{
		{name: "unsigned", ns: "in", images: []string{"registry.example/app:unsigned"},
			denied: `image "registry.example/app:unsigned" is not admitted by ClusterImagePolicy "signed-images": no signature verified by authority "key-0": the image has no signatures`},
		{name: "one unsigned of two", ns: "in", images: []string{"registry.example/app:signed", "registry.example/app:unsigned"}, denied: "registry.example/app:unsigned"},
		{name: "warn mode", ns: "in", mode: "warn", images: []string{"registry.example/app:unsigned"}, warning: `image "registry.example/app:unsigned" is not admitted by ClusterImagePolicy "signed-images"`},
		{name: "registry down", ns: "in", images: []string{"registry.example/app:signed"}, down: true, denied: `image "registry.example/app:signed" is not admitted: resolving its tag to a digest: dial tcp: connection refused`},
		{name: "registry down, digest given", ns: "in", images: []string{"registry.example/app@" + signedDigest}, down: true, denied: "reading signatures from registry.example/app: dial tcp: connection refused"},
		{name: "no match denied", ns: "in", images: []string{"docker.io/library/nginx:1"}, denied: `image "docker.io/library/nginx:1" matches no ClusterImagePolicy`},
		{name: "no match warned", ns: "in", cfg: Config{NoMatch: imagepolicy.NoMatchWarn}, images: []string{"nginx"}, warning: `image "nginx" matches no ClusterImagePolicy`},
		{name: "no match allowed", ns: "in", cfg: Config{NoMatch: imagepolicy.NoMatchAllow}, images: []string{"nginx"}},
		{name: "namespace not included", ns: "out", images: []string{"registry.example/app:unsigned"}},
		{name: "all namespaces", ns: "out", cfg: Config{AllNamespaces: true}, images: []string{"registry.example/app:unsigned"}, denied: "no signature verified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, reg := setup(t, tc.cfg, tc.mode)
			reg.down = tc.down
			for _, phase := range []string{"mutate", "validate"} {
				pd := pod(tc.images...)
				var d admission.Decision
				if phase == "mutate" {
					d = p.(admission.Mutator).Mutate(context.Background(), &admission.Request{Namespace: tc.ns}, pd)
				} else {
					d = p.(admission.Validator).Validate(context.Background(), &admission.Request{Namespace: tc.ns}, pd)
				}
				if d.Denied != (tc.denied != "") || !strings.Contains(d.Reason, tc.denied) {
					t.Fatalf("%s: denied=%v %q, want denial containing %q", phase, d.Denied, d.Reason, tc.denied)
				}
				if tc.warning != "" && (len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], tc.warning)) {
					t.Fatalf("%s: warnings %q, want %q", phase, d.Warnings, tc.warning)
				}
				if tc.denied != "" && d.Pod != nil {
					t.Fatalf("%s: a denied pod was mutated", phase)
				}
			}
		})
	}
}

// A verdict that failed because the registry could not be read is not
// cached: once the registry is back, the image is admitted.
func TestRegistryErrorsAreNotCached(t *testing.T) {
	p, reg := setup(t, Config{}, "")
	v := p.(admission.Validator)
	pd := pod("registry.example/app@" + signedDigest)
	reg.down = true
	if d := v.Validate(context.Background(), &admission.Request{Namespace: "in"}, pd); !d.Denied {
		t.Fatal("admitted while the registry is down")
	}
	reg.down = false
	if d := v.Validate(context.Background(), &admission.Request{Namespace: "in"}, pd); d.Denied {
		t.Fatalf("still denied once the registry is back: %s", d.Reason)
	}
}

// Images that every matching policy passes statically need no registry:
// admitted as written, not pinned.
func TestStaticPassNeedsNoRegistry(t *testing.T) {
	cip := &imagepolicy.ClusterImagePolicy{}
	if err := yaml.UnmarshalStrict([]byte(`{metadata: {name: mirror}, spec: {images: [{glob: "mirror.example/**"}], authorities: [{static: {action: pass}}]}}`), cip); err != nil {
		t.Fatal(err)
	}
	reg := &fakeRegistry{down: true}
	p, err := newPlugin(admission.Inputs{Policies: &policy.Set{ClusterImagePolicies: []*imagepolicy.ClusterImagePolicy{cip}}, Config: Config{Registry: reg, AllNamespaces: true}})
	if err != nil {
		t.Fatal(err)
	}
	d := p.(admission.Mutator).Mutate(context.Background(), &admission.Request{Namespace: "x"}, pod("mirror.example/app:v1"))
	if d.Denied || d.Pod != nil || reg.resolves.Load() != 0 || reg.artifacts.Load() != 0 {
		t.Fatalf("denied=%v %s, pinned=%v, %d resolutions, %d reads", d.Denied, d.Reason, d.Pod != nil, reg.resolves.Load(), reg.artifacts.Load())
	}
}

// Compile takes secretRef keys from the Secrets of kguard's namespace only.
func TestCompileReadsKeySecrets(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := cryptoutils.MarshalPublicKeyToPEM(k.Public())
	cip := &imagepolicy.ClusterImagePolicy{}
	if err := yaml.UnmarshalStrict([]byte(`{metadata: {name: p}, spec: {images: [{glob: "**"}], authorities: [{key: {secretRef: {name: team-key}}}]}}`), cip); err != nil {
		t.Fatal(err)
	}
	secret := func(ns string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "team-key", Namespace: ns}, Data: map[string][]byte{"cosign.pub": pub}}
	}
	set := &policy.Set{ClusterImagePolicies: []*imagepolicy.ClusterImagePolicy{cip}, Secrets: []*corev1.Secret{secret("kguard")}}
	if _, err := Compile(set, Config{}); err != nil {
		t.Fatalf("the key Secret in kguard's namespace: %v", err)
	}
	set.Secrets = []*corev1.Secret{secret("tenant")}
	if _, err := Compile(set, Config{}); err == nil || !strings.Contains(err.Error(), `Not found: "kguard/team-key"`) {
		t.Fatalf("a Secret of another namespace must not be read: %v", err)
	}
	if _, err := Compile(set, Config{SecretNamespace: "tenant"}); err != nil {
		t.Fatalf("--image-policy-secret-namespace tenant: %v", err)
	}
}

// A Deployment's template is pinned in the mutating pass (the review's JSON
// Patch), refused there when unsigned, and other kinds are let through.
func TestTemplatesPinnedThroughTheChain(t *testing.T) {
	setup(t, Config{}, "")
	in := lastInputs
	chain, err := admission.NewChain([]string{PluginName}, admission.Inputs{Policies: in.Policies}, map[string]any{PluginName: in.Config})
	if err != nil {
		t.Fatal(err)
	}
	review := func(image string) []byte {
		return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",
"kind":{"group":"apps","version":"v1","kind":"Deployment"},"resource":{"group":"apps","version":"v1","resource":"deployments"},
"namespace":"in","name":"web","operation":"CREATE","userInfo":{"username":"alice"},
"object":{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"in"},"spec":{"selector":{"matchLabels":{"a":"b"}},
"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"` + image + `"}]}}}}}}`)
	}
	out, err := chain.Review(context.Background(), review("registry.example/app:signed"), admission.PhaseMutate)
	if err != nil {
		t.Fatal(err)
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(out, &ar); err != nil {
		t.Fatal(err)
	}
	want := `{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"registry.example/app@` + signedDigest + `"}`
	if !ar.Response.Allowed || !strings.Contains(string(ar.Response.Patch), want) {
		t.Fatalf("allowed=%v patch %s, want %s", ar.Response.Allowed, ar.Response.Patch, want)
	}
	out, _ = chain.Review(context.Background(), review("registry.example/app:unsigned"), admission.PhaseMutate)
	ar = admissionv1.AdmissionReview{}
	json.Unmarshal(out, &ar)
	if ar.Response.Allowed || !strings.Contains(ar.Response.Result.Message, `deployments.apps "web" is forbidden: image "registry.example/app:unsigned" is not admitted`) {
		t.Fatalf("unsigned template: %s", out)
	}
}

type recordingSecrets struct{ read []string }

func (r *recordingSecrets) GetSecret(_ context.Context, namespace, name string) (*corev1.Secret, error) {
	r.read = append(r.read, namespace+"/"+name)
	if name == "missing" {
		return nil, errors.New("not found")
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, ResourceVersion: "1"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"registry.example":{"username":"u","password":"p"}}}`)}}, nil
}

// The registry calls for a pod's images carry its pull Secrets: its own
// imagePullSecrets, then its ServiceAccount's; one that cannot be read is
// left out, as the kubelet leaves it out.
func TestPullSecretsAreRead(t *testing.T) {
	secrets := &recordingSecrets{}
	p, _ := setup(t, Config{PullSecrets: secrets}, "")
	in := lastInputs
	in.Policies.ServiceAccounts = []*corev1.ServiceAccount{{ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "in"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "sa-cred"}, {Name: "pod-cred"}}}}
	p, err := newPlugin(in)
	if err != nil {
		t.Fatal(err)
	}
	pd := pod("registry.example/app:signed")
	pd.Spec.ServiceAccountName = "builder"
	pd.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "pod-cred"}, {Name: "missing"}}
	if d := p.(admission.Mutator).Mutate(context.Background(), &admission.Request{Namespace: "in"}, pd); d.Denied {
		t.Fatal(d.Reason)
	}
	if got := strings.Join(secrets.read, ","); got != "in/pod-cred,in/missing,in/sa-cred" {
		t.Fatalf("read %s, want the pod's pull Secrets then its ServiceAccount's, each once", got)
	}
}
