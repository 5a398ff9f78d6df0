package cli

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

func init() { registerAuthz(newCanICommand) }

func newCanICommand(o *authzOptions, s Streams) *cobra.Command {
	var who subjectFlags
	var req requestFlags
	var list, reason bool
	c := &cobra.Command{
		Use:   "can-i VERB RESOURCE[/SUBRESOURCE] [NAME] | VERB /URL | --list",
		Short: "Check whether a user may perform an action, like kubectl auth can-i",
		Long: `Check whether a user may perform an action, offline on RBAC/ABAC objects or live
(--kubeconfig). Prints "yes" or "no" (with --reason, what decided); exits 0 for yes, 1 for no.

Unlike kubectl, RESOURCE/SUBRESOURCE names a subresource (pods/log) and the object name
is a separate argument. Resources may carry their group (deployments.apps); built-in
resources and kubectl's short names resolve to their group and scope.

Groups are added as the API server adds them: system:authenticated for every user but
system:anonymous (system:unauthenticated), and system:serviceaccounts plus
system:serviceaccounts:NS for system:serviceaccount:NS:NAME.`,
		Example: `  kguard authz can-i get pods -n default --as jane -f examples/rbac
  kguard authz can-i get pods/log web-0 -n default --as jane -f examples/rbac --reason
  kguard authz can-i get /healthz --as system:anonymous -f examples/rbac
  kguard authz can-i --list -n default --as jane -f examples/rbac --default-roles`,
		RunE: func(c *cobra.Command, args []string) error {
			u, err := who.info()
			if err != nil {
				return err
			}
			if list {
				if len(args) > 0 {
					return usageError(fmt.Errorf("--list takes no arguments"))
				}
				env, err := o.build(c.Context(), s)
				if err != nil {
					return err
				}
				ns := req.namespace
				if ns == "" && !req.allNamespaces {
					ns = "default"
				}
				rr, nr, _, err := env.Rules.RulesFor(c.Context(), u, ns)
				if err != nil {
					fmt.Fprintln(s.Err, "warning:", err)
				}
				printRules(s, rr, nr)
				return nil
			}
			attrs, err := req.parse(args, u)
			if err != nil {
				return err
			}
			env, err := o.build(c.Context(), s)
			if err != nil {
				return err
			}
			d, why, evalErr := env.Authorizer.Authorize(c.Context(), attrs)
			answer := "no"
			if d == authorizer.DecisionAllow {
				answer = "yes"
			}
			if reason {
				if why == "" {
					why = "no rule allows it"
				}
				if d == authorizer.DecisionDeny {
					why = "denied: " + why
				}
				fmt.Fprintf(s.Out, "%s - %s\n", answer, strings.ReplaceAll(namespaceFirst(why), "\n", "; "))
			} else {
				fmt.Fprintln(s.Out, answer)
			}
			if evalErr != nil {
				fmt.Fprintln(s.Err, "evaluation error:", evalErr)
			}
			if d != authorizer.DecisionAllow {
				return denied()
			}
			return nil
		},
	}
	who.add(c)
	c.Flags().StringVarP(&req.namespace, "namespace", "n", "", "namespace of the request (default \"default\")")
	c.Flags().BoolVarP(&req.allNamespaces, "all-namespaces", "A", false, "ask about all namespaces (a cluster-wide request)")
	c.Flags().StringVar(&req.subresource, "subresource", "", "subresource, e.g. log")
	c.Flags().BoolVar(&list, "list", false, "list everything the user may do in the namespace")
	c.Flags().BoolVar(&reason, "reason", false, "print why the answer is yes or no")
	return c
}

// upstreamNames are the "name/namespace" spellings of upstream's RBAC reasons
// (RoleBinding "read-secrets/development", ServiceAccount "robot/ns1"). Names
// hold no "/", so the split is exact.
var upstreamNames = regexp.MustCompile(`\b(RoleBinding|ServiceAccount) "([^"/]+)/([^"/]+)"`)

// namespaceFirst rewrites a reason's bindings and ServiceAccounts as
// namespace/name, the order audit, who-can and kubectl use. The authorizer keeps
// upstream's wording, which SubjectAccessReview answers must match.
func namespaceFirst(reason string) string {
	return upstreamNames.ReplaceAllString(reason, `$1 "$3/$2"`)
}

// printRules prints rules as kubectl auth can-i --list does.
func printRules(s Streams, rr []authorizer.ResourceRuleInfo, nr []authorizer.NonResourceRuleInfo) {
	type row struct{ resources, urls, names, verbs string }
	var rows []row
	list := func(v []string) string { return "[" + strings.Join(v, " ") + "]" }
	for _, r := range rr {
		for _, g := range r.GetAPIGroups() {
			for _, res := range r.GetResources() {
				name := res
				if g != "" {
					name = res + "." + g
				}
				rows = append(rows, row{name, "[]", list(r.GetResourceNames()), list(r.GetVerbs())})
			}
		}
	}
	for _, r := range nr {
		rows = append(rows, row{"", list(r.GetNonResourceURLs()), "[]", list(r.GetVerbs())})
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].resources != rows[j].resources {
			return rows[i].resources < rows[j].resources
		}
		return rows[i].urls < rows[j].urls
	})
	w := tabwriter.NewWriter(s.Out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "Resources\tNon-Resource URLs\tResource Names\tVerbs")
	seen := map[row]bool{}
	for _, r := range rows {
		if seen[r] {
			continue
		}
		seen[r] = true
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.resources, r.urls, r.names, r.verbs)
	}
	w.Flush()
}
