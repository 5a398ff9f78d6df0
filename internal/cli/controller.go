package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/audit"
	"github.com/kguard/kguard/internal/controller"
	"github.com/kguard/kguard/internal/source"
	"github.com/kguard/kguard/internal/tenantctl"
)

func init() { register(newControllerCommand) }

type controllerOptions struct {
	authz               authorizationFlags
	admission           admissionFlags
	kubeconfig          string
	inCluster           bool
	metricsAddress      string
	interval, debounce  time.Duration
	maxResults          int
	requester           string
	logFormat, logLevel string
	reconcileTenants    bool
	tenantInterval      time.Duration
}

// metricsShutdownTimeout bounds the end of the metrics listener.
const metricsShutdownTimeout = 5 * time.Second

func newControllerCommand(s Streams) *cobra.Command {
	o := &controllerOptions{}
	c := &cobra.Command{
		Use:   "controller",
		Short: "Audit the cluster's objects continuously and write the results as PolicyReports; apply what Tenants imply",
		Long: `Run the PolicyReport controller: judge every existing object of the cluster (Namespaces, Pods,
pod controllers, Services, and the objects of the kinds Gatekeeper constraints match) with the admission chain kguard serve answers with, built from the
same cluster policies and the same flags, as kguard audit --kubeconfig does once; and write the
results as wgpolicyk8s.io/v1alpha2 reports named kguard-audit: a PolicyReport per namespace and a
ClusterPolicyReport (server-side apply, field manager kguard-controller, label
app.kubernetes.io/managed-by=kguard). The objects are audited again when a policy changes, 2s
after a burst of object changes (--debounce), and every --audit-interval. A namespace without
results loses its report; reports kguard did not create are never touched.

Serves /metrics (kguard_audit_violations{policy,namespace},
kguard_audit_last_run_timestamp_seconds), /healthz and /readyz (a first audit written) over
plain HTTP on --metrics-address. The PolicyReport CRDs must be installed (deploy/controller/).

When the kguard.io Tenant CRD is served (--reconcile-tenants, default true), the same process
applies what each Tenant implies (the objects of kguard tenant render: Namespaces with the Pod
Security labels, the owners' RoleBindings, the PodSecurityPolicies' Role and RoleBinding,
NetworkPolicies, ResourceQuota, LimitRange) with server-side apply (field manager kguard-tenants,
forced), on every Tenant or Namespace change, when a managed object changes (drift is undone,
--debounce) and every --tenant-interval; deletes the objects of kguard's (labelled
app.kubernetes.io/managed-by=kguard and kguard.io/tenant) that no Tenant implies any more, never
a Namespace; and writes each Tenant's Ready condition (docs/tenancy.md). Its passes are in
/metrics too: kguard_tenant_reconcile_total{result}, kguard_tenant_ready{tenant},
kguard_tenant_objects_applied_total, kguard_tenant_objects_deleted_total,
kguard_tenant_reconcile_last_success_timestamp_seconds and
kguard_tenant_reconcile_duration_seconds.`,
		Example: `  kguard controller --in-cluster --enable-admission-plugins=PodSecurityPolicy,PodSecurity
  kguard controller --kubeconfig ~/.kube/config --metrics-address 127.0.0.1:8080 --audit-interval 1m`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return o.run(c.Context(), s)
		},
	}
	f := c.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "audit the cluster of this kubeconfig")
	f.BoolVar(&o.inCluster, "in-cluster", false, "audit the cluster kguard runs in (its ServiceAccount)")
	f.StringVar(&o.metricsAddress, "metrics-address", ":8080", "address to serve /metrics, /healthz and /readyz on, over plain HTTP")
	f.DurationVar(&o.interval, "audit-interval", controller.DefaultInterval, "audit everything again this often, changes or not")
	f.DurationVar(&o.debounce, "debounce", controller.DefaultDebounce, "after an object changes, wait this long for more changes before auditing again")
	f.IntVar(&o.maxResults, "report-max-results", controller.DefaultMaxResults, "results per report at most (failures first); the summary counts them all and the annotation "+audit.AnnotationLeftOut+" says how many were left out")
	f.StringVar(&o.requester, "requester", audit.DefaultRequester, "user who creates the objects other than pods (Services, Namespaces, pod controllers...), in system:authenticated")
	o.authz.add(f, "not in cluster mode: a cluster holds its own default roles")
	o.admission.add(f, "ordered admission plugins: "+strings.Join(admission.Registered(), ", ")+" (default PodSecurityPolicy,PodSecurity), as for serve")
	f.BoolVar(&o.reconcileTenants, "reconcile-tenants", true, "apply what each kguard.io Tenant implies (kguard tenant render's objects; field manager "+tenantctl.FieldManager+"), delete what none implies any more (never a Namespace) and write the Tenants' Ready condition; off by itself when the Tenant CRD is not served")
	f.DurationVar(&o.tenantInterval, "tenant-interval", tenantctl.DefaultInterval, "apply every Tenant's objects again this often (Tenant, Namespace and managed-object changes trigger a pass on their own)")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return c
}

func (o *controllerOptions) run(ctx context.Context, s Streams) error {
	log, err := newLogger(s, o.logFormat, o.logLevel)
	if err != nil {
		return usageError(err)
	}
	switch {
	case o.kubeconfig != "" && o.inCluster:
		return usageError(errors.New("--kubeconfig and --in-cluster are exclusive"))
	case o.kubeconfig == "" && !o.inCluster:
		return usageError(errors.New("no cluster: give --kubeconfig FILE or --in-cluster"))
	case o.authz.defaultRoles:
		return usageError(errors.New("--default-roles is for files mode: a cluster holds its own default roles"))
	case o.maxResults < 1:
		return usageError(fmt.Errorf("--report-max-results %d: want 1 or more", o.maxResults))
	case o.interval <= 0 || o.debounce <= 0 || o.tenantInterval <= 0:
		return usageError(errors.New("--audit-interval, --debounce and --tenant-interval must be positive"))
	}
	for _, name := range o.admission.plugins { // before the cluster is read, not at the first snapshot
		if !slices.Contains(admission.Registered(), name) {
			return usageError(fmt.Errorf("--enable-admission-plugins: unknown plugin %q (known: %s)", name, strings.Join(admission.Registered(), ", ")))
		}
	}
	cfg, err := config(&o.authz, &o.admission)
	if err != nil {
		return usageError(err)
	}
	rc, err := clusterConfig(o.kubeconfig, o.inCluster)
	if err != nil {
		return usageError(err)
	}
	rc.UserAgent = "kguard-controller"
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return usageError(err)
	}
	ln, err := listen(o.metricsAddress, false)
	if err != nil {
		return usageError(fmt.Errorf("--metrics-address: %w", err))
	}
	metrics := controller.NewMetrics() // the audit's series, and the tenant reconciler's
	var tenants *tenantctl.Reconciler
	if o.reconcileTenants {
		disc, err := discovery.NewDiscoveryClientForConfig(rc)
		if err != nil {
			return usageError(err)
		}
		switch served, err := tenantctl.TenantsServed(disc); {
		case err != nil:
			return fmt.Errorf("asking whether the kguard.io Tenant CRD is served: %w", err)
		case !served:
			log.Warn("the kguard.io Tenant CRD is not served: the tenant reconciler is off (kubectl apply -f deploy/crds/kguard.io_tenants.yaml, then restart)")
		default:
			tenants = &tenantctl.Reconciler{Client: dyn, Interval: o.tenantInterval, Debounce: o.debounce, Logger: log.With("reconciler", "tenants"),
				Metrics: tenantctl.NewMetrics(metrics.Registry)}
		}
	}
	disco, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return usageError(err)
	}
	ctrl := &controller.Controller{Client: dyn, Discovery: disco, MaxResults: o.maxResults, Interval: o.interval, Debounce: o.debounce,
		Audit: audit.Options{Requester: o.requester}, Logger: log, Metrics: metrics}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	g, gctx := errgroup.WithContext(ctx)
	srv := &http.Server{Handler: ctrl.Metrics.Handler(), ReadHeaderTimeout: 10 * time.Second}
	g.Go(func() error {
		log.Info("serving metrics and health", "address", ln.Addr().String())
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), metricsShutdownTimeout)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	g.Go(func() error {
		// The same snapshots as serve's cluster mode, without token lookups
		// and without the writes serve owns.
		c := &source.Cluster{Config: cfg, REST: rc, Logger: log, NoLookup: true, PoliciesOnly: true}
		var pub source.Publisher = ctrl
		if tenants != nil {
			pub = source.Publishers{ctrl, tenants}
		}
		if err := c.Run(gctx, pub); err != nil {
			return fmt.Errorf("policy source: %w", err)
		}
		return nil
	})
	g.Go(func() error { return ctrl.Run(gctx) })
	if tenants != nil {
		g.Go(func() error { return tenants.Run(gctx) })
	}
	return g.Wait()
}
