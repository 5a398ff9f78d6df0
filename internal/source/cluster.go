package source

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"

	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/snapshot"
)

// PSPResource is the kguard PodSecurityPolicy CRD.
var PSPResource = schema.GroupVersionResource{Group: v1alpha1.GroupName, Version: "v1alpha1", Resource: "podsecuritypolicies"}

// Cluster builds snapshots from a live cluster through client-go informers:
// RBAC objects, kguard PodSecurityPolicies, Namespaces (Pod Security labels)
// and, for ServiceAccount token lookup, ServiceAccounts, Pods (metadata only)
// and ServiceAccount token Secrets. Every change rebuilds the snapshot after a
// short debounce; the server is ready once every informer has synced.
type Cluster struct {
	Config   snapshot.Config
	REST     *rest.Config
	Debounce time.Duration // coalesces bursts of events (default 100ms)
	Logger   *slog.Logger
	// NoLookup accepts ServiceAccount tokens on their signature alone
	// (--service-account-lookup=false).
	NoLookup bool
}

// namespaceLookupTimeout bounds the live read of a namespace the snapshot
// does not hold yet (well inside the webhook's own timeout).
const namespaceLookupTimeout = 2 * time.Second

// Run syncs the informers, stores the first snapshot, then rebuilds on every
// change until ctx ends.
func (c *Cluster) Run(ctx context.Context, pub Publisher) error {
	cs, err := kubernetes.NewForConfig(c.REST)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(c.REST)
	if err != nil {
		return err
	}
	meta, err := metadata.NewForConfig(c.REST)
	if err != nil {
		return err
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	typed := informers.NewSharedInformerFactory(cs, 0)
	tokens := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("type", string(corev1.SecretTypeServiceAccountToken)).String()
	}))
	dynf := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	metaf := metadatainformer.NewSharedInformerFactory(meta, 0)

	roles, clusterRoles := typed.Rbac().V1().Roles(), typed.Rbac().V1().ClusterRoles()
	bindings, clusterBindings := typed.Rbac().V1().RoleBindings(), typed.Rbac().V1().ClusterRoleBindings()
	namespaces := typed.Core().V1().Namespaces()
	psps := dynf.ForResource(PSPResource)
	lookup := &clusterLookup{
		sas:     typed.Core().V1().ServiceAccounts().Lister(),
		secrets: tokens.Core().V1().Secrets().Lister(),
		pods:    metaf.ForResource(corev1.SchemeGroupVersion.WithResource("pods")).Lister(),
		nodes:   metaf.ForResource(corev1.SchemeGroupVersion.WithResource("nodes")).Lister(),
	}

	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{AddFunc: func(any) { notify() }, UpdateFunc: func(any, any) { notify() }, DeleteFunc: func(any) { notify() }}
	for _, inf := range []cache.SharedIndexInformer{roles.Informer(), clusterRoles.Informer(), bindings.Informer(),
		clusterBindings.Informer(), namespaces.Informer(), psps.Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
	}
	typed.Start(ctx.Done())
	tokens.Start(ctx.Done())
	dynf.Start(ctx.Done())
	metaf.Start(ctx.Done())
	defer typed.Shutdown()
	defer tokens.Shutdown()
	defer dynf.Shutdown()
	defer metaf.Shutdown()

	if _, err := cs.Discovery().ServerResourcesForGroupVersion(PSPResource.GroupVersion().String()); err != nil {
		// Readiness waits for every informer: say why it will not come.
		log.Error("the kguard.io PodSecurityPolicy CRD is not served; kguard stays unready until it is (kubectl apply -f deploy/crds/)",
			"error", err)
	}
	log.Info("waiting for the informers to sync (RBAC, kguard.io PodSecurityPolicies, Namespaces, ServiceAccounts, Pods, token Secrets)")
	for name, synced := range map[string]bool{"typed": allSynced(typed.WaitForCacheSync(ctx.Done())),
		"secrets": allSynced(tokens.WaitForCacheSync(ctx.Done())), "psp": allSynced(dynf.WaitForCacheSync(ctx.Done())),
		"metadata": allSynced(metaf.WaitForCacheSync(ctx.Done()))} {
		if !synced {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("informers %s did not sync", name)
		}
	}
	cfg := c.Config
	// A namespace created a moment ago may not be in the snapshot yet: read
	// it from the informer, then from the API server, as the built-in
	// PodSecurity does; a namespace that cannot be read refuses its pods.
	cfg.PSS.UnknownNamespace = func(ctx context.Context, name string) (*corev1.Namespace, error) {
		if ns, err := namespaces.Lister().Get(name); err == nil {
			return ns, nil
		}
		ctx, cancel := context.WithTimeout(ctx, namespaceLookupTimeout)
		defer cancel()
		return cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	}
	if !c.NoLookup {
		cfg.Authn.ServiceAccount.Lookup = lookup
	}
	build := func() (*snapshot.Snapshot, []error, error) {
		set := &policy.Set{}
		var err error
		if set.Roles, err = roles.Lister().List(labels.Everything()); err != nil {
			return nil, nil, err
		}
		if set.ClusterRoles, err = clusterRoles.Lister().List(labels.Everything()); err != nil {
			return nil, nil, err
		}
		if set.RoleBindings, err = bindings.Lister().List(labels.Everything()); err != nil {
			return nil, nil, err
		}
		if set.ClusterRoleBindings, err = clusterBindings.Lister().List(labels.Everything()); err != nil {
			return nil, nil, err
		}
		if set.Namespaces, err = namespaces.Lister().List(labels.Everything()); err != nil {
			return nil, nil, err
		}
		objs, err := psps.Lister().List(labels.Everything())
		if err != nil {
			return nil, nil, err
		}
		var broken []error
		for _, o := range objs {
			p, err := toPSP(o)
			if err != nil {
				// Left out: a policy only ever admits, so without it fewer pods are admitted.
				broken = append(broken, fmt.Errorf("%w; the policy is not used until it is fixed", err))
				continue
			}
			set.PodSecurityPolicies = append(set.PodSecurityPolicies, p)
		}
		snap, err := snapshot.Build(cfg, set)
		return snap, broken, err
	}
	// store serves a new snapshot; it is stale while a policy was left out.
	store := func(snap *snapshot.Snapshot, broken []error) {
		pub.Store(snap)
		for _, err := range broken {
			pub.ReloadFailed(err)
		}
		if len(broken) == 0 {
			pub.Fresh()
		}
	}
	snap, broken, err := build()
	if err != nil {
		return err
	}
	store(snap, broken)
	debounce := c.Debounce
	if debounce <= 0 {
		debounce = 100 * time.Millisecond
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(debounce):
		}
		select { // events during the debounce are in this build
		case <-changed:
		default:
		}
		snap, broken, err := build()
		if err != nil {
			pub.ReloadFailed(err)
			continue
		}
		store(snap, broken)
	}
}

func allSynced[K comparable](m map[K]bool) bool {
	for _, ok := range m {
		if !ok {
			return false
		}
	}
	return true
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

// clusterLookup serves token lookups from the informers' caches.
type clusterLookup struct {
	sas     corelisters.ServiceAccountLister
	secrets corelisters.SecretLister
	pods    cache.GenericLister // metadata only
	nodes   cache.GenericLister // metadata only, for node-bound tokens
}

func (l *clusterLookup) GetServiceAccount(namespace, name string) (*corev1.ServiceAccount, error) {
	return l.sas.ServiceAccounts(namespace).Get(name)
}

func (l *clusterLookup) GetSecret(namespace, name string) (*corev1.Secret, error) {
	return l.secrets.Secrets(namespace).Get(name)
}

func (l *clusterLookup) GetPod(namespace, name string) (*corev1.Pod, error) {
	o, err := l.pods.ByNamespace(namespace).Get(name)
	if err != nil {
		return nil, err
	}
	m, ok := o.(*metav1.PartialObjectMetadata)
	if !ok {
		return nil, fmt.Errorf("unexpected %T in the pod metadata informer", o)
	}
	return &corev1.Pod{ObjectMeta: m.ObjectMeta}, nil
}

func (l *clusterLookup) GetNode(name string) (*corev1.Node, error) {
	o, err := l.nodes.Get(name)
	if err != nil {
		return nil, err
	}
	m, ok := o.(*metav1.PartialObjectMetadata)
	if !ok {
		return nil, fmt.Errorf("unexpected %T in the node metadata informer", o)
	}
	return &corev1.Node{ObjectMeta: m.ObjectMeta}, nil
}
