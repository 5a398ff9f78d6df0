package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kguard/kguard/internal/admission"
	admplugins "github.com/kguard/kguard/internal/admission/plugins"
	"github.com/kguard/kguard/internal/admission/tenancy"
	"github.com/kguard/kguard/internal/authn"
	"github.com/kguard/kguard/internal/mcs"
	"github.com/kguard/kguard/internal/mcs/mcskube"
	"github.com/kguard/kguard/internal/server"
	"github.com/kguard/kguard/internal/source"
)

func init() { register(newServeCommand) }

type serveOptions struct {
	mcsNamespace, mcsIdentity   string
	authz                       authorizationFlags
	admission                   admissionFlags
	listen                      string
	reusePort                   bool
	certFile, keyFile, clientCA string
	policyDirs                  []string
	kubeconfig                  string
	inCluster                   bool
	tokenFile                   string
	saKeyFiles, saIssuers       []string
	apiAudiences                []string
	saLookup                    bool
	maxRequestBytes             int64
	requestTimeout              time.Duration
	shutdownTimeout             time.Duration
	shutdownDelay               time.Duration
	reloadInterval              time.Duration
	enableHTTP2                 bool
	strictDecoding              bool
	probeAddress                string
	profiling                   bool
	maxConnections              int
	maxInflight                 int
	maxInflightBytes            int64
	idleTimeout                 time.Duration
	logFormat, logLevel         string
}

func newServeCommand(s Streams) *cobra.Command {
	o := &serveOptions{}
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the authentication, authorization and admission webhooks over HTTPS",
		Long: `Serve kube-apiserver's webhooks from one HTTPS listener:

  POST /authenticate  TokenReview (authentication.k8s.io/v1, v1beta1): the token file and ServiceAccount JWTs
  POST /authorize     SubjectAccessReview (authorization.k8s.io/v1, v1beta1): the --authorization-mode chain
  POST /mutate        AdmissionReview v1: PodSecurityPolicy defaulting as a JSON Patch
  POST /validate      AdmissionReview v1: PodSecurityPolicy re-validation and Pod Security Standards
  GET  /healthz /readyz /metrics

Policies come from files (--policy-dir, reloaded atomically when they change;
a broken version is reported and the last good one keeps serving) or from a
cluster (--kubeconfig or --in-cluster: informers on RBAC, kguard.io
PodSecurityPolicies, Namespaces, ServiceAccounts). Every error answers no.`,
		Example: `  # Files: the bundled examples
  kguard serve --tls-cert-file tls.crt --tls-private-key-file tls.key --policy-dir examples/psp/policies --policy-dir examples/psp/grant

  # In a cluster, as deploy/ runs it
  kguard serve --in-cluster --tls-cert-file /etc/kguard/tls/tls.crt --tls-private-key-file /etc/kguard/tls/tls.key`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return o.run(c.Context(), s)
		},
	}
	f := c.Flags()
	f.StringVar(&o.listen, "listen-address", ":8443", "address to serve HTTPS on")
	f.BoolVar(&o.reusePort, "reuse-port", false, "share the port with other kguard processes on this host (SO_REUSEPORT), for restarts without a gap")
	f.StringVar(&o.certFile, "tls-cert-file", "", "serving certificate (PEM, with intermediates); reloaded when it changes")
	f.StringVar(&o.keyFile, "tls-private-key-file", "", "serving private key (PEM); reloaded when it changes")
	f.StringVar(&o.clientCA, "client-ca-file", "", "require every caller of --listen-address to present a client certificate signed by this CA (use --probe-address for the kubelet's probes)")
	f.BoolVar(&o.profiling, "profiling", false, "serve Go's profiles under /debug/pprof/ on --probe-address, as kube-apiserver's --profiling")
	f.StringVar(&o.probeAddress, "probe-address", "", "also serve /healthz, /livez, /readyz and /metrics over plain HTTP on this address (e.g. :8081), for probes and scrapers without a client certificate")
	f.IntVar(&o.maxConnections, "max-connections", server.DefaultMaxConnections, "connections open at once on --listen-address; more are closed when accepted")
	f.IntVar(&o.maxInflight, "max-inflight", server.DefaultMaxInflight, "reviews answered at once; more are refused at once with HTTP 429 (kube-apiserver then denies)")
	f.Int64Var(&o.maxInflightBytes, "max-inflight-bytes", server.DefaultMaxInflightBytes, "total body bytes of the reviews answered at once (bounds memory); more are refused with HTTP 429")
	f.DurationVar(&o.idleTimeout, "idle-timeout", server.DefaultIdleTimeout, "close keep-alive connections idle this long")
	f.StringArrayVar(&o.policyDirs, "policy-dir", nil, "files mode: PodSecurityPolicies, RBAC objects and Namespaces, file or directory (repeatable)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "cluster mode: watch the cluster of this kubeconfig")
	f.BoolVar(&o.inCluster, "in-cluster", false, "cluster mode: watch the cluster kguard runs in (its ServiceAccount)")
	o.authz.add(f, "files mode: add the Kubernetes default ClusterRoles and bindings (v1.37)")
	o.admission.add(f, "ordered admission plugins: "+strings.Join(admission.Registered(), ", ")+" (default PodSecurityPolicy,PodSecurity)")
	f.StringVar(&o.tokenFile, "token-auth-file", "", "static tokens, CSV: token,user,uid,\"group1,group2\"")
	f.StringArrayVar(&o.saKeyFiles, "service-account-key-file", nil, "PEM keys verifying ServiceAccount tokens (repeatable)")
	f.StringArrayVar(&o.saIssuers, "service-account-issuer", nil, "issuer of bound ServiceAccount tokens (repeatable, as kube-apiserver's: tokens of any of them are accepted, e.g. the new and the old issuer while migrating)")
	f.StringSliceVar(&o.apiAudiences, "api-audiences", nil, "audiences tokens must hold when a review names none (default: all the --service-account-issuer values, as kube-apiserver)")
	f.BoolVar(&o.saLookup, "service-account-lookup", true, "reject ServiceAccount tokens whose ServiceAccount, Secret, Pod or Node is gone (cluster mode; files mode needs it false, said explicitly)")
	f.Int64Var(&o.maxRequestBytes, "max-request-bytes", server.DefaultMaxRequestBytes, "largest review body accepted (larger ones are refused)")
	f.DurationVar(&o.requestTimeout, "request-timeout", server.DefaultRequestTimeout, "deadline of one decision; past it the answer is no")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", server.DefaultShutdownTimeout, "on SIGTERM, how long to drain requests in flight")
	f.DurationVar(&o.shutdownDelay, "shutdown-delay", 2*time.Second, "on SIGTERM, keep answering this long, not ready and closing each connection after its answer, before the port closes: kube-apiserver's pooled connections end cleanly instead of failing a request (0: close at once)")
	f.DurationVar(&o.reloadInterval, "reload-interval", 2*time.Second, "how often to look for changed files (policies, tokens, keys, certificate)")
	f.BoolVar(&o.enableHTTP2, "enable-http2", false, "also offer HTTP/2; off by default against the HTTP/2 rapid reset attacks (CVE-2023-44487): kube-apiserver's webhook clients then use HTTP/1.1")
	f.BoolVar(&o.strictDecoding, "strict-decoding", false, "deny a reviewed pod carrying fields kguard's Kubernetes types do not know, instead of ignoring them with a warning (pod controllers are never denied by Pod Security)")
	defaultNS := os.Getenv("POD_NAMESPACE")
	if defaultNS == "" {
		defaultNS = "kguard"
	}
	f.StringVar(&o.mcsNamespace, "mcs-namespace", defaultNS, "cluster mode, Tenancy plugin: kguard's namespace, where the replicas share the SELinux MCS allocation table (ConfigMap "+mcskube.ConfigMapName+"; default: $POD_NAMESPACE, else kguard)")
	f.StringVar(&o.mcsIdentity, "mcs-identity", "", "cluster mode, Tenancy plugin: this replica's name in the SELinux MCS allocation table, unique among the replicas (default: $POD_NAME, else the host name and process id)")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return c
}

func (o *serveOptions) logger(s Streams) (*slog.Logger, error) {
	return newLogger(s, o.logFormat, o.logLevel)
}

// newLogger is the logger of --log-format and --log-level (serve, controller).
func newLogger(s Streams, format, levelName string) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(levelName)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", levelName)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(s.Err, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(s.Err, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// clusterConfig is the configuration of cluster mode: the cluster kguard
// runs in (its ServiceAccount) or the kubeconfig's (serve, controller).
func clusterConfig(kubeconfig string, inCluster bool) (*rest.Config, error) {
	var rc *rest.Config
	var err error
	if inCluster {
		rc, err = rest.InClusterConfig()
	} else {
		rc, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster configuration: %w", err)
	}
	rc.UserAgent = "kguard"
	return rc, nil
}

func (o *serveOptions) run(ctx context.Context, s Streams) error {
	log, err := o.logger(s)
	if err != nil {
		return usageError(err)
	}
	cluster := o.kubeconfig != "" || o.inCluster
	switch {
	case cluster && len(o.policyDirs) > 0:
		return usageError(errors.New("--policy-dir (files) and --kubeconfig/--in-cluster (cluster) are exclusive: policies come from one source"))
	case o.kubeconfig != "" && o.inCluster:
		return usageError(errors.New("--kubeconfig and --in-cluster are exclusive"))
	case !cluster && len(o.policyDirs) == 0:
		return usageError(source.ErrNoSource)
	case cluster && o.authz.defaultRoles:
		return usageError(errors.New("--default-roles is for files mode: a cluster holds its own default roles"))
	case !cluster && len(o.saKeyFiles) > 0 && o.saLookup:
		// Files mode has nothing to look a token's ServiceAccount, Secret or
		// Pod up in: say so rather than ignore the flag's default.
		return usageError(errors.New("--service-account-key-file in files mode cannot check that a token's ServiceAccount, Secret and Pod still exist " +
			"(--service-account-lookup, on by default): a legacy token of a deleted ServiceAccount would stay valid forever. " +
			"Run in cluster mode (--kubeconfig or --in-cluster), or accept it with --service-account-lookup=false"))
	}
	if len(o.saKeyFiles) > 0 && !o.saLookup {
		log.Warn("--service-account-lookup=false: tokens of deleted ServiceAccounts, Secrets and Pods stay valid until they expire (legacy tokens: forever)")
	}
	cfg, err := config(&o.authz, &o.admission)
	if err != nil {
		return usageError(err)
	}
	cfg.StrictDecoding = o.strictDecoding
	if !cluster {
		// No pod is known in files mode: a pair handed out is never given
		// again by this process.
		cfg.Tenancy.Levels = mcs.NewOffline()
		cfg.Tenancy.Levels.NeverReuse()
	}
	cfg.Authn = authn.Config{TokenFile: o.tokenFile, APIAudiences: o.apiAudiences,
		ServiceAccount: authn.ServiceAccountConfig{KeyFiles: o.saKeyFiles, Issuers: o.saIssuers}}
	// Load once before listening: a bad flag or policy file is a usage error.
	files := &source.Files{Config: cfg, Paths: o.policyDirs, Interval: o.reloadInterval}
	if !cluster {
		if files.Initial, err = files.Load(); err != nil {
			return usageError(err)
		}
	}
	srv, err := server.New(server.Config{CertFile: o.certFile, KeyFile: o.keyFile, ClientCAFile: o.clientCA,
		MaxRequestBytes: o.maxRequestBytes, RequestTimeout: o.requestTimeout, ShutdownTimeout: o.shutdownTimeout, ShutdownDelay: o.shutdownDelay, EnableHTTP2: o.enableHTTP2,
		MaxConnections: o.maxConnections, MaxInflight: o.maxInflight, MaxInflightBytes: o.maxInflightBytes, IdleTimeout: o.idleTimeout, Profiling: o.profiling, Logger: log})
	if err != nil {
		return usageError(err)
	}
	var rc *rest.Config
	if cluster {
		if rc, err = clusterConfig(o.kubeconfig, o.inCluster); err != nil {
			return usageError(err)
		}
	}
	ln, err := listen(o.listen, o.reusePort)
	if err != nil {
		return usageError(err)
	}
	if o.profiling && o.probeAddress == "" {
		return usageError(errors.New("--profiling serves on --probe-address: give one (e.g. --probe-address=127.0.0.1:8081)"))
	}
	var probeLn net.Listener
	if o.probeAddress != "" {
		if probeLn, err = listen(o.probeAddress, o.reusePort); err != nil {
			return usageError(fmt.Errorf("--probe-address: %w", err))
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, ln) })
	if probeLn != nil {
		g.Go(func() error { return srv.ServeProbes(gctx, probeLn) })
	}
	g.Go(func() error { srv.WatchCertificate(gctx, o.reloadInterval); return nil })
	g.Go(func() error {
		var err error
		if cluster {
			if slices.Contains(admplugins.Or(cfg.AdmissionPlugins), tenancy.PluginName) {
				if cfg.Tenancy.Levels, err = o.startLevels(gctx, rc, log); err != nil {
					return err
				}
			}
			c := &source.Cluster{Config: cfg, REST: rc, Logger: log, NoLookup: !o.saLookup}
			err = c.Run(gctx, srv)
		} else {
			err = files.Run(gctx, srv)
		}
		if err != nil {
			return fmt.Errorf("policy source: %w", err)
		}
		return nil
	})
	return g.Wait()
}

// startLevels starts the SELinux MCS allocator the replicas share, once it
// knows every pod of the cluster (before kguard is ready: it must never
// hand out a pair a running pod holds).
func (o *serveOptions) startLevels(ctx context.Context, rc *rest.Config, log *slog.Logger) (*mcs.Allocator, error) {
	client, err := mcskube.Client(rc)
	if err != nil {
		return nil, err
	}
	id := o.mcsIdentity
	if id == "" {
		id = os.Getenv("POD_NAME")
	}
	if id == "" {
		host, _ := os.Hostname()
		id = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if err := mcs.CheckIdentity(id); err != nil {
		return nil, fmt.Errorf("--mcs-identity: %w", err)
	}
	a := mcs.New(id, &mcskube.Store{Client: client, Namespace: o.mcsNamespace})
	if err := mcskube.Start(ctx, client, a, log); err != nil {
		return nil, fmt.Errorf("SELinux MCS levels: %w", err)
	}
	log.Info("SELinux MCS allocator ready", "identity", id, "table", o.mcsNamespace+"/"+mcskube.ConfigMapName)
	return a, nil
}
