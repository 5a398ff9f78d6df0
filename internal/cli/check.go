package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	psaapi "k8s.io/pod-security-admission/api"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/podsecuritypolicy"
	"github.com/kguard/kguard/internal/admission/psp"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/report"
	"github.com/kguard/kguard/internal/snapshot"
)

func init() { register(newCheckCommand) }

type checkOptions struct {
	authz       authorizationFlags
	admission   admissionFlags
	policies    []string
	filenames   []string
	showSkipped bool
	who         subjectFlags
	namespace   string
	output      *report.FormatFlag
}

// checkResult is one object's outcome, printed by -o json.
type checkResult struct {
	APIVersion string                         `json:"apiVersion"`
	Kind       string                         `json:"kind"`
	Namespace  string                         `json:"namespace,omitempty"`
	Name       string                         `json:"name"`
	File       string                         `json:"file"`
	Line       int                            `json:"line"`
	Evaluated  bool                           `json:"evaluated"`
	Response   *admissionv1.AdmissionResponse `json:"response,omitempty"`
	// Error is why kguard could not read this pod-carrying object (then not evaluated).
	Error string `json:"error,omitempty"`
}

func newCheckCommand(s Streams) *cobra.Command {
	o := &checkOptions{}
	c := &cobra.Command{
		Use:   "check [flags] FILE|DIR|-... (or -f FILE|DIR|-)",
		Short: "Check manifests against the admission plugins (PodSecurityPolicies, Pod Security Standards, constraints...), as admission would",
		Long: `Evaluate every object as its creation by a user would be admitted: PodSecurityPolicies
(Kubernetes v1.24 semantics: defaulting, validation, selection by the RBAC "use" verb) and
Pod Security Standards (the built-in PodSecurity controller's own code, Namespace labels
pod-security.kubernetes.io/*), in the order of --enable-admission-plugins. Pods are checked
as they are; workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController,
Job, CronJob, PodTemplate) through their pod template, as the pods they will create, with
error paths inside the object (spec.template.spec.containers[0]...); those pods are created by
kube-controller-manager's controller (system:serviceaccount:kube-system:replicaset-controller
for a Deployment or ReplicaSet), not by --as, as in the cluster.

--policy reads PodSecurityPolicies (policy/v1beta1, extensions/v1beta1 or kguard.io/v1alpha1),
the RBAC objects that grant "use" on them, and Namespaces (their PSS labels); other kinds are
skipped. Gatekeeper ConstraintTemplates and constraints (and plain Rego policies: .rego files,
ConfigMaps labelled openpolicyagent.org/policy=rego, whose deny/warn rules read the
AdmissionReview) turn on the Constraints plugin, which judges objects of every kind, as the
webhook does (Gatekeeper's webhook enforcement point). Referential templates read the --policy
objects of the kinds a Config's sync.syncOnly or a template's requires-sync-data names as
data.inventory. -n is the namespace of the namespaced objects that name none, in --policy too. Without --enable-admission-plugins,
PodSecurityPolicy runs when --policy holds policies, then PodSecurity.

Namespaces among the checked objects (an install bundle's own namespace, e.g. flannel's
kube-flannel labelled privileged) give their Pod Security labels too, as if applied first.
A Namespace given with --policy wins over one of the same name in the checked files:
--policy describes the cluster as its operator sets it, and a bundle cannot loosen it.

The manifests are the arguments or -f/--filename (repeatable), as with kubectl.
Exit status: 0 everything admitted, 1 something denied, 2 bad input, including manifests
or --policy inputs with no objects at all. A pod-carrying object kguard cannot read (a kind in an old version such as
apps/v1beta1, a misspelt field) is reported as an ERROR for that object, the others are judged
all the same, and the exit status is 2. Objects without a pod are counted in one line; --show-skipped lists
them (-o json and -o sarif always list every object).`,
		Example: `  kguard check --policy examples/psp/policies examples/psp/pods
  kguard check --policy examples/psp/policies --as system:serviceaccount:psp-example:fake-user -n psp-example examples/psp/pods/pause.yaml
  kguard check --pss restricted deploy/ -o json
  kguard check --pss baseline -f kube-flannel.yml`,
		RunE: func(c *cobra.Command, args []string) error {
			return o.run(c, s, append(args, o.filenames...))
		},
	}
	f := c.Flags()
	f.StringArrayVarP(&o.filenames, "filename", "f", nil, "manifests to check: file, directory or - (repeatable; the same as the arguments)")
	f.BoolVar(&o.showSkipped, "show-skipped", false, "list in text output each object that carries no pod and was not evaluated")
	f.StringArrayVar(&o.policies, "policy", nil, "PodSecurityPolicies, RBAC objects, Namespaces, ClusterImagePolicies, Gatekeeper ConstraintTemplates, constraints and Configs, and Rego files (.rego) and ConfigMaps labelled openpolicyagent.org/policy=rego: file, directory or - (repeatable)")
	o.who.add(c)
	f.StringVarP(&o.namespace, "namespace", "n", "default", "namespace of the objects (manifests and --policy) that name none")
	o.admission.add(f, "ordered admission plugins: "+strings.Join(admission.Registered(), ", ")+" (default: PodSecurityPolicy when --policy holds policies, then PodSecurity)")
	f.BoolVar(&o.admission.images.offline, "offline", false, "no registry lookups: an image a ClusterImagePolicy matches is refused as unverifiable offline, and says so")
	o.authz.add(f, "add the Kubernetes default ClusterRoles and ClusterRoleBindings (v1.37) to --policy")
	o.output = addOutputFlag(c, report.Text, report.JSON, report.SARIF)
	return c
}

func (o *checkOptions) run(c *cobra.Command, s Streams, args []string) error {
	if len(args) == 0 {
		return usageError(errors.New("nothing to read: give the manifests as arguments or with -f FILE|DIR|-"))
	}
	if !c.Flags().Changed("image-policy-all-namespaces") {
		// A CI check of manifests judges every image, whatever namespace
		// labels the cluster will have.
		o.admission.images.allNamespaces = true
	}
	cfg, err := config(&o.authz, &o.admission)
	if err != nil {
		return usageError(err)
	}
	set := &policy.Set{}
	if len(o.policies) > 0 {
		var err error
		if set, err = loadPolicyFlag(o.policies, s.In, o.namespace); err != nil {
			return usageError(err)
		}
		for _, w := range set.Warnings {
			fmt.Fprintln(s.Err, "warning:", w)
		}
	}
	if o.who.user == "" && len(o.who.groups) == 0 {
		o.who.user = "kguard-check" // an ordinary authenticated user without grants of its own
	}
	u, err := o.who.info()
	if err != nil {
		return err
	}
	stdin := s.In
	for _, p := range o.policies {
		if p == "-" {
			stdin = strings.NewReader("") // already consumed by --policy
		}
	}
	docs, err := manifest.ReadPaths(args, stdin)
	if err != nil {
		return usageError(err)
	}
	if len(docs) == 0 {
		return usageError(fmt.Errorf("nothing to read: no objects in %s", strings.Join(args, ", ")))
	}
	namespaces, err := checkedNamespaces(docs, set)
	if err != nil {
		return usageError(err)
	}
	if len(cfg.AdmissionPlugins) == 0 {
		cfg.AdmissionPlugins = defaultPlugins(set)
	}
	// The same builder as serve's: what check answers is what the webhook answers.
	withNamespaces := *set
	withNamespaces.Namespaces = namespaces
	built, err := snapshot.BuildPolicies(cfg, &withNamespaces)
	if err != nil {
		return usageError(err)
	}
	chain := built.Admission
	outcomes := chain.AdmitDocuments(c.Context(), docs, o.namespace, u)
	var results []checkResult
	anyDenied, unreadable := false, 0
	for i := range docs {
		d := &docs[i]
		r := checkResult{APIVersion: d.APIVersion, Kind: d.Kind, Namespace: d.Namespace, Name: d.Name, File: d.Source, Line: d.Line}
		switch oc := outcomes[i]; {
		case oc.Err != nil:
			r.Error = documentError(oc.Err)
			unreadable++
		case oc.Response != nil:
			r.Evaluated, r.Namespace, r.Response = true, oc.Namespace, oc.Response
			anyDenied = anyDenied || !oc.Response.Allowed
		}
		results = append(results, r)
	}
	switch o.output.Format() {
	case report.JSON:
		if results == nil {
			results = []checkResult{}
		}
		err = report.WriteJSON(s.Out, map[string]any{"plugins": chain.Plugins(), "user": u.GetName(), "results": results})
	case report.SARIF:
		err = writeCheckSARIF(s.Out, results)
	default:
		err = writeCheckText(s.Out, chain.Plugins(), results, textOptions{showSkipped: o.showSkipped, user: u.GetName()})
	}
	if err != nil {
		return err
	}
	if unreadable > 0 { // bad input wins over a denial
		return unreadableError(unreadable)
	}
	if anyDenied {
		return denied()
	}
	return nil
}

// documentError is err without the file and line the result already names.
func documentError(err error) string {
	var me *manifest.Error
	if errors.As(err, &me) {
		return me.Err.Error()
	}
	return err.Error()
}

// textOptions shape the text output.
type textOptions struct {
	showSkipped bool   // list each object that carries no pod
	user        string // the requesting user, for hints
}

func writeCheckText(w io.Writer, plugins []string, results []checkResult, o textOptions) error {
	admitted, deniedCount, skipped, unreadable := 0, 0, 0, 0
	for _, r := range results {
		id := r.Kind + " " + r.Name
		if r.Namespace != "" {
			id = r.Kind + " " + r.Namespace + "/" + r.Name
		}
		pos := fmt.Sprintf("%s:%d", r.File, r.Line)
		switch {
		case r.Error != "":
			unreadable++
			fmt.Fprintf(w, "ERROR %s %s: %s\n", pos, id, r.Error)
		case !r.Evaluated:
			skipped++
			if o.showSkipped {
				fmt.Fprintf(w, "%s: %s: not evaluated (no pod)\n", pos, id)
			}
		case r.Response.Allowed:
			admitted++
			how := "admitted"
			if p := r.Response.AuditAnnotations[podsecuritypolicy.AuditKeyAdmitPolicy]; p != "" {
				how += " by PodSecurityPolicy " + p
			}
			fmt.Fprintf(w, "%s: %s: %s\n", pos, id, how)
			if r.Response.Patch != nil {
				for _, line := range patchLines(r.Response.Patch) {
					fmt.Fprintf(w, "  mutated: %s\n", line)
				}
			}
		default:
			deniedCount++
			fmt.Fprintf(w, "%s: %s: DENIED: %s\n", pos, id, r.Response.Result.Message)
			if strings.Contains(r.Response.Result.Message, psp.MessageNoProviders) {
				group, _, _ := strings.Cut(r.APIVersion, "/")
				if !strings.Contains(r.APIVersion, "/") {
					group = ""
				}
				who := fmt.Sprintf("the requesting user (%s; set it with --as and --as-group)", o.user)
				if creator := admission.PodCreator(group, r.Kind); creator != nil {
					who = fmt.Sprintf("the controller that creates a %s's pods (%s)", r.Kind, creator.GetName())
				}
				fmt.Fprintf(w, "    hint: no PodSecurityPolicy may be used by %s "+
					"or by the pod's ServiceAccount (spec.serviceAccountName, \"default\" when unset, in namespace %s): "+
					"grant \"use\" on a policy to one of them (--policy FILE with the Role and binding)\n", who, r.Namespace)
			}
		}
		if r.Response != nil {
			for _, warning := range r.Response.Warnings {
				fmt.Fprintf(w, "    warning: %s\n", warning)
			}
		}
	}
	if skipped > 0 && !o.showSkipped {
		noun := "objects carry no pod and were"
		if skipped == 1 {
			noun = "object carries no pod and was"
		}
		fmt.Fprintf(w, "%d %s not evaluated; --show-skipped lists them\n", skipped, noun)
	}
	errorsPart := ""
	if unreadable > 0 {
		errorsPart = fmt.Sprintf(", %d unreadable", unreadable)
	}
	_, err := fmt.Fprintf(w, "%d admitted, %d denied%s, %d not evaluated (plugins: %s)\n", admitted, deniedCount, errorsPart, skipped, strings.Join(plugins, ","))
	return err
}

// patchLines renders a JSON Patch one operation a line:
// "add /spec/containers/0/securityContext/runAsUser = 1000".
func patchLines(patch []byte) []string {
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		From  string          `json:"from"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(patch, &ops); err != nil {
		return []string{fmt.Sprintf("JSON Patch not readable (%v): %s", err, patch)}
	}
	out := make([]string, 0, len(ops))
	for _, op := range ops {
		line := op.Op + " " + op.Path
		switch {
		case op.From != "":
			line = op.Op + " " + op.From + " to " + op.Path
		case len(op.Value) > 0:
			line += " = " + string(op.Value)
		}
		out = append(out, line)
	}
	return out
}

// parsePSS reads --pss LEVEL[:VERSION] and reports a bad value once (the
// evaluator would report it for each of enforce, audit and warn).
func parsePSS(v string) (level, version string, err error) {
	if v == "" {
		return "", "", nil
	}
	level, version, _ = strings.Cut(v, ":")
	if _, err := psaapi.ParseLevel(level); err != nil {
		return "", "", fmt.Errorf("--pss %q: unknown level %q: use privileged, baseline or restricted, with an optional :VERSION (e.g. baseline:v1.30)", v, level)
	}
	if version != "" {
		if _, err := psaapi.ParseVersion(version); err != nil {
			return "", "", fmt.Errorf("--pss %q: unknown version %q: use latest or v1.x (e.g. restricted:v1.30)", v, version)
		}
	}
	return level, version, nil
}

// checkedNamespaces merges the Namespaces among the checked objects with those
// of --policy, which win on a name given in both.
func checkedNamespaces(docs []manifest.Document, set *policy.Set) ([]*corev1.Namespace, error) {
	var nsDocs []manifest.Document
	for _, d := range docs {
		if d.Kind == "Namespace" && d.APIVersion == "v1" {
			nsDocs = append(nsDocs, d)
		}
	}
	if len(nsDocs) == 0 {
		return set.Namespaces, nil
	}
	checked, err := policy.FromDocuments(nsDocs)
	if err != nil {
		return nil, err
	}
	out := append([]*corev1.Namespace(nil), set.Namespaces...)
	given := map[string]bool{}
	for _, ns := range set.Namespaces {
		given[ns.Name] = true
	}
	for _, ns := range checked.Namespaces {
		if !given[ns.Name] {
			given[ns.Name] = true
			out = append(out, ns)
		}
	}
	return out, nil
}

// The SARIF rules of check: an object denied, warned about, or not read.
const (
	ruleCheckDenied     = "kguard.check.denied"
	ruleCheckWarning    = "kguard.check.warning"
	ruleCheckUnreadable = "kguard.check.unreadable"
)

var checkSARIFRules = []report.ReportingDescriptor{
	{ID: ruleCheckDenied, ShortDescription: &report.Message{Text: "admission would deny the object"}, DefaultConfiguration: &report.ReportingConfiguration{Level: report.LevelError}},
	{ID: ruleCheckWarning, ShortDescription: &report.Message{Text: "admission would warn about the object"}, DefaultConfiguration: &report.ReportingConfiguration{Level: report.LevelWarning}},
	{ID: ruleCheckUnreadable, ShortDescription: &report.Message{Text: "kguard could not read the object, which was not judged"}, DefaultConfiguration: &report.ReportingConfiguration{Level: report.LevelError}},
}

// writeCheckSARIF writes SARIF 2.1.0: one result per denial, warning and
// unreadable object, located at the object's file and line.
func writeCheckSARIF(w io.Writer, results []checkResult) error {
	out := []report.Result{}
	for _, r := range results {
		add := func(rule string, level report.Level, msg string) {
			out = append(out, report.Result{RuleID: rule, Level: level, Message: report.Message{Text: r.Kind + " " + r.Name + ": " + msg},
				Locations: []report.Location{{PhysicalLocation: &report.PhysicalLocation{
					ArtifactLocation: report.ArtifactLocation{URI: r.File}, Region: &report.Region{StartLine: r.Line}}}}})
		}
		if r.Error != "" {
			add(ruleCheckUnreadable, report.LevelError, r.Error)
		}
		if r.Response == nil {
			continue
		}
		if !r.Response.Allowed {
			add(ruleCheckDenied, report.LevelError, r.Response.Result.Message)
		}
		for _, warning := range r.Response.Warnings {
			add(ruleCheckWarning, report.LevelWarning, warning)
		}
	}
	return report.WriteSARIF(w, report.NewLog(report.Run{Tool: report.Tool{Driver: sarifDriver(checkSARIFRules)}, Results: out}))
}
