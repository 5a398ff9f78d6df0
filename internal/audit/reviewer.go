package audit

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/apidefaults"
)

// DefaultRequester creates the objects that carry no pod when
// Options.Requester is empty: an authenticated user without grants of its own.
const DefaultRequester = "kguard-audit"

// reviewer decides who creates an object: the pod's ServiceAccount for a
// pod-carrying object (as a Pod is admitted when its controller creates it
// for that ServiceAccount, and PodSecurityPolicy's "use" is granted to it),
// the requester for any other.
type reviewer struct {
	requester user.Info
}

func newReviewer(requester string) *reviewer {
	if requester == "" {
		requester = DefaultRequester
	}
	return &reviewer{requester: &user.DefaultInfo{Name: requester, Groups: []string{user.AllAuthenticated}}}
}

// of is the user who creates an object of namespace ns carrying the
// (defaulted) pod spec; spec is nil for an object without a pod.
func (rv *reviewer) of(ns string, spec *corev1.PodSpec) user.Info {
	if spec == nil {
		return rv.requester
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
