package upstream

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	api "k8s.io/kubernetes/pkg/apis/core"
	"k8s.io/kubernetes/plugin/pkg/admission/imagepolicy"

	"github.com/kguard/kguard/internal/admission/clusterimagepolicy"
	kimagepolicy "github.com/kguard/kguard/internal/imagepolicy"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/server"
	"github.com/kguard/kguard/internal/snapshot"
)

// recordingAttributes keeps the audit annotations the plugin adds.
type recordingAttributes struct {
	admission.Attributes
	mu          sync.Mutex
	annotations map[string]string
}

func (r *recordingAttributes) AddAnnotation(k, v string) error {
	if err := r.Attributes.AddAnnotation(k, v); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.annotations == nil {
		r.annotations = map[string]string{}
	}
	r.annotations[k] = v
	return nil
}

// kguardImageReview serves kguard's handler over TLS and returns kube-apiserver's
// ImagePolicyWebhook plugin pointed at /imagereview, with no answer cache.
func kguardImageReview(t *testing.T, defaultAllow bool) (*server.Server, *imagepolicy.Plugin) {
	t.Helper()
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kguard"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	srv, err := server.New(server.Config{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go srv.Serve(ctx, ln)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kguard
  cluster: {server: "https://%s/imagereview", certificate-authority: %q}
users:
- name: kube-apiserver
contexts:
- name: kguard
  context: {cluster: kguard, user: kube-apiserver}
current-context: kguard
`, ln.Addr(), certFile)), 0o600)
	p, err := imagepolicy.NewImagePolicyWebhook(strings.NewReader(fmt.Sprintf(`{"imagePolicy": {"kubeConfigFile": %q, "allowTTL": -1, "denyTTL": -1, "retryBackoff": 1, "defaultAllow": %v}}`, kubeconfig, defaultAllow)))
	if err != nil {
		t.Fatal(err)
	}
	return srv, p
}

const imagePolicies = `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: mirror}
spec:
  images: [{glob: "mirror.example/**"}]
  authorities: [{static: {action: pass}}]
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: quarantine}
spec:
  images: [{glob: "bad.example/**"}]
  authorities: [{static: {action: fail, message: quarantined}}]
`

func storeImagePolicies(t *testing.T, srv *server.Server, noMatch kimagepolicy.NoMatch, plugins ...string) {
	t.Helper()
	set, err := policy.Read(strings.NewReader(imagePolicies), "cips.yaml")
	if err != nil {
		t.Fatal(err)
	}
	built, err := snapshot.BuildPolicies(snapshot.Config{AdmissionPlugins: plugins,
		ImagePolicy: clusterimagepolicy.Config{AllNamespaces: true, NoMatch: noMatch}}, set)
	if err != nil {
		t.Fatal(err)
	}
	srv.Store(snapshot.Combine(built, &snapshot.Authn{}))
}

func imagePod(containers, initContainers, ephemeral []string, volumeImage string) *api.Pod {
	pod := &api.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "apps",
		Annotations: map[string]string{"alpha.image-policy.k8s.io/break-glass": "true", "other": "x"}}}
	for i, img := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, api.Container{Name: fmt.Sprintf("c%d", i), Image: img})
	}
	for i, img := range initContainers {
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, api.Container{Name: fmt.Sprintf("i%d", i), Image: img})
	}
	for i, img := range ephemeral {
		pod.Spec.EphemeralContainers = append(pod.Spec.EphemeralContainers, api.EphemeralContainer{EphemeralContainerCommon: api.EphemeralContainerCommon{Name: fmt.Sprintf("e%d", i), Image: img}})
	}
	if volumeImage != "" {
		pod.Spec.Volumes = append(pod.Spec.Volumes, api.Volume{Name: "v", VolumeSource: api.VolumeSource{Image: &api.ImageVolumeSource{Reference: volumeImage}}})
	}
	return pod
}

func validateImages(t *testing.T, p *imagepolicy.Plugin, pod *api.Pod, op admission.Operation, subresource string) (error, map[string]string) {
	t.Helper()
	rec := &recordingAttributes{Attributes: admission.NewAttributesRecord(pod, nil, api.Kind("Pod").WithVersion("version"), pod.Namespace, pod.Name,
		api.Resource("pods").WithVersion("version"), subresource, op, &metav1.CreateOptions{}, false, &user.DefaultInfo{Name: "alice"})}
	return p.Validate(context.Background(), rec, nil), rec.annotations
}

// kube-apiserver v1.37's ImagePolicyWebhook plugin (its own code, talking
// HTTPS to kguard's handler) refuses a pod with a refused image in any
// container it sends, on CREATE and UPDATE, and an ephemeral container's on
// pods/ephemeralcontainers; it reads kguard's reason and copies the audit
// annotations; a review kguard cannot decide (no policies yet, no image
// plugin) is refused even with defaultAllow: true. Image volumes are not
// sent by kube-apiserver: this plugin never sees them (docs/image-policy.md).
func TestImagePolicyWebhookAgainstKguard(t *testing.T) {
	srv, p := kguardImageReview(t, true)
	digest := "@sha256:" + strings.Repeat("1", 64)
	ok, bad := "mirror.example/app"+digest, "bad.example/app"+digest
	const prefix = "pods \"p\" is forbidden: image policy webhook backend denied one or more images: "

	if err, _ := validateImages(t, p, imagePod([]string{ok}, nil, nil, ""), admission.Create, ""); err == nil ||
		err.Error() != prefix+"kguard has not loaded its policies yet" {
		t.Fatalf("no policies loaded, defaultAllow: true: %v, want refused", err)
	}
	storeImagePolicies(t, srv, "", "ClusterImagePolicy")
	for _, tc := range []struct {
		name, sub string
		pod       *api.Pod
		op        admission.Operation
		want      string // the refusal, "" when allowed
	}{
		{"one admitted", "", imagePod([]string{ok}, nil, nil, ""), admission.Create, ""},
		{"refused second container", "", imagePod([]string{ok, bad}, nil, nil, ""), admission.Create, `image "` + bad + `" is not admitted`},
		{"refused init container", "", imagePod([]string{ok}, []string{bad}, nil, ""), admission.Create, `image "` + bad + `" is not admitted`},
		{"refused on UPDATE", "", imagePod([]string{ok, bad}, nil, nil, ""), admission.Update, `image "` + bad + `" is not admitted`},
		{"refused ephemeral container", "ephemeralcontainers", imagePod([]string{ok}, nil, []string{bad}, ""), admission.Update, `image "` + bad + `" is not admitted`},
		{"unmatched", "", imagePod([]string{"elsewhere.example/x"}, nil, nil, ""), admission.Create, `image "elsewhere.example/x" matches no ClusterImagePolicy`},
		{"refused image volume: not sent", "", imagePod([]string{ok}, nil, nil, bad), admission.Create, ""},
	} {
		err, _ := validateImages(t, p, tc.pod, tc.op, tc.sub)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want allowed", tc.name, err)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), prefix+tc.want)):
			t.Errorf("%s: %v, want %s%s…", tc.name, err, prefix, tc.want)
		}
	}

	storeImagePolicies(t, srv, kimagepolicy.NoMatchWarn, "ClusterImagePolicy")
	err, ann := validateImages(t, p, imagePod([]string{"elsewhere.example/x"}, nil, nil, ""), admission.Create, "")
	if want := `image "elsewhere.example/x" matches no ClusterImagePolicy`; err != nil || ann["imagepolicywebhook.image-policy.k8s.io/warnings"] != want {
		t.Errorf("no-match warn: %v %v, want allowed with the audit annotation imagepolicywebhook.image-policy.k8s.io/warnings=%s", err, ann, want)
	}

	storeImagePolicies(t, srv, "", "PodSecurity")
	if err, _ := validateImages(t, p, imagePod([]string{ok}, nil, nil, ""), admission.Create, ""); err == nil ||
		!strings.HasPrefix(err.Error(), prefix+"no image policy plugin is enabled in kguard") {
		t.Errorf("without ClusterImagePolicy: %v, want refused", err)
	}
}
