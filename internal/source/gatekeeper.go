package source

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"

	"github.com/kguard/kguard/internal/admission/constraints"
	engine "github.com/kguard/kguard/internal/constraints"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/regopolicy"
	"github.com/kguard/kguard/internal/snapshot"
	gk "github.com/kguard/kguard/pkg/apis/gatekeeper"
)

// Gatekeeper's resources that kguard reads (and writes: constraint CRDs,
// template status) when the Constraints plugin is on.
var (
	TemplateResource = schema.GroupVersionResource{Group: gk.TemplatesGroup, Version: "v1", Resource: "constrainttemplates"}
	GKConfigResource = schema.GroupVersionResource{Group: gk.ConfigGroup, Version: "v1alpha1", Resource: "configs"}
)

// StatusID is kguard's entry in a ConstraintTemplate's status.byPod.
const StatusID = "kguard"

// gatekeeper is the Gatekeeper side of cluster mode: the ConstraintTemplate,
// Config and Rego ConfigMap informers, an informer per constraint kind and
// per synced (inventory) kind, started as templates and Configs ask for
// them, and the controller that creates each compiled template's
// constraint CRD and writes every template's status, as Gatekeeper's does.
type gatekeeper struct {
	log    *slog.Logger
	dynf   dynamicinformer.DynamicSharedInformerFactory
	dyn    dynamic.Interface
	apiext apiextensions.Interface
	mapper meta.ResettableRESTMapper
	notify func()
	// onError, when set, is told of the list and watch errors of the
	// informers started later (one-shot reads fail on them).
	onError func(error)
	started context.Context

	templates, configs informers.GenericInformer // configs nil when not served
	regoFactory        informers.SharedInformerFactory
	rego               cache.SharedIndexInformer

	mu          sync.Mutex
	constraints map[string]*kindInformer                              // by kind
	inventory   map[schema.GroupVersionKind]informers.GenericInformer // by synced kind
	// lastGood are the Rego modules of each ConfigMap (namespace/name) as
	// they last compiled with the others, kept for when they no longer do.
	lastGood map[string][]policy.RegoModule
	// regoErrs are why the ConfigMaps regoModules refused were refused, by
	// namespace/name (the others compiled).
	regoErrs map[string]error
	cs       kubernetes.Interface
}

// newGatekeeper shares cluster mode's clients (cs, dyn); rc makes the
// apiextensions one.
func newGatekeeper(rc *rest.Config, cs kubernetes.Interface, dyn dynamic.Interface, regoNamespace string, log *slog.Logger) (*gatekeeper, error) {
	apiext, err := apiextensions.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	g := &gatekeeper{log: log, dyn: dyn, apiext: apiext, cs: cs,
		dynf:        dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0),
		mapper:      restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery())),
		constraints: map[string]*kindInformer{},
		inventory:   map[schema.GroupVersionKind]informers.GenericInformer{}}
	g.templates = g.dynf.ForResource(TemplateResource)
	if _, err := cs.Discovery().ServerResourcesForGroupVersion(GKConfigResource.GroupVersion().String()); err == nil {
		g.configs = g.dynf.ForResource(GKConfigResource)
	}
	g.regoFactory = informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(regoNamespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = policy.RegoPolicyLabel + "=rego" }))
	g.rego = g.regoFactory.Core().V1().ConfigMaps().Informer()
	return g, nil
}

// static are the informers that exist from the start.
func (g *gatekeeper) static() []cache.SharedIndexInformer {
	out := []cache.SharedIndexInformer{g.templates.Informer(), g.rego}
	if g.configs != nil {
		out = append(out, g.configs.Informer())
	}
	return out
}

func (g *gatekeeper) start(ctx context.Context) {
	g.started = ctx
	g.dynf.Start(ctx.Done())
	g.regoFactory.Start(ctx.Done())
}

func (g *gatekeeper) shutdown() {
	g.dynf.Shutdown()
	g.regoFactory.Shutdown()
}

func (g *gatekeeper) waitForSync(ctx context.Context) bool {
	return allSynced(g.dynf.WaitForCacheSync(ctx.Done())) && allSynced(g.regoFactory.WaitForCacheSync(ctx.Done()))
}

// watchConstraints starts an informer for the constraints of every
// template whose CRD is served, and waits for the new ones to list: the
// first snapshot must hold every constraint, or it would admit what they
// refuse.
func (g *gatekeeper) watchConstraints(ctx context.Context, wait bool) error {
	objs, err := g.templates.Lister().List(labels.Everything())
	if err != nil {
		return err
	}
	var added []cache.InformerSynced
	var crdErr error // the first CRD that could not be read; the others are still watched
	for _, o := range objs {
		u := o.(*unstructured.Unstructured)
		kind, _, _ := unstructured.NestedString(u.Object, "spec", "crd", "spec", "names", "kind")
		if kind == "" {
			continue
		}
		g.mu.Lock()
		_, watched := g.constraints[kind]
		g.mu.Unlock()
		if watched {
			continue
		}
		if _, err := g.apiext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, engine.CRDName(kind), metav1.GetOptions{}); err != nil {
			if !apierrors.IsNotFound(err) && crdErr == nil {
				// Forbidden, unreachable: its constraints may exist.
				crdErr = fmt.Errorf("reading the constraint CRD of %s: %w", kind, err)
			}
			continue // not (yet) created
		}
		ki, err := g.watchKind(kind)
		if err != nil {
			return err
		}
		added = append(added, ki.inf.Informer().HasSynced)
	}
	if wait && len(added) > 0 && !cache.WaitForCacheSync(ctx.Done(), added...) {
		return fmt.Errorf("the constraint informers did not sync")
	}
	return crdErr
}

// kindInformer watches the constraints of one kind; it is stopped when
// kguard deletes the kind's CRD (its template is gone), so that no watch
// of a resource that no longer exists keeps failing.
type kindInformer struct {
	inf  informers.GenericInformer
	stop context.CancelFunc
}

func (g *gatekeeper) watchKind(kind string) (*kindInformer, error) {
	gvr := schema.GroupVersionResource{Group: gk.ConstraintsGroup, Version: "v1beta1", Resource: engine.CRDPlural(kind)}
	inf := dynamicinformer.NewFilteredDynamicInformer(g.dyn, gvr, "", 0, cache.Indexers{}, nil)
	if _, err := inf.Informer().AddEventHandler(changeHandler(g.notify)); err != nil {
		return nil, err
	}
	if err := g.watchErrors(inf.Informer()); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(g.started)
	ki := &kindInformer{inf: inf, stop: cancel}
	g.mu.Lock()
	g.constraints[kind] = ki
	g.mu.Unlock()
	go inf.Informer().Run(ctx.Done())
	return ki, nil
}

// watchInventory starts an informer for every synced kind not watched yet.
func (g *gatekeeper) watchInventory(ctx context.Context, kinds []schema.GroupVersionKind, wait bool) {
	added := false
	for _, gvk := range kinds {
		m, err := g.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			g.mapper.Reset()
			if m, err = g.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
				g.log.Warn("a synced kind is not served; data.inventory lacks it", "kind", gvk.String(), "err", err)
				continue
			}
		}
		if addInformer(g, &g.inventory, gvk, m.Resource) {
			added = true
		}
	}
	if added {
		g.dynf.Start(g.started.Done())
		if wait {
			g.dynf.WaitForCacheSync(ctx.Done())
		}
	}
}

// addInformer registers the informer of gvr under key, with the rebuild
// handler, unless there is one.
func addInformer[K comparable](g *gatekeeper, m *map[K]informers.GenericInformer, key K, gvr schema.GroupVersionResource) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := (*m)[key]; ok {
		return false
	}
	inf := g.dynf.ForResource(gvr)
	if _, err := inf.Informer().AddEventHandler(changeHandler(g.notify)); err != nil {
		g.log.Error("watching", "resource", gvr.String(), "err", err)
		return false
	}
	if err := g.watchErrors(inf.Informer()); err != nil {
		g.log.Error("watching", "resource", gvr.String(), "err", err)
		return false
	}
	(*m)[key] = inf
	return true
}

// watchErrors hands i's list and watch errors to onError, when set.
func (g *gatekeeper) watchErrors(i cache.SharedIndexInformer) error {
	if g.onError == nil {
		return nil
	}
	return i.SetWatchErrorHandler(func(_ *cache.Reflector, err error) { g.onError(err) })
}

func changeHandler(notify func()) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{AddFunc: func(any) { notify() }, UpdateFunc: func(any, any) { notify() }, DeleteFunc: func(any) { notify() }}
}

// fill adds the Gatekeeper objects of the caches to set. A
// ConstraintTemplate that does not convert fails the build: its
// constraints would otherwise not be enforced. The Rego ConfigMaps are
// added as regoModules chooses; the ones that do not compile are returned
// as broken.
func (g *gatekeeper) fill(set *policy.Set) (broken []error, err error) {
	if set.ConstraintTemplates, err = convertAllMode[gk.ConstraintTemplate](g.templates, "ConstraintTemplate", false); err != nil {
		return nil, err
	}
	if g.configs != nil {
		if set.GatekeeperConfigs, err = convertAllMode[gk.Config](g.configs, "Config", false); err != nil {
			return nil, err
		}
	}
	var cms []*corev1.ConfigMap
	for _, o := range g.rego.GetStore().List() {
		cms = append(cms, o.(*corev1.ConfigMap))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if set.RegoModules, broken, err = g.regoModules(cms); err != nil {
		return nil, err
	}
	for _, ki := range g.constraints {
		objs, err := ki.inf.Lister().List(labels.Everything())
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			set.Constraints = append(set.Constraints, o.(*unstructured.Unstructured))
		}
	}
	if err := g.fillInventoryLocked(set); err != nil {
		return nil, err
	}
	sort.Slice(set.Constraints, func(i, j int) bool {
		a, b := set.Constraints[i], set.Constraints[j]
		return a.GetKind() < b.GetKind() || a.GetKind() == b.GetKind() && a.GetName() < b.GetName()
	})
	return broken, nil
}

// fillInventoryLocked sets set's inventory to the synced objects of the
// caches; g.mu is held.
func (g *gatekeeper) fillInventoryLocked(set *policy.Set) error {
	set.Inventory = []*unstructured.Unstructured{}
	for _, inf := range g.inventory {
		objs, err := inf.Lister().List(labels.Everything())
		if err != nil {
			return err
		}
		for _, o := range objs {
			set.Inventory = append(set.Inventory, o.(*unstructured.Unstructured))
		}
	}
	return nil
}

// regoModules are the modules of the Rego ConfigMaps (sorted by namespace
// and name) as OPA holds what kube-mgmt loads into it, one ConfigMap after
// the other: a ConfigMap whose modules do not compile with the others is
// refused and its last version that did compile stays (none, when none
// ever did), so that one broken ConfigMap neither stops every other policy
// from updating nor drops the rules it had. The ConfigMaps refused are
// returned as broken. Before any set compiled (kguard starting: it keeps
// no history across restarts) a broken ConfigMap is an error: kguard does
// not start without rules that may have been in force.
func (g *gatekeeper) regoModules(cms []*corev1.ConfigMap) ([]policy.RegoModule, []error, error) {
	sort.Slice(cms, func(i, j int) bool { return cms[i].Namespace+"/"+cms[i].Name < cms[j].Namespace+"/"+cms[j].Name })
	keys := make([]string, len(cms))
	current := map[string][]policy.RegoModule{}
	for i, cm := range cms {
		keys[i] = cm.Namespace + "/" + cm.Name
		current[keys[i]] = policy.ConfigMapModules(cm)
	}
	flatten := func(by map[string][]policy.RegoModule) []policy.RegoModule {
		var out []policy.RegoModule
		for _, k := range keys {
			out = append(out, by[k]...)
		}
		return out
	}
	g.regoErrs = map[string]error{}
	if err := compiles(flatten(current)); err == nil { // as they are
		g.lastGood = current
		return flatten(current), nil, nil
	} else if g.lastGood == nil {
		return nil, nil, fmt.Errorf("the Rego ConfigMaps do not compile: %w", err)
	}
	// From the last versions that compiled (of the ConfigMaps that still
	// exist), each changed ConfigMap in turn.
	base := map[string][]policy.RegoModule{}
	for _, k := range keys {
		if last, ok := g.lastGood[k]; ok {
			base[k] = last
		}
	}
	if compiles(flatten(base)) != nil {
		base = map[string][]policy.RegoModule{} // a deletion broke them: from none
	}
	var broken []error
	for _, k := range keys {
		if slices.Equal(base[k], current[k]) {
			continue
		}
		last, had := base[k]
		base[k] = current[k]
		if err := compiles(flatten(base)); err != nil {
			what := "left out (no version of it has compiled)"
			switch good, ok := g.lastGood[k]; {
			case had:
				base[k] = last // base compiled with it
				what = "its last version that compiled is used"
			case ok:
				// base was emptied by a deletion: its last good version,
				// if it still compiles with the others.
				base[k] = good
				what = "its last version that compiled is used"
				if compiles(flatten(base)) != nil {
					delete(base, k)
					what = "left out (its last version that compiled no longer compiles with the others)"
				}
			default:
				delete(base, k)
			}
			g.regoErrs[k] = err
			broken = append(broken, fmt.Errorf("Rego ConfigMap %s: %v; %s", k, err, what))
		}
	}
	g.lastGood = base
	return flatten(base), broken, nil
}

// compiles compiles modules as the Constraints plugin does.
func compiles(mods []policy.RegoModule) error {
	in := make([]regopolicy.Module, len(mods))
	for i, m := range mods {
		in[i] = regopolicy.Module{Name: m.Name, Source: m.Source}
	}
	_, err := regopolicy.Compile(context.Background(), in)
	return err
}

// reconcile follows a new snapshot: the constraint CRD of each compiled
// template, the template's status, the informers of new constraint kinds
// and synced kinds. Errors are logged; the next change retries.
func (g *gatekeeper) reconcile(ctx context.Context, snap *snapshot.Snapshot) {
	p, _ := snap.Admission.Plugin(constraints.PluginName).(*constraints.Plugin)
	if p == nil {
		return
	}
	statuses := map[string]error{}
	for _, ts := range p.Templates() {
		statuses[ts.Name] = ts.Err
	}
	objs, err := g.templates.Lister().List(labels.Everything())
	if err != nil {
		g.log.Error("listing ConstraintTemplates", "err", err)
		return
	}
	for _, o := range objs {
		u := o.(*unstructured.Unstructured)
		var t gk.ConstraintTemplate
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &t); err != nil {
			continue
		}
		compileErr, known := statuses[t.Name]
		if !known {
			continue // the snapshot predates it; the next one has it
		}
		created := false
		var crdErr error
		if compileErr == nil {
			created, crdErr = g.ensureCRD(ctx, &t)
		}
		g.writeStatus(ctx, u, &t, compileErr, crdErr, created)
	}
	g.deleteOrphanCRDs(ctx, objs)
	g.writeRegoStatus(ctx)
	if err := g.watchConstraints(ctx, false); err != nil {
		g.log.Error("watching constraints", "err", err)
	}
	g.watchInventory(ctx, p.SyncKinds(), false)
}

// RegoStatusAnnotation is where kube-mgmt reports whether OPA took a
// policy ConfigMap; kguard writes it alike: {"status":"ok"}, or
// {"status":"error","error":{"message":...}} for a ConfigMap refused.
const RegoStatusAnnotation = "openpolicyagent.org/kube-mgmt-status"

// writeRegoStatus writes each Rego ConfigMap's status annotation where it
// changed. Errors are logged; the next change retries.
func (g *gatekeeper) writeRegoStatus(ctx context.Context) {
	g.mu.Lock()
	errs := maps.Clone(g.regoErrs)
	g.mu.Unlock()
	for _, o := range g.rego.GetStore().List() {
		cm := o.(*corev1.ConfigMap)
		status := map[string]any{"status": "ok"}
		if err := errs[cm.Namespace+"/"+cm.Name]; err != nil {
			status = map[string]any{"status": "error", "error": map[string]any{"message": err.Error()}}
		}
		want, err := json.Marshal(status)
		if err != nil || cm.Annotations[RegoStatusAnnotation] == string(want) {
			continue
		}
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{RegoStatusAnnotation: string(want)}}})
		if err != nil {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = g.cs.CoreV1().ConfigMaps(cm.Namespace).Patch(pctx, cm.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kguard"})
		cancel()
		if err != nil {
			g.log.Error("writing a Rego ConfigMap's status", "configmap", cm.Namespace+"/"+cm.Name, "err", err)
		}
	}
}

// ensureCRD creates or updates the template's constraint CRD (only one kguard
// made: Gatekeeper's own is left to Gatekeeper) and reports whether it is
// established.
func (g *gatekeeper) ensureCRD(ctx context.Context, t *gk.ConstraintTemplate) (bool, error) {
	want := engine.CRD(t)
	crds := g.apiext.ApiextensionsV1().CustomResourceDefinitions()
	have, err := crds.Get(ctx, want.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		have, err = crds.Create(ctx, want, metav1.CreateOptions{FieldManager: "kguard"})
		if err != nil {
			return false, fmt.Errorf("creating CRD %s: %w", want.Name, err)
		}
		g.log.Info("created constraint CRD", "crd", want.Name, "template", t.Name)
	case err != nil:
		return false, err
	case have.Labels[engine.ManagedBy] == "kguard" && !reflect.DeepEqual(have.Spec.Versions, want.Spec.Versions):
		have.Spec.Versions, have.Spec.Names = want.Spec.Versions, want.Spec.Names
		if have, err = crds.Update(ctx, have, metav1.UpdateOptions{FieldManager: "kguard"}); err != nil {
			return false, fmt.Errorf("updating CRD %s: %w", want.Name, err)
		}
	}
	for _, c := range have.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true, nil
		}
	}
	return false, nil
}

// deleteOrphanCRDs deletes the constraint CRDs kguard made for templates
// that are gone (their constraints go with them, as with Gatekeeper).
func (g *gatekeeper) deleteOrphanCRDs(ctx context.Context, templates []runtime.Object) {
	live := map[string]bool{}
	for _, o := range templates {
		kind, _, _ := unstructured.NestedString(o.(*unstructured.Unstructured).Object, "spec", "crd", "spec", "names", "kind")
		live[engine.CRDName(kind)] = true
	}
	list, err := g.apiext.ApiextensionsV1().CustomResourceDefinitions().List(ctx, metav1.ListOptions{LabelSelector: engine.ManagedBy + "=kguard," + engine.CRDLabel + "=yes"})
	if err != nil {
		g.log.Error("listing constraint CRDs", "err", err)
		return
	}
	for _, crd := range list.Items {
		if live[crd.Name] {
			continue
		}
		if err := g.apiext.ApiextensionsV1().CustomResourceDefinitions().Delete(ctx, crd.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			g.log.Error("deleting constraint CRD", "crd", crd.Name, "err", err)
			continue
		}
		g.mu.Lock()
		if ki := g.constraints[crd.Spec.Names.Kind]; ki != nil {
			ki.stop()
			delete(g.constraints, crd.Spec.Names.Kind)
		}
		g.mu.Unlock()
		g.log.Info("deleted the constraint CRD of a deleted ConstraintTemplate", "crd", crd.Name)
	}
}

// writeStatus sets kguard's entry of status.byPod (and status.created),
// keeping the other entries (Gatekeeper's pods, when it runs too).
func (g *gatekeeper) writeStatus(ctx context.Context, u *unstructured.Unstructured, t *gk.ConstraintTemplate, compileErr, crdErr error, created bool) {
	entry := gk.ByPodStatus{ID: StatusID, ObservedGeneration: t.Generation, TemplateUID: string(t.UID), Operations: []string{"webhook"}}
	if compileErr != nil {
		entry.Errors = append(entry.Errors, gk.CreateCRDError{Code: "ingest_error", Message: compileErr.Error()})
	}
	if crdErr != nil {
		entry.Errors = append(entry.Errors, gk.CreateCRDError{Code: "create_error", Message: crdErr.Error()})
	}
	status := t.Status
	byPod := []gk.ByPodStatus{entry}
	for _, b := range status.ByPod {
		if b.ID != StatusID {
			byPod = append(byPod, b)
		}
	}
	sort.Slice(byPod, func(i, j int) bool { return byPod[i].ID < byPod[j].ID })
	next := gk.ConstraintTemplateStatus{Created: created || (status.Created && compileErr == nil), ByPod: byPod}
	if reflect.DeepEqual(next, status) {
		return
	}
	b, err := json.Marshal(next)
	if err != nil {
		return
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return
	}
	cp := u.DeepCopy()
	cp.Object["status"] = m
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := g.dyn.Resource(TemplateResource).UpdateStatus(ctx, cp, metav1.UpdateOptions{FieldManager: "kguard"}); err != nil && !apierrors.IsConflict(err) {
		g.log.Error("writing ConstraintTemplate status", "template", t.Name, "err", err)
	}
}
