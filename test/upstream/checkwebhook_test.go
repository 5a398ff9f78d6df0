package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/generic"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/request"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	_ "k8s.io/kubernetes/pkg/apis/apps/install"
	_ "k8s.io/kubernetes/pkg/apis/batch/install"
	api "k8s.io/kubernetes/pkg/apis/core"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	_ "k8s.io/kubernetes/pkg/apis/networking/install"
	_ "k8s.io/kubernetes/pkg/apis/rbac/install"
	_ "k8s.io/kubernetes/pkg/apis/storage/install"

	kguardadmission "github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/cli"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/snapshot"
)

// The check/webhook differential: `kguard check FILE` promises to decide
// every object as `kguard serve`'s /mutate then /validate decide its CREATE
// by kube-apiserver. Each document of a corpus is decided
//
//	(a) by `kguard check -o json` (cli.Main, the command itself), and
//	(b) by the chain `kguard serve` answers with (snapshot.BuildPolicies of the
//	    same policies, Chain.Review: the function behind /mutate and /validate),
//	    given the AdmissionReviews kube-apiserver v1.37 would send for the
//	    same CREATE, built with its own code: the resource and scope from its
//	    discovery documents (api/discovery of k8s.io/kubernetes), the request
//	    namespace as its create handler sets it (a Namespace's own name; none
//	    for a cluster-scoped kind, whose metadata.namespace is cleared), the
//	    object decoded and defaulted through the legacy scheme, converted to
//	    the internal version and back (admission.NewVersionedAttributes),
//	    request.CreateV1AdmissionReview; the mutating answer's JSON Patch
//	    applied and the object defaulted again as the mutating dispatcher
//	    does; then the registry's Create before validation (generateName,
//	    uid, creationTimestamp) and the validating review.
//
// Compared: allowed, the denial's message, warnings, audit annotations and
// the patch (mutations), and, through a probe Rego policy whose warn rule
// echoes input.request, what each side shows a policy of the request:
// kind, resource, requestKind, name, namespace, userInfo, dryRun, options
// and the object.
//
// Besides the webhook's two calls, kube-apiserver's own steps before them
// are emulated: the ServiceAccount admission plugin's default name for a
// pod. Not emulated: the registry strategies' PrepareForCreate (a
// Namespace's kubernetes finalizer, a pod's status), managedFields.
//
// What check cannot know or does not do is asserted explicitly, each where
// it is handled:
//   - dropped by the probe: the uid, creationTimestamp, managedFields
//     (kube-apiserver's field manager, under the client's name) and status
//     of the object;
//   - the name kube-apiserver generates from generateName (check: none);
//   - the ServiceAccount plugin's token volume and imagePullSecrets, which
//     come from the live ServiceAccount (emulated on neither side);
//   - a pod controller: check answers for the pods its controller creates
//     (as that controller's ServiceAccount) and for the controller, so it
//     is compared with the webhook's answers to both; its patch, the pods'
//     changes shown on the template, is not compared;
//   - objects other than pods are not defaulted offline (kguard must not
//     import k8s.io/kubernetes's defaulters): check's object, defaulted by
//     upstream after the fact, must be the webhook's, and a controller's
//     template is compared before that, as check sent it; one case where
//     defaulting after the fact is not the same (a ReplicationController's
//     labels and a tenant's required label) is asserted as it is.

// probeRego echoes the request a policy sees as one warning.
const probeRego = `package kubernetes.admission

import rego.v1

warn contains msg if {
	r := input.request
	md := object.remove(r.object.metadata, ["uid", "creationTimestamp", "managedFields"])
	obj := object.union(object.remove(r.object, ["status", "metadata"]), {"metadata": md})
	msg := sprintf("probe %s", [json.marshal({
		"kind": r.kind, "resource": r.resource, "subResource": object.get(r, "subResource", ""),
		"requestKind": object.get(r, "requestKind", null), "requestResource": object.get(r, "requestResource", null),
		"requestSubResource": object.get(r, "requestSubResource", ""),
		"name": object.get(r, "name", ""), "namespace": object.get(r, "namespace", ""),
		"operation": r.operation, "userInfo": r.userInfo, "dryRun": object.get(r, "dryRun", null),
		"options": object.get(r, "options", null), "oldObject": object.get(r, "oldObject", null),
		"object": obj,
	})])
}
`

// The corpus: every kind the brief lists, in the namespace of -n (none
// named), in another one, cluster-scoped, custom, generateName only.
const cwCorpus = `apiVersion: v1
kind: Namespace
metadata:
  name: cw-restricted
  labels: {pod-security.kubernetes.io/enforce: restricted, pod-security.kubernetes.io/warn: restricted}
---
apiVersion: v1
kind: Namespace
metadata:
  name: cw-plain
---
apiVersion: v1
kind: Namespace
metadata:
  name: cw-warn
  labels: {pod-security.kubernetes.io/enforce: baseline, pod-security.kubernetes.io/warn: restricted}
---
apiVersion: v1
kind: Pod
metadata: {name: restricted, namespace: cw-restricted}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: registry.k8s.io/pause:3.10
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
---
apiVersion: v1
kind: Pod
metadata: {name: baseline, namespace: cw-restricted}
spec:
  containers:
  - {name: app, image: nginx:1.27, ports: [{containerPort: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: privileged}
spec:
  hostNetwork: true
  containers:
  - name: app
    image: nginx:1.27
    ports: [{containerPort: 8080}]
    securityContext: {privileged: true}
---
apiVersion: v1
kind: Pod
metadata: {name: ephemeral, namespace: cw-plain}
spec:
  containers:
  - {name: app, image: nginx:1.27}
  ephemeralContainers:
  - name: debug
    image: busybox:1.36
    securityContext: {privileged: true}
---
apiVersion: v1
kind: Pod
metadata: {name: init, namespace: cw-warn}
spec:
  initContainers:
  - {name: setup, image: busybox:1.36, securityContext: {runAsUser: 0}}
  containers:
  - {name: app, image: nginx:1.27}
---
apiVersion: v1
kind: Pod
metadata: {name: image-volume, namespace: cw-plain}
spec:
  containers:
  - name: app
    image: nginx:1.27
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - name: data
    image: {reference: registry.example/data:v1}
---
apiVersion: v1
kind: Pod
metadata: {generateName: gen-}
spec:
  containers:
  - {name: app, image: nginx:1.27}
---
apiVersion: v1
kind: Pod
metadata: {name: elsewhere, namespace: other}
spec:
  containers:
  - {name: app, image: nginx:1.27, securityContext: {privileged: true}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: nginx:1.27}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs, namespace: cw-restricted}
spec:
  selector: {matchLabels: {app: rs}}
  template:
    metadata: {labels: {app: rs}}
    spec:
      containers:
      - {name: app, image: nginx:1.27, securityContext: {privileged: true}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: cw-plain}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - {name: db, image: postgres:17}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostPID: true
      containers:
      - name: agent
        image: agent:1
        volumeMounts: [{name: root, mountPath: /host}]
      volumes:
      - {name: root, hostPath: {path: /}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: job, image: busybox:1.36}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: cw-plain}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - {name: job, image: busybox:1.36, securityContext: {capabilities: {add: [NET_ADMIN]}}}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy}
spec:
  selector: {app: legacy}
  template:
    metadata: {labels: {app: legacy}}
    spec:
      containers:
      - {name: app, image: nginx:1.27}
---
apiVersion: v1
kind: Service
metadata: {name: nodeport}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: cw-plain}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 443, targetPort: 8443}]
---
apiVersion: v1
kind: Service
metadata: {name: external}
spec:
  selector: {app: web}
  externalIPs: [203.0.113.10]
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {key: value}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: cw-plain}
spec:
  rules:
  - host: web.example
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec:
  podSelector: {}
---
apiVersion: v1
kind: Endpoints
metadata: {name: manual}
subsets:
- addresses: [{ip: 192.0.2.1}]
  ports: [{port: 80}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects:
- {kind: Group, name: readers, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv1}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /data}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast}
provisioner: example.com/fast
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: gvisor}
handler: runsc
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: namespaced-by-mistake, namespace: cw-plain}
rules: []
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1}
spec: {size: 3}
---
apiVersion: example.com/v1
kind: Widget
metadata: {generateName: w-, namespace: cw-plain}
spec: {size: 1}
`

// cwUserOnlyGrant lets fake-user, and nobody else, use the example policy.
const cwUserOnlyGrant = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: use-example}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], resourceNames: [example], verbs: [use]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: fake-user-uses-example}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: use-example}
subjects: [{kind: ServiceAccount, name: fake-user, namespace: psp-example}]
`

// cwCustom are the custom resources of the corpus, as their CRDs serve them.
var cwCustom = map[schema.GroupVersionKind]cwMapping{
	{Group: "example.com", Version: "v1", Kind: "Widget"}: {resource: "widgets", namespaced: true},
}

// cwScenario is one `kguard check` command line and the `kguard serve` of
// the same policies and plugins.
type cwScenario struct {
	name      string
	policies  []string // paths, relative to the repository
	plugins   []string
	namespace string // -n
	as        string
	asGroups  []string
	offline   bool
}

func TestCheckDecidesAsTheWebhook(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	probeDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(probeDir, "probe.rego"), []byte(probeRego), 0o600); err != nil {
		t.Fatal(err)
	}
	corpus := filepath.Join(t.TempDir(), "corpus.yaml")
	if err := os.WriteFile(corpus, []byte(cwCorpus), 0o600); err != nil {
		t.Fatal(err)
	}
	// Only the user may use the example policy, not the pods' ServiceAccount
	// nor the controllers: its Pods are admitted, its Deployments' pods not.
	userOnly := t.TempDir()
	if err := os.WriteFile(filepath.Join(userOnly, "grant.yaml"), []byte(cwUserOnlyGrant), 0o600); err != nil {
		t.Fatal(err)
	}
	mappings := cwDiscovery(t)
	for gvk, m := range cwCustom {
		mappings[gvk] = m
	}
	ex := func(p string) string { return filepath.Join(repo, "examples", p) }
	for _, sc := range []cwScenario{
		{name: "psp", policies: []string{ex("psp/policies"), ex("psp/grant"), probeDir},
			plugins: []string{"PodSecurityPolicy", "PodSecurity", "Constraints"}, namespace: "psp-example",
			as: "system:serviceaccount:psp-example:fake-user"},
		{name: "psp-user-only", policies: []string{ex("psp/policies/example-psp.yaml"), userOnly, probeDir},
			plugins: []string{"PodSecurityPolicy", "PodSecurity", "Constraints"}, namespace: "psp-example",
			as: "system:serviceaccount:psp-example:fake-user"},
		{name: "constraints", policies: []string{ex("constraints/externalips-template.yaml"), ex("constraints/externalips-constraint.yaml"), ex("constraints/no-privileged.rego"), probeDir},
			plugins: []string{"PodSecurity", "Constraints"}, namespace: "default", as: "jane", asGroups: []string{"devs"}},
		{name: "tenancy", policies: []string{ex("tenancy"), probeDir},
			plugins: []string{"Tenancy", "PodSecurity", "Constraints"}, namespace: "a-dev", as: "alice@example.com"},
		{name: "imagepolicy", policies: []string{ex("imagepolicy/signed-images.yaml"), probeDir},
			plugins: []string{"PodSecurity", "ClusterImagePolicy", "Constraints"}, namespace: "default", offline: true},
		{name: "rego", policies: []string{ex("constraints/no-privileged.rego"), probeDir}, plugins: []string{"Constraints"}, namespace: "other"},
	} {
		t.Run(sc.name, func(t *testing.T) { compareCheckWebhook(t, sc, corpus, mappings) })
	}
}

// cwVerdict is one admission in the terms compared.
type cwVerdict struct {
	Evaluated   bool
	Allowed     bool
	Message     string
	Patch       []any
	Warnings    []string
	Annotations map[string]string
	Probe       map[string]any // the probe's echo of the last request, nil when it did not run
}

func compareCheckWebhook(t *testing.T, sc cwScenario, corpus string, mappings map[schema.GroupVersionKind]cwMapping) {
	args := []string{"check", "-o", "json", "-n", sc.namespace, "--enable-admission-plugins", strings.Join(sc.plugins, ",")}
	for _, p := range sc.policies {
		args = append(args, "--policy", p)
	}
	if sc.as != "" {
		args = append(args, "--as", sc.as)
	}
	for _, g := range sc.asGroups {
		args = append(args, "--as-group", g)
	}
	if sc.offline {
		args = append(args, "--offline")
	}
	var out, errb bytes.Buffer
	if code := cli.Main(append(args, corpus), cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb}); code != 0 && code != 1 {
		t.Fatalf("kguard %s exited %d: %s", strings.Join(args, " "), code, errb.String())
	}
	var checked struct {
		User    string `json:"user"`
		Results []struct {
			Kind, Name, Namespace string
			Line                  int
			Evaluated             bool
			Error                 string
			Response              *admissionv1.AdmissionResponse
		} `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &checked); err != nil {
		t.Fatalf("check -o json: %v\n%s", err, out.String())
	}

	// The webhook: the same policies and plugins, as `kguard serve --policy-dir`
	// loads them, with the cluster's Namespaces: the corpus's (created with it)
	// and, unlabelled, every other one it names.
	set, err := policy.Load(sc.policies, nil, policy.WithNamespace(sc.namespace))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := manifest.Read(strings.NewReader(cwCorpus), "corpus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != len(checked.Results) {
		t.Fatalf("check answered %d objects, the corpus has %d", len(checked.Results), len(docs))
	}
	cfg := snapshot.Config{AdmissionPlugins: sc.plugins}
	cfg.ImagePolicy.AllNamespaces = true // as check sets it (no registry: offline)
	built, err := snapshot.BuildPolicies(cfg, cwClusterNamespaces(t, set, docs, sc.namespace))
	if err != nil {
		t.Fatal(err)
	}
	who := cwUser(sc)
	if checked.User != who.GetName() {
		t.Errorf("check reviewed as %q, the webhook sees %q", checked.User, who.GetName())
	}
	var compared, denied, patched, warned, probed int
	for i := range docs {
		d := &docs[i]
		res := checked.Results[i]
		where := fmt.Sprintf("corpus.yaml:%d %s %s", d.Line, d.Kind, d.Name)
		if res.Error != "" {
			t.Errorf("%s: check could not read it: %s", where, res.Error)
			continue
		}
		got := cwFromResponse(t, res.Response)
		got.Evaluated = res.Evaluated
		want := cwWebhook(t, built.Admission, d, sc.namespace, who, mappings)
		if d.Name == "" {
			// The name kube-apiserver generates from generateName (after the
			// mutating pass, before the validating one) cannot be known offline;
			// check reviews the object under the name it has: none.
			if n := cwProbeField(got.Probe, "name"); got.Probe != nil && n != "" {
				t.Errorf("%s: check reviewed it as %q, not nameless", where, n)
			}
			cwForgetGeneratedName(want.Probe)
		}
		compared++
		if !got.Evaluated {
			// Not evaluated: the webhook must have nothing to say either.
			if !want.Allowed || len(want.Patch) > 0 || len(want.Warnings) > 0 || len(want.Annotations) > 0 {
				t.Errorf("%s: check did not evaluate it; the webhook answered %s", where, cwDump(want))
			}
			continue
		}
		want.Evaluated = true
		if creator := kguardadmission.PodCreator(d.Group(), d.Kind); creator != nil {
			// check judges a pod controller through the pods its controller
			// creates (as that controller); kube-apiserver judges the
			// controller object (Pod Security warns, PodSecurityPolicy never
			// looks) and, later, each pod. check's answer is the pods' fate
			// and the controller's: allowed when both are, the pods' denial
			// first, named after the controller. Its patch is the pods' on the
			// template, which the controller never carries; not compared.
			pod := cwWebhook(t, built.Admission, cwControllerPod(t, d, sc.namespace), sc.namespace, creator, mappings)
			cwForgetGeneratedName(pod.Probe)
			got.Patch, got.Warnings = nil, nil
			byPods := cwVerdict{Evaluated: true, Allowed: want.Allowed && pod.Allowed, Probe: want.Probe, Annotations: pod.Annotations}
			switch {
			case !pod.Allowed:
				byPods.Message = cwRename(pod.Message, d)
			case !want.Allowed:
				byPods.Message, byPods.Annotations = want.Message, want.Annotations
			}
			if !pod.Allowed {
				// Refused with its pods: what the policies saw last is a pod's
				// CREATE, by the controller.
				byPods.Probe = pod.Probe
			}
			want = byPods
		}
		if got.Probe != nil && want.Probe != nil && d.Kind != "Pod" && cwProbeField(got.Probe, "name") == d.Name && cwProbeKind(got.Probe) == d.Kind {
			// check defaults pods as kube-apiserver does (compared exactly above
			// and below), not the other kinds: a controller's own fields
			// (replicas, strategy), a Service's (protocol, sessionAffinity), a
			// NetworkPolicy's policyTypes, a Namespace's spec... kguard cannot
			// import k8s.io/kubernetes's defaulters. Those are the only
			// differences: check's object defaulted by upstream is the webhook's.
			// A controller's template is compared before that, as check sent it.
			if tc, tw := cwTemplate(got.Probe), cwTemplate(want.Probe); !reflect.DeepEqual(tc, tw) {
				t.Errorf("%s: check and the webhook judge other pod templates\ncheck:   %s\nwebhook: %s", where, cwDump(tc), cwDump(tw))
			}
			got.Probe["object"] = cwUpstreamDefaults(t, got.Probe["object"], d)
			if d.Kind == "ReplicationController" && sc.name == "tenancy" {
				// Defaulting after the fact cannot give back what it gives before
				// the mutating pass: kube-apiserver labels a ReplicationController
				// without labels with its template's, then the tenant's required
				// label is added; offline the tenant's label comes first, and the
				// template's never. Asserted as it is.
				gl, wl := cwLabels(got.Probe), cwLabels(want.Probe)
				if _, ok := gl["app"]; ok || wl["app"] != "legacy" {
					t.Errorf("%s: labels: check %v, webhook %v; want the template's app label on the webhook's side only", where, gl, wl)
				}
				delete(wl, "app")
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: check and the webhook differ\n%s", where, cwDiff(got, want))
		}
		switch {
		case !want.Allowed:
			denied++
		case len(want.Patch) > 0:
			patched++
		}
		if len(want.Warnings) > 0 {
			warned++
		}
		if want.Probe != nil {
			probed++
		}
	}
	if denied == 0 || compared-denied == 0 || probed == 0 {
		t.Errorf("%d objects compared, %d denied, %d seen by the probe: the scenario decides nothing both ways", compared, denied, probed)
	}
	t.Logf("%d objects compared: %d denied, %d admitted with a patch, %d with warnings, %d requests seen by the probe policy", compared, denied, patched, warned, probed)
}

// cwProbeKind is the kind of the request a probe echoes.
func cwProbeKind(probe map[string]any) string {
	k, _ := probe["kind"].(map[string]any)
	s, _ := k["kind"].(string)
	return s
}

// cwLabels are the labels of a probe's object.
func cwLabels(probe map[string]any) map[string]any {
	obj, _ := probe["object"].(map[string]any)
	md, _ := obj["metadata"].(map[string]any)
	labels, _ := md["labels"].(map[string]any)
	return labels
}

// cwTemplate is the pod template of a controller's object in a probe (nil
// for another kind).
func cwTemplate(probe map[string]any) any {
	obj, _ := probe["object"].(map[string]any)
	spec, _ := obj["spec"].(map[string]any)
	if jt, ok := spec["jobTemplate"].(map[string]any); ok { // CronJob
		spec, _ = jt["spec"].(map[string]any)
	}
	return spec["template"]
}

// cwUpstreamDefaults is a probe's object (JSON) defaulted by kube-apiserver's
// defaulters and served back, as the webhook would see it.
func cwUpstreamDefaults(t *testing.T, obj any, d *manifest.Document) any {
	t.Helper()
	gvk := schema.FromAPIVersionAndKind(d.APIVersion, d.Kind)
	if !legacyscheme.Scheme.Recognizes(gvk) {
		return obj
	}
	js, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	served, err := legacyscheme.Scheme.ConvertToVersion(cwDecode(t, js, gvk), gvk.GroupVersion())
	if err != nil {
		t.Fatal(err)
	}
	if js, err = json.Marshal(served); err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(js, &out); err != nil {
		t.Fatal(err)
	}
	delete(out, "status")
	if md, ok := out["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	return out
}

// cwControllerPod is the pod the controller of d creates: its template's
// metadata and spec, in its namespace, named by generateName (the
// ReplicaSet's or Job's name, unknown here, and "-").
func cwControllerPod(t *testing.T, d *manifest.Document, defaultNS string) *manifest.Document {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(d.JSON, &obj); err != nil {
		t.Fatal(err)
	}
	spec, _ := obj["spec"].(map[string]any)
	if jt, ok := spec["jobTemplate"].(map[string]any); ok {
		spec, _ = jt["spec"].(map[string]any)
	}
	tmpl, _ := spec["template"].(map[string]any)
	md, _ := tmpl["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
	}
	ns := d.Namespace
	if ns == "" {
		ns = defaultNS
	}
	md["namespace"], md["generateName"] = ns, d.Name+"-"
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": tmpl["spec"]}
	js, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := manifest.Read(bytes.NewReader(js), d.Source)
	if err != nil || len(docs) != 1 {
		t.Fatalf("the pod of %s: %v", d.Position(), err)
	}
	docs[0].Line = d.Line
	return &docs[0]
}

// cwRename is a denial of a controller's pod as check words it, after the
// controller: deployments.apps "web" instead of pods "web-x7k2p".
func cwRename(msg string, d *manifest.Document) string {
	prefix, rest, ok := strings.Cut(msg, " is forbidden: ")
	if !ok || !strings.HasPrefix(prefix, "pods ") {
		return msg
	}
	return fmt.Sprintf("%s %q is forbidden: %s", kguardadmission.Resource(d.APIVersion, d.Kind), d.Name, rest)
}

// cwClusterNamespaces is set with the Namespaces the cluster holds: the
// corpus's (as kube-apiserver stores them, defaulted) and, unlabelled, any
// other one an object of the corpus is in.
func cwClusterNamespaces(t *testing.T, set *policy.Set, docs []manifest.Document, defaultNS string) *policy.Set {
	t.Helper()
	var nsDocs []manifest.Document
	names := map[string]bool{}
	for _, ns := range set.Namespaces {
		names[ns.Name] = true
	}
	want := map[string]bool{defaultNS: true}
	for _, d := range docs {
		if d.Kind == "Namespace" {
			nsDocs = append(nsDocs, d)
		} else if d.Namespace != "" {
			want[d.Namespace] = true
		}
	}
	fromCorpus, err := policy.FromDocuments(nsDocs)
	if err != nil {
		t.Fatal(err)
	}
	out := *set
	out.Namespaces = slices.Clone(set.Namespaces)
	for _, ns := range fromCorpus.Namespaces {
		if !names[ns.Name] {
			names[ns.Name] = true
			out.Namespaces = append(out.Namespaces, ns)
		}
	}
	var extra []string
	for n := range want {
		if !names[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		var b strings.Builder
		for _, n := range extra {
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", n)
		}
		more, err := manifest.Read(strings.NewReader(b.String()), "cluster.yaml")
		if err != nil {
			t.Fatal(err)
		}
		s, err := policy.FromDocuments(more)
		if err != nil {
			t.Fatal(err)
		}
		out.Namespaces = append(out.Namespaces, s.Namespaces...)
	}
	return &out
}

// cwUser is the user kube-apiserver authenticates for the scenario's --as
// (and --as-group): its groups, then the ServiceAccount groups of a
// ServiceAccount, then system:authenticated, as its authenticators add them.
// Without --as, check reviews as kguard-check.
func cwUser(sc cwScenario) user.Info {
	name := sc.as
	if name == "" && len(sc.asGroups) == 0 {
		name = "kguard-check"
	}
	groups := slices.Clone(sc.asGroups)
	if ns, _, err := serviceaccount.SplitUsername(name); err == nil {
		groups = append(groups, serviceaccount.AllServiceAccountsGroup, serviceaccount.MakeNamespaceGroupName(ns))
	}
	groups = append(groups, user.AllAuthenticated)
	return &user.DefaultInfo{Name: name, Groups: groups}
}

// cwWebhook is the webhook's answer to the CREATE of d as kube-apiserver
// sends it: /mutate, the patch applied, /validate.
func cwWebhook(t *testing.T, chain *kguardadmission.Chain, d *manifest.Document, defaultNS string, who user.Info, mappings map[schema.GroupVersionKind]cwMapping) cwVerdict {
	t.Helper()
	gv, err := schema.ParseGroupVersion(d.APIVersion)
	if err != nil {
		t.Fatal(err)
	}
	gvk := gv.WithKind(d.Kind)
	m, ok := mappings[gvk]
	if !ok {
		t.Fatalf("%s: kube-apiserver serves no %s", d.Position(), gvk)
	}
	gvr := gv.WithResource(m.resource)
	// kubectl sends a namespaced object to its namespace (-n when it names
	// none) and a cluster-scoped one to no namespace; create.go then takes a
	// Namespace's own name as the request's namespace.
	ns := ""
	if m.namespaced {
		ns = d.Namespace
		if ns == "" {
			ns = defaultNS
		}
	}
	name := d.Name
	if ns == "" && gvr.Group == "" && gvr.Resource == "namespaces" {
		ns = name
	}
	oi := admission.NewObjectInterfacesFromScheme(legacyscheme.Scheme)
	obj := cwDecode(t, d.JSON, gvk)
	if err := rest.EnsureObjectNamespaceMatchesRequestNamespace(rest.ExpectedNamespaceForResource(ns, gvr), cwMeta(t, obj)); err != nil {
		t.Fatalf("%s: %v", d.Position(), err)
	}
	if pod, ok := obj.(*api.Pod); ok {
		// The ServiceAccount admission plugin, which kube-apiserver runs
		// before the webhooks, names the default ServiceAccount (its Admit,
		// "Set the default service account if needed"; it needs a cluster).
		// What it takes from the live ServiceAccount is left out, as check
		// cannot know it: the projected token volume (kube-api-access-<random>,
		// internal/apidefaults says why kguard's verdicts do not depend on it)
		// and the ServiceAccount's imagePullSecrets.
		if _, mirror := pod.Annotations[api.MirrorPodAnnotationKey]; !mirror && pod.Spec.ServiceAccountName == "" {
			pod.Spec.ServiceAccountName = "default"
			pod.Spec.DeprecatedServiceAccount = "default" //nolint:staticcheck // as the plugin keeps the alias
		}
	}
	opts := &metav1.CreateOptions{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "CreateOptions"}}
	review := func(phase kguardadmission.Phase, obj runtime.Object, name string) (*admissionv1.AdmissionResponse, runtime.Object) {
		attrs := admission.NewAttributesRecord(obj, nil, gvk, ns, name, gvr, "", admission.Create, opts, false, who)
		var va *admission.VersionedAttributes
		if _, custom := obj.(*unstructured.Unstructured); custom {
			va = &admission.VersionedAttributes{Attributes: attrs, VersionedKind: gvk, VersionedObject: admission.NewLazyObject(obj)}
		} else if va, err = admission.NewVersionedAttributes(attrs, gvk, oi); err != nil {
			t.Fatalf("%s: %v", d.Position(), err)
		}
		ar := request.CreateV1AdmissionReview(types.UID(fmt.Sprintf("uid-%d-%d", d.Line, phase)), va, &generic.WebhookInvocation{Resource: gvr, Kind: gvk})
		ar.TypeMeta = metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}
		body, err := json.Marshal(ar)
		if err != nil {
			t.Fatal(err)
		}
		answer, err := chain.Review(context.Background(), body, phase)
		if err != nil {
			t.Fatalf("%s: the webhook refused the review: %v", d.Position(), err)
		}
		var back admissionv1.AdmissionReview
		if err := json.Unmarshal(answer, &back); err != nil || back.Response == nil {
			t.Fatalf("%s: the webhook's answer: %v: %s", d.Position(), err, answer)
		}
		return back.Response, va.VersionedObject.Object()
	}
	mutate, versioned := review(kguardadmission.PhaseMutate, obj, name)
	out := cwFromResponse(t, mutate)
	if !mutate.Allowed {
		return out
	}
	if len(mutate.Patch) > 0 {
		// The mutating dispatcher: the patch applied to the versioned object's
		// JSON, decoded into a new object, defaulted again, converted back.
		js, err := json.Marshal(versioned)
		if err != nil {
			t.Fatal(err)
		}
		p, err := jsonpatch.DecodePatch(mutate.Patch)
		if err != nil {
			t.Fatalf("%s: the mutating patch: %v", d.Position(), err)
		}
		if js, err = p.Apply(js); err != nil {
			t.Fatalf("%s: applying the mutating patch %s: %v", d.Position(), mutate.Patch, err)
		}
		obj = cwDecode(t, js, gvk)
	}
	// The registry's Create before the validating admission: system fields
	// and the generated name (a fixed suffix here).
	md := cwMeta(t, obj)
	rest.FillObjectMetaSystemFields(md)
	if md.GetName() == "" && md.GetGenerateName() != "" {
		md.SetName(md.GetGenerateName() + "x7k2p")
	}
	validate, _ := review(kguardadmission.PhaseValidate, obj, md.GetName())
	v := cwFromResponse(t, validate)
	out.Allowed, out.Message = v.Allowed, v.Message
	out.Warnings = append(out.Warnings, v.Warnings...)
	if v.Probe != nil {
		out.Probe = v.Probe
	}
	for k, val := range v.Annotations {
		if k == "validate-policy" { // PodSecurityPolicy's re-validation, which check does not do
			continue
		}
		if out.Annotations == nil {
			out.Annotations = map[string]string{}
		}
		out.Annotations[k] = val
	}
	if !out.Allowed {
		out.Patch = nil // nothing is stored; check reports no patch for a denial
	}
	return out
}

// cwDecode is obj as kube-apiserver's decoder leaves it: a built-in kind
// decoded into its versioned type, defaulted and converted to the internal
// version; a custom resource unstructured.
func cwDecode(t *testing.T, js []byte, gvk schema.GroupVersionKind) runtime.Object {
	t.Helper()
	if !legacyscheme.Scheme.Recognizes(gvk) {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			t.Fatal(err)
		}
		return u
	}
	versioned, err := legacyscheme.Scheme.New(gvk)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, versioned); err != nil {
		t.Fatal(err)
	}
	legacyscheme.Scheme.Default(versioned)
	internal, err := legacyscheme.Scheme.ConvertToVersion(versioned, schema.GroupVersion{Group: gvk.Group, Version: runtime.APIVersionInternal})
	if err != nil {
		t.Fatalf("%s: %v", gvk, err)
	}
	return internal
}

func cwMeta(t *testing.T, obj runtime.Object) metav1.Object {
	t.Helper()
	md, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

func cwFromResponse(t *testing.T, r *admissionv1.AdmissionResponse) cwVerdict {
	t.Helper()
	if r == nil {
		return cwVerdict{Allowed: true}
	}
	v := cwVerdict{Allowed: r.Allowed}
	if r.Result != nil {
		v.Message = r.Result.Message
	}
	if len(r.Patch) > 0 {
		if err := json.Unmarshal(r.Patch, &v.Patch); err != nil {
			t.Fatalf("patch %s: %v", r.Patch, err)
		}
	}
	for _, w := range r.Warnings {
		if probe, ok := strings.CutPrefix(w, "probe "); ok {
			if err := json.Unmarshal([]byte(probe), &v.Probe); err != nil {
				t.Fatalf("probe %s: %v", probe, err)
			}
			continue
		}
		v.Warnings = append(v.Warnings, w)
	}
	if len(r.AuditAnnotations) > 0 {
		v.Annotations = r.AuditAnnotations
	}
	return v
}

func cwProbeField(probe map[string]any, key string) string {
	s, _ := probe[key].(string)
	return s
}

// cwForgetGeneratedName drops from the webhook's probe the name
// kube-apiserver generated (request.name, object.metadata.name).
func cwForgetGeneratedName(probe map[string]any) {
	if probe == nil {
		return
	}
	probe["name"] = ""
	if obj, ok := probe["object"].(map[string]any); ok {
		if md, ok := obj["metadata"].(map[string]any); ok {
			delete(md, "name")
		}
	}
}

func cwDump(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// cwDiff words the fields in which two verdicts differ, the probe key by key.
func cwDiff(check, webhook cwVerdict) string {
	var b strings.Builder
	cp, wp := check.Probe, webhook.Probe
	check.Probe, webhook.Probe = nil, nil
	if !reflect.DeepEqual(check, webhook) {
		fmt.Fprintf(&b, "check:   %s\nwebhook: %s\n", cwDump(check), cwDump(webhook))
	}
	keys := map[string]bool{}
	for k := range cp {
		keys[k] = true
	}
	for k := range wp {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		if !reflect.DeepEqual(cp[k], wp[k]) {
			c, _ := json.Marshal(cp[k])
			w, _ := json.Marshal(wp[k])
			fmt.Fprintf(&b, "request.%s: check %s, webhook %s\n", k, c, w)
		}
	}
	return b.String()
}
