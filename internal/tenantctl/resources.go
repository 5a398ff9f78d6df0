package tenantctl

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Resource is a kind of object tenant.Render makes.
type Resource struct {
	GVR        schema.GroupVersionResource
	Kind       string
	Namespaced bool
}

// Resources are the kinds tenant.Render makes, the ones the reconciler
// watches (labelled objects only), applies and prunes. A test renders a
// Tenant with every feature and checks that each kind is here.
var Resources = []Resource{
	{GVR: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, Kind: "Namespace"},
	{GVR: schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}, Kind: "RoleBinding", Namespaced: true},
	{GVR: schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}, Kind: "Role", Namespaced: true},
	{GVR: schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}, Kind: "NetworkPolicy", Namespaced: true},
	{GVR: schema.GroupVersionResource{Version: "v1", Resource: "resourcequotas"}, Kind: "ResourceQuota", Namespaced: true},
	{GVR: schema.GroupVersionResource{Version: "v1", Resource: "limitranges"}, Kind: "LimitRange", Namespaced: true},
}

// resourceOf is the Resource of a group and kind, or nil.
func resourceOf(group, kind string) *Resource {
	for i := range Resources {
		if r := &Resources[i]; r.GVR.Group == group && r.Kind == kind {
			return r
		}
	}
	return nil
}
