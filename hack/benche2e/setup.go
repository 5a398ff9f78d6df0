package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const configName = "bench-e2e"

// switchTo registers the setup's webhooks (or none) and waits until
// kube-apiserver calls exactly those: a dry-run pod creation must move the
// admission metrics of the setup's webhooks and of no other.
func (b *bench) switchTo(ctx context.Context, setup string) error {
	mw := b.cs.AdmissionregistrationV1().MutatingWebhookConfigurations()
	vw := b.cs.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	want := map[string]bool{}
	if p := b.procs[setup]; p != nil {
		m, v := b.configurations(setup, p.addr)
		want["webhook|"+m.Webhooks[0].Name+"|admit"] = true
		want["webhook|"+v.Webhooks[0].Name+"|validating"] = true
		for _, apply := range []func() error{
			func() error {
				old, err := mw.Get(ctx, configName, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					_, err = mw.Create(ctx, m, metav1.CreateOptions{})
					return err
				} else if err != nil {
					return err
				}
				m.ResourceVersion = old.ResourceVersion
				_, err = mw.Update(ctx, m, metav1.UpdateOptions{})
				return err
			},
			func() error {
				old, err := vw.Get(ctx, configName, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					_, err = vw.Create(ctx, v, metav1.CreateOptions{})
					return err
				} else if err != nil {
					return err
				}
				v.ResourceVersion = old.ResourceVersion
				_, err = vw.Update(ctx, v, metav1.UpdateOptions{})
				return err
			},
		} {
			if err := apply(); err != nil {
				return fmt.Errorf("registering %s: %w", setup, err)
			}
		}
	} else {
		for _, err := range []error{mw.Delete(ctx, configName, metav1.DeleteOptions{}), vw.Delete(ctx, configName, metav1.DeleteOptions{})} {
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	ok := 0
	var last map[string]bool
	var probeErr error
	err := waitFor(30*time.Second, setup+"'s webhooks to be the ones called", func() bool {
		m0, err := b.admissionMetrics(ctx)
		if err != nil {
			return false
		}
		_, probeErr = b.cs.CoreV1().Pods(namespace).Create(ctx, restrictedPod("probe", "probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		m1, err := b.admissionMetrics(ctx)
		if err != nil {
			return false
		}
		last = map[string]bool{}
		for k, v := range m1 {
			if strings.HasPrefix(k, "webhook|") && v[0] > m0[k][0] {
				last[k] = true
			}
		}
		if len(last) == len(want) && all(last, want) {
			ok++
		} else {
			ok = 0
		}
		return ok >= 2
	})
	if err != nil {
		return fmt.Errorf("%w (called: %v; the dry-run pod: %v)", err, last, probeErr)
	}
	return nil
}

func all(got, want map[string]bool) bool {
	for k := range want {
		if !got[k] {
			return false
		}
	}
	return true
}

// configurations are deploy/webhooks.yaml's for pods (rules, selector, failure
// policy, timeouts), with a URL and a name of the setup's.
func (b *bench) configurations(setup, addr string) (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	equivalent := admissionregistrationv1.Equivalent
	ifNeeded := admissionregistrationv1.IfNeededReinvocationPolicy
	timeout := int32(10)
	scope := admissionregistrationv1.NamespacedScope
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}, Scope: &scope},
	}}
	selector := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"kguard"}}}}
	url := func(path string) *string { s := "https://" + addr + path; return &s }
	m := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: configName},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "mutate." + setup + ".bench.kguard.io", AdmissionReviewVersions: []string{"v1"}, SideEffects: &none,
			FailurePolicy: &fail, MatchPolicy: &equivalent, TimeoutSeconds: &timeout, ReinvocationPolicy: &ifNeeded,
			ClientConfig:      admissionregistrationv1.WebhookClientConfig{URL: url("/mutate"), CABundle: b.ca},
			NamespaceSelector: selector, Rules: rules,
		}},
	}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: configName},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "validate." + setup + ".bench.kguard.io", AdmissionReviewVersions: []string{"v1"}, SideEffects: &none,
			FailurePolicy: &fail, MatchPolicy: &equivalent, TimeoutSeconds: &timeout,
			ClientConfig:      admissionregistrationv1.WebhookClientConfig{URL: url("/validate"), CABundle: b.ca},
			NamespaceSelector: selector, Rules: rules,
		}},
	}
	return m, v
}

// proc is a webhook process started by the benchmark.
type proc struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func startProc(name, bin string, args []string, logPath, addr string, ca []byte) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// As deploy/deployment.yaml runs kguard (noopwebhook ignores them alike).
	cmd.Env = append(os.Environ(), "GOGC=400", "GOMEMLIMIT=200MiB")
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, addr: addr, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	err = waitFor(60*time.Second, name+" /readyz", func() bool {
		select {
		case <-p.done:
			return false
		default:
		}
		resp, err := client.Get("https://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		p.stop()
		out, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	return p, nil
}

func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (b *bench) stopAll() {
	for _, p := range b.procs {
		p.stop()
	}
}

// cpuSeconds is utime+stime of a process (/proc/PID/stat fields 14 and 15, in
// USER_HZ = 100 ticks a second on Linux).
func cpuSeconds(pid int) float64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	// The command name (field 2) may hold spaces: count fields after its ')'.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

// memory is VmHWM (peak) and VmRSS of a process, in KiB.
func memory(pid int) (hwm, rss int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmHWM":
			hwm = n
		case "VmRSS":
			rss = n
		}
	}
	return hwm, rss
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func readEnv(path string) (map[string]string, error) {
	if path == "" {
		return nil, fmt.Errorf("-env is required (hack/e2e-cluster.sh up prints it)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env, nil
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
