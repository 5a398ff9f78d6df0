package migrate

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/pod-security-admission/api"

	"github.com/kguard/kguard/internal/admission/psp"
	"github.com/kguard/kguard/internal/policy"
)

// pick returns some of choices (maybe none).
func pick(r *rand.Rand, choices []string) []string {
	var out []string
	for _, c := range choices {
		if r.Intn(3) == 0 {
			out = append(out, c)
		}
	}
	return out
}

// randomPolicy writes a policy from a small space of the values that matter
// to the standards.
func randomPolicy(r *rand.Rand, i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata:\n  name: p%d\n  annotations:\n", i)
	if ps := pick(r, []string{"runtime/default", "unconfined", "localhost/x"}); len(ps) > 0 {
		fmt.Fprintf(&b, "    seccomp.security.alpha.kubernetes.io/allowedProfileNames: %q\n", strings.Join(ps, ","))
		if r.Intn(2) == 0 {
			fmt.Fprintf(&b, "    seccomp.security.alpha.kubernetes.io/defaultProfileName: %q\n", ps[0])
		}
	}
	if ps := pick(r, []string{"runtime/default", "unconfined"}); len(ps) > 0 {
		fmt.Fprintf(&b, "    apparmor.security.beta.kubernetes.io/allowedProfileNames: %q\n", strings.Join(ps, ","))
	}
	b.WriteString("    kguard.test/none: \"\"\nspec:\n")
	if r.Intn(2) == 0 {
		b.WriteString("  allowPrivilegeEscalation: false\n")
	}
	if r.Intn(2) == 0 {
		b.WriteString("  requiredDropCapabilities: [ALL]\n")
	} else if cs := pick(r, []string{"NET_ADMIN", "NET_BIND_SERVICE", "CHOWN", "SYS_TIME"}); len(cs) > 0 {
		fmt.Fprintf(&b, "  allowedCapabilities: [%s]\n", strings.Join(cs, ", "))
	}
	vols := pick(r, []string{"configMap", "emptyDir", "secret", "hostPath", "nfs", "csi", "flexVolume"})
	fmt.Fprintf(&b, "  volumes: [%s]\n", strings.Join(vols, ", "))
	if hp := pick(r, []string{"/proc", "/var/log", "/etc"}); len(hp) > 0 {
		b.WriteString("  allowedHostPaths:\n")
		for _, h := range hp {
			fmt.Fprintf(&b, "  - {pathPrefix: %s, readOnly: %v}\n", h, r.Intn(2) == 0)
		}
	}
	if r.Intn(3) == 0 {
		lo := int32(1 + r.Intn(9000))
		fmt.Fprintf(&b, "  hostPorts: [{min: %d, max: %d}]\n", lo, lo+int32(r.Intn(100)))
	}
	if ss := pick(r, []string{"net.core.somaxconn", "net.*", "kernel.shm_rmid_forced"}); len(ss) > 0 {
		fmt.Fprintf(&b, "  allowedUnsafeSysctls: [\"%s\"]\n", strings.Join(ss, `", "`))
	}
	if r.Intn(3) == 0 {
		b.WriteString("  allowedProcMountTypes: [Default, Unmasked]\n")
	}
	if r.Intn(2) == 0 {
		b.WriteString("  runAsUser: {rule: MustRunAsNonRoot}\n")
	} else {
		b.WriteString("  runAsUser: {rule: RunAsAny}\n")
	}
	if r.Intn(2) == 0 {
		b.WriteString("  seLinux: {rule: MustRunAs, seLinuxOptions: {type: container_t}}\n")
	} else {
		b.WriteString("  seLinux: {rule: RunAsAny}\n")
	}
	b.WriteString("  supplementalGroups: {rule: RunAsAny}\n  fsGroup: {rule: RunAsAny}\n")
	return b.String()
}

// randomPod sets a few features at random values, not the probes' values.
func randomPod(r *rand.Rand) *corev1.Pod {
	p := basePod()
	if r.Intn(2) == 0 {
		p = compliantPod()
	}
	features := []func(){
		func() {
			path := []string{"/proc/sys", "/var/log/pods", "/etc/ssl", "/srv"}[r.Intn(4)]
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path}}})
			p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "h", MountPath: "/h", ReadOnly: r.Intn(2) == 0})
		},
		func() {
			port := int32(1 + r.Intn(9100))
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: port, HostPort: port}}
		},
		func() {
			addCapability([]corev1.Capability{"NET_ADMIN", "NET_BIND_SERVICE", "CHOWN", "SYS_TIME"}[r.Intn(4)]).tweak(p)
		},
		func() {
			name := []string{"net.core.somaxconn", "net.ipv4.tcp_fin_timeout", "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range"}[r.Intn(4)]
			podSC(p).Sysctls = []corev1.Sysctl{{Name: name, Value: "1"}}
		},
		func() {
			src := []corev1.VolumeSource{
				{NFS: &corev1.NFSVolumeSource{Server: "s", Path: "/x"}},
				{CSI: &corev1.CSIVolumeSource{Driver: "other"}},
				{FlexVolume: &corev1.FlexVolumeSource{Driver: "other"}},
				{EmptyDir: &corev1.EmptyDirVolumeSource{}},
			}[r.Intn(4)]
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "w", VolumeSource: src})
		},
		func() {
			seccompAnnotation([]string{"runtime/default", "unconfined", "localhost/x"}[r.Intn(3)]).tweak(p)
		},
		func() { appArmor([]string{"runtime/default", "unconfined"}[r.Intn(2)]).tweak(p) },
		func() { pm := corev1.UnmaskedProcMount; container(p).ProcMount = &pm },
		func() {
			container(p).SELinuxOptions = &corev1.SELinuxOptions{Type: []string{"container_t", "spc_t", "unconfined_t"}[r.Intn(3)]}
		},
		func() { container(p).RunAsUser = int64Ptr(int64(r.Intn(2))) },
		func() { container(p).AllowPrivilegeEscalation = boolPtr(true) },
	}
	for _, f := range features {
		if r.Intn(4) == 0 {
			f()
		}
	}
	return p
}

// TestGradeAdmitsWhatPolicyAdmits: a migration never lowers security, so
// every pod a policy admits must pass the standard it is graded.
func TestGradeAdmitsWhatPolicyAdmits(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	pl, err := NewPlanner("latest")
	if err != nil {
		t.Fatal(err)
	}
	u := &user.DefaultInfo{Name: "kguard:test"}
	for i := range 150 {
		yaml := randomPolicy(r, i)
		s, err := policy.Read(strings.NewReader(yaml), "random.yaml")
		if err != nil {
			t.Fatalf("%v\n%s", err, yaml)
		}
		p := s.PodSecurityPolicies[0]
		plan, err := pl.PlanPolicy(context.Background(), p)
		if err != nil {
			continue // admits none of the probes: nothing graded
		}
		engine := policyEngine(t, p)
		for range 60 {
			pod := randomPod(r)
			res := engine.Admit(context.Background(), psp.Attributes{Operation: "CREATE", Pod: pod, Namespace: pod.Namespace, User: u})
			if !res.Allowed {
				continue
			}
			admitted := res.Pod
			syncProfiles(admitted)
			lv := api.LevelVersion{Level: api.Level(plan.Level), Version: pl.version}
			for _, res := range pl.evaluator.EvaluatePod(lv, &admitted.ObjectMeta, &admitted.Spec) {
				if !res.Allowed {
					t.Fatalf("graded %s, but it admits a pod %s forbids: %s (%s)\npolicy:\n%s\npod: %+v",
						plan.Level, plan.Level, res.ForbiddenReason, res.ForbiddenDetail, yaml, admitted.Spec)
				}
			}
		}
	}
}
