// Command benche2e measures what admission costs pod creation through a real
// kube-apiserver (hack/e2e-cluster.sh), setup against setup:
//
//	none        no admission webhook (the built-in PodSecurity disabled)
//	noop        hack/noopwebhook registered as the mutating and validating webhook
//	noop-mutating  the same, its /mutate answering a one-annotation patch (noopwebhook --mutate):
//	            what kube-apiserver spends on any webhook that mutates
//	kguard-pss  kguard serve --enable-admission-plugins PodSecurity
//	kguard-psp  kguard serve with PodSecurityPolicy,PodSecurity and a mutating restricted PSP
//	kguard-constraints  kguard serve with PodSecurity,Constraints: the gatekeeper-library's 19
//	            pod-security-policy templates and 50 constraints (their samples', set to warn),
//	            K8sNativeValidation (CEL) first where a template has it, as Gatekeeper does
//	kguard-constraints-rego  the same with --constraints-no-cel (the templates' Rego only)
//	builtin     kube-apiserver's built-in PodSecurity, no webhook (a cluster started with
//	            KGUARD_BUILTIN_PODSECURITY=1: a phase of its own)
//
// Each round, every setup in turn (the order rotates from round to round so that
// drift hits all alike): N restricted pods created one after the other, each deleted
// after it is created (create latency); N created by 8 workers (pods/s), then
// deleted; a few privileged pods, which an enforcing setup denies. Around each setup's
// round it reads kube-apiserver's /metrics (apiserver_admission_webhook_admission_duration_seconds)
// and the CPU time of the webhook process and of kube-apiserver (/proc/PID/stat).
//
//	benche2e run -env ENV_FILE -setups none,noop,kguard-pss,kguard-constraints -kguard BIN -noop BIN -out a.json
//	benche2e report a.json b.json      # the markdown table
//
// It is a benchmark driven by hack/bench-e2e.sh (make bench-e2e), never a test.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(os.Args[2:])
	case "report":
		err = reportCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benche2e:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benche2e run -env FILE -setups LIST [flags] | benche2e report FILE...")
	os.Exit(2)
}
