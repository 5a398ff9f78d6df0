// Package mcskube runs an mcs.Allocator against a cluster: the allocation
// table is a ConfigMap changed by compare-and-swap on its resourceVersion,
// and the pods' levels come from a pod informer that keeps only what the
// allocator needs of each pod.
package mcskube

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/kguard/kguard/internal/mcs"
)

// Client is a client for the allocator alone: client-go's default limit
// (5 requests per second) is shared by every caller of a client, and a
// burst of new tenants (each tenant's first pod writes its pair into the
// table) or of block claims must not wait behind it while kube-apiserver
// waits for the admission.
func Client(rc *rest.Config) (kubernetes.Interface, error) {
	c := rest.CopyConfig(rc)
	c.QPS, c.Burst = 100, 200
	c.UserAgent = rest.DefaultKubernetesUserAgent() + " kguard-mcs"
	return kubernetes.NewForConfig(c)
}

// ConfigMapName is the allocation table's ConfigMap, in kguard's namespace.
const ConfigMapName = "kguard-mcs"

// Store is an mcs.Store in a ConfigMap.
type Store struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string // default ConfigMapName
}

// maxAttempts bounds the compare-and-swap retries of one Update (each
// conflict means another replica wrote; the context bounds the time).
const maxAttempts = 20

// Update reads the ConfigMap, applies change, and writes it back with the
// resourceVersion it read (creating it when there is none); on a conflict it
// starts again. A table that does not decode is an error: nothing is handed
// out from a table kguard cannot read.
func (s *Store) Update(ctx context.Context, change func(*mcs.Table) error) (*mcs.Table, error) {
	name := s.Name
	if name == "" {
		name = ConfigMapName
	}
	cms := s.Client.CoreV1().ConfigMaps(s.Namespace)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		cm, err := cms.Get(ctx, name, metav1.GetOptions{})
		create := apierrors.IsNotFound(err)
		if err != nil && !create {
			return nil, fmt.Errorf("reading ConfigMap %s/%s: %w", s.Namespace, name, err)
		}
		var data map[string]string
		if !create {
			data = cm.Data
		}
		t, err := mcs.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("ConfigMap %s/%s: %w", s.Namespace, name, err)
		}
		if err := change(t); err != nil {
			return nil, err
		}
		after := t.Encode()
		if !create && maps.Equal(data, after) {
			return t, nil
		}
		if create {
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.Namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "kguard"}}, Data: after}
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
		} else {
			cm = cm.DeepCopy()
			cm.Data = after
			_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		}
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			// Another replica wrote first: read again, after a random
			// pause that grows, so that two replicas do not keep colliding.
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(1+rand.IntN(5*(attempt+1))) * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("writing ConfigMap %s/%s: %w", s.Namespace, name, err)
		}
		return t, nil
	}
	return nil, fmt.Errorf("ConfigMap %s/%s: still changed by other replicas after %d attempts", s.Namespace, name, maxAttempts)
}

// Start feeds a with the levels of every pod of the cluster, waits until it
// knows them all (a.Synced), and renews a's blocks until ctx is done.
func Start(ctx context.Context, client kubernetes.Interface, a *mcs.Allocator, log *slog.Logger) error {
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(strip))
	inf := f.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { observe(a, obj) },
		UpdateFunc: func(_, obj any) { observe(a, obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				a.Forget(key(p))
			}
		},
	}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	synced := make(chan bool, 1)
	go func() { synced <- cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) }()
	select {
	case ok := <-synced:
		if !ok {
			return ctx.Err()
		}
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("the pods of the cluster were not listed within 2 minutes (kguard needs list and watch on pods to hand out SELinux MCS levels)")
	}
	a.Synced()
	go a.Run(ctx, func(err error) { log.Warn("renewing the SELinux MCS blocks failed", "error", err) })
	return nil
}

func key(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// observe records the levels of a running pod, or that it holds none any
// more once it ended.
func observe(a *mcs.Allocator, obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		a.Forget(key(p))
		return
	}
	a.Observe(key(p), Pairs(&p.Spec))
}

// Pairs are the distinct pairs of a pod spec's levels (the pod's and its
// containers'); levels that are not pairs are left out.
func Pairs(spec *corev1.PodSpec) []mcs.Pair {
	var out []mcs.Pair
	add := func(o *corev1.SELinuxOptions) {
		if o == nil || o.Level == "" {
			return
		}
		if p, err := mcs.ParseLevel(o.Level); err == nil {
			for _, q := range out {
				if q == p {
					return
				}
			}
			out = append(out, p)
		}
	}
	if spec.SecurityContext != nil {
		add(spec.SecurityContext.SELinuxOptions)
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range cs {
			if c.SecurityContext != nil {
				add(c.SecurityContext.SELinuxOptions)
			}
		}
	}
	for _, c := range spec.EphemeralContainers {
		if c.SecurityContext != nil {
			add(c.SecurityContext.SELinuxOptions)
		}
	}
	return out
}

// strip keeps of a pod its name, phase and levels: the informer's cache of
// every pod of the cluster then costs little memory.
func strip(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion},
		Status: corev1.PodStatus{Phase: p.Status.Phase}}
	for _, pr := range Pairs(&p.Spec) {
		out.Spec.Containers = append(out.Spec.Containers, corev1.Container{
			SecurityContext: &corev1.SecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Level: pr.String()}}})
	}
	return out, nil
}
