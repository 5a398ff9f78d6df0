package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	jsonpatch4 "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/apidefaults"
	"github.com/kguard/kguard/internal/apiresources"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/parallel"
	"github.com/kguard/kguard/internal/podspec"
)

// Outcome is the admission of one document. At most one of Response and Err
// is set; neither is when no enabled plugin judges the document (an object
// without a pod and no ObjectValidator: not evaluated).
type Outcome struct {
	Namespace string
	// Response is the admission's answer for a document the chain judged.
	Response *admissionv1.AdmissionResponse
	// DeniedBy is the plugin that denied, when Response denies.
	DeniedBy string
	// Err is why a pod-carrying document could not be read (a kind in a
	// version kguard does not read, a malformed or misspelt field): a
	// *manifest.Error naming its file and line. Such a document is not admitted.
	Err error
}

// AdmitDocuments admits the creation of every document by u, on every core,
// keeping the documents' order. A document without namespace is in
// defaultNamespace. A document that cannot be read has its error in its own
// Outcome; the others are admitted all the same, so that one unreadable
// object does not hide the verdicts on the rest.
//
// The pods of a pod controller (Deployment, Job, ...) are judged as created
// by the controller of kube-controller-manager that creates them
// (PodCreator), not by u: u creates the Deployment, the ReplicaSet
// controller its pods, and PodSecurityPolicy's "use" is asked of that
// controller and of the pod's ServiceAccount. The policies that judge the
// controller object itself (Constraints, Tenancy) see u, as the webhook does.
func (c *Chain) AdmitDocuments(ctx context.Context, docs []manifest.Document, defaultNamespace string, u user.Info) []Outcome {
	out := make([]Outcome, len(docs))
	parallel.Do(len(docs), func(i int) {
		d := &docs[i]
		pods := u
		if creator := PodCreator(d.Group(), d.Kind); creator != nil {
			pods = creator
		}
		out[i] = c.AdmitDocumentAs(ctx, d, defaultNamespace, func(metav1.Object, *corev1.PodSpec) user.Info { return pods }, u)
	})
	return out
}

// podCreators are the controllers of kube-controller-manager that create
// the pods of each pod controller kind: a Deployment's pods are its
// ReplicaSets', a CronJob's its Jobs'.
var podCreators = map[string]string{
	"apps/Deployment": "replicaset-controller", "apps/ReplicaSet": "replicaset-controller",
	"apps/StatefulSet": "statefulset-controller", "apps/DaemonSet": "daemon-set-controller",
	"batch/Job": "job-controller", "batch/CronJob": "job-controller",
	"/ReplicationController": "replication-controller",
}

// PodCreator is the user kube-apiserver sees create the pods of a pod
// controller of that kind: the controller's ServiceAccount in kube-system,
// as kube-controller-manager runs them with --use-service-account-credentials
// (kubeadm's and most distributions' setting; without it they all are
// system:kube-controller-manager). nil for a kind whose pods nobody creates
// for it (a Pod, a PodTemplate).
func PodCreator(group, kind string) user.Info {
	name, ok := podCreators[group+"/"+kind]
	if !ok {
		return nil
	}
	return &user.DefaultInfo{Name: serviceaccount.MakeUsername(metav1.NamespaceSystem, name),
		Groups: []string{serviceaccount.AllServiceAccountsGroup, serviceaccount.MakeNamespaceGroupName(metav1.NamespaceSystem), user.AllAuthenticated}}
}

// Reviewer names the user who creates an object: obj is the pod-carrying
// object and spec the defaulted pod spec it carries (its ServiceAccount set),
// both nil for an object without a pod. It must be safe for concurrent use
// and must change neither.
type Reviewer func(obj metav1.Object, spec *corev1.PodSpec) user.Info

// AdmitDocument admits the creation of one document, without namespace in
// defaultNamespace, by the user reviewer names, as AdmitDocuments does. A
// panic of a plugin is the document's error (never an admission): one
// object kguard cannot judge must not stop the judgement of the others,
// which run on every core (the webhook server answers such a review as
// failed).
func (c *Chain) AdmitDocument(ctx context.Context, d *manifest.Document, defaultNamespace string, reviewer Reviewer) Outcome {
	return c.AdmitDocumentAs(ctx, d, defaultNamespace, reviewer, nil)
}

// AdmitDocumentAs is AdmitDocument with the user who creates the object
// itself, as the policies judging the object see it, when it is not the
// one reviewer names for its pods (nil: the same): a pod controller is
// created by a user, its pods by kube-controller-manager.
func (c *Chain) AdmitDocumentAs(ctx context.Context, d *manifest.Document, defaultNamespace string, reviewer Reviewer, creator user.Info) (out Outcome) {
	ns := d.Namespace
	if ns == "" {
		ns = defaultNamespace
	}
	defer func() {
		if p := recover(); p != nil {
			if !namespaced(d) { // as admitDocument says: in no namespace
				ns = ""
			}
			out = Outcome{Namespace: ns, Err: d.Errorf("internal error while judging it (please report it): %v", p)}
		}
	}()
	return c.admitDocument(ctx, d, ns, reviewer, creator)
}

// admitDocument is admitDocumentAs of a document in namespace ns.
func (c *Chain) admitDocument(ctx context.Context, d *manifest.Document, ns string, reviewer Reviewer, creator user.Info) Outcome {
	out := Outcome{Namespace: ns}
	w, err := podspec.Decode(d)
	if err != nil {
		out.Err = err
		return out
	}
	if !namespaced(d) {
		// kube-apiserver clears the namespace of a cluster-scoped object
		// (kubectl does not even send it to one).
		out.Namespace, ns = "", ""
	}
	// The object as kube-apiserver hands it to admission: in the request's
	// namespace (rest.EnsureObjectNamespaceMatchesRequestNamespace), set
	// before anything, so that no plugin's patch adds it.
	if w != nil {
		if m, ok := w.Object.(metav1.Object); ok {
			m.SetNamespace(ns)
		}
	} else if d, err = asStored(d, ns); err != nil {
		out.Err = err
		return out
	}
	// Offline, nobody has defaulted the object yet: do what the API server
	// does before admission, or, say, a hostNetwork pod's ports would not
	// be the host ports PodSecurityPolicy refuses. (The webhook receives
	// objects the API server has already defaulted.)
	var spec *corev1.PodSpec
	// stored is a pod controller as kube-apiserver stores it, defaulted as a
	// controller (not as the pods it will create), for the policies that
	// judge the object itself; nil for a Pod or an object without a pod.
	var stored []byte
	if w != nil {
		if _, pod := w.Object.(*corev1.Pod); !pod {
			if stored, err = storedController(d, ns); err != nil {
				out.Err = err
				return out
			}
		}
		_, spec = w.PodParts()
		apidefaults.Pod(w.PodParts())
		podspec.DefaultImageVolumes(spec)
	}
	var obj metav1.Object
	if w != nil {
		obj, _ = w.Object.(metav1.Object)
	}
	podUser := reviewer(obj, spec)
	u := creator // the object's creator, as the request names it
	if u == nil {
		u = podUser
	}
	// The ObjectMutators change the object first, as in the webhook's
	// mutating pass.
	var mutated *admissionv1.AdmissionResponse
	object := d.JSON
	if c.hasObjectMutators() {
		switch {
		case stored != nil:
			object = stored
		case w != nil:
			// The defaulted Pod, the base of the pod plugins' patch too.
			if object, err = json.Marshal(w.Object); err != nil {
				out.Err = d.Errorf("encoding the object: %v", err)
				return out
			}
		}
		var changed []byte
		mutated, changed, out.DeniedBy = c.mutateObjects(ctx, offlineRequest(d, object, ns, u), true)
		if !mutated.Allowed {
			out.Response = mutated
			return out
		}
		if changed != nil {
			object = changed
			if w != nil {
				md := *d
				md.JSON = changed
				if w, err = podspec.Decode(&md); err != nil {
					out.Err = d.Errorf("reading the object the admission plugins changed: %v", err)
					return out
				}
				if stored != nil {
					// A controller: its pods are defaulted as pods again.
					stored = changed
					_, spec := w.PodParts()
					apidefaults.Pod(w.PodParts())
					podspec.DefaultImageVolumes(spec)
				}
			}
		}
		if c.noPatches {
			mutated.Patch, mutated.PatchType = nil, nil
		}
	}
	if w == nil {
		// Not a pod-carrying object: only ObjectMutators and ObjectValidators judge it.
		if mutated == nil && !c.hasObjectValidators() {
			return out
		}
		if mutated == nil {
			mutated = &admissionv1.AdmissionResponse{Allowed: true}
		}
		out.Response, out.DeniedBy = mutated, ""
		if c.hasObjectValidators() {
			out.Response, out.DeniedBy = c.validateObjects(ctx, offlineRequest(d, object, ns, u), mutated, true)
		}
		return out
	}
	out.Response, out.DeniedBy = c.admit(ctx, &Request{Operation: admissionv1.Create, Workload: w,
		Resource: Resource(d.APIVersion, d.Kind), Name: d.Name, Namespace: ns, User: podUser})
	if mutated != nil {
		out.Response = then(mutated, out.Response)
	}
	if out.Response.Allowed && stored != nil && c.hasObjectValidators() {
		// The pods the controller creates reach the policies that judge
		// objects too (a Rego or Gatekeeper policy on Pods), as their
		// controller's CREATE: judged as their pod plugins judged them.
		pod := w.Pod()
		raw, err := json.Marshal(pod)
		if err != nil {
			out.Response, out.Err = nil, d.Errorf("encoding the pod: %v", err)
			return out
		}
		pd := manifest.Document{Source: d.Source, Line: d.Line, Item: d.Item, APIVersion: "v1", Kind: "Pod", Namespace: ns, JSON: raw}
		out.Response, out.DeniedBy = c.validateObjects(ctx, offlineRequest(&pd, raw, ns, podUser), out.Response, true)
	}
	if out.Response.Allowed && c.hasObjectValidators() {
		// The object as the API server would store it: defaulted and
		// mutated by the chain, as the validating webhook receives it. A
		// pod controller as the webhook's mutating pass leaves it: the
		// template changed by the TemplateMutators only, not as its pods
		// are (a PodSecurityPolicy's annotation, a pod's MCS level).
		final := stored
		if final != nil {
			final = c.mutatedTemplate(ctx, offlineRequest(d, stored, ns, u))
		} else if final, err = json.Marshal(w.Object); err != nil {
			out.Response, out.Err = nil, d.Errorf("encoding the admitted object: %v", err)
			return out
		}
		out.Response, out.DeniedBy = c.validateObjects(ctx, offlineRequest(d, final, ns, u), out.Response, true)
	}
	return out
}

// storedController is the pod controller d as kube-apiserver stores it: in
// namespace ns, its template defaulted as a template (apidefaults.Template).
func storedController(d *manifest.Document, ns string) ([]byte, error) {
	w, err := podspec.Decode(d)
	if err != nil {
		return nil, err
	}
	if m, ok := w.Object.(metav1.Object); ok {
		m.SetNamespace(ns)
	}
	_, spec := w.PodParts()
	apidefaults.Template(spec)
	podspec.DefaultImageVolumes(spec)
	b, err := json.Marshal(w.Object)
	if err != nil {
		return nil, d.Errorf("encoding the object: %v", err)
	}
	return b, nil
}

// mutatedTemplate is a pod controller's request object after the webhook's
// mutating pass over its template (Chain.workload: the TemplateMutators,
// such as ClusterImagePolicy's digests); the object as it was when they
// refuse it (the pods' own admission has answered) or change nothing.
func (c *Chain) mutatedTemplate(ctx context.Context, req *admissionv1.AdmissionRequest) []byte {
	resp := c.workload(ctx, req, PhaseMutate)
	if !resp.Allowed || len(resp.Patch) == 0 {
		return req.Object.Raw
	}
	p, err := jsonpatch4.DecodePatch(resp.Patch)
	if err != nil {
		return req.Object.Raw
	}
	out, err := p.Apply(req.Object.Raw)
	if err != nil {
		return req.Object.Raw
	}
	return out
}

// offlineRequest is the CREATE of a document by u, as kube-apiserver would
// send it to a webhook (request.CreateV1AdmissionReview of the attributes
// its create handler builds): ns is the object's namespace, "" for a
// cluster-scoped kind.
func offlineRequest(d *manifest.Document, object []byte, ns string, u user.Info) *admissionv1.AdmissionRequest {
	group, version, ok := strings.Cut(d.APIVersion, "/")
	if !ok {
		group, version = "", d.APIVersion
	}
	// The API's plural (networkpolicies, endpoints), as a policy reading
	// request.resource sees it from the API server.
	m, _ := apiresources.Lookup(schema.GroupKind{Group: group, Kind: d.Kind})
	kind := metav1.GroupVersionKind{Group: group, Version: version, Kind: d.Kind}
	resource := metav1.GroupVersionResource{Group: group, Version: version, Resource: m.Resource}
	dryRun := false
	req := &admissionv1.AdmissionRequest{
		UID:             types.UID(fmt.Sprintf("kguard-check-%s", d.Position())),
		Kind:            kind,
		Resource:        resource,
		RequestKind:     &kind,
		RequestResource: &resource,
		Name:            d.Name,
		Namespace:       ns,
		Operation:       admissionv1.Create,
		Object:          runtime.RawExtension{Raw: object},
		DryRun:          &dryRun,
		Options:         runtime.RawExtension{Raw: createOptions},
	}
	if group == "" && d.Kind == "Namespace" && ns == "" {
		// The create handler takes a Namespace's own name as the request's
		// namespace (k8s.io/apiserver/pkg/endpoints/handlers/create.go).
		req.Namespace = d.Name
	}
	if u != nil {
		req.UserInfo = authenticationv1.UserInfo{Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups()}
		for k, v := range u.GetExtra() {
			if req.UserInfo.Extra == nil {
				req.UserInfo.Extra = map[string]authenticationv1.ExtraValue{}
			}
			req.UserInfo.Extra[k] = v
		}
	}
	return req
}

// createOptions are the options of a CREATE as kube-apiserver sends them
// (no field manager: it is the client's).
var createOptions = []byte(`{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1"}`)

// namespaced reports whether kube-apiserver keeps d in a namespace: every
// kind but the cluster-scoped built-in ones and those of kguard's CRDs. A
// custom kind kguard does not know is namespaced when its file names a
// namespace, or else unless its name starts with Cluster.
func namespaced(d *manifest.Document) bool {
	m, known := apiresources.Lookup(schema.GroupKind{Group: d.Group(), Kind: d.Kind})
	return m.Namespaced || !known && d.Namespace != ""
}

// asStored is d as kube-apiserver hands an object without a pod to
// admission: metadata.namespace set to ns (removed when ns is ""), and a
// Namespace labelled kubernetes.io/metadata.name with its name, as its v1
// defaulting labels it (SetDefaults_Namespace). d itself when nothing changes.
func asStored(d *manifest.Document, ns string) (*manifest.Document, error) {
	label := d.Group() == "" && d.Kind == "Namespace" && d.Name != ""
	if d.Namespace == ns && !label {
		return d, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(d.JSON, &obj); err != nil {
		return nil, d.Errorf("reading the object: %v", err)
	}
	var md map[string]json.RawMessage
	if raw, ok := obj["metadata"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &md); err != nil {
			return nil, d.Errorf("reading metadata: %v", err)
		}
	}
	if md == nil {
		md = map[string]json.RawMessage{}
	}
	if ns == "" {
		delete(md, "namespace")
	} else {
		md["namespace"], _ = json.Marshal(ns)
	}
	if label {
		var labels map[string]json.RawMessage
		if raw, ok := md["labels"]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, &labels); err != nil {
				return nil, d.Errorf("reading metadata.labels: %v", err)
			}
		}
		if labels == nil {
			labels = map[string]json.RawMessage{}
		}
		labels[corev1.LabelMetadataName], _ = json.Marshal(d.Name)
		md["labels"], _ = json.Marshal(labels)
	}
	var err error
	if obj["metadata"], err = json.Marshal(md); err != nil {
		return nil, d.Errorf("encoding metadata: %v", err)
	}
	out := *d
	if out.JSON, err = json.Marshal(obj); err != nil {
		return nil, d.Errorf("encoding the object: %v", err)
	}
	out.Namespace = ns
	return &out, nil
}
