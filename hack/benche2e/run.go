package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// setups in the order of the first round.
var allSetups = []string{"none", "noop", "noop-mutating", "kguard-pss", "kguard-psp", "kguard-constraints", "kguard-constraints-rego", "builtin"}

const namespace = "bench-restricted"

// Result is one setup's measurements in one round.
type Result struct {
	Setup string `json:"setup"`
	Round int    `json:"round"`
	// Create latencies in ms: one at a time, and with Workers at once.
	Sequential []float64 `json:"sequential_ms"`
	Concurrent []float64 `json:"concurrent_ms"`
	// ConcurrentSeconds is the wall time of the concurrent creations.
	ConcurrentSeconds float64   `json:"concurrent_seconds"`
	Denied            int       `json:"denied"`
	DenyAttempts      int       `json:"deny_attempts"`
	DenyLatency       []float64 `json:"deny_ms"`
	Admitted          int       `json:"admitted"` // restricted pods created
	Errors            int       `json:"errors"`
	// CPU seconds (utime+stime) over the setup's round.
	WebhookCPU   float64 `json:"webhook_cpu_seconds"`
	APIServerCPU float64 `json:"apiserver_cpu_seconds"`
	// Admission metrics of kube-apiserver over the round, by "name|type":
	// count and sum of seconds.
	Admission map[string][2]float64 `json:"admission"`
	Mutated   bool                  `json:"mutated"` // the first pod carried kubernetes.io/psp or noop-mutating's annotation
}

// Run is what one `benche2e run` writes.
type Run struct {
	Date     string              `json:"date"`
	Cluster  string              `json:"cluster"` // "webhooks" or "builtin"
	N        int                 `json:"n"`
	Workers  int                 `json:"workers"`
	Rounds   int                 `json:"rounds"`
	Results  []Result            `json:"results"`
	Memory   map[string][2]int64 `json:"memory_kib"` // setup -> VmHWM, VmRSS at the end
	Warnings []string            `json:"warnings,omitempty"`
}

type bench struct {
	env      map[string]string
	cfg      *rest.Config // the admin's, warnings dropped
	cs       *kubernetes.Clientset
	ca       []byte
	procs    map[string]*proc // setup -> webhook process
	n, deny  int
	workers  int
	repoRoot string
	// kguardArgs are extra flags for the kguard setups (-kguard-args).
	kguardArgs []string
}

func runCmd(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	envFile := fs.String("env", "", "the env file hack/e2e-cluster.sh up printed")
	setupList := fs.String("setups", "none,noop,noop-mutating,kguard-pss,kguard-psp,kguard-constraints,kguard-constraints-rego", "setups to measure, comma-separated: "+strings.Join(allSetups, ","))
	n := fs.Int("n", 300, "restricted pods per setup and round, sequential and again concurrent")
	workers := fs.Int("workers", 8, "concurrent creators")
	deny := fs.Int("deny", 10, "privileged pods per setup and round (denied by an enforcing setup)")
	rounds := fs.Int("rounds", 3, "rounds; each rotates the order of the setups")
	warmup := fs.Int("warmup", 30, "pods created per setup before the first round, not measured")
	kguardBin := fs.String("kguard", "bin/kguard", "kguard binary")
	noopBin := fs.String("noop", "", "hack/noopwebhook binary")
	work := fs.String("work", os.TempDir(), "directory for the webhooks' logs")
	out := fs.String("out", "", "write the results as JSON here (default stdout)")
	root := fs.String("repo", ".", "the repository (deploy/crds, examples/psp/policies)")
	kguardArgs := fs.String("kguard-args", "", "extra flags for both kguard setups, space-separated (e.g. --probe-address=127.0.0.1:8081 --profiling)")
	fs.Parse(args)

	env, err := readEnv(*envFile)
	if err != nil {
		return err
	}
	setups := strings.Split(*setupList, ",")
	builtin := env["KGUARD_BUILTIN_PODSECURITY"] == "1"
	for _, s := range setups {
		if !contains(allSetups, s) {
			return fmt.Errorf("unknown setup %q", s)
		}
		if (s == "builtin") != builtin {
			return fmt.Errorf("setup %q needs a cluster with KGUARD_BUILTIN_PODSECURITY=%v (the env file says %q); builtin is a phase of its own",
				s, map[bool]int{true: 0, false: 1}[builtin], env["KGUARD_BUILTIN_PODSECURITY"])
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", env["KUBECONFIG"])
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 1000, 1000 // the client must never be what throttles
	// The restricted policy's AppArmor default is the deprecated annotation:
	// kube-apiserver warns on every pod it admits.
	cfg.WarningHandler = rest.NoWarnings{}
	b := &bench{env: env, cfg: cfg, procs: map[string]*proc{}, n: *n, deny: *deny, workers: *workers, repoRoot: *root}
	if b.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if b.ca, err = os.ReadFile(env["CA_CERT"]); err != nil {
		return err
	}
	ctx := context.Background()
	defer b.stopAll()
	b.kguardArgs = strings.Fields(*kguardArgs)
	if err := b.prepare(ctx, setups, *kguardBin, *noopBin, *work); err != nil {
		return err
	}
	run := &Run{Date: time.Now().UTC().Format("2006-01-02"), Cluster: map[bool]string{true: "builtin", false: "webhooks"}[builtin],
		N: *n, Workers: *workers, Rounds: *rounds, Memory: map[string][2]int64{}}

	logf("warm-up: %d pods per setup", *warmup)
	for _, s := range setups {
		if err := b.switchTo(ctx, s); err != nil {
			return err
		}
		if _, ok := constraintSetups[s]; ok {
			n, err := b.constraintWarnings(ctx)
			if err != nil || n == 0 {
				return fmt.Errorf("%s: a restricted pod got %d constraint warnings (%v): the constraints are not loaded", s, n, err)
			}
			logf("%s: a restricted pod gets %d constraint warnings", s, n)
		}
		for i := 0; i < *warmup; i++ {
			name := fmt.Sprintf("warm-%s-%d", s, i)
			if _, err := b.create(ctx, restrictedPod(name, "warm")); err != nil {
				return fmt.Errorf("warm-up %s: %w", s, err)
			}
			b.delete(ctx, name)
		}
	}
	for r := 0; r < *rounds; r++ {
		for i := range setups {
			s := setups[(i+r)%len(setups)] // rotate: each setup goes first once in len(setups) rounds
			if err := b.switchTo(ctx, s); err != nil {
				return err
			}
			res, err := b.measure(ctx, s, r)
			if err != nil {
				return err
			}
			logf("round %d %-10s seq p50 %.2f ms p99 %.2f ms; %d workers %.0f pods/s; denied %d/%d; webhook CPU %.2f s, kube-apiserver CPU %.2f s; errors %d",
				r+1, s, percentile(res.Sequential, 50), percentile(res.Sequential, 99), b.workers,
				float64(len(res.Concurrent))/res.ConcurrentSeconds, res.Denied, res.DenyAttempts, res.WebhookCPU, res.APIServerCPU, res.Errors)
			if (s == "kguard-psp" || s == "noop-mutating") && !res.Mutated {
				run.Warnings = append(run.Warnings, fmt.Sprintf("round %d: %s did not annotate the pod", r+1, s))
			}
			run.Results = append(run.Results, *res)
		}
	}
	for s, p := range b.procs {
		hwm, rss := memory(p.pid())
		run.Memory[s] = [2]int64{hwm, rss}
	}
	b.switchTo(ctx, "none")
	enc, _ := json.MarshalIndent(run, "", " ")
	if *out == "" {
		_, err = os.Stdout.Write(append(enc, '\n'))
		return err
	}
	return os.WriteFile(*out, enc, 0o644)
}

// prepare starts the webhooks the setups need, creates the namespace and, for
// kguard-psp, the kguard.io CRD and the restricted policy.
func (b *bench) prepare(ctx context.Context, setups []string, kguardBin, noopBin, work string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"}}}
	if _, err := b.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if err := waitFor(60*time.Second, "the namespace's default ServiceAccount", func() bool {
		_, err := b.cs.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	}); err != nil {
		return err
	}
	for _, s := range setups {
		if strings.HasPrefix(s, "kguard-") {
			// kguard in cluster mode serves once its own CRDs are (deploy/crds).
			if err := b.installCRDs(); err != nil {
				return err
			}
			break
		}
	}
	if contains(setups, "kguard-psp") {
		if err := b.installPSP(); err != nil {
			return err
		}
	}
	var kinds []string
	for s := range constraintSetups {
		if contains(setups, s) && kinds == nil {
			var err error
			if kinds, err = b.installTemplates(); err != nil {
				return err
			}
		}
	}
	common := []string{"serve", "--kubeconfig", b.env["KUBECONFIG"],
		"--tls-cert-file", b.env["KGUARD_TLS_CERT"], "--tls-private-key-file", b.env["KGUARD_TLS_KEY"],
		"--service-account-key-file", b.env["SA_PUBLIC_KEY"], "--service-account-issuer", b.env["SA_ISSUER"],
		"--log-format", "json"}
	common = append(common, b.kguardArgs...)
	for _, s := range setups {
		var bin string
		var args []string
		switch s {
		case "noop", "noop-mutating":
			bin = noopBin
		case "kguard-pss":
			bin, args = kguardBin, append(append([]string{}, common...), "--enable-admission-plugins", "PodSecurity")
		case "kguard-psp":
			bin, args = kguardBin, append(append([]string{}, common...), "--enable-admission-plugins", "PodSecurityPolicy,PodSecurity")
		default:
			extra, ok := constraintSetups[s]
			if !ok {
				continue
			}
			bin, args = kguardBin, append(append([]string{}, common...), extra...)
		}
		port, err := freePort()
		if err != nil {
			return err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if bin == noopBin {
			args = []string{"--tls-cert-file", b.env["KGUARD_TLS_CERT"], "--tls-private-key-file", b.env["KGUARD_TLS_KEY"]}
			if s == "noop-mutating" {
				args = append(args, "--mutate")
			}
		}
		args = append(args, "--listen-address", addr)
		p, err := startProc(s, bin, args, filepath.Join(work, s+".log"), addr, b.ca)
		if err != nil {
			return err
		}
		b.procs[s] = p
		logf("%s ready on %s (pid %d)", s, addr, p.pid())
	}
	if kinds == nil {
		return nil
	}
	// The constraint CRDs exist once a kguard with Constraints has compiled
	// the templates; then the constraints, and each constraints setup
	// restarted: its first snapshot waits for every constraint (the
	// source's informers sync before /readyz), so that no pod of a round
	// is reviewed against fewer than the 50.
	if err := b.installConstraints(ctx, kinds); err != nil {
		return err
	}
	for _, s := range setups {
		if _, ok := constraintSetups[s]; !ok {
			continue
		}
		p := b.procs[s]
		p.stop()
		os.Rename(filepath.Join(work, s+".log"), filepath.Join(work, s+".first.log"))
		restarted, err := startProc(s, p.cmd.Path, p.cmd.Args[1:], filepath.Join(work, s+".log"), p.addr, b.ca)
		if err != nil {
			return err
		}
		b.procs[s] = restarted
		logf("%s restarted with the constraints (pid %d)", s, restarted.pid())
	}
	return nil
}

// kubectl runs kubectl against the cluster, stdin as its input.
func (b *bench) kubectl(stdin string, args ...string) error {
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", b.env["KUBECONFIG"]}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// installCRDs applies kguard's CRDs (deploy/crds).
func (b *bench) installCRDs() error {
	if err := b.kubectl("", "apply", "-f", filepath.Join(b.repoRoot, "deploy/crds")); err != nil {
		return err
	}
	return b.kubectl("", "wait", "--for=condition=Established", "--timeout=60s", "crd/podsecuritypolicies.kguard.io")
}

// installPSP applies examples/psp/policies/restricted-psp.yaml as a
// kguard.io policy. The admin (system:masters) may use it through
// cluster-admin, as kguard reads the cluster's RBAC.
func (b *bench) installPSP() error {
	psp, err := os.ReadFile(filepath.Join(b.repoRoot, "examples/psp/policies/restricted-psp.yaml"))
	if err != nil {
		return err
	}
	return b.kubectl(strings.Replace(string(psp), "apiVersion: policy/v1beta1", "apiVersion: kguard.io/v1alpha1", 1), "apply", "-f", "-")
}

// measure runs one setup's round.
func (b *bench) measure(ctx context.Context, setup string, round int) (*Result, error) {
	res := &Result{Setup: setup, Round: round + 1}
	wpid := 0
	if p := b.procs[setup]; p != nil {
		wpid = p.pid()
	}
	apid := atoi(b.env["APISERVER_PID"])
	w0, a0 := cpuSeconds(wpid), cpuSeconds(apid)
	m0, err := b.admissionMetrics(ctx)
	if err != nil {
		return nil, err
	}
	prefix := fmt.Sprintf("r%d-%s", round+1, setup)

	for i := 0; i < b.n; i++ {
		name := fmt.Sprintf("%s-s%d", prefix, i)
		start := time.Now()
		pod, err := b.create(ctx, restrictedPod(name, "seq"))
		res.Sequential = append(res.Sequential, ms(time.Since(start)))
		if err != nil {
			res.Errors++
			continue
		}
		res.Admitted++
		if i == 0 {
			res.Mutated = pod.Annotations["kubernetes.io/psp"] != "" || pod.Annotations["noop.bench.kguard.io/mutated"] != ""
		}
		b.delete(ctx, name)
	}

	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < b.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.n) {
					return
				}
				t := time.Now()
				_, err := b.create(ctx, restrictedPod(fmt.Sprintf("%s-c%d", prefix, i), "conc"))
				d := ms(time.Since(t))
				mu.Lock()
				res.Concurrent = append(res.Concurrent, d)
				if err != nil {
					res.Errors++
				} else {
					res.Admitted++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.ConcurrentSeconds = time.Since(start).Seconds()
	zero := int64(0)
	if err := b.cs.CoreV1().Pods(namespace).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero},
		metav1.ListOptions{LabelSelector: "bench=conc"}); err != nil {
		return nil, err
	}

	for i := 0; i < b.deny; i++ {
		name := fmt.Sprintf("%s-p%d", prefix, i)
		start := time.Now()
		_, err := b.create(ctx, privilegedPod(name))
		res.DenyLatency = append(res.DenyLatency, ms(time.Since(start)))
		res.DenyAttempts++
		switch {
		case apierrors.IsForbidden(err) || apierrors.IsInvalid(err):
			res.Denied++
		case err != nil:
			res.Errors++
		default:
			b.delete(ctx, name)
		}
	}

	res.WebhookCPU, res.APIServerCPU = cpuSeconds(wpid)-w0, cpuSeconds(apid)-a0
	if wpid == 0 {
		res.WebhookCPU = 0
	}
	m1, err := b.admissionMetrics(ctx)
	if err != nil {
		return nil, err
	}
	res.Admission = map[string][2]float64{}
	for k, v := range m1 {
		d := [2]float64{v[0] - m0[k][0], v[1] - m0[k][1]}
		if d[0] > 0 {
			res.Admission[k] = d
		}
	}
	return res, nil
}

func (b *bench) create(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	return b.cs.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
}

func (b *bench) delete(ctx context.Context, name string) {
	zero := int64(0)
	b.cs.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
}

// admissionMetrics reads kube-apiserver's admission histograms: count and sum
// by "webhook|name|type" and "controller|name|type".
func (b *bench) admissionMetrics(ctx context.Context) (map[string][2]float64, error) {
	raw, err := b.cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading /metrics: %w", err)
	}
	out := map[string][2]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var kind string
		switch {
		case strings.HasPrefix(line, "apiserver_admission_webhook_admission_duration_seconds_"):
			kind = "webhook"
		case strings.HasPrefix(line, "apiserver_admission_controller_admission_duration_seconds_"):
			kind = "controller"
		default:
			continue
		}
		open, close := strings.IndexByte(line, '{'), strings.LastIndexByte(line, '}')
		if open < 0 || close < open {
			continue
		}
		idx := -1
		switch {
		case strings.HasSuffix(line[:open], "_count"):
			idx = 0
		case strings.HasSuffix(line[:open], "_sum"):
			idx = 1
		default:
			continue
		}
		labels := map[string]string{}
		for _, kv := range strings.Split(line[open+1:close], ",") {
			k, v, ok := strings.Cut(kv, "=")
			if ok {
				labels[k] = strings.Trim(v, `"`)
			}
		}
		var val float64
		fmt.Sscan(strings.TrimSpace(line[close+1:]), &val)
		key := kind + "|" + labels["name"] + "|" + labels["type"]
		v := out[key]
		v[idx] += val
		out[key] = v
	}
	return out, sc.Err()
}

func restrictedPod(name, group string) *corev1.Pod {
	no, yes, uid := false, true, int64(1000)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": group}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "app", Image: "registry.k8s.io/pause:3.10",
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: &no, RunAsNonRoot: &yes, RunAsUser: &uid,
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
			// At the pod's level: the restricted PodSecurityPolicy (allowed seccomp
			// profiles, no default) wants the pod's own profile, as upstream's did.
			SecurityContext: &corev1.PodSecurityContext{
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		},
	}
}

func privilegedPod(name string) *corev1.Pod {
	yes := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "priv"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "registry.k8s.io/pause:3.10",
			SecurityContext: &corev1.SecurityContext{Privileged: &yes},
		}}},
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench-e2e] "+format+"\n", args...)
}

func waitFor(timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
}
