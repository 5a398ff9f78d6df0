package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kguard/kguard/internal/authz"
	"github.com/kguard/kguard/internal/authz/abac"
	"github.com/kguard/kguard/internal/authz/rbac"
	"github.com/kguard/kguard/internal/podspec"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/internal/source"
)

func init() { register(newAuthzCommand) }

// authzOptions are the flags every `kguard authz` subcommand shares: where the
// RBAC objects come from and which authorizers are chained.
type authzOptions struct {
	files      []string
	kubeconfig string
	authorizationFlags
	// namespace is given to namespaced objects of -f that name none, as
	// kubectl apply -n does; set by the subcommands' -n.
	namespace string
	// workloads is set by the subcommands that read pods and workloads
	// (paths), which are then not reported as skipped.
	workloads bool
}

// authzEnv is what a subcommand works on.
type authzEnv struct {
	Chain      *authz.Chain
	Set        *policy.Set
	Authorizer authorizer.Authorizer
	Rules      authorizer.RuleResolver
	RBAC       *rbac.Authorizer // nil when RBAC is not a mode
	ABAC       *abac.Authorizer // nil when ABAC is not a mode
	Warnings   []string
	// Read is the number of objects read from -f or the cluster, of every kind.
	Read int
}

// authzSubcommands register themselves from their own files.
var authzSubcommands []func(*authzOptions, Streams) *cobra.Command

func registerAuthz(f func(*authzOptions, Streams) *cobra.Command) {
	authzSubcommands = append(authzSubcommands, f)
}

func newAuthzCommand(s Streams) *cobra.Command {
	o := &authzOptions{}
	c := &cobra.Command{
		Use:   "authz",
		Short: "Authorization: RBAC, ABAC and mode chains, offline or against a live cluster",
		Long: `Evaluate and analyse authorization. Objects come from YAML dumps
(-f FILE|DIR|-, e.g. kubectl get roles,rolebindings,clusterroles,clusterrolebindings -A -o yaml)
or from a live cluster (--kubeconfig). Authorizers are chained like kube-apiserver's
--authorization-mode: the first Allow or Deny wins, NoOpinion falls through.`,
	}
	f := c.PersistentFlags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "RBAC objects: YAML/JSON file, directory or - for stdin (repeatable)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "read RBAC objects from the cluster of this kubeconfig")
	o.authorizationFlags.add(f, "add the Kubernetes default ClusterRoles and ClusterRoleBindings (v1.37)")
	for _, add := range authzSubcommands {
		c.AddCommand(add(o, s))
	}
	// A subcommand's -n (the request's namespace of can-i and who-can, the
	// namespace of audit) is also the namespace of the objects of -f that
	// name none, as kubectl apply -n gives them.
	c.PersistentPreRun = func(c *cobra.Command, args []string) {
		if f := c.Flags().Lookup("namespace"); f != nil && f.Changed {
			o.namespace = f.Value.String()
		}
	}
	return c
}

// build loads the objects and the authorizer chain. Input errors are usage errors (exit 2).
func (o *authzOptions) build(ctx context.Context, s Streams) (*authzEnv, error) {
	if len(o.files) > 0 && o.kubeconfig != "" {
		return nil, usageError(errors.New("use either -f or --kubeconfig, not both"))
	}
	set := &policy.Set{}
	var err error
	switch {
	case o.kubeconfig != "":
		set, err = readCluster(ctx, s, o.kubeconfig)
	case len(o.files) > 0:
		set, err = policy.Load(o.files, s.In, policy.WithNamespace(o.namespace))
	}
	if err != nil {
		return nil, usageError(err)
	}
	printSetWarnings(s, set, o.workloads)
	cfg := authz.Config{
		Modes:        o.modes,
		ABACFile:     o.policyFile,
		Objects:      set,
		DefaultRoles: o.defaultRoles,
	}
	chain, err := authz.New(cfg)
	if err != nil {
		return nil, usageError(err)
	}
	for _, w := range chain.Warnings {
		fmt.Fprintln(s.Err, "warning:", w)
	}
	return &authzEnv{Chain: chain, Set: chain.Objects, Authorizer: chain.Authorizer, Rules: chain.RuleResolver, RBAC: chain.RBAC, ABAC: chain.ABAC,
		Warnings: chain.Warnings, Read: set.Len()}, nil
}

// printSetWarnings prints the objects accepted with a change, and one line
// for the objects of kinds authz does not use (an install bundle's
// ConfigMaps, Deployments, CRDs...), which are skipped as check --policy skips
// them; pods and workloads are not skipped when workloads is set.
func printSetWarnings(s Streams, set *policy.Set, workloads bool) {
	for _, w := range set.Warnings {
		fmt.Fprintln(s.Err, "warning:", w)
	}
	skipped := len(set.Secrets) // Secrets are read for image policies' keys
	seen := map[string]bool{}
	var kinds []string
	for i := range set.Others {
		d := &set.Others[i]
		if workloads && podspec.HasPod(d) {
			continue
		}
		skipped++
		if k := d.APIVersion + " " + d.Kind; !seen[k] {
			seen[k] = true
			kinds = append(kinds, k)
		}
	}
	if skipped == 0 {
		return
	}
	if len(set.Secrets) > 0 {
		kinds = append(kinds, "v1 Secret")
	}
	fmt.Fprintf(s.Err, "note: skipped %d objects of kinds authz does not use: %s\n", skipped, strings.Join(kinds, ", "))
}

// modesString is how a chain is shown to people.
func (o *authzOptions) modesString() string { return strings.Join(o.modes, ",") }

// subjectFlags are --as and --as-group, shared by commands that ask about a user.
type subjectFlags struct {
	user   string
	groups []string
}

func (f *subjectFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&f.user, "as", "", "the user to ask about (e.g. jane, system:serviceaccount:NS:NAME, system:anonymous)")
	c.Flags().StringArrayVar(&f.groups, "as-group", nil, "a group of the user (repeatable)")
}

// info returns the user as the API server would see it after authentication:
// any user but system:anonymous is in system:authenticated, anonymous is in
// system:unauthenticated, and a ServiceAccount is also in system:serviceaccounts
// and system:serviceaccounts:NS.
func (f *subjectFlags) info() (user.Info, error) {
	if f.user == "" && len(f.groups) == 0 {
		return nil, usageError(errors.New("say who is asking: --as USER (and --as-group GROUP...)"))
	}
	groups := append([]string(nil), f.groups...)
	add := func(g string) {
		for _, x := range groups {
			if x == g {
				return
			}
		}
		groups = append(groups, g)
	}
	if ns, _, err := serviceaccount.SplitUsername(f.user); err == nil {
		add(serviceaccount.AllServiceAccountsGroup)
		add(serviceaccount.MakeNamespaceGroupName(ns))
	}
	if f.user == user.Anonymous {
		add(user.AllUnauthenticated)
	} else {
		add(user.AllAuthenticated)
	}
	return &user.DefaultInfo{Name: f.user, Groups: groups}, nil
}

// readCluster reads the policy objects of the cluster of kubeconfig ("": the
// usual loading rules, $KUBECONFIG then ~/.kube/config) with the reader
// serve uses; objects it cannot convert are warnings.
func readCluster(ctx context.Context, s Streams, kubeconfig string) (*policy.Set, error) {
	rc, err := restConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	return readClusterPolicies(ctx, s, rc, source.ReadOptions{})
}

// restConfig is the client configuration of kubeconfig ("": the usual
// loading rules, $KUBECONFIG then ~/.kube/config).
func restConfig(kubeconfig string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	rc.UserAgent = "kguard"
	return rc, nil
}

// readClusterPolicies reads the policy objects of the cluster of rc.
func readClusterPolicies(ctx context.Context, s Streams, rc *rest.Config, opts source.ReadOptions) (*policy.Set, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, clusterReadTimeout)
	defer cancel()
	set, broken, err := source.Read(ctx, rc, opts)
	for _, b := range broken {
		fmt.Fprintln(s.Err, "warning:", b)
	}
	return set, err
}

// clusterReadTimeout bounds the offline commands' read of a cluster.
const clusterReadTimeout = time.Minute
