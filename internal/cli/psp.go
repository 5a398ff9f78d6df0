package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kguard/kguard/internal/manifest"
	"github.com/kguard/kguard/internal/migrate"
	"github.com/kguard/kguard/internal/podspec"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/report"
)

func init() { register(newPSPCommand) }

func newPSPCommand(s Streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "psp",
		Short: "PodSecurityPolicy tools: migration to Pod Security Standards",
	}
	c.AddCommand(newPSPMigrateCommand(s))
	return c
}

func newPSPMigrateCommand(s Streams) *cobra.Command {
	var workloads []string
	var version string
	var output *report.FormatFlag
	c := &cobra.Command{
		Use:   "migrate POLICY_FILE|DIR|-...",
		Short: "Plan the move from PodSecurityPolicies to Pod Security Standards",
		Long: `For each PodSecurityPolicy: the strictest Pod Security Standard (restricted, baseline,
privileged) that admits everything the policy admits — the namespace label to set
(pod-security.kubernetes.io/enforce) — with, for each stricter standard, what the policy
admits that it forbids; and the fields the policy defaulted, which Pod Security admission
never does, so that manifests must set them before the policy goes away.

With --workloads, also the strictest standard each pod and workload template already meets.
A pod-carrying object kguard cannot read (e.g. an apps/v1beta1 Deployment) is reported as an
ERROR for that object, the others are graded all the same, and the exit status is 2.

The answer comes from kguard's PSP engine and pod-security-admission's evaluator run on
probe pods, each with one feature a Pod Security Standards check looks at, with the values the
policy itself allows (its host paths, host port range ends, capabilities, sysctls, volume types
and drivers, seccomp and AppArmor profiles, SELinux options, procMount types). Where a lower
standard was forced by a few controls, the plan names them ("restricted apart from ...").`,
		Example: `  kguard psp migrate examples/psp/policies --workloads examples/psp/pods`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if slices.Contains(args, "-") && slices.Contains(workloads, "-") {
				return usageError(errors.New("stdin (-) is read once: give the policies or the --workloads on it, not both"))
			}
			set, err := policy.Load(args, s.In)
			if err != nil {
				return usageError(err)
			}
			if len(set.PodSecurityPolicies) == 0 {
				return usageError(fmt.Errorf("no PodSecurityPolicy in %v", args))
			}
			planner, err := migrate.NewPlanner(version)
			if err != nil {
				return usageError(fmt.Errorf("--pss-version: %w", err))
			}
			var plans []*migrate.PolicyPlan
			for _, p := range set.PodSecurityPolicies {
				plan, err := planner.PlanPolicy(c.Context(), p)
				if err != nil {
					return err
				}
				plans = append(plans, plan)
			}
			var levels []migrate.WorkloadLevel
			var unreadable []unreadableObject
			if len(workloads) > 0 {
				docs, err := manifest.ReadPaths(workloads, s.In)
				if err != nil {
					return usageError(err)
				}
				if len(docs) == 0 {
					return usageError(fmt.Errorf("nothing to read: no objects in --workloads %s", strings.Join(workloads, ", --workloads ")))
				}
				for i := range docs {
					w, err := podspec.Decode(&docs[i])
					if err != nil {
						unreadable = append(unreadable, unreadableObject{Object: docs[i].Identity(), Source: docs[i].Position(), Error: documentError(err)})
						continue
					}
					if w == nil {
						continue
					}
					pod := w.Pod()
					level, fails := planner.PlanWorkload(&metav1.ObjectMeta{Labels: pod.Labels, Annotations: pod.Annotations}, &pod.Spec)
					levels = append(levels, migrate.WorkloadLevel{Object: docs[i].Identity(), Source: docs[i].Position(), Level: level, Fails: fails})
				}
			}
			if output.Format() == report.JSON {
				if levels == nil {
					levels = []migrate.WorkloadLevel{}
				}
				doc := map[string]any{"policies": plans, "workloads": levels}
				if len(unreadable) > 0 {
					doc["unreadable"] = unreadable
				}
				if err := report.WriteJSON(s.Out, doc); err != nil {
					return err
				}
				return unreadableError(len(unreadable))
			}
			for _, p := range plans {
				fmt.Fprint(s.Out, p.Summary())
			}
			if len(levels) > 0 || len(unreadable) > 0 {
				fmt.Fprintln(s.Out, "\nWorkloads, as written:")
				for _, u := range unreadable {
					fmt.Fprintf(s.Out, "  ERROR %s (%s): %s\n", u.Object, u.Source, u.Error)
				}
				for _, l := range levels {
					fmt.Fprintf(s.Out, "  %s (%s): meets %s\n", l.Object, l.Source, l.Level)
					if l.Level != "restricted" {
						for _, f := range l.Fails {
							fmt.Fprintf(s.Out, "      for restricted: %s\n", f)
						}
					}
				}
			}
			return unreadableError(len(unreadable))
		},
	}
	c.Flags().StringArrayVar(&workloads, "workloads", nil, "pods and workloads to grade: file, directory or - (repeatable)")
	c.Flags().StringVar(&version, "pss-version", "latest", "Pod Security Standards version: latest or v1.x")
	output = addOutputFlag(c, report.Text, report.JSON)
	return c
}

// unreadableObject is a pod-carrying object psp migrate could not read, listed
// by -o json under "unreadable".
type unreadableObject struct {
	Object string `json:"object"`
	Source string `json:"source"`
	Error  string `json:"error"`
}

// unreadableError is the exit 2 after n objects could not be read (nil when n is 0).
func unreadableError(n int) error {
	if n == 0 {
		return nil
	}
	noun := "objects"
	if n == 1 {
		noun = "object"
	}
	return usageError(fmt.Errorf("%d %s could not be read (reported above); the others were judged", n, noun))
}
