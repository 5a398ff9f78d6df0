package source

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// A token's ServiceAccount or Secret missing from the caches is read from
// the API server, as kube-apiserver's token getter reads it: a Secret of any
// type (only service-account-token Secrets are cached), or one created
// since the cache last heard.
func TestClusterLookupReadsWhatIsNotCached(t *testing.T) {
	cachedSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cached", UID: "c"}, Type: corev1.SecretTypeServiceAccountToken}
	liveSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "opaque", UID: "o"}, Type: corev1.SecretTypeOpaque}
	liveSA := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "robot", UID: "r"}}
	secrets := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	if err := secrets.Add(cachedSecret); err != nil {
		t.Fatal(err)
	}
	sas := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	client := fake.NewClientset(liveSecret, liveSA)
	l := &clusterLookup{sas: corelisters.NewServiceAccountLister(sas), secrets: corelisters.NewSecretLister(secrets), client: client}

	if s, err := l.GetSecret("ns", "cached"); err != nil || s.UID != "c" {
		t.Errorf("cached Secret: %v, %v", s, err)
	}
	if s, err := l.GetSecret("ns", "opaque"); err != nil || s.UID != "o" {
		t.Errorf("Secret not cached: %v, %v; want it read from the API server", s, err)
	}
	if sa, err := l.GetServiceAccount("ns", "robot"); err != nil || sa.UID != "r" {
		t.Errorf("ServiceAccount not cached: %v, %v; want it read from the API server", sa, err)
	}
	if _, err := l.GetSecret("ns", "gone"); !apierrors.IsNotFound(err) {
		t.Errorf("missing Secret: %v, want NotFound", err)
	}
	if _, err := l.GetServiceAccount("other", "robot"); !apierrors.IsNotFound(err) {
		t.Errorf("missing ServiceAccount: %v, want NotFound", err)
	}
	gets := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "get" {
			gets++
		}
	}
	if gets != 4 { // the cached Secret is not read
		t.Errorf("%d reads from the API server, want 4", gets)
	}
}
