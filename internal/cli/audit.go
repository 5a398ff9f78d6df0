package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/constraints"
	"github.com/kguard/kguard/internal/audit"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/report"
	"github.com/kguard/kguard/internal/snapshot"
	"github.com/kguard/kguard/internal/source"
)

func init() { register(newAdmissionAuditCommand) }

type admissionAuditOptions struct {
	authz      authorizationFlags
	admission  admissionFlags
	policies   []string
	filenames  []string
	kubeconfig string
	namespace  string
	requester  string
	verbose    bool
	output     *report.FormatFlag
}

func newAdmissionAuditCommand(s Streams) *cobra.Command {
	o := &admissionAuditOptions{}
	c := &cobra.Command{
		Use:   "audit [flags] FILE|DIR|-... | --kubeconfig FILE",
		Short: "Audit existing objects against every enabled admission plugin, as the webhook would decide today",
		Long: `Judge what already runs with the admission chain, as the webhook would judge its creation
today. The objects are ` + "`kubectl get ... -o yaml`" + ` dumps (files, directories, -; a kind: List works),
with the policies of --policy as for check, or, with --kubeconfig, the cluster's pods, pod
controllers, Services and Namespaces, and the objects of the kinds its Gatekeeper constraints
match (every kind with plain Rego policies), judged with the cluster's own policies (its
ConstraintTemplates and constraints too when Constraints is enabled, or no plugin is named).

The pods of a pod controller (or of a Pod's controller reference) are reviewed as created by
the controller of kube-controller-manager that creates them
(system:serviceaccount:kube-system:replicaset-controller for a Deployment, as kguard check),
PodSecurityPolicy asking "use" of it and of the pod's ServiceAccount, as in the cluster; a
bare Pod as created by its ServiceAccount (system:serviceaccount:NS:SA). A controller's pods
(and a Deployment's ReplicaSets) are reported once through the controller when it is in the
input, as pods otherwise. Other objects, pod controllers themselves included, are created by
--requester. Objects of a kind no enabled plugin judges
are counted as skipped. A denial is a violation; what the mutating plugins would change is not
(-v lists it, with the warnings).

Output: a table per namespace (objects, violations), then each violation as
NAMESPACE KIND/NAME  PLUGIN: message. Exit status: 0 no violation, 1 violations, 2 bad input
(objects kguard cannot read, no objects at all, in the input or in --policy).`,
		Example: `  kubectl get pods,deployments,daemonsets,statefulsets,namespaces -A -o yaml > dump.yaml
  kguard audit --policy examples/psp/policies dump.yaml
  kguard audit --kubeconfig ~/.kube/config -o sarif`,
		RunE: func(c *cobra.Command, args []string) error {
			return o.run(c.Context(), s, append(args, o.filenames...))
		},
	}
	f := c.Flags()
	f.StringArrayVarP(&o.filenames, "filename", "f", nil, "objects to audit: file, directory or - (repeatable; the same as the arguments)")
	f.StringArrayVar(&o.policies, "policy", nil, "policy objects, as for check: file, directory or - (repeatable); not with --kubeconfig")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "audit the objects of the cluster of this kubeconfig, with its policies")
	f.StringVarP(&o.namespace, "namespace", "n", "default", "namespace of the namespaced objects that name none")
	f.StringVar(&o.requester, "requester", audit.DefaultRequester, "user who creates the objects other than pods (Services, Namespaces, pod controllers...), in system:authenticated")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "text output: also list what the mutating plugins would change and the warnings")
	o.admission.add(f, "ordered admission plugins: "+strings.Join(admission.Registered(), ", ")+" (default: as check, for the policies read)")
	f.BoolVar(&o.admission.images.offline, "offline", false, "no registry lookups: an image a ClusterImagePolicy matches is refused as unverifiable offline, and says so")
	o.authz.add(f, "add the Kubernetes default ClusterRoles and ClusterRoleBindings (v1.37) to --policy")
	o.output = addOutputFlag(c, report.Text, report.JSON, report.SARIF)
	return c
}

func (o *admissionAuditOptions) run(ctx context.Context, s Streams, args []string) error {
	switch {
	case o.kubeconfig != "" && (len(args) > 0 || len(o.policies) > 0):
		return usageError(errors.New("--kubeconfig reads the objects and the policies from the cluster: give no files and no --policy with it"))
	case o.kubeconfig == "" && len(args) == 0:
		return usageError(errors.New("nothing to read: give the objects as arguments, with -f FILE|DIR|-, or --kubeconfig"))
	}
	cfg, err := config(&o.authz, &o.admission)
	if err != nil {
		return usageError(err)
	}
	set, docs, err := o.read(ctx, s, args, cfg)
	if err != nil {
		return usageError(err)
	}
	if o.kubeconfig == "" && len(docs) == 0 {
		return usageError(errors.New("nothing to audit: no objects read"))
	}
	if len(cfg.AdmissionPlugins) == 0 {
		cfg.AdmissionPlugins = defaultPlugins(set)
	}
	built, err := snapshot.BuildPolicies(cfg, set)
	if err != nil {
		return usageError(err)
	}
	for _, w := range built.Warnings {
		fmt.Fprintln(s.Err, "warning:", w)
	}
	if o.kubeconfig != "" {
		// The objects are listed once the chain is known: besides what runs,
		// the kinds its constraints match.
		if docs, err = o.listCluster(ctx, s, built.Admission); err != nil {
			return usageError(err)
		}
		if len(docs) == 0 {
			return usageError(errors.New("nothing to audit: no objects in the cluster"))
		}
	}
	progress := newProgress(s.Err)
	rs := audit.Run(ctx, built.Admission, docs, audit.Options{DefaultNamespace: o.namespace, Requester: o.requester,
		Patches: o.verbose || o.output.Format() == report.JSON, Progress: progress.update})
	progress.done()
	switch o.output.Format() {
	case report.JSON:
		err = report.WriteJSON(s.Out, rs)
	case report.SARIF:
		err = writeAdmissionAuditSARIF(s.Out, rs)
	default:
		err = writeAdmissionAuditText(s.Out, rs, o.verbose)
	}
	if err != nil {
		return err
	}
	if rs.Total.Unreadable > 0 { // bad input wins over a violation
		return unreadableError(rs.Total.Unreadable)
	}
	if rs.Total.Violations > 0 {
		return denied()
	}
	return nil
}

// read returns the policies and the objects: from the files and --policy,
// or the policies from the cluster (its objects are listed by listCluster).
func (o *admissionAuditOptions) read(ctx context.Context, s Streams, args []string, cfg snapshot.Config) (*policy.Set, []manifest.Document, error) {
	if o.kubeconfig != "" {
		rc, err := restConfig(o.kubeconfig)
		if err != nil {
			return nil, nil, err
		}
		// Gatekeeper's objects when Constraints is asked for, or may be
		// enabled by default (the cluster holds templates).
		named := slices.Contains(cfg.AdmissionPlugins, constraints.PluginName)
		opts := source.ReadOptions{Namespace: cfg.ImagePolicy.SecretNamespace,
			Gatekeeper: len(cfg.AdmissionPlugins) == 0 || named, RequireGatekeeper: named}
		set, err := readClusterPolicies(ctx, s, rc, opts)
		return set, nil, err
	}
	set := &policy.Set{}
	stdin := s.In
	if len(o.policies) > 0 {
		var err error
		if set, err = loadPolicyFlag(o.policies, s.In, o.namespace); err != nil {
			return nil, nil, err
		}
		for _, w := range set.Warnings {
			fmt.Fprintln(s.Err, "warning:", w)
		}
		for _, p := range o.policies {
			if p == "-" {
				stdin = strings.NewReader("") // already consumed by --policy
			}
		}
	}
	docs, err := manifest.ReadPaths(args, stdin)
	if err != nil {
		return nil, nil, err
	}
	// The dump's Namespaces give their Pod Security labels, as in check.
	namespaces, err := checkedNamespaces(docs, set)
	if err != nil {
		return nil, nil, err
	}
	withNamespaces := *set
	withNamespaces.Namespaces = namespaces
	return &withNamespaces, docs, nil
}

// listCluster lists the cluster's objects that chain judges: what runs
// (source.AuditedResources) and the objects of the kinds its constraints
// match (or of every kind, with plain Rego policies).
func (o *admissionAuditOptions) listCluster(ctx context.Context, s Streams, chain *admission.Chain) ([]manifest.Document, error) {
	rc, err := restConfig(o.kubeconfig)
	if err != nil {
		return nil, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, clusterReadTimeout)
	defer cancel()
	docs, warnings, err := source.ClusterObjects(ctx, rc, chain.JudgesKind)
	for _, w := range warnings {
		fmt.Fprintln(s.Err, "warning:", w)
	}
	return docs, err
}

// clusterScopeName stands for the cluster-scoped objects in the text table.
const clusterScopeName = "(cluster)"

func writeAdmissionAuditText(w io.Writer, rs *audit.Results, verbose bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tOBJECTS\tVIOLATIONS")
	for _, n := range rs.Namespaces {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", namespaceColumn(n.Namespace), n.Objects, n.Violations)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, r := range rs.Results {
		id := namespaceColumn(r.Namespace) + " " + r.Kind + "/" + r.Name
		switch {
		case r.Status == audit.Denied:
			fmt.Fprintf(w, "%s  %s: %s\n", id, r.Plugin, r.Message)
		case r.Status == audit.Unreadable:
			fmt.Fprintf(w, "%s  ERROR %s: %s\n", id, r.Position(), r.Error)
		case verbose && r.Status == audit.Admitted && r.Patch != nil:
			for _, line := range patchLines(r.Patch) {
				fmt.Fprintf(w, "%s  mutated: %s\n", id, line)
			}
		}
		if verbose {
			for _, warning := range r.Warnings {
				fmt.Fprintf(w, "%s  warning: %s\n", id, warning)
			}
		}
	}
	t := rs.Total
	unreadable := ""
	if t.Unreadable > 0 {
		unreadable = fmt.Sprintf(", %d unreadable", t.Unreadable)
	}
	_, err := fmt.Fprintf(w, "%d objects: %d violations, %d admitted, %d reported through their owner, %d skipped (no enabled plugin judges their kind)%s (plugins: %s)\n",
		t.Objects, t.Violations, t.Admitted, t.Owned, t.Skipped, unreadable, strings.Join(rs.Plugins, ","))
	return err
}

func namespaceColumn(ns string) string {
	if ns == "" {
		return clusterScopeName
	}
	return ns
}

// The SARIF rules of audit: an existing object admission would deny, or
// that kguard could not read.
const (
	ruleAdmissionAuditDenied     = "kguard.audit.denied"
	ruleAdmissionAuditUnreadable = "kguard.audit.unreadable"
)

var admissionAuditSARIFRules = []report.ReportingDescriptor{
	{ID: ruleAdmissionAuditDenied, ShortDescription: &report.Message{Text: "admission would deny the existing object today"}, DefaultConfiguration: &report.ReportingConfiguration{Level: report.LevelError}},
	{ID: ruleAdmissionAuditUnreadable, ShortDescription: &report.Message{Text: "kguard could not read the object, which was not judged"}, DefaultConfiguration: &report.ReportingConfiguration{Level: report.LevelError}},
}

// writeAdmissionAuditSARIF writes SARIF 2.1.0: one result per violation and
// unreadable object, located at its file and line when read from one, and
// at the object (a logical location) always.
func writeAdmissionAuditSARIF(w io.Writer, rs *audit.Results) error {
	out := []report.Result{}
	for _, r := range rs.Results {
		var rule, msg string
		switch r.Status {
		case audit.Denied:
			rule, msg = ruleAdmissionAuditDenied, r.Plugin+": "+r.Message
		case audit.Unreadable:
			rule, msg = ruleAdmissionAuditUnreadable, r.Error
		default:
			continue
		}
		name := r.Kind + "/" + r.Name
		if r.Namespace != "" {
			name = r.Namespace + "/" + name
		}
		loc := report.Location{LogicalLocations: []report.LogicalLocation{{FullyQualifiedName: name, Kind: "object", Name: r.Name}}}
		if r.Source != "" && r.Line > 0 {
			loc.PhysicalLocation = &report.PhysicalLocation{ArtifactLocation: report.ArtifactLocation{URI: r.Source}, Region: &report.Region{StartLine: r.Line}}
		}
		out = append(out, report.Result{RuleID: rule, Level: report.LevelError, Message: report.Message{Text: name + ": " + msg}, Locations: []report.Location{loc}})
	}
	return report.WriteSARIF(w, report.NewLog(report.Run{Tool: report.Tool{Driver: sarifDriver(admissionAuditSARIFRules)}, Results: out}))
}

// progress counts the objects audited on a terminal's standard error, once
// the audit has taken more than a second; elsewhere it writes nothing.
type progress struct {
	w     io.Writer // nil: not a terminal
	start time.Time
	mu    sync.Mutex
	last  time.Time
	shown bool
}

func newProgress(stderr io.Writer) *progress {
	p := &progress{start: time.Now()}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.w = f
	}
	return p
}

func (p *progress) update(done, total int) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.start) < time.Second {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Sub(p.last) < 100*time.Millisecond && done != total {
		return
	}
	p.last, p.shown = now, true
	fmt.Fprintf(p.w, "\raudited %d/%d objects", done, total)
}

// done clears the counter line.
func (p *progress) done() {
	if p.w != nil && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
