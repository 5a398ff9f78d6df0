package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/admission/psp"
	"github.com/kguard/kguard/internal/authz"
	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/policy"
)

func init() { register(newCheckCommand) }

type checkOptions struct {
	exemptUsers, exemptNamespaces, exemptRuntimeClasses []string
	policies                                            []string
	who                                                 subjectFlags
	namespace                                           string
	pss                                                 string
	plugins                                             []string
	output                                              string
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
}

func newCheckCommand(s Streams) *cobra.Command {
	o := &checkOptions{}
	c := &cobra.Command{
		Use:   "check [flags] FILE|DIR|-...",
		Short: "Check manifests against PodSecurityPolicies and Pod Security Standards, as admission would",
		Long: `Evaluate every object as its creation by a user would be admitted: PodSecurityPolicies
(Kubernetes v1.24 semantics: defaulting, validation, selection by the RBAC "use" verb) and
Pod Security Standards (the built-in PodSecurity controller's own code, Namespace labels
pod-security.kubernetes.io/*), in the order of --enable-admission-plugins. Pods are checked
as they are; workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController,
Job, CronJob, PodTemplate) through their pod template, as the pods they will create, with
error paths inside the object (spec.template.spec.containers[0]...).

--policy reads PodSecurityPolicies (policy/v1beta1, extensions/v1beta1 or kguard.io/v1alpha1),
the RBAC objects that grant "use" on them, and Namespaces (their PSS labels); other kinds are
skipped. -n is the namespace of the namespaced objects that name none, in --policy too. Without --enable-admission-plugins,
PodSecurityPolicy runs when --policy holds policies, then PodSecurity.

Exit status: 0 everything admitted, 1 something denied, 2 bad input. Objects without a pod
are listed as not evaluated.`,
		Example: `  kguard check --policy examples/psp/policies examples/psp/pods
  kguard check --policy examples/psp/policies --as system:serviceaccount:psp-example:fake-user -n psp-example examples/psp/pods/pause.yaml
  kguard check --pss restricted deploy/ -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return o.run(c, s, args)
		},
	}
	f := c.Flags()
	f.StringArrayVar(&o.policies, "policy", nil, "PodSecurityPolicies, RBAC objects and Namespaces: file, directory or - (repeatable)")
	o.who.add(c)
	f.StringVarP(&o.namespace, "namespace", "n", "default", "namespace of the objects (manifests and --policy) that name none")
	f.StringVar(&o.pss, "pss", "", "cluster default Pod Security Standard, LEVEL[:VERSION] (privileged, baseline, restricted; version latest or v1.x); default privileged:latest, as the built-in")
	f.StringSliceVar(&o.plugins, "enable-admission-plugins", nil, "ordered admission plugins: PodSecurityPolicy, PodSecurity")
	f.StringSliceVar(&o.exemptUsers, "pss-exempt-username", nil, "Pod Security exemption: usernames")
	f.StringSliceVar(&o.exemptNamespaces, "pss-exempt-namespace", nil, "Pod Security exemption: namespaces")
	f.StringSliceVar(&o.exemptRuntimeClasses, "pss-exempt-runtime-class", nil, "Pod Security exemption: runtime class names")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text, json or sarif")
	return c
}

func (o *checkOptions) run(c *cobra.Command, s Streams, args []string) error {
	if o.output != "text" && o.output != "json" && o.output != "sarif" {
		return usageError(fmt.Errorf("unknown output format %q (text, json, sarif)", o.output))
	}
	set := &policy.Set{}
	if len(o.policies) > 0 {
		var err error
		if set, err = policy.Load(o.policies, s.In, policy.WithNamespace(o.namespace)); err != nil {
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
	level, version, _ := strings.Cut(o.pss, ":")
	pss, err := podsecurity.New(podsecurity.Config{Enforce: level, EnforceVersion: version, Warn: level, WarnVersion: version,
		Audit: level, AuditVersion: version, ExemptUsernames: o.exemptUsers, ExemptNamespaces: o.exemptNamespaces,
		ExemptRuntimeClasses: o.exemptRuntimeClasses}, set.Namespaces)
	if err != nil {
		return usageError(fmt.Errorf("--pss %q: %w", o.pss, err))
	}
	az, err := authz.New(authz.Config{Objects: set})
	if err != nil {
		return usageError(err)
	}
	engine, err := psp.NewEngine(set.PodSecurityPolicies, az.Authorizer)
	if err != nil {
		return usageError(err)
	}
	engine = engine.WithRuleResolver(az.RuleResolver)
	plugins := o.plugins
	if len(plugins) == 0 {
		if len(set.PodSecurityPolicies) > 0 {
			plugins = append(plugins, admission.PluginPodSecurityPolicy)
		}
		plugins = append(plugins, admission.PluginPodSecurity)
	}
	chain, err := admission.NewChain(plugins, admission.Snapshot{PSP: engine, PSS: pss})
	if err != nil {
		return usageError(err)
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
	outcomes, err := chain.AdmitDocuments(c.Context(), docs, o.namespace, u)
	if err != nil {
		return usageError(err)
	}
	var results []checkResult
	anyDenied := false
	for i := range docs {
		d := &docs[i]
		r := checkResult{APIVersion: d.APIVersion, Kind: d.Kind, Namespace: d.Namespace, Name: d.Name, File: d.Source, Line: d.Line}
		if oc := outcomes[i]; oc.Response != nil {
			r.Evaluated, r.Namespace, r.Response = true, oc.Namespace, oc.Response
			anyDenied = anyDenied || !oc.Response.Allowed
		}
		results = append(results, r)
	}
	switch o.output {
	case "json":
		if results == nil {
			results = []checkResult{}
		}
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		err = enc.Encode(map[string]any{"plugins": chain.Plugins(), "user": u.GetName(), "results": results})
	case "sarif":
		err = writeCheckSARIF(s.Out, results)
	default:
		err = writeCheckText(s.Out, chain.Plugins(), results)
	}
	if err != nil {
		return err
	}
	if anyDenied {
		return denied()
	}
	return nil
}

func writeCheckText(w io.Writer, plugins []string, results []checkResult) error {
	admitted, deniedCount, skipped := 0, 0, 0
	for _, r := range results {
		id := r.Kind + " " + r.Name
		if r.Namespace != "" {
			id = r.Kind + " " + r.Namespace + "/" + r.Name
		}
		pos := fmt.Sprintf("%s:%d", r.File, r.Line)
		switch {
		case !r.Evaluated:
			skipped++
			fmt.Fprintf(w, "%s: %s: not evaluated (no pod)\n", pos, id)
		case r.Response.Allowed:
			admitted++
			how := "admitted"
			if p := r.Response.AuditAnnotations["podsecuritypolicy.policy.k8s.io/admit-policy"]; p != "" {
				how += " by PodSecurityPolicy " + p
			}
			if r.Response.Patch != nil {
				var ops []any
				_ = json.Unmarshal(r.Response.Patch, &ops)
				how += fmt.Sprintf(", JSON Patch of %d operations (-o json shows it)", len(ops))
			}
			fmt.Fprintf(w, "%s: %s: %s\n", pos, id, how)
		default:
			deniedCount++
			fmt.Fprintf(w, "%s: %s: DENIED: %s\n", pos, id, r.Response.Result.Message)
		}
		if r.Response != nil {
			for _, warning := range r.Response.Warnings {
				fmt.Fprintf(w, "    warning: %s\n", warning)
			}
		}
	}
	_, err := fmt.Fprintf(w, "%d admitted, %d denied, %d not evaluated (plugins: %s)\n", admitted, deniedCount, skipped, strings.Join(plugins, ","))
	return err
}

func writeCheckSARIF(w io.Writer, results []checkResult) error {
	type obj = map[string]any
	out := []obj{}
	for _, r := range results {
		if r.Response == nil {
			continue
		}
		add := func(rule, level, msg string) {
			out = append(out, obj{"ruleId": rule, "level": level, "message": obj{"text": r.Kind + " " + r.Name + ": " + msg},
				"locations": []obj{{"physicalLocation": obj{"artifactLocation": obj{"uri": r.File}, "region": obj{"startLine": r.Line}}}}})
		}
		if !r.Response.Allowed {
			add("kguard.check.denied", "error", r.Response.Result.Message)
		}
		for _, warning := range r.Response.Warnings {
			add("kguard.check.warning", "warning", warning)
		}
	}
	doc := obj{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
		"runs": []obj{{
			"tool": obj{"driver": obj{"name": "kguard", "version": kguardVersion(), "informationUri": "https://github.com/kguard/kguard",
				"rules": []obj{
					{"id": "kguard.check.denied", "shortDescription": obj{"text": "admission would deny the object"}, "defaultConfiguration": obj{"level": "error"}},
					{"id": "kguard.check.warning", "shortDescription": obj{"text": "admission would warn about the object"}, "defaultConfiguration": obj{"level": "warning"}},
				}}},
			"results": out,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
