package audit

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/apidefaults"
	"github.com/kguard/kguard/internal/manifest"
)

// DefaultRequester creates the objects other than pods (pod controllers too) when
// Options.Requester is empty: an authenticated user without grants of its own.
const DefaultRequester = "kguard-audit"

// reviewer decides who creates an object and its pods, as in the cluster:
// the pods of a pod controller (a Deployment, or a Pod whose controller
// reference names one) are created by the controller of
// kube-controller-manager that makes them (admission.PodCreator), a Pod
// without one by its ServiceAccount (who created it is not recorded), and
// PodSecurityPolicy's "use" is asked of that user and of the pod's
// ServiceAccount, as in the cluster. A static pod's mirror is created by the
// kubelet of its node. The requester creates anything else, pod controllers
// included.
type reviewer struct {
	requester user.Info
}

func newReviewer(requester string) *reviewer {
	if requester == "" {
		requester = DefaultRequester
	}
	return &reviewer{requester: &user.DefaultInfo{Name: requester, Groups: []string{user.AllAuthenticated}}}
}

// object is the user who creates the object d itself: the requester for a
// pod controller, nil (the pods' creator, of) for anything else.
func (rv *reviewer) object(d *manifest.Document) user.Info {
	if admission.PodCreator(d.Group(), d.Kind) != nil {
		return rv.requester
	}
	return nil
}

// of is the user who creates the pods of d, an object of namespace ns
// (obj) carrying the (defaulted) pod spec; obj and spec are nil for an
// object without a pod, which the requester creates.
func (rv *reviewer) of(d *manifest.Document, ns string, obj metav1.Object, spec *corev1.PodSpec) user.Info {
	if spec == nil {
		return rv.requester
	}
	if creator := admission.PodCreator(d.Group(), d.Kind); creator != nil {
		return creator
	}
	if obj != nil {
		if _, mirror := obj.GetAnnotations()[apidefaults.MirrorPodAnnotation]; mirror {
			// A static pod's mirror, which the kubelet of its node creates
			// (PodSecurityPolicy applied to them: kube-up's and kops'
			// clusters granted system:nodes a privileged policy for them).
			return &user.DefaultInfo{Name: "system:node:" + spec.NodeName, Groups: []string{user.NodesGroup, user.AllAuthenticated}}
		}
		if ref := metav1.GetControllerOf(obj); ref != nil {
			if gv, err := schema.ParseGroupVersion(ref.APIVersion); err == nil {
				if creator := admission.PodCreator(gv.Group, ref.Kind); creator != nil {
					return creator
				}
			}
		}
	}
	return ServiceAccountUser(ns, spec.ServiceAccountName)
}

// ServiceAccountUser is the user of the ServiceAccount name in namespace ns
// ("default" when name is empty), as the API server authenticates its
// tokens: system:serviceaccount:NS:NAME in the groups
// system:serviceaccounts, system:serviceaccounts:NS and system:authenticated.
func ServiceAccountUser(ns, name string) user.Info {
	if name == "" {
		name = apidefaults.DefaultServiceAccountName
	}
	groups := append(serviceaccount.MakeGroupNames(ns), user.AllAuthenticated)
	return &user.DefaultInfo{Name: serviceaccount.MakeUsername(ns, name), Groups: groups}
}
