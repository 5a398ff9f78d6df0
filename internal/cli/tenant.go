package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/report"
	"github.com/kguard/kguard/internal/tenant"
)

func init() { register(newTenantCommand) }

func newTenantCommand(s Streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "tenant",
		Short: "kguard.io Tenant tools: the objects a Tenant implies",
	}
	c.AddCommand(newTenantRenderCommand(s))
	return c
}

func newTenantRenderCommand(s Streams) *cobra.Command {
	var filenames []string
	var output *report.FormatFlag
	c := &cobra.Command{
		Use:   "render TENANT_FILE|DIR|-... (or -f FILE|DIR|-)",
		Short: "Print the objects kguard.io Tenants imply, ready for kubectl apply",
		Long: `Print, offline, the objects each Tenant implies (docs/tenancy.md), for
kubectl apply -f - or server-side apply (kubectl apply --server-side -f -):

  - a Namespace per namespace of the tenant, labelled with the tenant
    (kguard.io/tenant=NAME) and, with spec.podSecurity.level, the Pod Security
    labels (enforce, enforce-version latest, audit and warn at that level);
  - in each namespace: a RoleBinding of the owners to the ClusterRole admin
    (kguard-tenant-owners); with spec.podSecurity.podSecurityPolicies, a Role
    granting "use" on them and its RoleBinding to the namespace's
    ServiceAccounts (kguard-tenant-podsecuritypolicies); a NetworkPolicy
    allowing ingress only from the tenant's namespaces and those of
    spec.network.ingressFrom (kguard-tenant-default-deny-ingress-from-other-tenants);
    a NetworkPolicy allowing egress anywhere but spec.network.blockedEgressCIDRs
    (kguard-tenant-egress); the ResourceQuota and LimitRange of spec.quota
    (kguard-tenant-quota, kguard-tenant-limits).

Every object is labelled app.kubernetes.io/managed-by=kguard, kguard.io/tenant=NAME
and the tenant's spec.requiredLabels. The input holds Tenants and may hold Namespaces
(as kguard check --policy does): the namespaces of a tenant known only by its
spec.namespaces.selector are those of the input Namespaces it matches; a selector that
matches none is a warning on stderr, and their objects are not rendered. Other objects are
ignored. Tenants are defaulted and validated as kguard serve reads them.

Objects are printed Namespaces first, then by namespace, tenants by name; -o json prints
one v1 List. Exit status: 0 rendered (warnings or not), 2 bad input (an invalid Tenant, a
namespace of two tenants, no Tenant at all), with the file and line.`,
		Example: `  kguard tenant render examples/tenancy/tenants.yaml
  kguard tenant render examples/tenancy/tenants.yaml namespaces.yaml | kubectl apply --server-side --field-manager kguard -f -
  kubectl get namespaces -o yaml | kguard tenant render -o json tenants.yaml -`,
		RunE: func(c *cobra.Command, args []string) error {
			return runTenantRender(s, append(args, filenames...), output.Format())
		},
	}
	c.Flags().StringArrayVarP(&filenames, "filename", "f", nil, "Tenants and Namespaces: file, directory or - (repeatable; the same as the arguments)")
	output = addOutputFlag(c, report.YAML, report.JSON)
	return c
}

func runTenantRender(s Streams, paths []string, format report.Format) error {
	if len(paths) == 0 {
		return usageError(errors.New("nothing to read: give the Tenants as arguments or with -f FILE|DIR|-"))
	}
	set, err := policy.Load(paths, s.In)
	if err != nil {
		return usageError(err)
	}
	for _, w := range set.Warnings {
		fmt.Fprintln(s.Err, "warning:", w)
	}
	if len(set.Tenants) == 0 {
		return usageError(fmt.Errorf("no Tenant (kguard.io/v1alpha1) in %s", strings.Join(paths, ", ")))
	}
	r, err := tenant.RenderAll(set.Tenants, set.Namespaces)
	if err != nil {
		return usageError(err)
	}
	for _, w := range r.Warnings {
		fmt.Fprintln(s.Err, "warning:", w)
	}
	items := make([]any, len(r.Objects))
	for i, u := range r.Objects {
		items[i] = u.Object
	}
	if format == report.JSON {
		return report.WriteJSON(s.Out, map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	}
	return writeYAMLDocuments(s.Out, items)
}

// writeYAMLDocuments writes each object as one YAML document.
func writeYAMLDocuments(w io.Writer, objs []any) error {
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "---\n%s", b); err != nil {
			return err
		}
	}
	return nil
}
