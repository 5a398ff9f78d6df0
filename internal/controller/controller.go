package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/kguard/kguard/internal/audit"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/parallel"
	"github.com/kguard/kguard/internal/snapshot"
	"github.com/kguard/kguard/internal/source"
	"github.com/kguard/kguard/pkg/apis/wgpolicyk8s/v1alpha2"
)

// Defaults of the Controller's timing and cap.
const (
	DefaultInterval   = 10 * time.Minute
	DefaultDebounce   = 2 * time.Second
	DefaultMaxResults = 100
)

// Controller audits the cluster's objects (source.AuditedResources, and the
// objects of the kinds the chain's constraints match, from informer caches) with the admission chain of the last snapshot stored, and
// writes the reports: when a new snapshot is stored (a policy changed), after
// a burst of object changes (Debounce) and every Interval. It implements
// source.Publisher, so that a source.Cluster feeds it snapshots as it feeds
// `kguard serve`.
type Controller struct {
	// Client reads the audited objects and writes the reports.
	Client dynamic.Interface
	// Discovery finds the resources of the kinds a snapshot's constraints
	// match (source.JudgedResources), which are watched from the audit
	// that first needs them on (nil: source.AuditedResources only).
	Discovery discovery.DiscoveryInterface
	// MaxResults caps each report's results (0: DefaultMaxResults; the
	// summary counts them all).
	MaxResults int
	Interval   time.Duration // default DefaultInterval
	Debounce   time.Duration // default DefaultDebounce
	// Audit says who creates the objects without a pod (Requester) and the
	// namespace of namespaced objects that name none.
	Audit   audit.Options
	Metrics *Metrics // default: NewMetrics()
	Logger  *slog.Logger

	snap          atomic.Pointer[snapshot.Snapshot]
	generation    atomic.Uint64
	policyChanged chan struct{}
	objectChanged chan struct{}
	once          sync.Once
	// informers are the audited resources' informers, by kind (owner lookup).
	informers map[string]cache.SharedIndexInformer
	factory   dynamicinformer.DynamicSharedInformerFactory
	resources []schema.GroupVersionResource
	// watched are the informers of resources, with their kinds.
	watched map[schema.GroupVersionResource]watchedResource
	// preferred is the version discovery last preferred for each judged
	// resource: one watched in another version before (a CRD that came to
	// prefer v2) holds the same objects, audited once.
	preferred map[schema.GroupResource]schema.GroupVersionResource
	// judged are the resources the last discovery found the snapshot's
	// constraints to match (beside source.AuditedResources): a resource
	// watched once but judged no longer stays watched (a shared factory
	// stops all its informers or none) and is not audited.
	judged  map[schema.GroupVersionResource]bool
	handler cache.ResourceEventHandler
	// judged: the snapshot generation and time of the last discovery of
	// the resources constraints match (once per snapshot and Interval).
	judgedGen uint64
	judgedAt  time.Time
}

type watchedResource struct {
	kind     string
	informer cache.SharedIndexInformer
}

var _ source.Publisher = (*Controller)(nil)

func (c *Controller) init() {
	c.once.Do(func() {
		c.policyChanged = make(chan struct{}, 1)
		c.objectChanged = make(chan struct{}, 1)
		if c.Metrics == nil {
			c.Metrics = NewMetrics()
		}
		if c.Logger == nil {
			c.Logger = slog.Default()
		}
		if c.MaxResults <= 0 {
			c.MaxResults = DefaultMaxResults
		}
		if c.Interval <= 0 {
			c.Interval = DefaultInterval
		}
		if c.Debounce <= 0 {
			c.Debounce = DefaultDebounce
		}
	})
}

// Store takes a new snapshot: the objects are audited again with its chain.
func (c *Controller) Store(snap *snapshot.Snapshot) {
	c.init()
	snap.Generation = c.generation.Add(1)
	c.snap.Store(snap)
	notify(c.policyChanged)
}

// ReloadFailed logs a source that could not build a snapshot (the last one
// keeps auditing) or an object a new snapshot refused (its last good
// version, or none, stands for it; the error says which).
func (c *Controller) ReloadFailed(err error) {
	c.init()
	c.Logger.Error("policies could not be rebuilt, or a policy object is refused; the last good policies keep auditing", "err", err)
}

// Fresh: nothing to do; the audit that follows Store says what it found.
func (c *Controller) Fresh() {}

func drain(ch chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Start sets up, starts and syncs the audited resources' informers; every
// change to an object then asks for a debounced audit.
func (c *Controller) Start(ctx context.Context) error {
	c.init()
	c.factory = dynamicinformer.NewDynamicSharedInformerFactory(c.Client, 0)
	c.informers = map[string]cache.SharedIndexInformer{}
	c.watched = map[schema.GroupVersionResource]watchedResource{}
	c.preferred = map[schema.GroupResource]schema.GroupVersionResource{}
	c.judged = map[schema.GroupVersionResource]bool{}
	c.handler = cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify(c.objectChanged) },
		UpdateFunc: func(any, any) { notify(c.objectChanged) },
		DeleteFunc: func(any) { notify(c.objectChanged) },
	}
	for _, gvr := range source.AuditedResources {
		i, err := c.watch(gvr, source.AuditedKinds[gvr])
		if err != nil {
			return err
		}
		c.informers[source.AuditedKinds[gvr]] = i
	}
	c.factory.Start(ctx.Done())
	for gvr, ok := range c.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("the %s informer did not sync", gvr.GroupResource())
		}
	}
	return nil
}

// watch registers the informer of gvr (started by the factory's next Start).
func (c *Controller) watch(gvr schema.GroupVersionResource, kind string) (cache.SharedIndexInformer, error) {
	i := c.factory.ForResource(gvr).Informer()
	if _, err := i.AddEventHandler(c.handler); err != nil {
		return nil, err
	}
	c.watched[gvr] = watchedResource{kind: kind, informer: i}
	c.resources = append(c.resources, gvr)
	return i, nil
}

// judgedSyncTimeout bounds the first list of a resource the constraints
// came to match.
const judgedSyncTimeout = time.Minute

// watchJudged starts the informers of the resources whose kinds the chain
// judges (its constraints match) that are not watched yet, and waits for
// them to list. A resource that does not list in time (forbidden to
// kguard's ServiceAccount, say) is an error naming it; it is watched on, and
// audited once its informer has listed.
func (c *Controller) watchJudged(ctx context.Context, snap *snapshot.Snapshot) error {
	if c.Discovery == nil || snap.Generation == c.judgedGen && time.Since(c.judgedAt) < c.Interval {
		return nil
	}
	resources, kinds, derr := source.JudgedResources(c.Discovery, snap.Admission.JudgesKind)
	var groups *discovery.ErrGroupDiscoveryFailed
	if derr != nil && !errors.As(derr, &groups) {
		return derr
	}
	// Groups discovery failed on: the others are watched and audited, and
	// the audit is counted as failed (below); those judged before stay
	// judged, since discovery cannot say they are not.
	if derr == nil {
		clear(c.judged)
	}
	var added []cache.InformerSynced
	for _, gvr := range resources {
		c.judged[gvr] = true
		c.preferred[gvr.GroupResource()] = gvr
		if _, ok := c.watched[gvr]; ok {
			continue
		}
		i, err := c.watch(gvr, kinds[gvr])
		if err != nil {
			return err
		}
		added = append(added, i.HasSynced)
		c.Logger.Info("watching a resource the constraints match", "resource", gvr.String())
	}
	if len(added) > 0 {
		c.factory.Start(ctx.Done())
		wctx, cancel := context.WithTimeout(ctx, judgedSyncTimeout)
		defer cancel()
		cache.WaitForCacheSync(wctx.Done(), added...)
	}
	var unsynced []string
	for _, gvr := range c.resources {
		if _, always := source.AuditedKinds[gvr]; c.superseded(gvr) || !always && !c.judged[gvr] {
			continue // no longer audited (a version no longer served, a kind no longer matched)
		}
		if !c.watched[gvr].informer.HasSynced() {
			unsynced = append(unsynced, gvr.String())
		}
	}
	if len(unsynced) == 0 && derr == nil {
		c.judgedGen, c.judgedAt = snap.Generation, time.Now()
	}
	switch {
	case len(unsynced) > 0:
		return fmt.Errorf("not audited: the objects of %v did not list (is kguard allowed to list them?)", unsynced)
	case derr != nil:
		return fmt.Errorf("%w: objects of those groups are not audited", derr)
	}
	return nil
}

// superseded reports whether discovery now prefers another version of
// gvr's resource than the one gvr's informer watches: the same objects,
// audited through that version's informer.
func (c *Controller) superseded(gvr schema.GroupVersionResource) bool {
	p, ok := c.preferred[gvr.GroupResource()]
	return ok && p != gvr
}

// Shutdown stops the informers (after ctx of Start has ended).
func (c *Controller) Shutdown() {
	if c.factory != nil {
		c.factory.Shutdown()
	}
}

// Run starts the informers and audits until ctx ends: on every snapshot
// stored, after each burst of object changes, and every Interval. An audit
// waits for the first snapshot.
func (c *Controller) Run(ctx context.Context) error {
	c.init()
	ctx, cancel := context.WithCancel(ctx)
	defer c.Shutdown() // after cancel: Shutdown waits for the informers to stop
	defer cancel()
	c.Logger.Info("waiting for the audited objects' informers to sync")
	if err := c.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	drain(c.objectChanged) // the informers' first adds are in the first audit
	ticker := time.NewTicker(c.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.policyChanged:
		case <-ticker.C:
		case <-c.objectChanged:
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(c.Debounce):
			}
		}
		// Changes during the debounce are in this audit, and so is a
		// snapshot stored before it loads the last one.
		drain(c.objectChanged)
		drain(c.policyChanged)
		switch err := c.Reconcile(ctx); {
		case err == nil || ctx.Err() != nil:
		case errors.Is(err, errNoSnapshot):
			c.Logger.Debug("objects changed before the first policy snapshot; the audit waits for it")
		default:
			c.Logger.Error("audit", "err", err)
		}
	}
}

// errNoSnapshot: no policies yet, nothing audited.
var errNoSnapshot = errors.New("no policy snapshot yet")

// Reconcile audits every object once with the last snapshot's chain, sets
// the violation gauges, and writes the reports (PlanReports, Writer);
// kguard_audit_last_run_timestamp_seconds moves only when every write
// succeeded.
func (c *Controller) Reconcile(ctx context.Context) error {
	c.init()
	snap := c.snap.Load()
	if snap == nil {
		return errNoSnapshot
	}
	start := time.Now()
	// An audit without some matched kinds still writes what it found, and
	// fails after.
	incomplete := c.watchJudged(ctx, snap)
	wanted, violations, objects := c.auditAll(ctx, snap)
	if ctx.Err() != nil { // an audit cut short says less than the last one
		return ctx.Err()
	}
	c.Metrics.setViolations(violations)
	c.Metrics.objects.Set(float64(objects))
	w := &Writer{Client: c.Client}
	existing, err := w.Existing(ctx)
	if err != nil {
		c.Metrics.runErrors.Inc()
		return err
	}
	plan := PlanReports(wanted, existing)
	for _, ns := range plan.Foreign {
		c.Logger.Warn("a report of kguard's name that kguard did not create is left alone; kguard's results there are not written",
			"name", audit.ReportName, "namespace", ns, "label", ManagedByLabel+"="+ManagedBy)
	}
	if err := w.Write(ctx, &plan); err != nil {
		c.Metrics.runErrors.Inc()
		return err
	}
	if incomplete != nil {
		c.Metrics.runErrors.Inc()
		return incomplete
	}
	c.Metrics.lastRun.SetToCurrentTime()
	c.Metrics.ready.Store(true)
	c.Logger.Info("audited", "objects", objects, "reports", len(wanted), "applied", len(plan.Apply), "deleted", len(plan.Delete),
		"generation", snap.Generation, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// auditAll audits every object of the caches, one resource at a time on
// every core, folding each result into the reports as it comes: no copy of
// the objects is made beyond the one being reviewed (its JSON).
func (c *Controller) auditAll(ctx context.Context, snap *snapshot.Snapshot) ([]v1alpha2.PolicyReport, map[Violation]int, int) {
	auditor := audit.NewAuditor(snap.Admission, c.Audit)
	builder := audit.NewReportBuilder(c.MaxResults)
	violations := map[Violation]int{}
	objects := 0
	var mu sync.Mutex
	for _, gvr := range c.resources {
		w := c.watched[gvr]
		if !w.informer.HasSynced() {
			continue // watchJudged said so
		}
		if c.superseded(gvr) {
			continue // the same objects, in the version now preferred
		}
		if _, always := source.AuditedKinds[gvr]; !always && !c.judged[gvr] {
			continue // no constraint matches its kind any more
		}
		kind := w.kind
		items := w.informer.GetStore().List() // the cached objects themselves, not copies
		objects += len(items)
		parallel.Do(len(items), func(i int) {
			u, ok := items[i].(*unstructured.Unstructured)
			if !ok {
				return
			}
			r := c.auditOne(ctx, auditor, gvr, kind, u)
			mu.Lock()
			defer mu.Unlock()
			builder.Add(&r)
			if r.Violation() {
				violations[Violation{Policy: r.Plugin, Namespace: r.Namespace}]++
			}
		})
	}
	return builder.Reports(), violations, objects
}

// auditOne audits one cached object, which it must not change.
func (c *Controller) auditOne(ctx context.Context, auditor *audit.Auditor, gvr schema.GroupVersionResource, kind string, u *unstructured.Unstructured) audit.Result {
	obj := u.Object
	if u.GetAPIVersion() == "" || u.GetKind() == "" { // items of a list may omit them
		obj = maps.Clone(obj) // shallow: only the top level changes
		obj["apiVersion"], obj["kind"] = gvr.GroupVersion().String(), kind
	}
	d := manifest.Document{Source: "cluster", Item: -1, APIVersion: gvr.GroupVersion().String(), Kind: kind, Name: u.GetName(), Namespace: u.GetNamespace()}
	js, err := json.Marshal(obj)
	if err != nil {
		return audit.Result{Object: audit.Object{APIVersion: d.APIVersion, Kind: kind, Namespace: d.Namespace, Name: d.Name, UID: string(u.GetUID())},
			Status: audit.Unreadable, Error: err.Error()}
	}
	d.JSON = js
	owner := audit.TopController(u.GetNamespace(), controllerRef(u), c.find)
	return auditor.Audit(ctx, &d, string(u.GetUID()), owner)
}

// find looks an object up in the informers' caches, for TopController.
func (c *Controller) find(namespace, kind, name string) (string, *audit.ControllerRef, bool) {
	i := c.informers[kind]
	if i == nil {
		return "", nil, false
	}
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	o, ok, err := i.GetStore().GetByKey(key)
	if err != nil || !ok {
		return "", nil, false
	}
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return "", nil, false
	}
	return string(u.GetUID()), controllerRef(u), true
}

// controllerRef is the controller reference of u, or nil.
func controllerRef(u *unstructured.Unstructured) *audit.ControllerRef {
	field, _, _ := unstructured.NestedFieldNoCopy(u.Object, "metadata", "ownerReferences")
	refs, _ := field.([]any)
	for _, r := range refs {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		if controller, _ := m["controller"].(bool); controller {
			kind, _ := m["kind"].(string)
			name, _ := m["name"].(string)
			uid, _ := m["uid"].(string)
			return &audit.ControllerRef{Kind: kind, Name: name, UID: uid}
		}
	}
	return nil
}
