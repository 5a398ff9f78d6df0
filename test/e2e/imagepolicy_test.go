//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pushImage pushes a new random image to the suite's registry as
// repo:tag and returns its digest.
func pushImage(t *testing.T, repoTag string) string {
	t.Helper()
	ca, err := os.ReadFile(kg.registry["KGUARD_REGISTRY_CA"])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	ref, err := name.ParseReference(kg.registry["KGUARD_REGISTRY"] + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithTransport(tr)); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// cosign runs the real cosign CLI against the suite's registry.
func cosign(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(kg.registry["COSIGN"], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=", "SSL_CERT_FILE="+kg.registry["KGUARD_REGISTRY_CA"])
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func registryScript(t *testing.T, verb string) {
	t.Helper()
	if out, err := exec.Command("bash", "../../hack/supply-chain.sh", verb, kg.registryDir).CombinedOutput(); err != nil {
		t.Fatalf("supply-chain.sh %s: %v\n%s", verb, err, out)
	}
}

// imageNamespace creates namespace ns, opted in to image verification
// (policy.sigstore.dev/include=true), with the privileged PodSecurityPolicy
// in place (PodSecurityPolicy is on in this suite: the admin may use any
// policy, and one must exist).
func imageNamespace(t *testing.T, ns string) {
	t.Helper()
	testNamespace(t, ns)
	mustKubectl(t, "label", "namespace", ns, "policy.sigstore.dev/include=true")
	if out, err := kubectlIn(t, crd(t, "../../examples/psp/policies/privileged-psp.yaml"), "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "podsecuritypolicies.kguard.io", "privileged", "--ignore-not-found") })
}

// Seed 003's walkthrough with kguard instead of Gatekeeper and an external
// data provider: a cosign-signed image is admitted and pinned to its digest,
// an unsigned one is Forbidden with kguard's message, a registry outage
// refuses (fail closed), and a warn-mode policy admits with a warning.
func TestImageSignatures(t *testing.T) {
	defer kguardLogs(t)
	const ns = "e2e-images"
	imageNamespace(t, ns)
	// The namespace's pods (the Deployment's, created by the controller
	// manager) may use the privileged policy too.
	grant := `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"use-privileged"},"rules":[{"apiGroups":["policy","kguard.io"],"resources":["podsecuritypolicies"],"resourceNames":["privileged"],"verbs":["use"]}]}
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"use-privileged"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"use-privileged"},"subjects":[{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"system:serviceaccounts:` + ns + `"}]}`
	if out, err := kubectlIn(t, grant, "-n", ns, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	reg := kg.registry["KGUARD_REGISTRY"]
	repo := reg + "/e2e/sample"

	// The team's key, and images signed with it by the real cosign CLI
	// (legacy .sig format, no transparency log: none runs here).
	dir := t.TempDir()
	cosign(t, dir, "generate-key-pair", "--output-key-prefix", "team")
	pub, err := os.ReadFile(filepath.Join(dir, "team.pub"))
	if err != nil {
		t.Fatal(err)
	}
	sign := func(digest string) {
		cosign(t, dir, "sign", "--key", "team.key", "--use-signing-config=false", "--tlog-upload=false", "--new-bundle-format=false", "-y", repo+"@"+digest)
	}
	signed := pushImage(t, "e2e/sample:signed")
	sign(signed)
	pushImage(t, "e2e/sample:unsigned")
	later := pushImage(t, "e2e/sample:later")
	sign(later)
	pushImage(t, "e2e/warned:v1")

	policies := fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: signed-images}
spec:
  images: [{glob: %q}]
  authorities:
  - name: key-0
    key:
      data: |
%s
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: warned-images}
spec:
  mode: warn
  images: [{glob: %q}]
  authorities:
  - key:
      secretRef: {name: team-key}
`, repo+"**", indent(string(pub), 8), reg+"/e2e/warned**")
	// The warn-mode policy's key is a Secret of kguard's namespace
	// (key.secretRef), as policy-controller reads its own namespace's.
	kubectl(t, "wait", "--for=delete", "namespace/kguard", "--timeout=60s")
	testNamespace(t, "kguard")
	mustKubectl(t, "-n", "kguard", "create", "secret", "generic", "team-key", "--from-file=cosign.pub="+filepath.Join(dir, "team.pub"))
	if out, err := kubectlIn(t, policies, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() {
		kubectl(t, "delete", "clusterimagepolicies.policy.sigstore.dev", "signed-images", "warned-images", "--ignore-not-found")
	})

	pod := func(name, image string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"},"spec":{"containers":[{"name":"c","image":"` + image + `"}]}}`
	}
	// A tag of a signed image: admitted once kguard has the policy, and
	// pinned to the digest it verified.
	eventually(t, 30*time.Second, "a pod of a signed tag is admitted", func() (bool, string) {
		out, err := kubectlIn(t, pod("signed-tag", repo+":signed"), "-n", ns, "create", "-f", "-")
		return err == nil, out
	})
	if got := mustKubectl(t, "-n", ns, "get", "pod", "signed-tag", "-o", "jsonpath={.spec.containers[0].image}"); got != repo+"@"+signed {
		t.Fatalf("pod image %q, want it pinned to %s", got, repo+"@"+signed)
	}

	// kubectl debug: the ephemeral container reaches only the validating
	// webhook, which cannot pin it: a tag is refused, the digest admitted.
	debug := func(container, image string) (string, error) {
		return kubectl(t, "-n", ns, "debug", "signed-tag", "--image="+image, "--container="+container,
			"--attach=false", "--stdin=false", "--tty=false")
	}
	out, err := debug("by-tag", repo+":signed")
	if err == nil || !strings.Contains(out, `image "`+repo+`:signed" must name its digest (`+repo+"@"+signed+")") {
		t.Errorf("kubectl debug with a tag: want it refused, got %v\n%s", err, out)
	}
	if out, err := debug("by-digest", repo+"@"+signed); err != nil {
		t.Errorf("kubectl debug with the signed digest: %v\n%s", err, out)
	}

	// Seed 003's deploy.yaml (the signed digest) and deploy-unsigned.yaml.
	deployment := func(name, image string) string {
		return fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":%q},"spec":{"replicas":1,"selector":{"matchLabels":{"app":%q}},
"template":{"metadata":{"labels":{"app":%q}},"spec":{"containers":[{"name":"sample","image":%q,"ports":[{"containerPort":8080}]}]}}}}`, name, name, name, image)
	}
	if out, err := kubectlIn(t, deployment("sample-deployment", repo+"@"+signed), "-n", ns, "apply", "-f", "-"); err != nil {
		t.Fatalf("the signed Deployment was refused: %v\n%s", err, out)
	}
	out, err = kubectlIn(t, deployment("sample-deployment-unsigned", repo+":unsigned"), "-n", ns, "apply", "-f", "-")
	want := `image "` + repo + `:unsigned" is not admitted by ClusterImagePolicy "signed-images": no signature verified by authority "key-0": the image has no signatures`
	if err == nil || !strings.Contains(out, "Forbidden") || !strings.Contains(out, want) {
		t.Fatalf("deploy-unsigned.yaml: want Forbidden with %q, got %v\n%s", want, err, out)
	}
	// A Deployment naming the signed tag: its template is pinned to the
	// digest kguard verified, so every pod it creates runs that digest.
	if out, err := kubectlIn(t, deployment("tagged", repo+":signed"), "-n", ns, "apply", "-f", "-"); err != nil {
		t.Fatalf("the Deployment of a signed tag was refused: %v\n%s", err, out)
	}
	if got := mustKubectl(t, "-n", ns, "get", "deployment", "tagged", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); got != repo+"@"+signed {
		t.Fatalf("Deployment template image %q, want it pinned to %s", got, repo+"@"+signed)
	}
	// The controller manager creates the signed Deployment's pod, through
	// kguard: it runs the digest that was verified.
	eventually(t, 60*time.Second, "the Deployment's pod exists", func() (bool, string) {
		pods, err := live.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=sample-deployment"})
		if err != nil || len(pods.Items) == 0 {
			return false, fmt.Sprint(err)
		}
		img := pods.Items[0].Spec.Containers[0].Image
		return img == repo+"@"+signed, img
	})

	// Registry down: an image kguard has not verified yet is refused,
	// with the cause; back up, it is admitted.
	registryScript(t, "registry-stop")
	restarted := false
	defer func() {
		if !restarted {
			registryScript(t, "registry-start")
		}
	}()
	out, err = kubectlIn(t, pod("while-down", repo+":later"), "-n", ns, "create", "-f", "-")
	if err == nil || !strings.Contains(out, `image "`+repo+`:later" is not admitted`) {
		t.Fatalf("admitted while the registry is down: %v\n%s", err, out)
	}
	registryScript(t, "registry-start")
	restarted = true
	eventually(t, 30*time.Second, "admitted once the registry is back", func() (bool, string) {
		out, err := kubectlIn(t, pod("after-outage", repo+":later"), "-n", ns, "create", "-f", "-")
		return err == nil, out
	})

	// Warn mode: the unsigned image is admitted, and kubectl shows why it
	// would not be.
	out, err = kubectlIn(t, pod("warned", reg+"/e2e/warned:v1"), "-n", ns, "create", "-f", "-")
	if err != nil || !strings.Contains(out, `Warning: image "`+reg+`/e2e/warned:v1" is not admitted by ClusterImagePolicy "warned-images"`) {
		t.Fatalf("warn mode: want admitted with a warning, got %v\n%s", err, out)
	}

	// A namespace that did not opt in is not checked.
	testNamespace(t, "e2e-images-out")
	if out, err := kubectlIn(t, pod("unchecked", repo+":unsigned"), "-n", "e2e-images-out", "create", "-f", "-"); err != nil {
		t.Fatalf("a namespace without the include label was checked: %v\n%s", err, out)
	}
}

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad)
}

// Seed 001's ImagePolicyWebhook: kube-apiserver's own plugin asks kguard's
// /imagereview about every pod's images (hack/e2e-cluster.sh configures it,
// failing closed). In the kguard namespace, which kguard's admission webhooks
// never cover, this is the only image check: a pod whose image the policy
// refuses is Forbidden with kguard's reason in kube-apiserver's message.
func TestImagePolicyWebhook(t *testing.T) {
	defer kguardLogs(t)
	const ns = "kguard" // excluded by deploy/webhooks.yaml's namespaceSelector
	kubectl(t, "wait", "--for=delete", "namespace/"+ns, "--timeout=60s")
	testNamespace(t, ns)
	mustKubectl(t, "label", "namespace", ns, "policy.sigstore.dev/include=true")
	reg := kg.registry["KGUARD_REGISTRY"]
	digest := pushImage(t, "e2e/quarantined:v1")
	cip := fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: quarantine}
spec:
  images: [{glob: %q}]
  authorities: [{static: {action: fail, message: "quarantined by the security team"}}]
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: pause}
spec:
  images: [{glob: "k8s.gcr.io/pause*"}]
  authorities: [{static: {action: pass}}]
`, reg+"/e2e/quarantined**")
	if out, err := kubectlIn(t, cip, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() {
		kubectl(t, "delete", "clusterimagepolicies.policy.sigstore.dev", "quarantine", "pause", "--ignore-not-found")
	})
	pod := func(name, image string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"},"spec":{"containers":[{"name":"c","image":"` + image + `"}]}}`
	}
	image := reg + "/e2e/quarantined@" + digest
	want := `image policy webhook backend denied one or more images: image "` + image + `" is not admitted by ClusterImagePolicy "quarantine": authority "authority-0": quarantined by the security team`
	eventually(t, 30*time.Second, "the quarantined image is refused by the ImagePolicyWebhook", func() (bool, string) {
		out, err := kubectlIn(t, pod("quarantined", image), "-n", ns, "create", "-f", "-")
		return err != nil && strings.Contains(out, want), out
	})
	if out, err := kubectlIn(t, pod("allowed", "k8s.gcr.io/pause"), "-n", ns, "create", "-f", "-"); err != nil {
		t.Fatalf("an image the policies admit was refused: %v\n%s", err, out)
	}
}

// privateRegistry starts a second docker-registry that requires a password
// (htpasswd), with the suite registry's certificate, and returns its host.
func privateRegistry(t *testing.T, user, password string) string {
	t.Helper()
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	ln.Close()
	config := fmt.Sprintf(`version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: %s/storage}}
auth: {htpasswd: {realm: kguard-e2e, path: %s/htpasswd}}
http:
  addr: %s
  tls: {certificate: %s/registry.crt, key: %s/registry.key}
`, dir, dir, host, kg.registryDir, kg.registryDir)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/docker-registry", "serve", filepath.Join(dir, "config.yml"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ca, _ := os.ReadFile(kg.registry["KGUARD_REGISTRY_CA"])
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	eventually(t, 20*time.Second, "the private registry answers", func() (bool, string) {
		resp, err := client.Get("https://" + host + "/v2/")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized, resp.Status
	})
	return host
}

// A private registry: kguard reads the image and its signature with the
// pod's pull Secret, as the kubelet will pull it; a pod without one is
// refused with the registry's answer.
func TestImagePullSecrets(t *testing.T) {
	defer kguardLogs(t)
	const ns = "e2e-private"
	imageNamespace(t, ns)
	const user, password = "puller", "e2e-s3cret"
	host := privateRegistry(t, user, password)
	repo := host + "/team/private"

	ca, _ := os.ReadFile(kg.registry["KGUARD_REGISTRY_CA"])
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	ref, _ := name.ParseReference(repo + ":v1")
	img, _ := random.Image(256, 1)
	if err := remote.Write(ref, img, remote.WithTransport(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}),
		remote.WithAuth(&authn.Basic{Username: user, Password: password})); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	dir := t.TempDir()
	cosign(t, dir, "generate-key-pair", "--output-key-prefix", "team")
	cosign(t, dir, "sign", "--key", "team.key", "--registry-username", user, "--registry-password", password,
		"--use-signing-config=false", "--tlog-upload=false", "--new-bundle-format=false", "-y", repo+"@"+digest.String())
	pub, _ := os.ReadFile(filepath.Join(dir, "team.pub"))
	cip := fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: private-images}
spec:
  images: [{glob: %q}]
  authorities:
  - key:
      data: |
%s
`, repo+"**", indent(string(pub), 8))
	if out, err := kubectlIn(t, cip, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() {
		kubectl(t, "delete", "clusterimagepolicies.policy.sigstore.dev", "private-images", "--ignore-not-found")
	})
	mustKubectl(t, "-n", ns, "create", "secret", "docker-registry", "regcred", "--docker-server="+host, "--docker-username="+user, "--docker-password="+password)

	pod := func(podName, pullSecret string) string {
		secrets := ""
		if pullSecret != "" {
			secrets = `,"imagePullSecrets":[{"name":"` + pullSecret + `"}]`
		}
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + podName + `"},"spec":{"containers":[{"name":"c","image":"` + repo + `:v1"}]` + secrets + `}}`
	}
	out, err := kubectlIn(t, pod("no-credentials", ""), "-n", ns, "create", "-f", "-")
	if err == nil || !strings.Contains(out, `image "`+repo+`:v1" is not admitted`) || !strings.Contains(out, "401") {
		t.Fatalf("a private image without credentials: want refused with the registry's 401, got %v\n%s", err, out)
	}
	eventually(t, 30*time.Second, "the pod with the pull Secret is admitted", func() (bool, string) {
		out, err := kubectlIn(t, pod("with-credentials", "regcred"), "-n", ns, "create", "-f", "-")
		return err == nil, out
	})
	if got := mustKubectl(t, "-n", ns, "get", "pod", "with-credentials", "-o", "jsonpath={.spec.containers[0].image}"); got != repo+"@"+digest.String() {
		t.Fatalf("pod image %q, want it pinned to %s", got, digest)
	}
}
