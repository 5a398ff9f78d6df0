package tenantctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/snapshot"
	"github.com/kguard/kguard/internal/source"
	"github.com/kguard/kguard/internal/tenant"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// Defaults of the Reconciler's timing.
const (
	DefaultInterval = 10 * time.Minute
	DefaultDebounce = 2 * time.Second
)

// The Tenants' Ready condition: its type and reasons.
const (
	ConditionReady = "Ready"
	// ReasonApplied: every object the Tenant implies is applied, and those
	// it no longer implies are deleted.
	ReasonApplied = "Applied"
	// ReasonApplyFailed: an apply or a delete failed; the message is the first error.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonRenderFailed: the Tenant's objects could not be rendered;
	// nothing of it is applied or deleted.
	ReasonRenderFailed = "RenderFailed"
	// ReasonRefused: the Tenant stored is refused (cluster mode: it does
	// not convert, validate, or fit with the Tenants in force); the message
	// says why and what stays in force: its last good version, applied as
	// it was, or nothing of it.
	ReasonRefused = "Refused"
)

// Reconciler applies what the Tenants of the last snapshot stored imply,
// prunes what they no longer imply, and writes their Ready condition: when a
// snapshot is stored (a Tenant or a Namespace changed), after a burst of
// changes to the objects it manages (Debounce), and every Interval. It
// implements source.Publisher.
type Reconciler struct {
	// Client reads and writes the tenants' objects and the Tenants' status.
	Client   dynamic.Interface
	Interval time.Duration // default DefaultInterval
	Debounce time.Duration // default DefaultDebounce
	Logger   *slog.Logger
	// Now stamps the conditions' lastTransitionTime and the metrics' last
	// success (default time.Now).
	Now func() time.Time
	// Metrics are the passes' series (default: NewMetrics of a registry of
	// their own, served by no one).
	Metrics *Metrics

	in            atomic.Pointer[input]
	policyChanged chan struct{}
	objectChanged chan struct{}
	once          sync.Once
	factory       dynamicinformer.DynamicSharedInformerFactory
	informers     []cache.SharedIndexInformer // by Resources' order
}

// input is what a snapshot gives the reconciler.
type input struct {
	tenants    []*v1alpha1.Tenant
	namespaces []*corev1.Namespace
	refused    []policy.RefusedTenant // their last good versions, if any, are in tenants
}

var _ source.Publisher = (*Reconciler)(nil)

func (r *Reconciler) init() {
	r.once.Do(func() {
		r.policyChanged = make(chan struct{}, 1)
		r.objectChanged = make(chan struct{}, 1)
		if r.Logger == nil {
			r.Logger = slog.Default()
		}
		if r.Interval <= 0 {
			r.Interval = DefaultInterval
		}
		if r.Debounce <= 0 {
			r.Debounce = DefaultDebounce
		}
		if r.Now == nil {
			r.Now = time.Now
		}
		if r.Metrics == nil {
			r.Metrics = NewMetrics(prometheus.NewRegistry())
		}
	})
}

// Store takes the Tenants and Namespaces of a new snapshot. A snapshot
// whose Tenants may not be all the cluster's (TenantsComplete false: the
// Tenant CRD was not served when its source started) is ignored: pruning
// from it would delete the objects of every Tenant it does not hold.
func (r *Reconciler) Store(snap *snapshot.Snapshot) {
	r.init()
	if !snap.TenantsComplete {
		r.Logger.Warn("the policy snapshot holds no list of the cluster's Tenants (the kguard.io Tenant CRD was not served when kguard controller started): tenant objects are neither applied nor deleted; restart kguard controller once the CRD is installed")
		return
	}
	r.in.Store(&input{tenants: snap.Tenants, namespaces: snap.Namespaces, refused: snap.RefusedTenants})
	notify(r.policyChanged)
}

// ReloadFailed: the last snapshot's Tenants stay (the Controller logs it).
func (r *Reconciler) ReloadFailed(error) {}

// Fresh: nothing to do.
func (r *Reconciler) Fresh() {}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func drain(ch chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// managedSelector selects kguard's tenant objects: the informers watch
// these only, so that a change to one (drift) is corrected.
func managedSelector() string {
	by, _ := labels.NewRequirement(tenant.ManagedByLabel, selection.Equals, []string{tenant.ManagedBy})
	of, _ := labels.NewRequirement(v1alpha1.TenantLabel, selection.Exists, nil)
	return labels.NewSelector().Add(*by, *of).String()
}

// Start sets up, starts and syncs the informers of the managed objects
// (Resources, labelled objects only); every change asks for a debounced pass.
func (r *Reconciler) Start(ctx context.Context) error {
	r.init()
	sel := managedSelector()
	r.factory = dynamicinformer.NewFilteredDynamicSharedInformerFactory(r.Client, 0, metav1.NamespaceAll,
		func(o *metav1.ListOptions) { o.LabelSelector = sel })
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify(r.objectChanged) },
		UpdateFunc: func(any, any) { notify(r.objectChanged) },
		DeleteFunc: func(any) { notify(r.objectChanged) },
	}
	r.informers = nil
	for _, res := range Resources {
		i := r.factory.ForResource(res.GVR).Informer()
		if _, err := i.AddEventHandler(handler); err != nil {
			return err
		}
		r.informers = append(r.informers, i)
	}
	r.factory.Start(ctx.Done())
	for gvr, ok := range r.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("the %s informer did not sync", gvr.GroupResource())
		}
	}
	return nil
}

// Shutdown stops the informers (after ctx of Start has ended).
func (r *Reconciler) Shutdown() {
	if r.factory != nil {
		r.factory.Shutdown()
	}
}

// Run starts the informers and reconciles until ctx ends: on every snapshot
// stored, after each burst of changes to the managed objects, every
// Interval, and after a pass that failed (retried after Debounce, then
// twice as long each time it fails again, up to Interval). A pass waits for
// the first snapshot.
func (r *Reconciler) Run(ctx context.Context) error {
	r.init()
	ctx, cancel := context.WithCancel(ctx)
	defer r.Shutdown() // after cancel: Shutdown waits for the informers to stop
	defer cancel()
	r.Logger.Info("waiting for the tenant objects' informers to sync")
	if err := r.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	drain(r.objectChanged) // the informers' first adds are in the first pass
	ticker := time.NewTicker(r.Interval)
	defer ticker.Stop()
	var (
		retry   <-chan time.Time // nil while the last pass succeeded
		backoff time.Duration
	)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.policyChanged:
		case <-ticker.C:
		case <-retry:
		case <-r.objectChanged:
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(r.Debounce):
			}
		}
		drain(r.objectChanged)
		drain(r.policyChanged)
		err := r.Reconcile(ctx)
		switch {
		case err == nil || ctx.Err() != nil:
		case errors.Is(err, errNoSnapshot):
			r.Logger.Debug("tenant objects changed before the first policy snapshot; the pass waits for it")
		default:
			backoff = min(max(2*backoff, r.Debounce), r.Interval)
			r.Logger.Error("tenants", "err", err, "retry", backoff)
			retry = time.After(backoff)
			continue
		}
		retry, backoff = nil, 0
	}
}

// errNoSnapshot: no Tenants known yet, nothing applied nor deleted.
var errNoSnapshot = errors.New("no policy snapshot yet")

// outcome is what one pass did for one tenant.
type outcome struct {
	objects, namespaces int
	warnings            []string
	renderErr           error
	errs                []error
}

// Reconcile makes one pass: renders every Tenant of the last snapshot,
// plans against the informers' caches (PlanObjects), applies and deletes,
// and writes each Tenant's Ready condition when it changed — Refused for
// a Tenant the source refused, whose last good version, if any, is the one
// rendered (a refusal is the source's error, not the pass's). It goes on past
// a failure and returns every error. Every pass but one without a snapshot
// is counted in Metrics.
func (r *Reconciler) Reconcile(ctx context.Context) (err error) {
	r.init()
	in := r.in.Load()
	if in == nil {
		return errNoSnapshot
	}
	start := time.Now()
	defer func() { r.Metrics.pass(r.Now(), time.Since(start), err) }()
	outcomes := map[string]*outcome{}
	keep := map[string]bool{}
	deleting := beingDeleted(in.namespaces)
	var wanted []*unstructured.Unstructured
	for _, t := range in.tenants {
		o := &outcome{}
		outcomes[t.Name] = o
		rendering, err := tenant.Render(t, in.namespaces, in.tenants)
		if err != nil {
			o.renderErr = err
			keep[t.Name] = true
			continue
		}
		o.warnings = rendering.Warnings
		var skipped []string
		rendering.Objects, skipped = outside(rendering.Objects, deleting)
		for _, ns := range skipped {
			o.warnings = append(o.warnings, fmt.Sprintf("namespace %q is being deleted: nothing is applied in it (a Namespace the Tenant names is created again once it is gone)", ns))
		}
		o.objects = len(rendering.Objects)
		for _, u := range rendering.Objects {
			if u.GetKind() == "Namespace" {
				o.namespaces++
			}
			if err := Stamp(u); err != nil {
				o.renderErr = fmt.Errorf("tenant %q: %s: %w", t.Name, describe(u), err)
			}
		}
		if o.renderErr != nil {
			keep[t.Name] = true
			continue
		}
		wanted = append(wanted, rendering.Objects...)
	}
	existing, _ := outside(r.existing(), deleting)
	plan := PlanObjects(wanted, existing, keep)
	var errs []error
	fail := func(u *unstructured.Unstructured, err error) {
		errs = append(errs, err)
		if o := outcomes[u.GetLabels()[v1alpha1.TenantLabel]]; o != nil {
			o.errs = append(o.errs, err)
		}
	}
	for _, u := range plan.Apply {
		if err := r.apply(ctx, u); err != nil {
			fail(u, fmt.Errorf("applying %s: %w", describe(u), err))
			continue
		}
		r.Metrics.applied.Inc()
	}
	for _, u := range plan.Delete {
		if err := r.delete(ctx, u); err != nil {
			fail(u, fmt.Errorf("deleting %s: %w", describe(u), err))
			continue
		}
		r.Metrics.deleted.Inc()
	}
	for _, u := range plan.Released {
		r.Logger.Debug("a Namespace no Tenant implies any more is left as it is (kguard never deletes a Namespace)",
			"namespace", u.GetName(), "tenant", u.GetLabels()[v1alpha1.TenantLabel])
	}
	for _, u := range plan.Foreign {
		r.Logger.Debug("an object with kguard's labels that kguard never applied (no "+FieldManager+" apply in its managedFields) is left as it is",
			"object", describe(u), "tenant", u.GetLabels()[v1alpha1.TenantLabel])
	}
	refused := make(map[string]policy.RefusedTenant, len(in.refused))
	for _, rt := range in.refused {
		refused[rt.Name] = rt
	}
	ready := make(map[string]bool, len(in.tenants)+len(in.refused))
	write := func(name string, have []metav1.Condition, c metav1.Condition) {
		ready[name] = c.Status == metav1.ConditionTrue
		if err := r.writeStatus(ctx, name, have, c); err != nil {
			errs = append(errs, fmt.Errorf("writing the status of Tenant %q: %w", name, err))
		}
	}
	for _, t := range in.tenants {
		o := outcomes[t.Name]
		if o.renderErr != nil {
			errs = append(errs, o.renderErr)
		}
		c := condition(t, o)
		if rt, ok := refused[t.Name]; ok { // t is its last good version, its status as it was then
			write(t.Name, rt.Conditions, refusedCondition(rt, fmt.Sprintf("generation %d stays in force (%s: %s)", t.Generation, c.Reason, c.Message)))
			continue
		}
		write(t.Name, t.Status.Conditions, c)
	}
	for _, rt := range in.refused {
		if _, inForce := outcomes[rt.Name]; !inForce {
			write(rt.Name, rt.Conditions, refusedCondition(rt, "nothing of it is applied"))
		}
	}
	r.Metrics.setReady(ready)
	level := slog.LevelDebug // a pass on every snapshot: said at info only when it wrote or failed
	if !plan.Empty() || len(errs) > 0 {
		level = slog.LevelInfo
	}
	r.Logger.Log(ctx, level, "tenants reconciled", "tenants", len(in.tenants), "refused", len(in.refused), "objects", len(wanted), "applied", len(plan.Apply),
		"deleted", len(plan.Delete), "errors", len(errs), "took", time.Since(start).Round(time.Millisecond))
	return errors.Join(errs...)
}

// beingDeleted are the names of the namespaces being deleted (a deletion
// timestamp): kube-controller-manager is deleting their content, and the
// API server refuses new content there.
func beingDeleted(namespaces []*corev1.Namespace) map[string]bool {
	out := map[string]bool{}
	for _, ns := range namespaces {
		if ns.DeletionTimestamp != nil {
			out[ns.Name] = true
		}
	}
	return out
}

// outside returns the objects that are neither in nor one of the
// namespaces deleting, and the names of the namespaces of the others,
// sorted, once each. Neither applied nor deleted, a namespace being deleted
// is left to kube-controller-manager; a Namespace a selector matched is not
// created again from a snapshot that still holds it.
func outside(objs []*unstructured.Unstructured, deleting map[string]bool) ([]*unstructured.Unstructured, []string) {
	if len(deleting) == 0 {
		return objs, nil
	}
	var kept []*unstructured.Unstructured
	skipped := map[string]bool{}
	for _, u := range objs {
		ns := u.GetNamespace()
		if k := KeyOf(u); k.Group == "" && k.Kind == "Namespace" {
			ns = k.Name
		}
		if deleting[ns] {
			skipped[ns] = true
			continue
		}
		kept = append(kept, u)
	}
	return kept, slices.Sorted(maps.Keys(skipped))
}

// existing are the informers' objects, each with its apiVersion and kind
// (items of a list may omit them).
func (r *Reconciler) existing() []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for i, inf := range r.informers {
		res := Resources[i]
		for _, o := range inf.GetStore().List() {
			u, ok := o.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			if u.GetKind() == "" || u.GetAPIVersion() == "" {
				c := &unstructured.Unstructured{Object: maps.Clone(u.Object)} // shallow: only the top level changes
				c.SetAPIVersion(res.GVR.GroupVersion().String())
				c.SetKind(res.Kind)
				u = c
			}
			out = append(out, u)
		}
	}
	return out
}

func (r *Reconciler) resource(u *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := u.GroupVersionKind()
	res := resourceOf(gvk.Group, gvk.Kind)
	if res == nil {
		return nil, fmt.Errorf("kind %s of group %q is not among the tenant resources", gvk.Kind, gvk.Group)
	}
	if res.Namespaced {
		return r.Client.Resource(res.GVR).Namespace(u.GetNamespace()), nil
	}
	return r.Client.Resource(res.GVR), nil
}

// apply applies u with the field manager FieldManager, forcing its fields:
// the fields kguard sets are kguard's, another manager's change to them is
// drift, and the fields it does not set are left to others — but for the
// keys others added to a map kguard sets empty, which a merge patch removes
// (Emptied).
func (r *Reconciler) apply(ctx context.Context, u *unstructured.Unstructured) error {
	ri, err := r.resource(u)
	if err != nil {
		return err
	}
	got, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return err
	}
	patch := Emptied(got, u)
	if patch == nil {
		return nil
	}
	js, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	_, err = ri.Patch(ctx, u.GetName(), types.MergePatchType, js, metav1.PatchOptions{FieldManager: FieldManager})
	return err
}

// delete deletes u if it is still the object read (same UID).
func (r *Reconciler) delete(ctx context.Context, u *unstructured.Unstructured) error {
	ri, err := r.resource(u)
	if err != nil {
		return err
	}
	opts := metav1.DeleteOptions{}
	if uid := u.GetUID(); uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	err = ri.Delete(ctx, u.GetName(), opts)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func describe(u *unstructured.Unstructured) string {
	if ns := u.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", u.GetKind(), ns, u.GetName())
	}
	return fmt.Sprintf("%s %s", u.GetKind(), u.GetName())
}

// condition is the Ready condition of a tenant after a pass.
func condition(t *v1alpha1.Tenant, o *outcome) metav1.Condition {
	c := metav1.Condition{Type: ConditionReady, ObservedGeneration: t.Generation}
	switch {
	case o.renderErr != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, ReasonRenderFailed, o.renderErr.Error()
	case len(o.errs) > 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, ReasonApplyFailed, o.errs[0].Error()
		if n := len(o.errs) - 1; n > 0 {
			c.Message += fmt.Sprintf(" (and %d more errors)", n)
		}
	default:
		c.Status, c.Reason = metav1.ConditionTrue, ReasonApplied
		c.Message = fmt.Sprintf("%d objects in %d namespaces applied", o.objects, o.namespaces)
		if len(o.warnings) > 0 {
			w := append([]string(nil), o.warnings...)
			sort.Strings(w)
			c.Message += "; " + strings.Join(w, "; ")
		}
	}
	return c
}

// refusedCondition is the Ready condition of a Tenant refused; inForce
// says what of it stays in force.
func refusedCondition(rt policy.RefusedTenant, inForce string) metav1.Condition {
	return metav1.Condition{Type: ConditionReady, Status: metav1.ConditionFalse, Reason: ReasonRefused, ObservedGeneration: rt.Generation,
		Message: fmt.Sprintf("generation %d is refused: %s; %s", rt.Generation, rt.Reason, inForce)}
}

// maxMessage is the CRD's bound on a condition's message.
const maxMessage = 32768

// writeStatus writes the Ready condition want of the Tenant name through
// the status subresource (server-side apply of that condition alone) when
// it differs from the one of have, the conditions the Tenant holds.
func (r *Reconciler) writeStatus(ctx context.Context, name string, have []metav1.Condition, want metav1.Condition) error {
	if len(want.Message) > maxMessage {
		// At a character's start: a cut rune would be sent as U+FFFD,
		// and the stored message would then never equal the one wanted.
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(want.Message[cut]) {
			cut--
		}
		want.Message = want.Message[:cut]
	}
	conds := append([]metav1.Condition(nil), have...)
	want.LastTransitionTime = metav1.NewTime(r.Now())
	if !meta.SetStatusCondition(&conds, want) {
		return nil
	}
	c := meta.FindStatusCondition(conds, ConditionReady)
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.SchemeGroupVersion.String(),
		"kind":       "Tenant",
		"metadata":   map[string]any{"name": name},
		"status": map[string]any{"conditions": []any{map[string]any{
			"type": c.Type, "status": string(c.Status), "reason": c.Reason, "message": c.Message,
			"observedGeneration": c.ObservedGeneration,
			"lastTransitionTime": c.LastTransitionTime.UTC().Format(time.RFC3339),
		}}},
	}}
	_, err := r.Client.Resource(source.TenantResource).ApplyStatus(ctx, name, u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if apierrors.IsNotFound(err) { // deleted since the snapshot
		return nil
	}
	return err
}

// TenantsServed reports whether the API server serves the kguard.io Tenant CRD.
func TenantsServed(d discovery.DiscoveryInterface) (bool, error) {
	list, err := d.ServerResourcesForGroupVersion(source.TenantResource.GroupVersion().String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, res := range list.APIResources {
		if res.Name == source.TenantResource.Resource {
			return true, nil
		}
	}
	return false, nil
}
