package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/kguard/kguard/internal/authz"
)

func init() { registerAuthz(newReviewCommand) }

func newReviewCommand(o *authzOptions, s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "review SAR_FILE|-",
		Short: "Answer a SubjectAccessReview (authorization.k8s.io/v1 or v1beta1) with the authorizer chain",
		Long: `Read a SubjectAccessReview in JSON and print it back with its status filled in —
allowed, denied, reason, evaluationError — exactly as kguard's authorization webhook would
answer kube-apiserver. Exit status: 0 allowed, 1 not allowed, 2 bad input.`,
		Example: `  kguard authz review -f examples/rbac examples/sar/jane-get-pods.json
  kguard authz review --authorization-mode=ABAC --authorization-policy-file=examples/abac/policy.jsonl - < sar.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var body []byte
			var err error
			if args[0] == "-" {
				body, err = io.ReadAll(io.LimitReader(s.In, authz.MaxReviewBytes+1))
			} else {
				body, err = os.ReadFile(args[0])
			}
			if err != nil {
				return usageError(err)
			}
			env, err := o.build(c.Context(), s)
			if err != nil {
				return err
			}
			out, err := authz.Review(c.Context(), env.Authorizer, body)
			if err != nil {
				return usageError(fmt.Errorf("%s: %w", args[0], err))
			}
			var sar struct {
				Status authorizationv1.SubjectAccessReviewStatus `json:"status"`
			}
			if err := json.Unmarshal(out, &sar); err != nil {
				return err
			}
			var pretty map[string]any
			_ = json.Unmarshal(out, &pretty)
			enc := json.NewEncoder(s.Out)
			enc.SetIndent("", "  ")
			if err := enc.Encode(pretty); err != nil {
				return err
			}
			if !sar.Status.Allowed {
				return denied()
			}
			return nil
		},
	}
}
