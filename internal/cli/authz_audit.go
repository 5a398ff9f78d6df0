package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kguard/kguard/internal/authz/analysis"
	"github.com/kguard/kguard/internal/report"
)

func init() { registerAuthz(newAuditCommand) }

func newAuditCommand(o *authzOptions, s Streams) *cobra.Command {
	var failOn, minSeverity string
	var output *report.FormatFlag
	var includeDefaults bool
	c := &cobra.Command{
		Use:   "audit",
		Short: "Find risky RBAC grants, with the binding chain behind each",
		Long: `Report risky grants: reading secrets, escalate, bind, impersonate, pods/exec and
pods/attach, nodes/proxy, serviceaccounts/token, workloads in kube-system, patch/update of
workloads cluster-wide, pods/ephemeralcontainers, admission webhook configurations, approval
of API client certificates, PersistentVolume creation, wildcards, grants to
system:authenticated, system:unauthenticated or all ServiceAccounts (rated by what they
grant: health, version and discovery endpoints are info, self-reviews low), default
ServiceAccounts holding grants, and cluster-admin. A finding whose grant reaches, in one
hop, a target of kguard authz paths is rated at least as that target: cluster-admin
critical; every secret, node root (creating pods, whatever admission would say), every
ServiceAccount token high. Each finding names the subject, the
binding, the role and the rule (subject → binding → role → rule), with the binding's file
and line when read from files. Matching uses the authorizer's own rule evaluation, so
wildcards, subresources and aggregated roles count exactly as they grant.

The Kubernetes default bindings (label kubernetes.io/bootstrapping=rbac-defaults) are left
out unless --include-defaults. Objects of other kinds (ConfigMaps, Deployments, CRDs... of
an install bundle) are skipped; -n gives namespaced objects that name no namespace one, as
kubectl apply -n does. Exit status: 0 when nothing at or above --fail-on, 1 when something
is, 2 for bad input, including input with no objects at all.`,
		Example: `  kguard authz audit -f examples/audit/risky.yaml
  kubectl get roles,rolebindings,clusterroles,clusterrolebindings -A -o yaml | kguard authz audit -f - -o sarif > rbac.sarif
  kguard authz audit -n argocd -f install.yaml
  kguard authz audit --kubeconfig ~/.kube/config --min-severity high`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			fail, err := analysis.ParseSeverity(failOn)
			if err != nil {
				return usageError(fmt.Errorf("--fail-on: %w", err))
			}
			min, err := analysis.ParseSeverity(minSeverity)
			if err != nil {
				return usageError(fmt.Errorf("--min-severity: %w", err))
			}
			if len(o.files) == 0 && o.kubeconfig == "" && !o.defaultRoles {
				return usageError(errors.New("nothing to read: give the RBAC objects with -f FILE|DIR|- or --kubeconfig"))
			}
			env, err := o.build(c.Context(), s)
			if err != nil {
				return err
			}
			if env.Read == 0 && !o.defaultRoles {
				return usageError(fmt.Errorf("nothing to read: no objects in %s", inputsString(o)))
			}
			findings, _, err := analysis.Audit(env.Set, analysis.Options{IncludeDefaults: includeDefaults, MinSeverity: min})
			if err != nil {
				return err
			}
			switch output.Format() {
			case report.JSON:
				err = writeAuditJSON(s.Out, findings)
			case report.SARIF:
				err = writeAuditSARIF(s.Out, findings)
			default:
				err = writeAuditText(s.Out, findings)
			}
			if err != nil {
				return err
			}
			for _, f := range findings {
				if f.Severity >= fail {
					return denied()
				}
			}
			return nil
		},
	}
	output = addOutputFlag(c, report.Text, report.JSON, report.SARIF)
	c.Flags().StringVar(&failOn, "fail-on", "high", "exit 1 when a finding has at least this severity (info, low, medium, high, critical)")
	c.Flags().StringVar(&minSeverity, "min-severity", "info", "report only findings of at least this severity (low leaves out grants of public endpoints only)")
	c.Flags().StringVarP(&o.namespace, "namespace", "n", "", "namespace of the namespaced objects in -f that name none (as kubectl apply -n)")
	c.Flags().BoolVar(&includeDefaults, "include-defaults", false, "include the Kubernetes default bindings (kubernetes.io/bootstrapping=rbac-defaults)")
	return c
}

// inputsString names where the objects were read from, for messages.
func inputsString(o *authzOptions) string {
	if o.kubeconfig != "" {
		return "the cluster of " + o.kubeconfig
	}
	return "-f " + strings.Join(o.files, ", -f ")
}

func ruleString(f analysis.Finding) string {
	if f.Rule == nil {
		return "(the whole role)"
	}
	r := *f.Rule
	var parts []string
	if len(r.APIGroups) > 0 {
		parts = append(parts, "apiGroups="+strings.Join(quoteAll(r.APIGroups), ","))
	}
	if len(r.Resources) > 0 {
		parts = append(parts, "resources="+strings.Join(r.Resources, ","))
	}
	if len(r.ResourceNames) > 0 {
		parts = append(parts, "resourceNames="+strings.Join(r.ResourceNames, ","))
	}
	if len(r.NonResourceURLs) > 0 {
		parts = append(parts, "nonResourceURLs="+strings.Join(r.NonResourceURLs, ","))
	}
	parts = append(parts, "verbs="+strings.Join(r.Verbs, ","))
	return strings.Join(parts, " ")
}

func quoteAll(v []string) []string {
	out := make([]string, len(v))
	for i, s := range v {
		if s == "" {
			s = `""`
		}
		out[i] = s
	}
	return out
}

func writeAuditText(w io.Writer, findings []analysis.Finding) error {
	if len(findings) == 0 {
		_, err := fmt.Fprintln(w, "no risky grants found")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 1, ' ', 0)
	counts := map[analysis.Severity]int{}
	for _, f := range findings {
		counts[f.Severity]++
		fmt.Fprintf(tw, "%s\t%s\t%s\n", strings.ToUpper(f.Severity.String()), f.ID, f.Message)
		chain := fmt.Sprintf("%s → %s → %s → %s", analysis.SubjectString(f.Subject, f.Binding.Namespace), f.Binding, f.Role, ruleString(f))
		if f.Source != "" {
			chain += "  (" + f.Source + ")"
		}
		fmt.Fprintf(tw, "\t\t  %s\n", chain)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d findings: %d critical, %d high, %d medium, %d low, %d info\n", len(findings),
		counts[analysis.Critical], counts[analysis.High], counts[analysis.Medium], counts[analysis.Low], counts[analysis.Info])
	return err
}

func writeAuditJSON(w io.Writer, findings []analysis.Finding) error {
	if findings == nil {
		findings = []analysis.Finding{}
	}
	return report.WriteJSON(w, map[string]any{"findings": findings})
}

// auditLevels are the SARIF levels of the severities.
var auditLevels = map[analysis.Severity]report.Level{
	analysis.Info: report.LevelNote, analysis.Low: report.LevelNote, analysis.Medium: report.LevelWarning, analysis.High: report.LevelError, analysis.Critical: report.LevelError,
}

// auditSecuritySeverity is GitHub code scanning's security-severity (a CVSS-like
// score) of the severities.
var auditSecuritySeverity = map[analysis.Severity]string{
	analysis.Info: "0.0", analysis.Low: "3.0", analysis.Medium: "5.0", analysis.High: "7.5", analysis.Critical: "9.5",
}

// writeAuditSARIF writes SARIF 2.1.0 for code-scanning tools: one rule per
// check, one result per finding, located at the binding's file and line.
func writeAuditSARIF(w io.Writer, findings []analysis.Finding) error {
	checks, err := analysis.Checks()
	if err != nil {
		return err
	}
	var rules []report.ReportingDescriptor
	for _, c := range checks {
		rules = append(rules, report.ReportingDescriptor{
			ID:                   c.ID,
			Name:                 strings.ReplaceAll(strings.Title(c.Title), " ", ""), //nolint:staticcheck // ASCII titles
			ShortDescription:     &report.Message{Text: c.Title},
			FullDescription:      &report.Message{Text: c.Help},
			Help:                 &report.Message{Text: c.Help},
			DefaultConfiguration: &report.ReportingConfiguration{Level: auditLevels[c.Severity]},
			Properties:           report.PropertyBag{"security-severity": auditSecuritySeverity[c.Severity]},
		})
	}
	results := []report.Result{}
	for _, f := range findings {
		loc := report.Location{LogicalLocations: []report.LogicalLocation{{Name: f.Binding.Name, FullyQualifiedName: f.Binding.String(), Kind: "resource"}}}
		if file, line, ok := splitSource(f.Source); ok {
			loc.PhysicalLocation = &report.PhysicalLocation{ArtifactLocation: report.ArtifactLocation{URI: file}, Region: &report.Region{StartLine: line}}
		}
		results = append(results, report.Result{
			RuleID:  f.ID,
			Level:   auditLevels[f.Severity],
			Message: report.Message{Text: f.Message + " (" + f.Binding.String() + " → " + f.Role.String() + ")"},
			Properties: report.PropertyBag{"severity": f.Severity.String(), "subject": analysis.SubjectString(f.Subject, f.Binding.Namespace),
				"binding": f.Binding.String(), "role": f.Role.String(), "rule": ruleString(f), "scope": f.Scope},
			Locations: []report.Location{loc},
		})
	}
	return report.WriteSARIF(w, report.NewLog(report.Run{Tool: report.Tool{Driver: sarifDriver(rules)}, Results: results}))
}

func kguardVersion() string { v, _ := buildVersion(); return v }

// splitSource splits "file:line" (a position may carry " (items[N])").
func splitSource(src string) (string, int, bool) {
	src, _, _ = strings.Cut(src, " ")
	i := strings.LastIndexByte(src, ':')
	if i <= 0 {
		return "", 0, false
	}
	var line int
	if _, err := fmt.Sscanf(src[i+1:], "%d", &line); err != nil || line <= 0 {
		return "", 0, false
	}
	return src[:i], line, true
}
