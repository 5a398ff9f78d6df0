package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kguard/kguard/internal/authz/abac"
	"github.com/kguard/kguard/internal/authz/rbac"
)

func init() { registerAuthz(newWhoCanCommand) }

// whoCanEntry is one subject allowed, and what allows it.
type whoCanEntry struct {
	SubjectKind      string `json:"subjectKind"`
	Subject          string `json:"subject"`
	SubjectNamespace string `json:"subjectNamespace,omitempty"`
	Via              string `json:"via"` // "ClusterRoleBinding x", "RoleBinding ns/x", "ABAC line N"
	Role             string `json:"role,omitempty"`
}

func newWhoCanCommand(o *authzOptions, s Streams) *cobra.Command {
	var req requestFlags
	var output string
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
			if output != "text" && output != "json" {
				return usageError(fmt.Errorf("unknown output format %q (text, json)", output))
			}
			attrs, err := req.parse(args, &user.DefaultInfo{Name: "who-can"})
			if err != nil {
				return err
			}
			env, err := o.build(c.Context(), s)
			if err != nil {
				return err
			}
			var out []whoCanEntry
			if env.RBAC != nil {
				grants, _ := rbac.Grants(env.Set)
				for _, g := range grants {
					if g.Namespace != "" && g.Namespace != attrs.Namespace {
						continue
					}
					if !anyRuleAllows(g.Rules, attrs) {
						continue
					}
					e := whoCanEntry{SubjectKind: g.Subject.Kind, Subject: g.Subject.Name, Role: g.RoleKind + " " + g.RoleName}
					if g.Subject.Kind == rbacv1.ServiceAccountKind {
						e.SubjectNamespace = g.Subject.Namespace
						if e.SubjectNamespace == "" {
							if g.BindingNamespace == "" {
								continue // a ClusterRoleBinding's ServiceAccount without namespace matches nobody
							}
							e.SubjectNamespace = g.BindingNamespace
						}
					}
					if g.BindingKind == "RoleBinding" {
						e.Via = "RoleBinding " + g.BindingNamespace + "/" + g.BindingName
					} else {
						e.Via = "ClusterRoleBinding " + g.BindingName
					}
					out = append(out, e)
				}
			}
			if env.ABAC != nil {
				for _, p := range env.ABAC.Policies() {
					spec := p.Spec
					subjectKind, subject := "User", spec.User
					if spec.User == "" {
						subjectKind, subject = "Group", spec.Group
					}
					if subject == "" {
						continue
					}
					// Match everything but the subject.
					spec.User, spec.Group = "", "*"
					if !abac.Matches(&spec, attrs) {
						continue
					}
					e := whoCanEntry{SubjectKind: subjectKind, Subject: subject, Via: fmt.Sprintf("ABAC line %d", p.Line)}
					if p.Spec.User != "" && p.Spec.Group != "" {
						e.Subject = p.Spec.User + " (in group " + p.Spec.Group + ")"
					}
					out = append(out, e)
				}
			}
			sort.SliceStable(out, func(i, j int) bool {
				a, b := out[i], out[j]
				if a.SubjectKind != b.SubjectKind {
					return a.SubjectKind < b.SubjectKind
				}
				if a.SubjectNamespace != b.SubjectNamespace {
					return a.SubjectNamespace < b.SubjectNamespace
				}
				return a.Subject < b.Subject
			})
			if output == "json" {
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				if out == nil {
					out = []whoCanEntry{}
				}
				return enc.Encode(map[string]any{"request": describeRequest(attrs), "subjects": out})
			}
			if len(out) == 0 {
				fmt.Fprintf(s.Out, "nobody may %s\n", describeRequest(attrs))
				return nil
			}
			fmt.Fprintf(s.Out, "who may %s:\n", describeRequest(attrs))
			w := tabwriter.NewWriter(s.Out, 0, 8, 2, ' ', 0)
			fmt.Fprintln(w, "KIND\tSUBJECT\tVIA\tROLE")
			for _, e := range out {
				name := e.Subject
				if e.SubjectNamespace != "" {
					name = e.SubjectNamespace + "/" + e.Subject
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.SubjectKind, name, e.Via, e.Role)
			}
			return w.Flush()
		},
	}
	c.Flags().StringVarP(&req.namespace, "namespace", "n", "", "namespace of the request (default \"default\")")
	c.Flags().BoolVarP(&req.allNamespaces, "all-namespaces", "A", false, "a cluster-wide request (only ClusterRoleBindings count)")
	c.Flags().StringVar(&req.subresource, "subresource", "", "subresource, e.g. log")
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}

func anyRuleAllows(rules []rbacv1.PolicyRule, attrs authorizer.AttributesRecord) bool {
	for i := range rules {
		if rbac.RuleAllows(attrs, &rules[i]) {
			return true
		}
	}
	return false
}
