package admission_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/admission"

	"github.com/kguard/kguard/internal/admission/constraints"
	"github.com/kguard/kguard/internal/admission/podsecuritypolicy"
	"github.com/kguard/kguard/internal/authz/rbac"
	"github.com/kguard/kguard/internal/manifest"
	kpolicy "github.com/kguard/kguard/internal/policy"
)

// A policy that allows the host's network but no host ports, usable by everyone.
const hostNetworkPolicy = `apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: host-network}
spec:
  hostNetwork: true
  %s
  runAsUser: {rule: RunAsAny}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: ['*']
---
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use]}]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use}
subjects: [{kind: Group, name: "system:authenticated"}]
roleRef: {kind: ClusterRole, name: use, apiGroup: rbac.authorization.k8s.io}
`

// metallb's speaker: on the host's network, declaring ports without hostPort.
const speaker = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: speaker, namespace: metallb-system}
spec:
  selector: {matchLabels: {app: speaker}}
  template:
    metadata: {labels: {app: speaker}}
    spec:
      hostNetwork: true
      containers:
      - name: speaker
        image: quay.io/metallb/speaker:v0.13.7
        ports: [{name: monitoring, containerPort: 7472}]
`

func pspChain(t *testing.T, hostPorts string) *admission.Chain {
	t.Helper()
	docs, err := manifest.Read(strings.NewReader(strings.Replace(hostNetworkPolicy, "%s", hostPorts, 1)), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := kpolicy.FromDocuments(docs)
	if err != nil {
		t.Fatal(err)
	}
	authz := rbac.New(s)
	c, err := admission.NewChain([]string{podsecuritypolicy.PluginName}, admission.Inputs{Policies: s, Authorizer: authz, RuleResolver: authz}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The API server makes a hostNetwork pod's container ports host ports before
// admission; `kguard check` must too, or it admits what the cluster refuses.
func TestAdmitDocumentsDefaultsHostNetworkPorts(t *testing.T) {
	for _, tc := range []struct {
		name, hostPorts string
		allowed         bool
	}{
		{"policy without host ports", "", false},
		{"policy with the port in range", "hostPorts: [{min: 7000, max: 7999}]", true},
		{"policy with another range", "hostPorts: [{min: 8000, max: 8999}]", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := manifest.Read(strings.NewReader(speaker), "speaker.yaml")
			if err != nil {
				t.Fatal(err)
			}
			out := pspChain(t, tc.hostPorts).AdmitDocuments(context.Background(), docs, "default", alice)
			if out[0].Err != nil {
				t.Fatal(out[0].Err)
			}
			r := out[0].Response
			if r.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v: %+v", r.Allowed, tc.allowed, r.Result)
			}
			if !tc.allowed && !strings.Contains(r.Result.Message, "7472") {
				t.Errorf("denial does not name the host port 7472: %s", r.Result.Message)
			}
			if strings.Contains(string(r.Patch), "hostPort") {
				t.Errorf("defaulting shows as a mutation: %s", r.Patch)
			}
		})
	}
}

// cert-manager v0.6.0 ships an apps/v1beta1 Deployment, which kguard does not
// read: that object gets its error, and the objects around it are admitted
// all the same.
func TestAdmitDocumentsErrorPerDocument(t *testing.T) {
	const input = `apiVersion: apps/v1beta1
kind: Deployment
metadata: {name: cert-manager, namespace: cert-manager}
spec:
  template:
    spec:
      containers: [{name: c, image: quay.io/jetstack/cert-manager-controller:v0.6.0}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c, image: i, securityContext: {privileged: true}}]
`
	docs, err := manifest.Read(strings.NewReader(input), "bundle.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := pspChain(t, "").AdmitDocuments(context.Background(), docs, "default", alice)
	if len(out) != 3 {
		t.Fatalf("%d outcomes for 3 documents", len(out))
	}
	t.Run("unreadable deployment", func(t *testing.T) {
		oc := out[0]
		if oc.Err == nil || oc.Response != nil {
			t.Fatalf("want an error and no response, got %+v", oc)
		}
		if !errors.Is(oc.Err, manifest.ErrInput) || !strings.Contains(oc.Err.Error(), "bundle.yaml:1: ") ||
			!strings.Contains(oc.Err.Error(), "use apps/v1") {
			t.Errorf("error does not name the file, line and supported version: %v", oc.Err)
		}
		if oc.Namespace != "cert-manager" {
			t.Errorf("namespace %q, want cert-manager", oc.Namespace)
		}
	})
	t.Run("object without a pod", func(t *testing.T) {
		if oc := out[1]; oc.Err != nil || oc.Response != nil {
			t.Fatalf("want neither error nor response, got %+v", oc)
		}
	})
	t.Run("privileged pod still judged", func(t *testing.T) {
		oc := out[2]
		if oc.Err != nil || oc.Response == nil {
			t.Fatalf("want a response, got %+v", oc)
		}
		if oc.Response.Allowed {
			t.Errorf("privileged pod admitted")
		}
		if oc.Namespace != "default" {
			t.Errorf("namespace %q, want the default one", oc.Namespace)
		}
	})
}

// `kguard check` sends a plain Rego policy the AdmissionReview the API
// server would: the resource is the kind's plural as the API names it
// (networkpolicies, ingresses), dryRun is false.
func TestAdmitDocumentsRegoInput(t *testing.T) {
	const policy = `apiVersion: v1
kind: ConfigMap
metadata:
  name: p
  namespace: opa
  labels: {openpolicyagent.org/policy: rego}
data:
  p.rego: |
    package kubernetes.admission
    import rego.v1
    deny contains sprintf("%s: dryRun %v", [input.request.resource.resource, input.request.dryRun]) if {
      input.request.resource.resource in {"networkpolicies", "ingresses"}
      input.request.dryRun == false
    }
`
	const input = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np}
spec: {podSelector: {}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ing}
spec: {defaultBackend: {service: {name: s, port: {number: 80}}}}
`
	pdocs, err := manifest.Read(strings.NewReader(policy), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := kpolicy.FromDocuments(pdocs)
	if err != nil {
		t.Fatal(err)
	}
	c, err := admission.NewChain([]string{constraints.PluginName}, admission.Inputs{Policies: s}, nil)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := manifest.Read(strings.NewReader(input), "input.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := c.AdmitDocuments(context.Background(), docs, "default", alice)
	for i, want := range []string{"networkpolicies: dryRun false", "ingresses: dryRun false"} {
		if out[i].Err != nil {
			t.Fatal(out[i].Err)
		}
		if r := out[i].Response; r.Allowed || r.Result.Message != want {
			t.Errorf("%s: allowed=%v %+v, want refused with %q", docs[i].Kind, r.Allowed, r.Result, want)
		}
	}
}

// `kguard check` sends the AdmissionRequest kube-apiserver's create handler
// would (request.CreateV1AdmissionReview): requestKind, requestResource and
// the CreateOptions besides kind and resource; the resource and scope a
// kind is served with (endpoints, a cluster-scoped RuntimeClass); the
// object in the request's namespace, and none for a cluster-scoped kind
// even when the file names one; a Namespace's own name as the namespace of
// its CREATE, and its kubernetes.io/metadata.name label; an image volume's
// default pull policy. A pod whose file names no namespace is not reported
// as mutated for getting one.
func TestAdmitDocumentsRequestAsKubeAPIServer(t *testing.T) {
	const policy = `apiVersion: v1
kind: ConfigMap
metadata:
  name: p
  namespace: opa
  labels: {openpolicyagent.org/policy: rego}
data:
  p.rego: |
    package kubernetes.admission
    import rego.v1
    warn contains json.marshal({
      "namespace": object.get(r, "namespace", ""),
      "resource": r.resource.resource,
      "requestKind": object.get(r, ["requestKind", "kind"], ""),
      "requestResource": object.get(r, ["requestResource", "resource"], ""),
      "options": object.get(r, ["options", "kind"], ""),
      "objectNamespace": object.get(r.object.metadata, "namespace", ""),
      "labels": object.get(r.object.metadata, "labels", {}),
      "pullPolicy": object.get(r.object, ["spec", "volumes", 0, "image", "pullPolicy"], ""),
    }) if r := input.request
`
	const input = `apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cr, namespace: elsewhere}
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: rc}
handler: runsc
---
apiVersion: v1
kind: Endpoints
metadata: {name: ep, namespace: other}
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c, image: nginx:1}]
  volumes: [{name: data, image: {reference: registry.example/data:v1}}]
`
	pdocs, err := manifest.Read(strings.NewReader(policy), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := kpolicy.FromDocuments(pdocs)
	if err != nil {
		t.Fatal(err)
	}
	c, err := admission.NewChain([]string{constraints.PluginName}, admission.Inputs{Policies: s}, nil)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := manifest.Read(strings.NewReader(input), "input.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		Namespace, Resource, RequestKind, RequestResource, Options, ObjectNamespace, PullPolicy string
		Labels                                                                                  map[string]string
	}
	for i, want := range []struct {
		outcomeNamespace string
		seen             seen
	}{
		{"", seen{Namespace: "team", Resource: "namespaces", RequestKind: "Namespace", RequestResource: "namespaces", Options: "CreateOptions",
			Labels: map[string]string{"kubernetes.io/metadata.name": "team"}}},
		{"default", seen{Namespace: "default", Resource: "configmaps", RequestKind: "ConfigMap", RequestResource: "configmaps", Options: "CreateOptions",
			ObjectNamespace: "default", Labels: map[string]string{}}},
		{"", seen{Resource: "clusterroles", RequestKind: "ClusterRole", RequestResource: "clusterroles", Options: "CreateOptions", Labels: map[string]string{}}},
		{"", seen{Resource: "runtimeclasses", RequestKind: "RuntimeClass", RequestResource: "runtimeclasses", Options: "CreateOptions", Labels: map[string]string{}}},
		{"other", seen{Namespace: "other", Resource: "endpoints", RequestKind: "Endpoints", RequestResource: "endpoints", Options: "CreateOptions",
			ObjectNamespace: "other", Labels: map[string]string{}}},
		{"default", seen{Namespace: "default", Resource: "pods", RequestKind: "Pod", RequestResource: "pods", Options: "CreateOptions",
			ObjectNamespace: "default", PullPolicy: "IfNotPresent", Labels: map[string]string{}}},
	} {
		oc := c.AdmitDocument(context.Background(), &docs[i], "default", func(metav1.Object, *corev1.PodSpec) user.Info { return alice })
		if oc.Err != nil {
			t.Fatalf("%s: %v", docs[i].Kind, oc.Err)
		}
		r := oc.Response
		if oc.Namespace != want.outcomeNamespace {
			t.Errorf("%s: in namespace %q, want %q", docs[i].Kind, oc.Namespace, want.outcomeNamespace)
		}
		if !r.Allowed || len(r.Warnings) != 1 {
			t.Fatalf("%s: allowed=%v warnings %q, want one warning", docs[i].Kind, r.Allowed, r.Warnings)
		}
		if r.Patch != nil {
			t.Errorf("%s: patched %s, want nothing changed", docs[i].Kind, r.Patch)
		}
		var got seen
		if err := json.Unmarshal([]byte(r.Warnings[0]), &got); err != nil {
			t.Fatalf("%s: %v: %s", docs[i].Kind, err, r.Warnings[0])
		}
		if !reflect.DeepEqual(got, want.seen) {
			t.Errorf("%s: the policy saw\n%+v\nwant\n%+v", docs[i].Kind, got, want.seen)
		}
	}
}

// The pods of a Deployment are created by kube-controller-manager's
// ReplicaSet controller, not by the user who creates the Deployment: a
// PodSecurityPolicy only that user may use admits the user's Pod but not
// the Deployment's pods (the PodSecurityPolicy walkthrough's "no providers
// available" event), until the controller or the pods' ServiceAccount may
// use it. A policy judging the Deployment itself sees its creator.
func TestAdmitDocumentsControllerCreatesThePods(t *testing.T) {
	const policies = `apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: any}
spec:
  runAsUser: {rule: RunAsAny}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: ['*']
---
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use]}]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: alice-uses}
subjects: [{kind: User, name: alice}]
roleRef: {kind: ClusterRole, name: use, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: p
  namespace: opa
  labels: {openpolicyagent.org/policy: rego}
data:
  p.rego: |
    package kubernetes.admission
    import rego.v1
    warn contains sprintf("created by %s", [input.request.userInfo.username])
`
	const controllerGrant = `
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: controller-uses}
subjects: [{kind: ServiceAccount, name: replicaset-controller, namespace: kube-system}]
roleRef: {kind: ClusterRole, name: use, apiGroup: rbac.authorization.k8s.io}
`
	const input = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {containers: [{name: c, image: nginx:1}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx:1}]}
`
	docs, err := manifest.Read(strings.NewReader(input), "input.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		policies   string
		deployment bool // admitted
	}{
		{"granted to alice", policies, false},
		{"granted to the ReplicaSet controller too", policies + controllerGrant, true},
	} {
		pdocs, err := manifest.Read(strings.NewReader(c.policies), "policy.yaml")
		if err != nil {
			t.Fatal(err)
		}
		s, err := kpolicy.FromDocuments(pdocs)
		if err != nil {
			t.Fatal(err)
		}
		authz := rbac.New(s)
		chain, err := admission.NewChain([]string{podsecuritypolicy.PluginName, constraints.PluginName},
			admission.Inputs{Policies: s, Authorizer: authz, RuleResolver: authz}, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := chain.AdmitDocuments(context.Background(), docs, "default", alice)
		if r := out[0].Response; !r.Allowed || !slices.Contains(r.Warnings, "created by alice") {
			t.Errorf("%s: alice's Pod: allowed=%v %v %q, want admitted, seen as alice's", c.name, r.Allowed, r.Result, r.Warnings)
		}
		r := out[1].Response
		if c.deployment {
			if !r.Allowed || !slices.Contains(r.Warnings, "created by alice") {
				t.Errorf("%s: the Deployment: allowed=%v %v %q, want admitted, seen as alice's", c.name, r.Allowed, r.Result, r.Warnings)
			}
		} else if r.Allowed || !strings.Contains(r.Result.Message, "no providers available") {
			t.Errorf("%s: the Deployment: allowed=%v %v, want its pods refused", c.name, r.Allowed, r.Result)
		}
	}
	if u := admission.PodCreator("batch", "CronJob"); u == nil || u.GetName() != "system:serviceaccount:kube-system:job-controller" {
		t.Errorf("a CronJob's pods are created by %v, want the Job controller", u)
	}
	if u := admission.PodCreator("", "Pod"); u != nil {
		t.Errorf("a Pod's creator is %v, want nil (its own creator)", u)
	}
}

// A policy judging a pod controller sees it as kube-apiserver stores it
// and the validating webhook receives it: its template defaulted as a
// template, without what only its pods get (the default ServiceAccount,
// enableServiceLinks) and without the pod plugins' changes to its pods (a
// PodSecurityPolicy's annotation and defaults), which the Deployment itself
// never carries. check still reports those changes, as the pods'.
func TestAdmitDocumentsControllerAsStored(t *testing.T) {
	const policies = `apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: uid1000}
spec:
  runAsUser: {rule: MustRunAs, ranges: [{min: 1000, max: 1000}]}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: ['*']
---
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use]}]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use}
subjects: [{kind: Group, name: "system:authenticated"}]
roleRef: {kind: ClusterRole, name: use, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: p
  namespace: opa
  labels: {openpolicyagent.org/policy: rego}
data:
  p.rego: |
    package kubernetes.admission
    import rego.v1
    deny contains "name the pods' ServiceAccount" if {
      not input.request.object.spec.template.spec.serviceAccountName
    }
    deny contains "set runAsUser" if {
      not input.request.object.spec.template.spec.containers[0].securityContext.runAsUser
    }
    deny contains "no enableServiceLinks on a template" if {
      input.request.object.spec.template.spec.enableServiceLinks
    }
    deny contains "template not defaulted" if {
      input.request.object.spec.template.spec.dnsPolicy != "ClusterFirst"
    }
`
	const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx:1}]}
`
	pdocs, err := manifest.Read(strings.NewReader(policies), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := kpolicy.FromDocuments(pdocs)
	if err != nil {
		t.Fatal(err)
	}
	authz := rbac.New(s)
	c, err := admission.NewChain([]string{podsecuritypolicy.PluginName, constraints.PluginName},
		admission.Inputs{Policies: s, Authorizer: authz, RuleResolver: authz}, nil)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := manifest.Read(strings.NewReader(deployment), "deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := c.AdmitDocuments(context.Background(), docs, "default", alice)[0].Response
	const want = "name the pods' ServiceAccount, set runAsUser"
	if r.Allowed || r.Result.Message != want {
		t.Errorf("allowed=%v %+v, want refused with %q", r.Allowed, r.Result, want)
	}
}

// A policy on Pods judges the pods a Deployment's controller creates, as
// the webhook judges their CREATE: check refuses the Deployment whose pods
// the cluster would refuse, with the policy's message.
func TestAdmitDocumentsControllerPodsMeetObjectPolicies(t *testing.T) {
	const policy = `apiVersion: v1
kind: ConfigMap
metadata:
  name: p
  namespace: opa
  labels: {openpolicyagent.org/policy: rego}
data:
  p.rego: |
    package kubernetes.admission
    import rego.v1
    deny contains sprintf("privileged container %s in a pod of %s", [c.name, input.request.userInfo.username]) if {
      input.request.kind.kind == "Pod"
      some c in input.request.object.spec.containers
      c.securityContext.privileged
    }
`
	const input = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx:1, securityContext: {privileged: true}}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: fine}
spec:
  selector: {matchLabels: {app: fine}}
  template:
    metadata: {labels: {app: fine}}
    spec: {containers: [{name: c, image: nginx:1}]}
`
	pdocs, err := manifest.Read(strings.NewReader(policy), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := kpolicy.FromDocuments(pdocs)
	if err != nil {
		t.Fatal(err)
	}
	c, err := admission.NewChain([]string{constraints.PluginName}, admission.Inputs{Policies: s}, nil)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := manifest.Read(strings.NewReader(input), "input.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := c.AdmitDocuments(context.Background(), docs, "default", alice)
	const want = "privileged container c in a pod of system:serviceaccount:kube-system:replicaset-controller"
	if r := out[0].Response; r.Allowed || r.Result.Message != want {
		t.Errorf("the privileged Deployment: allowed=%v %v, want refused with %q", r.Allowed, r.Result, want)
	}
	if r := out[1].Response; !r.Allowed {
		t.Errorf("the other Deployment: refused %v", r.Result)
	}
}
