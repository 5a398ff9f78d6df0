package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/authz/paths"
	"github.com/kguard/kguard/internal/authz/paths/admitted"
	"github.com/kguard/kguard/internal/authz/paths/htmlreport"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/report"
	"github.com/kguard/kguard/internal/snapshot"
)

func init() { registerAuthz(newPathsCommand) }

func newPathsCommand(o *authzOptions, s Streams) *cobra.Command {
	var from, to, failOn string
	var fromGroups []string
	var includeSystem, verbose bool
	var output *report.FormatFlag
	var ad admissionFlags
	c := &cobra.Command{
		Use:   "paths",
		Short: "Find privilege-escalation paths: who can become cluster-admin, read every secret, own a node, take tokens or redirect traffic, and how",
		Long: `Find, for every subject (or --from one), the shortest chain of grants that takes it to
a target, hop by hop, each hop naming the binding, role and rule that grant it:

  cluster-admin  every permission (critical)
  secrets        read every secret (high)
  nodes          root on a node: a privileged pod, the kubelet API (high)
  tokens         any namespace's ServiceAccount tokens (high)
  traffic        other workloads' traffic: Service external IPs, Service, pod or node status (high)

Hops are: * on *; bind or escalate on ClusterRoles; impersonation; serviceaccounts/token;
reading secrets, which hold ServiceAccount tokens; creating pods or workloads, which run as
any ServiceAccount of the namespace, and reach node root when kguard's admission chain (as
check builds it: --enable-admission-plugins, by default PodSecurityPolicy when -f holds
policies, then PodSecurity, with Tenancy first when it holds Tenants) admits, requested by the
subject, a privileged pod, a hostPID pod or a pod mounting the node's / (-v lists the pod
grants it refuses, and why);
pods/exec, pods/attach and ephemeral containers into the pods of -f (every ServiceAccount
of the namespace when none is given; node root when exec reaches a privileged, hostPID or
host-/-mounting pod); nodes/proxy; patching nodes; approving API client certificates (any
subject but system:masters); admission webhook configurations, mutating admission policies
with their bindings; patching or updating pod controllers and pods; writing Services
(external IPs), Service, pod or node status. A ServiceAccount reached acts with its own
grants and its groups'. docs/paths.md explains how to read a path.

A target implied by another one the subject reaches (cluster-admin implies all, secrets and
nodes imply tokens) is not listed again unless asked for with --to. A subject that reaches
a target only through a group it is in (system:authenticated...) is listed once, as the
group. Kubernetes' own subjects are left out unless --include-system: users and groups named
system:* (system:masters, system:kube-controller-manager, system:nodes...) and
ServiceAccounts bound only by the default bindings (kubernetes.io/bootstrapping=rbac-defaults);
system:authenticated, system:unauthenticated, system:serviceaccounts[:NS] and
system:anonymous are always included. So --default-roles adds the default roles for the
paths through them without listing their own holders.

Exit status: 0 when no path has at least --fail-on severity, 1 when one has, 2 for bad
input.`,
		Example: `  kguard authz paths -f examples/paths/chain.yaml
  kguard authz paths -f examples/paths/chain.yaml --from dev --to nodes
  kguard authz paths -f rbac.yaml --from alice --from-group oncall
  kguard authz paths -f rbac.yaml --from system:serviceaccount:ci:deployer
  kguard authz paths -f rbac.yaml --from group:system:authenticated -o dot | dot -Tsvg > paths.svg
  kguard authz paths -f rbac.yaml -o html > paths.html`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			opts := paths.Options{IncludeSystem: includeSystem}
			fail, err := paths.ParseSeverity(failOn)
			if err != nil {
				return usageError(fmt.Errorf("--fail-on: %w", err))
			}
			if to != "" {
				if opts.To, err = paths.ParseTarget(to); err != nil {
					return usageError(fmt.Errorf("--to: %w", err))
				}
			}
			if from != "" {
				if opts.From, err = paths.ParseSource(from, fromGroups); err != nil {
					return usageError(fmt.Errorf("--from: %w", err))
				}
			} else if len(fromGroups) > 0 {
				return usageError(errors.New("--from-group needs --from USER"))
			}
			if len(o.files) == 0 && o.kubeconfig == "" && !o.defaultRoles {
				return usageError(errors.New("nothing to read: give the RBAC objects with -f FILE|DIR|- or --kubeconfig"))
			}
			o.workloads = true
			env, err := o.build(c.Context(), s)
			if err != nil {
				return err
			}
			if env.Read == 0 && !o.defaultRoles {
				return usageError(fmt.Errorf("nothing to read: no objects in %s", inputsString(o)))
			}
			if opts.Admitter, err = pathsAdmitter(c.Context(), o, &ad, env.Set); err != nil {
				return err
			}
			res, err := paths.Find(env.Set, opts)
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintln(s.Err, "warning:", w)
			}
			switch output.Format() {
			case report.JSON:
				err = writePathsJSON(s.Out, res)
			case report.DOT:
				err = writePathsDOT(s.Out, res.Paths)
			case report.SARIF:
				err = writePathsSARIF(s.Out, res.Paths, env.Set.BindingSources())
			case report.HTML:
				err = htmlreport.Write(s.Out, res.Paths)
			default:
				err = writePathsText(s.Out, res, verbose)
			}
			if err != nil {
				return err
			}
			for _, p := range res.Paths {
				if p.Severity >= fail {
					return denied()
				}
			}
			return nil
		},
	}
	output = addOutputFlag(c, report.Text, report.JSON, report.DOT, report.SARIF, report.HTML)
	c.Flags().StringVar(&from, "from", "", "only the paths of this subject: USER, system:serviceaccount:NS:NAME or group:NAME")
	c.Flags().StringArrayVar(&fromGroups, "from-group", nil, "a group of the --from user (repeatable)")
	c.Flags().StringVar(&to, "to", "", "only the paths to this target: cluster-admin, secrets, nodes, tokens or traffic")
	c.Flags().StringVar(&failOn, "fail-on", "high", "exit 1 when a path has at least this severity (info, high, critical)")
	c.Flags().BoolVar(&includeSystem, "include-system", false, "include paths from Kubernetes' own subjects (system:masters, system:* users and groups, ServiceAccounts bound only by default bindings)")
	c.Flags().StringVarP(&o.namespace, "namespace", "n", "", "namespace of the namespaced objects in -f that name none (as kubectl apply -n)")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "list the grants to create pods that reach no node because admission refuses node-root pods, and why")
	ad.addPodSecurity(c.Flags(), "ordered admission plugins that judge node-root pods: "+strings.Join(admission.Registered(), ", ")+
		" (default: PodSecurityPolicy when -f holds policies, then PodSecurity; Tenancy first when it holds Tenants)")
	return c
}

// pathsAdmitter is the admission chain check would build for the objects of
// set (PodSecurityPolicies, Namespaces, Tenants), judging node-root pods.
func pathsAdmitter(ctx context.Context, o *authzOptions, ad *admissionFlags, set *policy.Set) (paths.PodAdmitter, error) {
	pss, err := ad.podSecurity()
	if err != nil {
		return nil, usageError(err)
	}
	plugins := ad.plugins
	if len(plugins) == 0 {
		plugins = podSecurityPlugins(set)
	}
	// set already holds the default roles when --default-roles is given.
	cfg := snapshot.Config{AuthorizationModes: o.modes, ABACFile: o.policyFile, AdmissionPlugins: plugins, PSS: pss}
	built, err := snapshot.BuildPolicies(cfg, set)
	if err != nil {
		return nil, usageError(err)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	return admitted.New(ctx, built.Admission, built.Authorizer, set), nil
}

func writePathsText(w io.Writer, res *paths.Result, verbose bool) error {
	ps := res.Paths
	if err := writeRefused(w, res.Refused, verbose); err != nil {
		return err
	}
	if len(ps) == 0 {
		_, err := fmt.Fprintln(w, "no escalation paths found")
		return err
	}
	counts := map[paths.Severity]int{}
	for _, p := range ps {
		counts[p.Severity]++
		fmt.Fprintf(w, "%-9s %s -> %s\n", strings.ToUpper(p.Severity.String()), p.From, p.Target)
		for i, h := range p.Hops {
			line := fmt.Sprintf("  %d. %s", i+1, h.Action)
			if why := h.Why(); why != "" {
				line += " (" + why + ")"
			}
			fmt.Fprintf(w, "%s => %s\n", line, h.To)
		}
		if p.FirstHops > 1 {
			fmt.Fprintf(w, "  (%d first steps begin a path as short)\n", p.FirstHops)
		}
	}
	_, err := fmt.Fprintf(w, "%d paths: %d critical, %d high, %d info\n", len(ps), counts[paths.Critical], counts[paths.High], counts[paths.Info])
	return err
}

// writeRefused lists, with verbose, the pod grants admission keeps from
// node root; otherwise it counts them.
func writeRefused(w io.Writer, refused []paths.Refusal, verbose bool) error {
	if len(refused) == 0 {
		return nil
	}
	if !verbose {
		_, err := fmt.Fprintf(w, "(%d grants to create pods reach no node: admission refuses node-root pods; -v lists them)\n", len(refused))
		return err
	}
	for _, r := range refused {
		fmt.Fprintf(w, "NO NODE   %s: %s (%s)\n", r.Subject, r.Action, r.Evidence)
	}
	return nil
}

func writePathsJSON(w io.Writer, res *paths.Result) error {
	ps, refused := res.Paths, res.Refused
	if ps == nil {
		ps = []paths.Path{}
	}
	if refused == nil {
		refused = []paths.Refusal{}
	}
	return report.WriteJSON(w, map[string]any{"paths": ps, "refused": refused})
}

// writePathsDOT writes the paths as one Graphviz graph: a node per subject
// and target, an edge per distinct hop labelled with its action.
func writePathsDOT(w io.Writer, ps []paths.Path) error {
	var b strings.Builder
	b.WriteString("digraph paths {\n  rankdir=LR;\n  node [shape=box];\n")
	nodes := map[string]bool{}
	var names []string
	edges := map[string]bool{}
	var lines []string
	node := func(s paths.Subject) string {
		id := s.String()
		if !nodes[id] {
			nodes[id] = true
			names = append(names, id)
		}
		return id
	}
	for _, p := range ps {
		at := node(p.From)
		for _, h := range p.Hops {
			to := node(h.To)
			line := fmt.Sprintf("  %q -> %q [label=%q];\n", at, to, h.Action)
			if !edges[line] {
				edges[line] = true
				lines = append(lines, line)
			}
			at = to
		}
	}
	sort.Strings(names)
	for _, n := range names {
		attrs := ""
		if _, err := paths.ParseTarget(n); err == nil {
			attrs = " [shape=doubleoctagon, color=red]"
		}
		fmt.Fprintf(&b, "  %q%s;\n", n, attrs)
	}
	for _, l := range lines {
		b.WriteString(l)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// pathsSARIFRule is the SARIF rule of the paths to a target.
func pathsSARIFRule(t paths.Target) string { return "kguard.paths." + string(t) }

// pathsLevels and pathsSecuritySeverity rate the targets for code scanning,
// as authz audit rates its severities.
var (
	pathsLevels           = map[paths.Severity]report.Level{paths.Info: report.LevelNote, paths.High: report.LevelError, paths.Critical: report.LevelError}
	pathsSecuritySeverity = map[paths.Severity]string{paths.Info: "0.0", paths.High: "7.5", paths.Critical: "9.5"}
	pathsTargetHelp       = map[paths.Target]string{
		paths.ClusterAdmin: "a chain of grants gives every permission",
		paths.Secrets:      "a chain of grants reads every secret",
		paths.Nodes:        "a chain of grants gives root on a node",
		paths.Tokens:       "a chain of grants takes the ServiceAccount tokens of any namespace",
		paths.Traffic:      "a chain of grants redirects other workloads' traffic (CVE-2020-8554) or kube-apiserver's connections to the kubelets",
	}
)

// writePathsSARIF writes SARIF 2.1.0: one rule per target, one result per
// path, located at the binding of its first hop (file and line when read
// from files) and naming the path's subject.
func writePathsSARIF(w io.Writer, ps []paths.Path, sources func(kind, namespace, name string) string) error {
	var rules []report.ReportingDescriptor
	for _, t := range paths.Targets {
		sev := paths.SeverityOf(t)
		rules = append(rules, report.ReportingDescriptor{
			ID:                   pathsSARIFRule(t),
			ShortDescription:     &report.Message{Text: "escalation path to " + string(t)},
			FullDescription:      &report.Message{Text: pathsTargetHelp[t] + "; docs/paths.md explains each hop's primitive"},
			DefaultConfiguration: &report.ReportingConfiguration{Level: pathsLevels[sev]},
			Properties:           report.PropertyBag{"security-severity": pathsSecuritySeverity[sev]},
		})
	}
	results := []report.Result{}
	for _, p := range ps {
		var hops []string
		for i, h := range p.Hops {
			hop := fmt.Sprintf("%d. %s", i+1, h.Action)
			if ev := h.Evidence.String(); ev != "" {
				hop += " (" + ev + ")"
			}
			hops = append(hops, hop+" => "+h.To.String())
		}
		loc := report.Location{LogicalLocations: []report.LogicalLocation{{Name: p.From.Name, FullyQualifiedName: p.From.String(), Kind: "subject"}}}
		if len(p.Hops) > 0 && p.Hops[0].Evidence.Binding != nil {
			b := p.Hops[0].Evidence.Binding
			if file, line, ok := splitSource(sources(b.Kind, b.Namespace, b.Name)); ok {
				loc.PhysicalLocation = &report.PhysicalLocation{ArtifactLocation: report.ArtifactLocation{URI: file}, Region: &report.Region{StartLine: line}}
			}
		}
		results = append(results, report.Result{
			RuleID:     pathsSARIFRule(p.Target),
			Level:      pathsLevels[p.Severity],
			Message:    report.Message{Text: fmt.Sprintf("%s -> %s: %s", p.From, p.Target, strings.Join(hops, "; "))},
			Properties: report.PropertyBag{"severity": p.Severity.String(), "subject": p.From.String(), "hops": len(p.Hops)},
			Locations:  []report.Location{loc},
		})
	}
	return report.WriteSARIF(w, report.NewLog(report.Run{Tool: report.Tool{Driver: sarifDriver(rules)}, Results: results}))
}
