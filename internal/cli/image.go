package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/kguard/kguard/internal/admission/clusterimagepolicy"
	"github.com/kguard/kguard/internal/imagepolicy"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/report"
)

func init() { register(newImageCommand) }

func newImageCommand(s Streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "image",
		Short: "Verify container images against sigstore ClusterImagePolicies",
	}
	c.AddCommand(newImageVerifyCommand(s))
	return c
}

type imageVerifyOptions struct {
	policies []string
	images   imageFlags
	output   *report.FormatFlag
}

// imageVerdict is one image's result, as -o json writes it.
type imageVerdict struct {
	Image    string   `json:"image"`
	Digest   string   `json:"digest,omitempty"`
	Admitted bool     `json:"admitted"`
	Policies []string `json:"policies,omitempty"` // the matching policies
	Denials  []string `json:"denials,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	Error    string   `json:"error,omitempty"` // resolving, or the registry
}

func newImageVerifyCommand(s Streams) *cobra.Command {
	o := &imageVerifyOptions{}
	c := &cobra.Command{
		Use:   "verify IMAGE... --policy FILE|DIR",
		Short: "Verify images as the ClusterImagePolicy admission plugin would",
		Long: `Resolves each image to its digest and verifies it against the ClusterImagePolicies
(and TrustRoots) of --policy, exactly as 'kguard serve' does at admission: every policy
whose glob matches the image must be satisfied by one of its authorities (a signature or
the attestations verified with a key, or keyless against a trust root, offline), and an
image that no policy matches follows --image-policy-no-match.

Exit status: 0 every image admitted, 1 one refused, 2 bad input (a policy that does not
load, an image reference that does not parse).`,
		Example: `  kguard image verify --policy policies/ registry.example/team/app:v1.2
  kguard image verify --policy cip.yaml --registry-ca-file ca.crt -o json $(cat images.txt)`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return o.run(c.Context(), s, args) },
	}
	f := c.Flags()
	f.StringSliceVar(&o.policies, "policy", nil, "files or directories of ClusterImagePolicy and TrustRoot objects (policy.sigstore.dev)")
	o.images.add(f)
	// Namespaces and the cache are the webhook's concerns.
	f.MarkHidden("image-policy-all-namespaces")
	f.MarkHidden("image-policy-cache-ttl")
	o.output = addOutputFlag(c, report.Text, report.JSON, report.SARIF)
	return c
}

func (o *imageVerifyOptions) run(ctx context.Context, s Streams, images []string) error {
	if len(o.policies) == 0 {
		return usageError(fmt.Errorf("no policies: give the ClusterImagePolicies with --policy"))
	}
	set, err := policy.Load(o.policies, s.In)
	if err != nil {
		return usageError(err)
	}
	if len(set.ClusterImagePolicies) == 0 {
		return usageError(fmt.Errorf("no ClusterImagePolicy in %s", strings.Join(o.policies, ", ")))
	}
	cfg, err := o.images.config()
	if err != nil {
		return usageError(err)
	}
	// A reference that does not parse is bad input (exit 2), found before
	// any registry call; the verifier parses with the same rules.
	for _, image := range images {
		if _, err := name.ParseReference(image, name.WeakValidation); err != nil {
			return usageError(fmt.Errorf("image %q: %w", image, err))
		}
	}
	verifier, err := clusterimagepolicy.NewVerifier(set, cfg)
	if err != nil {
		return usageError(err)
	}
	// Images are verified concurrently (registry round trips dominate),
	// and reported in the order given.
	verdicts := make([]imageVerdict, len(images))
	sem := make(chan struct{}, imageVerifyConcurrency)
	var wg sync.WaitGroup
	for i, image := range images {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			verdicts[i] = verifyImage(ctx, verifier, cfg.NoMatch, image)
		}()
	}
	wg.Wait()
	anyDenied := false
	for _, v := range verdicts {
		anyDenied = anyDenied || !v.Admitted
	}
	switch o.output.Format() {
	case report.JSON:
		err = report.WriteJSON(s.Out, map[string]any{"images": verdicts})
	case report.SARIF:
		err = writeImageSARIF(s.Out, verdicts)
	default:
		err = writeImageText(s.Out, verdicts)
	}
	if err != nil {
		return err
	}
	if anyDenied {
		return denied()
	}
	return nil
}

// imageVerifyConcurrency bounds the images verified at once.
const imageVerifyConcurrency = 8

// verifyImage is the plugin's verdict on one image, as -o json reports it.
func verifyImage(ctx context.Context, verifier *clusterimagepolicy.Verifier, noMatch imagepolicy.NoMatch, image string) imageVerdict {
	v := imageVerdict{Image: image}
	res, err := verifier.Verify(ctx, image)
	if err != nil {
		v.Error = err.Error()
		return v
	}
	if res.NoMatch {
		msg := fmt.Sprintf("image %q matches no ClusterImagePolicy", image)
		switch noMatch {
		case imagepolicy.NoMatchAllow:
			v.Admitted = true
		case imagepolicy.NoMatchWarn:
			v.Admitted, v.Warnings = true, []string{msg}
		default:
			v.Denials = []string{msg}
		}
		return v
	}
	for _, p := range res.Policies {
		v.Policies = append(v.Policies, p.Policy)
	}
	v.Digest = res.Image.Digest
	v.Denials, v.Warnings = res.Messages(true), res.Messages(false)
	v.Admitted = !res.Denied()
	return v
}

func writeImageText(w io.Writer, verdicts []imageVerdict) error {
	for _, v := range verdicts {
		state := "ADMITTED"
		if !v.Admitted {
			state = "REFUSED"
		}
		line := fmt.Sprintf("%-8s %s", state, v.Image)
		if v.Digest != "" {
			line += " (" + v.Digest + ")"
		}
		if len(v.Policies) > 0 {
			line += " by " + strings.Join(v.Policies, ", ")
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
		for _, m := range append(append(v.Denials, v.Warnings...), nonEmpty(v.Error)...) {
			if _, err := fmt.Fprintln(w, "  "+m); err != nil {
				return err
			}
		}
	}
	return nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

const (
	ruleImageRefused = "KGI001"
	ruleImageWarning = "KGI002"
)

var imageSARIFRules = []report.ReportingDescriptor{
	{ID: ruleImageRefused, ShortDescription: &report.Message{Text: "An image is not admitted by the ClusterImagePolicies that match it"}, DefaultConfiguration: &report.ReportingConfiguration{Level: report.LevelError}},
	{ID: ruleImageWarning, ShortDescription: &report.Message{Text: "A warn-mode ClusterImagePolicy is not satisfied"}, DefaultConfiguration: &report.ReportingConfiguration{Level: report.LevelWarning}},
}

func writeImageSARIF(w io.Writer, verdicts []imageVerdict) error {
	out := []report.Result{}
	for _, v := range verdicts {
		for _, m := range append(v.Denials, nonEmpty(v.Error)...) {
			out = append(out, report.Result{RuleID: ruleImageRefused, Level: report.LevelError, Message: report.Message{Text: m}})
		}
		for _, m := range v.Warnings {
			out = append(out, report.Result{RuleID: ruleImageWarning, Level: report.LevelWarning, Message: report.Message{Text: m}})
		}
	}
	return report.WriteSARIF(w, report.NewLog(report.Run{Tool: report.Tool{Driver: sarifDriver(imageSARIFRules)}, Results: out}))
}
