package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/authz"
	"github.com/kguard/kguard/internal/report"
)

func init() { registerAuthz(newWhoCanCommand) }

func newWhoCanCommand(o *authzOptions, s Streams) *cobra.Command {
	var req requestFlags
	var output *report.FormatFlag
	c := &cobra.Command{
		Use:   "who-can VERB RESOURCE[/SUBRESOURCE] [NAME] | VERB /URL",
		Short: "List every subject allowed an action, with the binding that allows it",
		Long: `List every user, group and ServiceAccount that may perform an action, each with the
binding and role (or ABAC line) that allows it. RoleBindings count only in the request's
namespace (-n, default "default"); ClusterRoleBindings everywhere. Groups are listed as
groups: members of system:authenticated, system:serviceaccounts... are all allowed.`,
		Example: `  kguard authz who-can get secrets -n development -f examples/rbac
  kguard authz who-can create pods -n kube-system -f cluster-dump.yaml --default-roles -o json`,
		RunE: func(c *cobra.Command, args []string) error {
			attrs, err := req.parse(args, &user.DefaultInfo{Name: "who-can"})
			if err != nil {
				return err
			}
			env, err := o.build(c.Context(), s)
			if err != nil {
				return err
			}
			out := env.Chain.WhoCan(attrs)
			if output.Format() == report.JSON {
				if out == nil {
					out = []authz.Subject{}
				}
				return report.WriteJSON(s.Out, map[string]any{"request": describeRequest(attrs), "subjects": out})
			}
			var allowed, denied []authz.Subject
			for _, e := range out {
				if e.DeniedBy != "" {
					denied = append(denied, e)
				} else {
					allowed = append(allowed, e)
				}
			}
			if len(allowed) == 0 {
				fmt.Fprintf(s.Out, "nobody may %s\n", describeRequest(attrs))
			} else {
				fmt.Fprintf(s.Out, "who may %s:\n", describeRequest(attrs))
				w := tabwriter.NewWriter(s.Out, 0, 8, 2, ' ', 0)
				fmt.Fprintln(w, "KIND\tSUBJECT\tVIA\tROLE")
				for _, e := range allowed {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Kind, subjectName(e), e.Via, e.Role)
				}
				if err := w.Flush(); err != nil {
					return err
				}
			}
			if len(denied) > 0 {
				fmt.Fprintln(s.Out, "granted, but denied by the Tenant mode:")
				for _, e := range denied {
					fmt.Fprintf(s.Out, "  %s %s (%s, %s): %s\n", e.Kind, subjectName(e), e.Via, e.Role, e.DeniedBy)
				}
			}
			return nil
		},
	}
	c.Flags().StringVarP(&req.namespace, "namespace", "n", "", "namespace of the request (default \"default\")")
	c.Flags().BoolVarP(&req.allNamespaces, "all-namespaces", "A", false, "a cluster-wide request (only ClusterRoleBindings count)")
	c.Flags().StringVar(&req.subresource, "subresource", "", "subresource, e.g. log")
	output = addOutputFlag(c, report.Text, report.JSON)
	return c
}

// subjectName is "namespace/name" for a ServiceAccount, the name otherwise.
func subjectName(e authz.Subject) string {
	if e.Namespace != "" {
		return e.Namespace + "/" + e.Name
	}
	return e.Name
}
