package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/authz"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/report"
)

func init() { registerAuthz(newCheckEscalationCommand) }

func newCheckEscalationCommand(o *authzOptions, s Streams) *cobra.Command {
	var who subjectFlags
	var output *report.FormatFlag
	c := &cobra.Command{
		Use:   "check-escalation OBJECT_FILE|DIR|-...",
		Short: "Check whether a user may create the Roles, ClusterRoles and bindings in files (escalation prevention)",
		Long: `Answer, for every Role, ClusterRole, RoleBinding and ClusterRoleBinding in the files,
whether the user may create or update it under the API server's escalation prevention
(seed 002 §6):

  - a Role or ClusterRole: the user must already hold every rule it grants, in the same
    scope (the Role's namespace, or cluster-wide), or be allowed the verb "escalate" on it;
    setting an aggregationRule requires holding everything;
  - a RoleBinding or ClusterRoleBinding: the user must be allowed the verb "bind" on the
    referenced role, or already hold its rules in the binding's scope;
  - members of system:masters may do anything.

The user's existing permissions come from -f/--kubeconfig. Exit 0 if everything is
allowed, 1 if something would be refused, 2 for bad input, including files with no
Role, ClusterRole or binding at all.`,
		Example: `  kguard authz check-escalation -f examples/rbac --default-roles --as user-1 new-binding.yaml`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			u, err := who.info()
			if err != nil {
				return err
			}
			objects, err := policy.Load(args, s.In)
			if err != nil {
				return usageError(err)
			}
			printSetWarnings(s, objects, false)
			env, err := o.build(c.Context(), s)
			if err != nil {
				return err
			}
			results, err := env.Chain.CheckEscalation(c.Context(), u, objects)
			if err != nil {
				return usageError(err)
			}
			if len(results) == 0 {
				// "0 objects, 0 refused" would pass a CI gate having checked nothing.
				return usageError(fmt.Errorf("nothing to check: no Role, ClusterRole, RoleBinding or ClusterRoleBinding in %s", strings.Join(args, ", ")))
			}
			refused := 0
			for _, r := range results {
				if !r.Allowed {
					refused++
				}
			}
			if output.Format() == report.JSON {
				if results == nil {
					results = []authz.EscalationResult{}
				}
				if err := report.WriteJSON(s.Out, map[string]any{"user": u.GetName(), "groups": u.GetGroups(), "results": results}); err != nil {
					return err
				}
			} else {
				for _, r := range results {
					verdict := "allowed"
					if !r.Allowed {
						verdict = "REFUSED"
					}
					fmt.Fprintf(s.Out, "%s: %s %s: %s\n", r.Source, r.Object, verdict, r.Reason)
				}
				fmt.Fprintf(s.Out, "%d objects, %d refused for %s\n", len(results), refused, describeUser(u))
			}
			if refused > 0 {
				return denied()
			}
			return nil
		},
	}
	who.add(c)
	output = addOutputFlag(c, report.Text, report.JSON)
	return c
}

func describeUser(u user.Info) string {
	return fmt.Sprintf("user %q (groups %q)", u.GetName(), u.GetGroups())
}
