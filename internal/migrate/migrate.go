// Package migrate plans the move from PodSecurityPolicies to Pod Security
// Standards, as seed 000 recommends: for each policy, the strictest standard
// that admits everything the policy admits, and what the policy defaulted that
// the standards will not (so manifests must set it themselves); for workloads,
// which standard each already meets.
//
// It decides with both real engines and no reimplementation of either: probe
// pods, each carrying one feature a Pod Security Standards check looks at,
// go through kguard's PSP engine (with its defaulting) and, when the policy
// admits them, through pod-security-admission's evaluator at each level.
package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/kguard/kguard/internal/admission/psp"
	"github.com/kguard/kguard/internal/podspec"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// Levels from the strictest.
var levels = []api.Level{api.LevelRestricted, api.LevelBaseline, api.LevelPrivileged}

// PolicyPlan is the migration of one PodSecurityPolicy.
type PolicyPlan struct {
	Policy string `json:"policy"`
	// Level is the strictest Pod Security Standard that admits every probe pod
	// the policy admits.
	Level string `json:"level"`
	// Stricter explains, per stricter level, what the policy admits that it
	// forbids: each failing check with the probe pods that showed it.
	Stricter map[string][]Gap `json:"stricter,omitempty"`
	// Defaults are the fields the policy set on a pod that set none (JSON paths):
	// Pod Security admission never mutates, so manifests must set them.
	Defaults []string `json:"defaults,omitempty"`
	// Requires are the checks of Level that no PodSecurityPolicy can
	// uphold, with the probe pods the policy admits that fail them:
	// manifests must meet them themselves, since Level refuses such a pod
	// where the policy admitted it. They do not lower Level, which would
	// otherwise never be above privileged.
	Requires []Gap `json:"requires,omitempty"`
	// Because names the checks of the next stricter level that the policy
	// fails: the controls that forced Level.
	Because []string `json:"because,omitempty"`
	// Otherwise is the strictest level the policy would meet but for the
	// Because controls ("restricted apart from seLinuxOptions").
	Otherwise string `json:"otherwise,omitempty"`
}

// Gap is one Pod Security Standards check a policy does not uphold.
type Gap struct {
	Check  string   `json:"check"`  // the standard's reason, e.g. "hostPath volumes"
	Probes []string `json:"probes"` // the admitted probe pods it rejects
	Detail string   `json:"detail"` // the standard's detail for the first probe
}

// WorkloadLevel is the strictest standard one pod (template) meets.
type WorkloadLevel struct {
	Object string   `json:"object"`
	Source string   `json:"source,omitempty"`
	Level  string   `json:"level"`
	Fails  []string `json:"fails,omitempty"` // why restricted fails (nil when it is met)
}

// Planner is built once and reused.
type Planner struct {
	evaluator policy.Evaluator
	version   api.Version
}

// NewPlanner evaluates the standards at version ("latest" or "v1.x").
func NewPlanner(version string) (*Planner, error) {
	e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return nil, err
	}
	v := api.LatestVersion()
	if version != "" && version != "latest" {
		if v, err = api.ParseVersion(version); err != nil {
			return nil, err
		}
	}
	return &Planner{evaluator: e, version: v}, nil
}

func boolPtr(b bool) *bool    { return &b }
func int64Ptr(i int64) *int64 { return &i }

// probe is a pod with one feature a check looks at.
type probe struct {
	name  string
	tweak func(p *corev1.Pod)
	// unset probes leave a field to the policy: what the policy sets on
	// them is what it defaults.
	unset bool
	// manifest probes carry what no policy can forbid: the checks they
	// fail are requirements on manifests (PolicyPlan.Requires), not gaps
	// of the policy.
	manifest bool
}

func container(p *corev1.Pod) *corev1.SecurityContext {
	c := &p.Spec.Containers[0]
	if c.SecurityContext == nil {
		c.SecurityContext = &corev1.SecurityContext{}
	}
	return c.SecurityContext
}

func podSC(p *corev1.Pod) *corev1.PodSecurityContext {
	if p.Spec.SecurityContext == nil {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	return p.Spec.SecurityContext
}

func volume(name string, src corev1.VolumeSource) probe {
	return probe{name: "a " + name + " volume", tweak: func(p *corev1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "v", VolumeSource: src})
	}}
}

var probes = []probe{
	{name: "a pod that sets nothing", tweak: func(*corev1.Pod) {}, unset: true},
	{name: "runAsNonRoot unset", tweak: func(p *corev1.Pod) { podSC(p).RunAsNonRoot = nil }, unset: true},
	{name: "allowPrivilegeEscalation unset", tweak: func(p *corev1.Pod) { container(p).AllowPrivilegeEscalation = nil }, unset: true},
	{name: "seccomp unset", tweak: func(p *corev1.Pod) {
		if p.Spec.SecurityContext != nil {
			p.Spec.SecurityContext.SeccompProfile = nil
		}
	}, unset: true},
	{name: "AppArmor unset", tweak: func(p *corev1.Pod) {
		delete(p.Annotations, corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+"c")
	}, unset: true},
	{name: "no capabilities dropped", tweak: func(p *corev1.Pod) { container(p).Capabilities = nil }, unset: true},
	{name: "a privileged container", tweak: func(p *corev1.Pod) { container(p).Privileged = boolPtr(true) }},
	{name: "the host network", tweak: func(p *corev1.Pod) { p.Spec.HostNetwork = true }},
	{name: "the host PID namespace", tweak: func(p *corev1.Pod) { p.Spec.HostPID = true }},
	{name: "the host IPC namespace", tweak: func(p *corev1.Pod) { p.Spec.HostIPC = true }},
	{name: "a host port", tweak: func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}
	}},
	volume("hostPath", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib"}}),
	volume("nfs", corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/"}}),
	volume("gitRepo", corev1.VolumeSource{GitRepo: &corev1.GitRepoVolumeSource{Repository: "r"}}),
	volume("flexVolume", corev1.VolumeSource{FlexVolume: &corev1.FlexVolumeSource{Driver: "d"}}),
	volume("iscsi", corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{TargetPortal: "t", IQN: "i"}}),
	addCapability("SYS_ADMIN"),
	addCapability("NET_RAW"),
	addCapability("CHOWN"),
	{name: "an unsafe sysctl", tweak: func(p *corev1.Pod) { podSC(p).Sysctls = []corev1.Sysctl{{Name: "kernel.msgmax", Value: "65536"}} }},
	{name: "an unmasked /proc", tweak: func(p *corev1.Pod) { pm := corev1.UnmaskedProcMount; container(p).ProcMount = &pm }},
	{name: "seccomp Unconfined", tweak: func(p *corev1.Pod) {
		podSC(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
	}},
	{name: "seccomp unconfined (annotation)", tweak: func(p *corev1.Pod) {
		p.Annotations = map[string]string{corev1.SeccompPodAnnotationKey: "unconfined"}
	}},
	{name: "AppArmor unconfined", tweak: func(p *corev1.Pod) {
		p.Annotations = map[string]string{corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix + "c": "unconfined"}
	}},
	{name: "a custom SELinux type", tweak: func(p *corev1.Pod) { podSC(p).SELinuxOptions = &corev1.SELinuxOptions{Type: "spc_t"} }},
	{name: "a custom SELinux user", tweak: func(p *corev1.Pod) { container(p).SELinuxOptions = &corev1.SELinuxOptions{User: "system_u"} }},
	{name: "a custom SELinux role", tweak: func(p *corev1.Pod) { container(p).SELinuxOptions = &corev1.SELinuxOptions{Role: "system_r"} }},
	{name: "running as root (runAsUser 0)", tweak: func(p *corev1.Pod) { container(p).RunAsUser = int64Ptr(0) }},
	// MustRunAsNonRoot defaults runAsNonRoot only when no runAsUser is
	// set: a non-zero runAsUser alone passes the policy, but restricted
	// asks for runAsNonRoot itself.
	{name: "runAsUser 1000 without runAsNonRoot", tweak: func(p *corev1.Pod) {
		podSC(p).RunAsNonRoot = nil
		container(p).RunAsUser = int64Ptr(1000)
	}, manifest: true},
	// No policy field restricts the host a probe or lifecycle hook connects
	// to, which baseline forbids from v1.34.
	{name: "a liveness probe on another host", tweak: func(p *corev1.Pod) {
		p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
			HTTPGet: &corev1.HTTPGetAction{Host: "10.0.0.1", Port: intstr.FromInt32(8080)}}}
	}, manifest: true},
	{name: "runAsNonRoot false", tweak: func(p *corev1.Pod) { container(p).RunAsNonRoot = boolPtr(false) }},
	{name: "allowPrivilegeEscalation true", tweak: func(p *corev1.Pod) { container(p).AllowPrivilegeEscalation = boolPtr(true) }},
}

func basePod() *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "migrate"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}},
	}
}

// compliantPod meets the restricted standard, so that a policy that requires
// (say) a seccomp profile still gets probes it can admit.
func compliantPod() *corev1.Pod {
	p := basePod()
	podSC(p).RunAsNonRoot = boolPtr(true)
	podSC(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	p.Annotations = map[string]string{corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix + "c": "runtime/default"}
	sc := container(p)
	sc.AllowPrivilegeEscalation = boolPtr(false)
	sc.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
	return p
}

// PlanPolicy analyses one (valid, defaulted) policy.
func (pl *Planner) PlanPolicy(ctx context.Context, p *v1alpha1.PodSecurityPolicy) (*PolicyPlan, error) {
	engine, err := psp.NewEngine([]*v1alpha1.PodSecurityPolicy{p}, authorizerfactory.NewAlwaysAllowAuthorizer())
	if err != nil {
		return nil, err
	}
	u := &user.DefaultInfo{Name: "kguard:migrate"}
	plan := &PolicyPlan{Policy: p.Name, Stricter: map[string][]Gap{}}
	// Per level, the checks the admitted probes fail: the policy's gaps,
	// and (manifest probes) what manifests must meet.
	failing := map[api.Level]map[string]*Gap{}
	required := map[api.Level]map[string]*Gap{}
	admittedProbes := 0
	defaults := map[string]bool{}
	all := append(append([]probe(nil), probes...), derivedProbes(p)...)
	for _, pr := range all {
		for i, base := range bases(p) {
			label := pr.name
			if i > 0 {
				label += " (on an otherwise restricted pod)"
			}
			pod := base()
			pr.tweak(pod)
			res := engine.Admit(ctx, psp.Attributes{Operation: "CREATE", Pod: pod, Namespace: pod.Namespace, User: u})
			if !res.Allowed {
				continue // the policy refuses it: nothing to fear from stricter standards
			}
			admittedProbes++
			admitted := res.Pod
			delete(admitted.Annotations, v1alpha1.PodAnnotation)
			if len(admitted.Annotations) == 0 {
				admitted.Annotations = nil
			}
			syncProfiles(admitted)
			if pr.unset {
				before := base()
				pr.tweak(before)
				syncProfiles(before) // the pod's own annotations are not the policy's
				for _, d := range changedPaths(before, admitted) {
					if profileAnnotation(d) {
						continue
					}
					defaults[d] = true
				}
			}
			for _, lv := range levels[:2] {
				for _, r := range pl.evaluator.EvaluatePod(api.LevelVersion{Level: lv, Version: pl.version}, &admitted.ObjectMeta, &admitted.Spec) {
					if r.Allowed {
						continue
					}
					gaps := failing
					if pr.manifest {
						gaps = required
					}
					if gaps[lv] == nil {
						gaps[lv] = map[string]*Gap{}
					}
					g := gaps[lv][r.ForbiddenReason]
					if g == nil {
						g = &Gap{Check: r.ForbiddenReason, Detail: r.ForbiddenDetail}
						gaps[lv][r.ForbiddenReason] = g
					}
					if len(g.Probes) == 0 || g.Probes[len(g.Probes)-1] != label {
						g.Probes = append(g.Probes, label)
					}
				}
			}
		}
	}
	for d := range defaults {
		plan.Defaults = append(plan.Defaults, d)
	}
	sort.Strings(plan.Defaults)
	if admittedProbes == 0 {
		return nil, fmt.Errorf("PodSecurityPolicy %s admits none of kguard's probe pods, not even a restricted one: its requirements cannot be compared", p.Name)
	}
	graded := len(levels) - 1
	for i, lv := range levels[:2] {
		if len(failing[lv]) == 0 {
			graded = i
			break
		}
	}
	plan.Level = string(levels[graded])
	if graded < len(levels)-1 {
		for _, g := range required[levels[graded]] {
			plan.Requires = append(plan.Requires, *g)
		}
		sort.Slice(plan.Requires, func(i, j int) bool { return plan.Requires[i].Check < plan.Requires[j].Check })
	}
	if graded > 0 {
		// The controls that forced the grade are the next stricter level's
		// failures; a still stricter level that fails on no others is what
		// the policy would meet but for them.
		next := failing[levels[graded-1]]
		for c := range next {
			plan.Because = append(plan.Because, c)
		}
		sort.Strings(plan.Because)
		plan.Otherwise = string(levels[graded-1])
		for i := graded - 2; i >= 0; i-- {
			subset := true
			for c := range failing[levels[i]] {
				subset = subset && next[c] != nil
			}
			if !subset {
				break
			}
			plan.Otherwise = string(levels[i])
		}
	}
	for lv, gaps := range failing {
		for _, g := range gaps {
			plan.Stricter[string(lv)] = append(plan.Stricter[string(lv)], *g)
		}
		sort.Slice(plan.Stricter[string(lv)], func(i, j int) bool { return plan.Stricter[string(lv)][i].Check < plan.Stricter[string(lv)][j].Check })
	}
	return plan, nil
}

const seccompPodAnnotationPath = "/metadata/annotations/seccomp.security.alpha.kubernetes.io~1pod"

// syncProfiles does to a pod a policy admitted what kube-apiserver and
// kguard's PodSecurityPolicy plugin do to it before validating admission
// (Pod Security admission) sees it: a seccomp annotation with no field sets
// the field (kube-apiserver v1.24 did; kguard's plugin does on today's
// clusters), so does an AppArmor annotation (kube-apiserver v1.30+). (A
// workload's own seccomp annotations get no field from kube-apiserver v1.27+:
// PlanWorkload leaves them as written.)
func syncProfiles(p *corev1.Pod) {
	podspec.SyncSeccompFields(p)
	podspec.SyncAppArmorFields(p)
}

// profileAnnotation reports whether a changed path is a profile annotation
// (v1.24's spelling, which the engine writes), whose field syncProfiles
// sets: the default manifests must set is the field, listed instead —
// kube-apiserver v1.27+ ignores the seccomp annotation and warns about the
// AppArmor ones.
func profileAnnotation(path string) bool {
	return strings.HasPrefix(path, seccompPodAnnotationPath+" ") || strings.HasPrefix(path, appArmorAnnotationPathPrefix)
}

const appArmorAnnotationPathPrefix = "/metadata/annotations/container.apparmor.security.beta.kubernetes.io~1"

// changedPaths lists the JSON paths the policy set on a pod, down to the
// leaves: a patch that adds "/metadata/annotations" on one pod and a key of
// it on another must give the same entries.
func changedPaths(before, after *corev1.Pod) []string {
	a, _ := json.Marshal(before)
	b, _ := json.Marshal(after)
	ops, err := jsonpatch.CreatePatch(a, b)
	if err != nil {
		return []string{"(could not compute: " + err.Error() + ")"}
	}
	var out []string
	var leaves func(path string, v any)
	leaves = func(path string, v any) {
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			for k, sub := range m {
				leaves(path+"/"+strings.NewReplacer("~", "~0", "/", "~1").Replace(k), sub)
			}
			return
		}
		j, _ := json.Marshal(v)
		out = append(out, fmt.Sprintf("%s %s", path, j))
	}
	for _, op := range ops {
		if op.Operation == "remove" {
			continue
		}
		leaves(op.Path, op.Value)
	}
	sort.Strings(out)
	return out
}

// PlanWorkload reports the strictest standard a pod meets as written.
func (pl *Planner) PlanWorkload(meta *metav1.ObjectMeta, spec *corev1.PodSpec) (level string, fails []string) {
	for i, lv := range levels[:2] {
		var reasons []string
		for _, r := range pl.evaluator.EvaluatePod(api.LevelVersion{Level: lv, Version: pl.version}, meta, spec) {
			if !r.Allowed {
				reasons = append(reasons, r.ForbiddenReason+" ("+r.ForbiddenDetail+")")
			}
		}
		if len(reasons) == 0 {
			if i > 0 {
				return string(lv), fails
			}
			return string(lv), nil
		}
		if i == 0 {
			fails = reasons
		}
	}
	return string(api.LevelPrivileged), fails
}

// Summary renders a plan for people.
func (p *PolicyPlan) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "PodSecurityPolicy %s → Pod Security Standard %q", p.Policy, p.Level)
	if len(p.Because) > 0 {
		fmt.Fprintf(&b, " (%s apart from %s)", p.Otherwise, strings.Join(p.Because, ", "))
	}
	b.WriteString("\n")
	gapLines := func(gaps []Gap) {
		for _, g := range gaps {
			examples := g.Probes
			more := ""
			if len(examples) > 2 {
				examples, more = examples[:2], fmt.Sprintf(" and %d more", len(g.Probes)-2)
			}
			fmt.Fprintf(&b, "    - %s (%s), e.g. %s%s\n", g.Check, g.Detail, strings.Join(examples, "; "), more)
		}
	}
	for _, lv := range []string{"restricted", "baseline"} {
		if gaps := p.Stricter[lv]; len(gaps) > 0 && lv != p.Level {
			fmt.Fprintf(&b, "  not %s, which forbids what it admits:\n", lv)
			gapLines(gaps)
		}
	}
	if len(p.Requires) > 0 {
		fmt.Fprintf(&b, "  %s also forbids what no PodSecurityPolicy can; manifests must avoid it themselves:\n", p.Level)
		gapLines(p.Requires)
	}
	if len(p.Defaults) > 0 {
		fmt.Fprintf(&b, "  it defaults these fields, which Pod Security admission will not; set them in manifests:\n")
		for _, d := range p.Defaults {
			fmt.Fprintf(&b, "    - %s\n", d)
		}
	}
	return b.String()
}
