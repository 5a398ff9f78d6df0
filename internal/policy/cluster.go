package policy

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// FromCluster reads the RBAC objects of every namespace, the Namespaces and
// the ServiceAccounts of the cluster that kubeconfig points at ("" means the
// usual loading rules: $KUBECONFIG, then ~/.kube/config). It lists through
// the API server, so it needs list on those resources cluster-wide.
func FromCluster(ctx context.Context, kubeconfig string) (*Set, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a client for %s: %w", cfg.Host, err)
	}
	return ListCluster(ctx, cs)
}

// ListCluster reads the objects through an existing client.
func ListCluster(ctx context.Context, cs kubernetes.Interface) (*Set, error) {
	s := &Set{}
	all := metav1.ListOptions{}
	rbac := cs.RbacV1()
	roles, err := rbac.Roles(metav1.NamespaceAll).List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("listing roles: %w", err)
	}
	for i := range roles.Items {
		s.Roles = append(s.Roles, &roles.Items[i])
	}
	clusterRoles, err := rbac.ClusterRoles().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("listing clusterroles: %w", err)
	}
	for i := range clusterRoles.Items {
		s.ClusterRoles = append(s.ClusterRoles, &clusterRoles.Items[i])
	}
	bindings, err := rbac.RoleBindings(metav1.NamespaceAll).List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("listing rolebindings: %w", err)
	}
	for i := range bindings.Items {
		s.RoleBindings = append(s.RoleBindings, &bindings.Items[i])
	}
	clusterBindings, err := rbac.ClusterRoleBindings().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("listing clusterrolebindings: %w", err)
	}
	for i := range clusterBindings.Items {
		s.ClusterRoleBindings = append(s.ClusterRoleBindings, &clusterBindings.Items[i])
	}
	namespaces, err := cs.CoreV1().Namespaces().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	for i := range namespaces.Items {
		s.Namespaces = append(s.Namespaces, &namespaces.Items[i])
	}
	sas, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceAll).List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("listing serviceaccounts: %w", err)
	}
	for i := range sas.Items {
		s.ServiceAccounts = append(s.ServiceAccounts, &sas.Items[i])
	}
	return s, nil
}
