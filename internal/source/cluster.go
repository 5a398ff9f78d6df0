package source

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	rbacinformers "k8s.io/client-go/informers/rbac/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"

	"github.com/kguard/kguard/internal/admission/clusterimagepolicy"
	"github.com/kguard/kguard/internal/admission/constraints"
	"github.com/kguard/kguard/internal/imagepolicy"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/snapshot"
)

// PSPResource is the kguard PodSecurityPolicy CRD, TenantResource the Tenant one.
var (
	PSPResource    = schema.GroupVersionResource{Group: v1alpha1.GroupName, Version: "v1alpha1", Resource: "podsecuritypolicies"}
	TenantResource = schema.GroupVersionResource{Group: v1alpha1.GroupName, Version: "v1alpha1", Resource: "tenants"}
)

// Sigstore policy-controller's resources: kguard reads them when their CRDs
// are served, and waits for them when the ClusterImagePolicy plugin is on.
var (
	ClusterImagePolicyResource = schema.GroupVersionResource{Group: imagepolicy.APIGroup, Version: "v1beta1", Resource: "clusterimagepolicies"}
	TrustRootResource          = schema.GroupVersionResource{Group: imagepolicy.APIGroup, Version: "v1alpha1", Resource: "trustroots"}
)

// Cluster builds snapshots from a live cluster through client-go informers:
// RBAC objects, kguard PodSecurityPolicies, Namespaces (Pod Security labels)
// and, for ServiceAccount token lookup, ServiceAccounts and token Secrets (a
// token's Pod or Node is read when a token names one). Every change rebuilds the snapshot after a
// short debounce; the server is ready once every informer has synced.
type Cluster struct {
	Config   snapshot.Config
	REST     *rest.Config
	Debounce time.Duration // coalesces bursts of events (default 100ms)
	Logger   *slog.Logger
	// NoLookup accepts ServiceAccount tokens on their signature alone
	// (--service-account-lookup=false).
	NoLookup bool
	// Namespace is kguard's own: where the ConfigMaps of plain Rego
	// policies are read (default: the image policies' secret namespace).
	Namespace string
	// PoliciesOnly builds the snapshots' policies for a process that
	// answers no TokenReview and owns nothing (`kguard controller`): no
	// token Secrets are watched, no token is looked up, and the Gatekeeper
	// objects kguard serve writes (constraint CRDs, template status) are
	// left to it.
	PoliciesOnly bool
}

// namespaceLookupTimeout bounds the live read of a namespace the snapshot
// does not hold yet (well inside the webhook's own timeout).
const namespaceLookupTimeout = 2 * time.Second

// Run syncs the informers, stores the first snapshot, then rebuilds on every
// change until ctx ends.
func (c *Cluster) Run(ctx context.Context, pub Publisher) error {
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	images := ""
	if slices.Contains(c.Config.AdmissionPlugins, clusterimagepolicy.PluginName) {
		images = c.Config.ImagePolicy.SecretNamespace
		if images == "" {
			images = clusterimagepolicy.DefaultSecretNamespace
		}
	}
	inf, err := newInformers(c.REST, true, !c.PoliciesOnly, images)
	if err != nil {
		return err
	}
	changed := make(chan struct{}, 1)
	if err := inf.onChange(func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer inf.shutdown() // after cancel: Shutdown waits for the informers to stop
	defer cancel()
	inf.start(ctx)
	if !inf.pspServed() {
		// Readiness waits for every informer: say why it will not come.
		log.Error("the kguard.io PodSecurityPolicy CRD is not served; kguard stays unready until it is (kubectl apply -f deploy/crds/)")
	}
	if inf.cips != nil && !inf.imagesServed {
		log.Error("the policy.sigstore.dev ClusterImagePolicy and TrustRoot CRDs are not served; kguard stays unready until they are (kubectl apply -f deploy/crds/)")
	}
	var gkw *gatekeeper
	if slices.Contains(c.Config.AdmissionPlugins, constraints.PluginName) {
		ns := c.Namespace
		if ns == "" {
			ns = c.Config.ImagePolicy.SecretNamespace
		}
		if ns == "" {
			ns = clusterimagepolicy.DefaultSecretNamespace
		}
		if gkw, err = newGatekeeper(c.REST, inf.client, inf.dyn, ns, log); err != nil {
			return err
		}
		gkw.notify = func() {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
		for _, i := range gkw.static() {
			if _, err := i.AddEventHandler(changeHandler(gkw.notify)); err != nil {
				return err
			}
		}
		gkw.start(ctx)
		defer gkw.shutdown()
		log.Info("waiting for the Gatekeeper informers to sync (ConstraintTemplates, Configs, Rego ConfigMaps in " + ns + "); the templates.gatekeeper.sh CRD must be served (kubectl apply -f deploy/crds/)")
	}
	synced := "RBAC, kguard.io PodSecurityPolicies, Namespaces, ServiceAccounts, token Secrets"
	if c.PoliciesOnly {
		synced = "RBAC, kguard.io PodSecurityPolicies, Namespaces, ServiceAccounts"
	}
	log.Info("waiting for the informers to sync (" + synced + ")")
	if err := inf.waitForSync(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if gkw != nil {
		if !gkw.waitForSync(ctx) {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("the Gatekeeper informers did not sync")
		}
		// Every constraint, and every synced object, is in the first
		// snapshot: without them it would admit what they refuse.
		if err := gkw.watchConstraints(ctx, true); err != nil {
			return err
		}
	}
	build := c.builder(inf, gkw)
	store := func(snap *snapshot.Snapshot, broken []error) {
		pub.Store(snap)
		for _, err := range broken {
			pub.ReloadFailed(err)
		}
		if len(broken) == 0 {
			pub.Fresh() // stale while a policy object is left out
		}
	}
	snap, broken, err := build()
	if err != nil {
		return err
	}
	if gkw != nil {
		if p, _ := snap.Admission.Plugin(constraints.PluginName).(*constraints.Plugin); p != nil && len(p.SyncKinds()) > 0 {
			gkw.watchInventory(ctx, p.SyncKinds(), true)
			if snap, broken, err = build(); err != nil {
				return err
			}
		}
	}
	store(snap, broken)
	if gkw != nil && !c.PoliciesOnly {
		gkw.reconcile(ctx, snap)
	}
	c.rebuildOnChange(ctx, changed, func() {
		snap, broken, err := build()
		if err != nil {
			pub.ReloadFailed(err)
			return
		}
		store(snap, broken)
		if gkw != nil && !c.PoliciesOnly {
			gkw.reconcile(ctx, snap)
		}
	})
	return nil
}

// builder returns the function that builds a snapshot from the informers'
// caches, with the token lookups and the live namespace read of cluster mode.
func (c *Cluster) builder(inf *clusterInformers, gkw *gatekeeper) func() (*snapshot.Snapshot, []error, error) {
	cfg := c.Config
	// A namespace created a moment ago may not be in the snapshot yet: read
	// it from the informer, then from the API server, as the built-in
	// PodSecurity does; a namespace that cannot be read refuses its pods.
	cfg.PSS.UnknownNamespace = func(ctx context.Context, name string) (*corev1.Namespace, error) {
		if ns, err := inf.namespaces.Lister().Get(name); err == nil {
			return ns, nil
		}
		ctx, cancel := context.WithTimeout(ctx, namespaceLookupTimeout)
		defer cancel()
		return inf.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	}
	if !c.NoLookup && inf.lookup != nil {
		cfg.Authn.ServiceAccount.Lookup = inf.lookup
	}
	cfg.Pods = livePods{inf.client}
	cfg.ImagePolicy.PullSecrets = liveSecrets{inf.client}
	return func() (*snapshot.Snapshot, []error, error) {
		set, broken, err := inf.policySet()
		if err != nil {
			return nil, nil, err
		}
		if gkw != nil {
			rego, err := gkw.fill(set)
			if err != nil {
				return nil, nil, err
			}
			broken = append(broken, rego...)
		}
		snap, err := snapshot.Build(cfg, set)
		return snap, broken, err
	}
}

// livePods reads a whole pod from the API server when an admission plugin
// asks for it (DenyEscalatingExec, on `kubectl exec`), rather than through an
// informer: caching every Pod would cost a watch event for every pod change in
// the cluster (docs/performance.md), for the few exec and attach requests.
type livePods struct{ client kubernetes.Interface }

// podReadTimeout bounds the read of a pod an admission plugin asks for (well
// inside the webhook's own timeout).
const podReadTimeout = 2 * time.Second

func (l livePods) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, podReadTimeout)
	defer cancel()
	return l.client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
}

// liveSecrets reads the pull Secrets a pod names when the ClusterImagePolicy
// plugin reads its images' registry (no informer: only the named ones, when
// a pod names them).
type liveSecrets struct{ client kubernetes.Interface }

func (l liveSecrets) GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	ctx, cancel := context.WithTimeout(ctx, podReadTimeout)
	defer cancel()
	return l.client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
}

// rebuildOnChange calls rebuild after each burst of changes (debounced), until
// ctx ends.
func (c *Cluster) rebuildOnChange(ctx context.Context, changed <-chan struct{}, rebuild func()) {
	debounce := c.Debounce
	if debounce <= 0 {
		debounce = 100 * time.Millisecond
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(debounce):
		}
		select { // events during the debounce are in this build
		case <-changed:
		default:
		}
		rebuild()
	}
}

// Read reads the policy objects of the cluster of rest once, through the same
// informers as serve (RBAC objects, Namespaces, ServiceAccounts, and kguard
// PodSecurityPolicies, Tenants and image policies when their CRDs are
// served; with opts.Gatekeeper, Gatekeeper's objects too): the one cluster
// reader of kguard, for the offline commands' --kubeconfig. Objects kguard
// cannot convert are returned as errors beside the set; a bad Tenant, or a
// Rego ConfigMap that does not compile, fails the read (no history: they
// may hold rules in force).
func Read(ctx context.Context, rest *rest.Config, opts ReadOptions) (*policy.Set, []error, error) {
	inf, err := newInformers(rest, false, false, "")
	if err != nil {
		return nil, nil, fmt.Errorf("reading the cluster at %s: %w", rest.Host, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer inf.shutdown() // after cancel: Shutdown waits for the informers to stop
	defer cancel()
	// A list that fails (forbidden, unreachable) ends the read with its
	// error, instead of being retried until the deadline; the watches that
	// end when the read is done are not errors.
	var mu sync.Mutex
	var listErr error
	onError := func(err error) {
		if ctx.Err() != nil {
			return
		}
		mu.Lock()
		if listErr == nil {
			listErr = err
		}
		mu.Unlock()
		cancel()
	}
	failed := func(err error) error {
		mu.Lock()
		defer mu.Unlock()
		if listErr != nil {
			err = listErr
		}
		return fmt.Errorf("reading the cluster at %s: %w", rest.Host, err)
	}
	if err := inf.onError(onError); err != nil {
		return nil, nil, err
	}
	inf.start(ctx)
	if err := inf.waitForSync(ctx); err != nil {
		return nil, nil, failed(err)
	}
	set, broken, err := inf.policySet()
	if err != nil || !opts.Gatekeeper {
		return set, broken, err
	}
	if served, err := gatekeeperServed(inf.client, opts); err != nil || !served {
		return set, broken, err // no ConstraintTemplates: nothing to add
	}
	rego, err := readGatekeeper(ctx, rest, inf, opts.Namespace, set, onError)
	if err != nil {
		return nil, nil, failed(err)
	}
	return set, append(broken, rego...), nil
}

// gatekeeperServed reports whether the cluster serves ConstraintTemplates;
// not serving them is an error when opts requires them: kguard serve with
// Constraints stays unready without them, and the plain Rego ConfigMaps are
// read with the templates, so an audit without them would pass for want of
// policies.
func gatekeeperServed(cs kubernetes.Interface, opts ReadOptions) (bool, error) {
	served, err := resourceServed(cs, TemplateResource)
	if err == nil && !served && opts.RequireGatekeeper {
		err = fmt.Errorf("the Constraints plugin is enabled but the cluster does not serve %s (install Gatekeeper, or kubectl apply -f deploy/constraints/crds.yaml)", TemplateResource.GroupResource())
	}
	return served, err
}

// ReadOptions are what Read reads besides the objects it always reads.
type ReadOptions struct {
	// Gatekeeper: ConstraintTemplates, their constraints, Gatekeeper
	// Configs, the plain Rego ConfigMaps of Namespace and the objects of
	// the kinds the templates sync (data.inventory), when the
	// ConstraintTemplate CRD is served.
	Gatekeeper bool
	// RequireGatekeeper (the Constraints plugin named): the
	// ConstraintTemplate CRD not served is an error, as kguard serve stays
	// unready then.
	RequireGatekeeper bool
	Namespace         string // default: kguard's, clusterimagepolicy.DefaultSecretNamespace
}

// readGatekeeper adds the Gatekeeper objects to set, as serve's first
// snapshot holds them: every constraint of every template, then the synced
// kinds the compiled constraints ask for.
func readGatekeeper(ctx context.Context, rest *rest.Config, inf *clusterInformers, namespace string, set *policy.Set, onError func(error)) (broken []error, err error) {
	if namespace == "" {
		namespace = clusterimagepolicy.DefaultSecretNamespace
	}
	g, err := newGatekeeper(rest, inf.client, inf.dyn, namespace, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	g.notify = func() {}
	g.onError = onError
	for _, i := range g.static() {
		if err := i.SetWatchErrorHandler(func(_ *cache.Reflector, err error) { onError(err) }); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer g.shutdown() // after cancel: Shutdown waits for the informers to stop
	defer cancel()
	g.start(ctx)
	if !g.waitForSync(ctx) {
		return nil, fmt.Errorf("the Gatekeeper informers did not sync")
	}
	if err := g.watchConstraints(ctx, true); err != nil {
		return nil, err
	}
	broken, err = g.fill(set)
	if err != nil {
		return nil, err
	}
	p, err := constraints.New(set, constraints.Config{})
	if err != nil || len(p.SyncKinds()) == 0 {
		return broken, nil // the audit's own build reports a set that does not build
	}
	g.watchInventory(ctx, p.SyncKinds(), true)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return broken, g.fillInventoryLocked(set)
}

// clusterInformers are the informers of cluster mode.
type clusterInformers struct {
	client          kubernetes.Interface
	dyn             dynamic.Interface
	typed, tokens   informers.SharedInformerFactory
	dynf            dynamicinformer.DynamicSharedInformerFactory
	roles           rbacinformers.RoleInformer
	clusterRoles    rbacinformers.ClusterRoleInformer
	bindings        rbacinformers.RoleBindingInformer
	clusterBindings rbacinformers.ClusterRoleBindingInformer
	namespaces      coreinformers.NamespaceInformer
	serviceAccounts coreinformers.ServiceAccountInformer
	psps            informers.GenericInformer // nil when the CRD is not served (Read)
	served          bool
	cips, roots     informers.GenericInformer // nil unless served, or the ClusterImagePolicy plugin is on
	tenants         informers.GenericInformer // nil unless the Tenant CRD is served
	tenantHistory   tenantHistory             // the Tenants' last good versions
	imagesServed    bool
	// keySecrets are the Secrets of kguard's namespace, which image
	// policies name by secretRef (the ClusterImagePolicy plugin only).
	keyFactory informers.SharedInformerFactory
	keySecrets coreinformers.SecretInformer
	lookup     *clusterLookup // nil without token lookups (Read)
	withTokens bool
}

// newInformers sets up the informers; wait always watches the
// PodSecurityPolicy CRD (serve waits until it is served); without, the CRD
// is read only when served (a one-shot read must not wait for it). tokens
// adds the informers of token lookup (token Secrets, Pods and Nodes metadata). The
// sigstore CRDs are read when served, and always watched with images (the
// ClusterImagePolicy plugin is on: serve waits for them), which also names
// kguard's namespace, whose Secrets hold secretRef keys.
func newInformers(rc *rest.Config, wait, tokens bool, images string) (*clusterInformers, error) {
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	inf := &clusterInformers{client: cs, dyn: dyn, withTokens: tokens,
		typed: informers.NewSharedInformerFactory(cs, 0),
		dynf:  dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)}
	inf.roles, inf.clusterRoles = inf.typed.Rbac().V1().Roles(), inf.typed.Rbac().V1().ClusterRoles()
	inf.bindings, inf.clusterBindings = inf.typed.Rbac().V1().RoleBindings(), inf.typed.Rbac().V1().ClusterRoleBindings()
	inf.namespaces, inf.serviceAccounts = inf.typed.Core().V1().Namespaces(), inf.typed.Core().V1().ServiceAccounts()
	_, err = cs.Discovery().ServerResourcesForGroupVersion(PSPResource.GroupVersion().String())
	inf.served = err == nil
	if err != nil && !wait && !apierrors.IsNotFound(err) {
		return nil, err // a one-shot read of a cluster it cannot reach fails now
	}
	if wait || inf.served {
		inf.psps = inf.dynf.ForResource(PSPResource)
	}
	if served, err := resourceServed(cs, TenantResource); err == nil && served {
		inf.tenants = inf.dynf.ForResource(TenantResource)
	}
	_, cerr := cs.Discovery().ServerResourcesForGroupVersion(ClusterImagePolicyResource.GroupVersion().String())
	_, terr := cs.Discovery().ServerResourcesForGroupVersion(TrustRootResource.GroupVersion().String())
	inf.imagesServed = cerr == nil && terr == nil
	if images != "" || inf.imagesServed {
		inf.cips, inf.roots = inf.dynf.ForResource(ClusterImagePolicyResource), inf.dynf.ForResource(TrustRootResource)
	}
	if images != "" {
		inf.keyFactory = informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(images))
		inf.keySecrets = inf.keyFactory.Core().V1().Secrets()
	}
	// A factory starts only the informers asked for before Start.
	inf.policyInformers()
	if tokens {
		meta, err := metadata.NewForConfig(rc)
		if err != nil {
			return nil, err
		}
		inf.tokens = informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("type", string(corev1.SecretTypeServiceAccountToken)).String()
		}))
		inf.lookup = &clusterLookup{
			sas:     inf.serviceAccounts.Lister(),
			secrets: inf.tokens.Core().V1().Secrets().Lister(),
			client:  cs,
			meta:    meta,
		}
	}
	return inf, nil
}

func (inf *clusterInformers) pspServed() bool { return inf.served }

// snapshotInformers are the informers of the objects a snapshot is built
// from (registering them with their factory); policyInformers adds the
// ServiceAccounts, which policySet also reads but whose changes need no rebuild.
func (inf *clusterInformers) snapshotInformers() []cache.SharedIndexInformer {
	list := []cache.SharedIndexInformer{inf.roles.Informer(), inf.clusterRoles.Informer(), inf.bindings.Informer(),
		inf.clusterBindings.Informer(), inf.namespaces.Informer()}
	if inf.psps != nil {
		list = append(list, inf.psps.Informer())
	}
	if inf.cips != nil {
		list = append(list, inf.cips.Informer(), inf.roots.Informer())
	}
	if inf.tenants != nil {
		list = append(list, inf.tenants.Informer())
	}
	if inf.keySecrets != nil {
		list = append(list, inf.keySecrets.Informer())
	}
	return list
}

func (inf *clusterInformers) policyInformers() []cache.SharedIndexInformer {
	return append(inf.snapshotInformers(), inf.serviceAccounts.Informer())
}

// onChange calls notify on every change to an object a snapshot is built from.
func (inf *clusterInformers) onChange(notify func()) error {
	handler := cache.ResourceEventHandlerFuncs{AddFunc: func(any) { notify() }, UpdateFunc: func(any, any) { notify() }, DeleteFunc: func(any) { notify() }}
	for _, i := range inf.snapshotInformers() {
		if _, err := i.AddEventHandler(handler); err != nil {
			return err
		}
	}
	return nil
}

// onError replaces the informers' logging of list and watch errors with fn.
func (inf *clusterInformers) onError(fn func(error)) error {
	for _, i := range inf.policyInformers() {
		if err := i.SetWatchErrorHandler(func(_ *cache.Reflector, err error) { fn(err) }); err != nil {
			return err
		}
	}
	return nil
}

func (inf *clusterInformers) start(ctx context.Context) {
	inf.typed.Start(ctx.Done())
	inf.dynf.Start(ctx.Done())
	if inf.withTokens {
		inf.tokens.Start(ctx.Done())
	}
	if inf.keyFactory != nil {
		inf.keyFactory.Start(ctx.Done())
	}
}

func (inf *clusterInformers) shutdown() {
	inf.typed.Shutdown()
	inf.dynf.Shutdown()
	if inf.withTokens {
		inf.tokens.Shutdown()
	}
	if inf.keyFactory != nil {
		inf.keyFactory.Shutdown()
	}
}

// waitForSync waits until every informer has listed its objects.
func (inf *clusterInformers) waitForSync(ctx context.Context) error {
	synced := map[string]bool{"typed": allSynced(inf.typed.WaitForCacheSync(ctx.Done())), "psp": allSynced(inf.dynf.WaitForCacheSync(ctx.Done()))}
	if inf.withTokens {
		synced["secrets"] = allSynced(inf.tokens.WaitForCacheSync(ctx.Done()))
	}
	if inf.keyFactory != nil {
		synced["key secrets"] = allSynced(inf.keyFactory.WaitForCacheSync(ctx.Done()))
	}
	for name, ok := range synced {
		if !ok {
			return fmt.Errorf("informers %s did not sync", name)
		}
	}
	return nil
}

// policySet is the policy objects in the caches now. A PodSecurityPolicy
// object that does not convert is left out (a policy only ever admits, so
// without it fewer pods are admitted) and returned as an error; a Tenant is
// chosen as tenantHistory.choose says.
func (inf *clusterInformers) policySet() (*policy.Set, []error, error) {
	set := &policy.Set{}
	var err error
	if set.Roles, err = inf.roles.Lister().List(labels.Everything()); err != nil {
		return nil, nil, err
	}
	if set.ClusterRoles, err = inf.clusterRoles.Lister().List(labels.Everything()); err != nil {
		return nil, nil, err
	}
	if set.RoleBindings, err = inf.bindings.Lister().List(labels.Everything()); err != nil {
		return nil, nil, err
	}
	if set.ClusterRoleBindings, err = inf.clusterBindings.Lister().List(labels.Everything()); err != nil {
		return nil, nil, err
	}
	if set.Namespaces, err = inf.namespaces.Lister().List(labels.Everything()); err != nil {
		return nil, nil, err
	}
	if set.ServiceAccounts, err = inf.serviceAccounts.Lister().List(labels.Everything()); err != nil {
		return nil, nil, err
	}
	if inf.keySecrets != nil {
		if set.Secrets, err = inf.keySecrets.Lister().List(labels.Everything()); err != nil {
			return nil, nil, err
		}
	}
	if inf.cips != nil {
		if set.ClusterImagePolicies, err = convertAll[imagepolicy.ClusterImagePolicy](inf.cips, "ClusterImagePolicy"); err != nil {
			return nil, nil, err
		}
		if set.TrustRoots, err = convertAll[imagepolicy.TrustRoot](inf.roots, "TrustRoot"); err != nil {
			return nil, nil, err
		}
	}
	var broken []error
	if inf.tenants != nil {
		// A Tenant that does not convert, validate, or fit with the others
		// is refused alone: it keeps its last good version (left out when
		// it never had one), so that neither the other Tenants nor RBAC,
		// PodSecurityPolicies or Namespaces stop updating; it is returned
		// as broken, and in set.RefusedTenants for its status. Starting (no
		// history yet), it fails the build.
		objs, err := inf.tenants.Lister().List(labels.Everything())
		if err != nil {
			return nil, nil, err
		}
		if set.Tenants, set.RefusedTenants, broken, err = inf.tenantHistory.choose(objs, set.Namespaces); err != nil {
			return nil, nil, err
		}
		set.TenantsComplete = true
	}
	if inf.psps == nil {
		return set, broken, nil
	}
	objs, err := inf.psps.Lister().List(labels.Everything())
	if err != nil {
		return nil, nil, err
	}
	for _, o := range objs {
		p, err := toPSP(o)
		if err != nil {
			broken = append(broken, fmt.Errorf("%w; the policy is not used until it is fixed", err))
			continue
		}
		set.PodSecurityPolicies = append(set.PodSecurityPolicies, p)
	}
	return set, broken, nil
}

func allSynced[K comparable](m map[K]bool) bool {
	for _, ok := range m {
		if !ok {
			return false
		}
	}
	return true
}

// resourceServed reports whether the API server serves gvr.
func resourceServed(cs kubernetes.Interface, gvr schema.GroupVersionResource) (bool, error) {
	list, err := cs.Discovery().ServerResourcesForGroupVersion(gvr.GroupVersion().String())
	if apierrors.IsNotFound(err) {
		return false, nil // the group version is not served at all
	}
	if err != nil {
		return false, err
	}
	for _, r := range list.APIResources {
		if r.Name == gvr.Resource {
			return true, nil
		}
	}
	return false, nil
}

// convertAll converts every object of an informer strictly. Unlike a
// PodSecurityPolicy, an image policy that does not convert cannot be left
// out (without it an image could be admitted that it refuses): the error
// fails the build, and the last good snapshot keeps serving.
func convertAll[T any](inf informers.GenericInformer, kind string) ([]*T, error) {
	return convertAllMode[T](inf, kind, true)
}

// convertAllMode converts every object of an informer, strictly or
// ignoring the fields kguard does not read (a Gatekeeper object carries
// status fields of Gatekeeper's versions; its CRD has validated it).
func convertAllMode[T any](inf informers.GenericInformer, kind string, strict bool) ([]*T, error) {
	objs, err := inf.Lister().List(labels.Everything())
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(objs))
	for _, o := range objs {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			return nil, fmt.Errorf("unexpected %T in the %s informer", o, kind)
		}
		t := new(T)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, t, strict); err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, u.GetName(), err)
		}
		out = append(out, t)
	}
	return out, nil
}

// toPSP converts a CRD object, defaulted and validated as a file would be.
func toPSP(o runtime.Object) (*v1alpha1.PodSecurityPolicy, error) {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("unexpected %T in the PodSecurityPolicy informer", o)
	}
	var p v1alpha1.PodSecurityPolicy
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, &p, true); err != nil {
		return nil, fmt.Errorf("PodSecurityPolicy %s: %w", u.GetName(), err)
	}
	if err := policy.CheckPodSecurityPolicy(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

// clusterLookup serves token lookups: ServiceAccounts and token Secrets from
// the informers' caches and, on a cache miss, from the API server, as
// kube-apiserver's own token getter reads them (a Secret just created is not
// cached yet; a token may be bound to a Secret of any type, and only
// service-account-token Secrets are cached); Pods and Nodes by reading their
// metadata when a token names one. Caching every Pod would cost kguard a
// watch event for every pod created, updated and deleted in the cluster (a
// fifth of its CPU per admitted pod under load), for the few tokens bound to
// a pod; a read costs a round trip per such token, and kube-apiserver caches
// the answer of a TokenReview (--authentication-token-webhook-cache-ttl).
type clusterLookup struct {
	sas     corelisters.ServiceAccountLister
	secrets corelisters.SecretLister
	client  kubernetes.Interface
	meta    metadata.Interface
}

// objectLookupTimeout bounds the read of a token's object.
const objectLookupTimeout = 2 * time.Second

func (l *clusterLookup) GetServiceAccount(namespace, name string) (*corev1.ServiceAccount, error) {
	if sa, err := l.sas.ServiceAccounts(namespace).Get(name); err == nil {
		return sa, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), objectLookupTimeout)
	defer cancel()
	return l.client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (l *clusterLookup) GetSecret(namespace, name string) (*corev1.Secret, error) {
	if secret, err := l.secrets.Secrets(namespace).Get(name); err == nil {
		return secret, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), objectLookupTimeout)
	defer cancel()
	return l.client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (l *clusterLookup) GetPod(namespace, name string) (*corev1.Pod, error) {
	m, err := l.read(corev1.SchemeGroupVersion.WithResource("pods"), namespace, name)
	if err != nil {
		return nil, err
	}
	return &corev1.Pod{ObjectMeta: m.ObjectMeta}, nil
}

func (l *clusterLookup) GetNode(name string) (*corev1.Node, error) {
	m, err := l.read(corev1.SchemeGroupVersion.WithResource("nodes"), "", name)
	if err != nil {
		return nil, err
	}
	return &corev1.Node{ObjectMeta: m.ObjectMeta}, nil
}

// read gets an object's metadata from the API server (NotFound when it is gone).
func (l *clusterLookup) read(gvr schema.GroupVersionResource, namespace, name string) (*metav1.PartialObjectMetadata, error) {
	ctx, cancel := context.WithTimeout(context.Background(), objectLookupTimeout)
	defer cancel()
	if namespace == "" {
		return l.meta.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
	}
	return l.meta.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
}
