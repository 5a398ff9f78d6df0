package psp

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	"sigs.k8s.io/yaml"

	"github.com/kguard/kguard/internal/authz/rbac"
	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

func loadSet(t *testing.T, docs ...string) *policy.Set {
	t.Helper()
	s, err := policy.Read(strings.NewReader(strings.Join(docs, "\n---\n")), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func engine(t *testing.T, docs ...string) *Engine {
	t.Helper()
	s := loadSet(t, docs...)
	e, err := NewEngine(s.PodSecurityPolicies, rbac.New(s))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func pod(t *testing.T, y string) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	if err := yaml.UnmarshalStrict([]byte(y), &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func psp(name, spec string) string {
	return "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: " + name + "}\nspec:\n" + spec
}

const anyRules = "  seLinux: {rule: RunAsAny}\n  runAsUser: {rule: RunAsAny}\n  supplementalGroups: {rule: RunAsAny}\n  fsGroup: {rule: RunAsAny}\n  volumes: ['*']\n"

// useAll lets every authenticated user use every policy (in API group policy).
const useAll = `kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use-all}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use]}]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use-all}
subjects: [{kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: use-all, apiGroup: rbac.authorization.k8s.io}`

var alice = &user.DefaultInfo{Name: "alice", Groups: []string{"system:authenticated"}}

const pausePod = "metadata: {name: pause}\nspec: {containers: [{name: pause, image: k8s.gcr.io/pause}]}"

func admit(t *testing.T, e *Engine, p *corev1.Pod) Result {
	t.Helper()
	return e.Admit(context.Background(), Attributes{Operation: "CREATE", Pod: p, Namespace: "ns", User: alice})
}

// The walkthrough of seed 000, with the seed's example policy.
func TestSeedWalkthrough(t *testing.T) {
	example := psp("example", "  privileged: false\n"+anyRules)
	grant := `kind: Role
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: psp:unprivileged, namespace: psp-example}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use], resourceNames: [example]}]
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: fake-user:psp:unprivileged, namespace: psp-example}
roleRef: {kind: Role, name: "psp:unprivileged", apiGroup: rbac.authorization.k8s.io}
subjects: [{kind: ServiceAccount, name: fake-user, namespace: psp-example}]`
	fakeUser := &user.DefaultInfo{Name: "system:serviceaccount:psp-example:fake-user", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:psp-example", "system:authenticated"}}
	attrs := func(p *corev1.Pod) Attributes {
		return Attributes{Operation: "CREATE", Pod: p, Namespace: "psp-example", User: fakeUser}
	}

	denied := engine(t, example).Admit(context.Background(), attrs(pod(t, pausePod)))
	if denied.Allowed || denied.Message != MessageNoProviders {
		t.Fatalf("without use: %+v", denied)
	}
	e := engine(t, example, grant)
	ok := e.Admit(context.Background(), attrs(pod(t, pausePod)))
	if !ok.Allowed || ok.Policy != "example" || ok.Pod.Annotations["kubernetes.io/psp"] != "example" {
		t.Fatalf("with use: %+v", ok)
	}
	priv := e.Admit(context.Background(), attrs(pod(t, "metadata: {name: privileged}\nspec: {containers: [{name: pause, image: k8s.gcr.io/pause, securityContext: {privileged: true}}]}")))
	want := "unable to validate against any pod security policy: [spec.containers[0].securityContext.privileged: Invalid value: true: Privileged containers are not allowed]"
	if priv.Allowed || priv.Message != want {
		t.Fatalf("privileged:\n got %q\nwant %q", priv.Message, want)
	}
	// The pod's ServiceAccount may hold the grant instead of the user.
	rs := &user.DefaultInfo{Name: "system:serviceaccount:kube-system:replicaset-controller"}
	noGrant := e.Admit(context.Background(), Attributes{Operation: "CREATE", Pod: pod(t, pausePod), Namespace: "psp-example", User: rs})
	if noGrant.Allowed || noGrant.Message != MessageNoProviders {
		t.Fatalf("controller without grant: %+v", noGrant)
	}
	saPod := pod(t, pausePod)
	saPod.Spec.ServiceAccountName = "fake-user"
	viaSA := e.Admit(context.Background(), Attributes{Operation: "CREATE", Pod: saPod, Namespace: "psp-example", User: rs})
	if !viaSA.Allowed {
		t.Fatalf("pod ServiceAccount's grant: %+v", viaSA)
	}
}

func TestSelectionOrder(t *testing.T) {
	// "a-mutating" sorts first but changes the pod; "b-plain" admits it unchanged.
	mutating := psp("a-mutating", "  defaultAddCapabilities: [NET_ADMIN]\n  allowedCapabilities: [NET_ADMIN]\n"+anyRules)
	plain := psp("b-plain", anyRules)
	e := engine(t, mutating, plain, useAll)
	r := admit(t, e, pod(t, pausePod))
	if !r.Allowed || r.Policy != "b-plain" {
		t.Fatalf("non-mutating policy must win: %+v", r)
	}
	// Without a non-mutating one, the first mutating by name admits.
	e = engine(t, mutating, psp("z-mutating", "  requiredDropCapabilities: [NET_RAW]\n"+anyRules), useAll)
	r = admit(t, e, pod(t, pausePod))
	if !r.Allowed || r.Policy != "a-mutating" || r.Pod.Spec.Containers[0].SecurityContext.Capabilities.Add[0] != "NET_ADMIN" {
		t.Fatalf("first mutating policy: %+v", r)
	}
	// UPDATE may not mutate: only a policy admitting the pod unchanged.
	oldPod := pod(t, pausePod)
	oldPod.Labels = map[string]string{"v": "1"}
	u := e.Admit(context.Background(), Attributes{Operation: "UPDATE", Pod: pod(t, pausePod), OldPod: oldPod, Namespace: "ns", User: alice})
	if u.Allowed {
		t.Fatalf("update admitted through a mutating policy: %+v", u)
	}
	// Nor may the validating pass after mutation.
	if v := e.Admit(context.Background(), Attributes{Operation: "CREATE", Validate: true, Pod: pod(t, pausePod), Namespace: "ns", User: alice}); v.Allowed {
		t.Fatalf("validating pass admitted through a mutating policy: %+v", v)
	}
	// The defaulted pod passes the validating pass, through the policy its annotation names.
	if v := e.Admit(context.Background(), Attributes{Operation: "CREATE", Validate: true, Pod: r.Pod, Namespace: "ns", User: alice}); !v.Allowed || v.Policy != "a-mutating" {
		t.Fatalf("validating pass of the defaulted pod: %+v", v)
	}
	// An update of owner references and finalizers only (the garbage collector's) is not evaluated.
	gc := pod(t, pausePod)
	gc.Finalizers = []string{"example.com/cleanup"}
	gc.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "u"}}
	if g := e.Admit(context.Background(), Attributes{Operation: "UPDATE", Pod: gc, OldPod: pod(t, pausePod), Namespace: "ns", User: alice}); !g.Allowed || g.Policy != "" {
		t.Fatalf("garbage collector update: %+v", g)
	}
	// A policy not authorized is never chosen, even if it would admit.
	restricted := psp("a-strict", "  requiredDropCapabilities: [ALL]\n"+anyRules)
	onlyStrict := `kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use-strict}
rules: [{apiGroups: [kguard.io], resources: [podsecuritypolicies], verbs: [use], resourceNames: [a-strict]}]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use-strict}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: use-strict, apiGroup: rbac.authorization.k8s.io}`
	e = engine(t, restricted, plain, onlyStrict)
	r = admit(t, e, pod(t, pausePod))
	if !r.Allowed || r.Policy != "a-strict" {
		t.Fatalf("use granted in kguard.io: %+v", r)
	}
}

func TestRestrictedDefaults(t *testing.T) {
	s := loadSet(t, useAll)
	ps, err := policy.Load([]string{"testdata/policies/restricted-psp.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(ps.PodSecurityPolicies, rbac.New(s))
	if err != nil {
		t.Fatal(err)
	}
	// The seed's restricted policy allows docker/default and runtime/default
	// seccomp profiles but sets no default: a pod without one is refused.
	if r := admit(t, e, pod(t, pausePod)); r.Allowed || !strings.Contains(r.Message, " is not an allowed seccomp profile") {
		t.Fatalf("pod without seccomp profile: %+v", r)
	}
	r := admit(t, e, pod(t, "metadata: {name: pause}\nspec: {securityContext: {seccompProfile: {type: RuntimeDefault}}, containers: [{name: pause, image: k8s.gcr.io/pause}]}"))
	if !r.Allowed {
		t.Fatalf("%+v", r)
	}
	p := r.Pod
	sc := p.Spec.Containers[0].SecurityContext
	if *p.Spec.SecurityContext.FSGroup != 1 || p.Spec.SecurityContext.SupplementalGroups[0] != 1 ||
		!*sc.RunAsNonRoot || *sc.AllowPrivilegeEscalation || sc.Capabilities.Drop[0] != "ALL" ||
		p.Annotations["container.apparmor.security.beta.kubernetes.io/pause"] != "runtime/default" {
		t.Fatalf("defaults not applied: %+v %+v %v", p.Spec.SecurityContext, sc, p.Annotations)
	}
	// The defaulted pod passes again unchanged (the validating phase).
	again := e.Admit(context.Background(), Attributes{Operation: "UPDATE", Pod: p, Namespace: "ns", User: alice})
	if !again.Allowed || again.Policy != "restricted" {
		t.Fatalf("re-validation: %+v", again)
	}
	root := pod(t, "metadata: {name: root}\nspec: {securityContext: {seccompProfile: {type: RuntimeDefault}}, containers: [{name: c, image: i, securityContext: {runAsUser: 0}}]}")
	if r := admit(t, e, root); r.Allowed || !strings.Contains(r.Message, "running with the root UID is forbidden") {
		t.Fatalf("root: %+v", r)
	}
}

func TestStrategies(t *testing.T) {
	cases := []struct {
		name   string
		spec   string // policy spec lines beyond anyRules (which they may override)
		pod    string
		errAt  string // "" when admitted
		detail string
		check  func(t *testing.T, p *corev1.Pod)
	}{
		{"runAsUser MustRunAs defaults to first min", "  runAsUser: {rule: MustRunAs, ranges: [{min: 1000, max: 2000}, {min: 5, max: 6}]}\n", pausePod, "", "",
			func(t *testing.T, p *corev1.Pod) {
				if *p.Spec.Containers[0].SecurityContext.RunAsUser != 1000 {
					t.Fatal(p.Spec.Containers[0].SecurityContext)
				}
			}},
		{"runAsUser outside ranges", "  runAsUser: {rule: MustRunAs, ranges: [{min: 1000, max: 2000}]}\n",
			"spec: {containers: [{name: c, image: i, securityContext: {runAsUser: 7}}]}", "spec.containers[0].securityContext.runAsUser", "must be in the ranges: [{1000 2000}]", nil},
		{"pod-level runAsUser counts", "  runAsUser: {rule: MustRunAs, ranges: [{min: 1000, max: 2000}]}\n",
			"spec: {securityContext: {runAsUser: 1500}, containers: [{name: c, image: i}]}", "", "", nil},
		{"MustRunAsNonRoot sets runAsNonRoot", "  runAsUser: {rule: MustRunAsNonRoot}\n", pausePod, "", "",
			func(t *testing.T, p *corev1.Pod) {
				if !*p.Spec.Containers[0].SecurityContext.RunAsNonRoot {
					t.Fatal("runAsNonRoot not set")
				}
			}},
		{"runAsNonRoot false", "  runAsUser: {rule: MustRunAsNonRoot}\n",
			"spec: {containers: [{name: c, image: i, securityContext: {runAsNonRoot: false}}]}", "spec.containers[0].securityContext.runAsNonRoot", "must be true", nil},
		{"runAsGroup MustRunAs", "  runAsGroup: {rule: MustRunAs, ranges: [{min: 10, max: 20}]}\n",
			"spec: {containers: [{name: c, image: i, securityContext: {runAsGroup: 30}}]}", "spec.containers[0].securityContext", "group 30 must be in the ranges: [{10 20}]", nil},
		{"runAsGroup MayRunAs unset is fine", "  runAsGroup: {rule: MayRunAs, ranges: [{min: 10, max: 20}]}\n", pausePod, "", "", nil},
		{"fsGroup MustRunAs out of range", "  fsGroup: {rule: MustRunAs, ranges: [{min: 1, max: 10}]}\n",
			"spec: {securityContext: {fsGroup: 0}, containers: [{name: c, image: i}]}", "spec.securityContext.fsGroup", "group 0 must be in the ranges", nil},
		{"fsGroup MayRunAs no default", "  fsGroup: {rule: MayRunAs, ranges: [{min: 1, max: 10}]}\n", pausePod, "", "",
			func(t *testing.T, p *corev1.Pod) {
				if p.Spec.SecurityContext != nil && p.Spec.SecurityContext.FSGroup != nil {
					t.Fatal("MayRunAs defaulted fsGroup")
				}
			}},
		{"supplementalGroups out of range", "  supplementalGroups: {rule: MustRunAs, ranges: [{min: 1, max: 10}]}\n",
			"spec: {securityContext: {supplementalGroups: [5, 50]}, containers: [{name: c, image: i}]}", "spec.securityContext.supplementalGroups", "group 50", nil},
		{"SELinux MustRunAs defaults and checks", "  seLinux: {rule: MustRunAs, seLinuxOptions: {level: 's0:c1,c2'}}\n",
			"spec: {containers: [{name: c, image: i, securityContext: {seLinuxOptions: {level: 's0:c3'}}}]}", "spec.containers[0].securityContext.seLinuxOptions.level", "must be s0:c1,c2", nil},
		{"SELinux categories in any order", "  seLinux: {rule: MustRunAs, seLinuxOptions: {level: 's0:c1,c2'}}\n",
			"spec: {containers: [{name: c, image: i, securityContext: {seLinuxOptions: {level: 's0:c2,c1'}}}]}", "", "", nil},
		{"capability not allowed", "", "spec: {containers: [{name: c, image: i, securityContext: {capabilities: {add: [SYS_ADMIN]}}}]}",
			"spec.containers[0].securityContext.capabilities.add", "capability may not be added", nil},
		{"capability allowed by star", "  allowedCapabilities: ['*']\n", "spec: {containers: [{name: c, image: i, securityContext: {capabilities: {add: [SYS_ADMIN]}}}]}", "", "", nil},
		{"required drop added", "  requiredDropCapabilities: [NET_RAW]\n", pausePod, "", "",
			func(t *testing.T, p *corev1.Pod) {
				if c := p.Spec.Containers[0].SecurityContext.Capabilities; c == nil || c.Drop[0] != "NET_RAW" {
					t.Fatal(c)
				}
			}},
		{"default add skipped when dropped", "  defaultAddCapabilities: [CHOWN]\n", "spec: {containers: [{name: c, image: i, securityContext: {capabilities: {drop: [CHOWN]}}}]}", "", "",
			func(t *testing.T, p *corev1.Pod) {
				if c := p.Spec.Containers[0].SecurityContext.Capabilities; len(c.Add) != 0 {
					t.Fatal(c)
				}
			}},
		{"host network", "", "spec: {hostNetwork: true, containers: [{name: c, image: i}]}", "spec.securityContext.hostNetwork", "Host network is not allowed to be used", nil},
		{"host PID", "", "spec: {hostPID: true, containers: [{name: c, image: i}]}", "spec.securityContext.hostPID", "", nil},
		{"host IPC allowed", "  hostIPC: true\n", "spec: {hostIPC: true, containers: [{name: c, image: i}]}", "", "", nil},
		{"host port outside ranges", "  hostPorts: [{min: 8000, max: 8080}, {min: 9000, max: 9000}]\n",
			"spec: {containers: [{name: c, image: i, ports: [{containerPort: 80, hostPort: 80}]}]}", "spec.containers[0].hostPort", "Allowed ports: [8000-8080,9000]", nil},
		{"volume type not allowed", "  volumes: [configMap]\n", "spec: {volumes: [{name: v, emptyDir: {}}], containers: [{name: c, image: i}]}", "spec.volumes[0]", "emptyDir volumes are not allowed to be used", nil},
		{"projected token with secret allowed", "  volumes: [secret]\n",
			"spec: {volumes: [{name: v, projected: {sources: [{serviceAccountToken: {path: token}}, {configMap: {name: kube-root-ca.crt}}]}}], containers: [{name: c, image: i}]}", "", "", nil},
		{"host path prefix", "  volumes: [hostPath]\n  allowedHostPaths: [{pathPrefix: /foo}]\n",
			"spec: {volumes: [{name: v, hostPath: {path: /fool}}], containers: [{name: c, image: i}]}", "spec.volumes[0].hostPath.pathPrefix", "is not allowed to be used", nil},
		{"host path under prefix", "  volumes: [hostPath]\n  allowedHostPaths: [{pathPrefix: /foo}]\n",
			"spec: {volumes: [{name: v, hostPath: {path: /foo/bar}}], containers: [{name: c, image: i}]}", "", "", nil},
		{"read-only host path mounted writable", "  volumes: [hostPath]\n  allowedHostPaths: [{pathPrefix: /foo, readOnly: true}]\n",
			"spec: {volumes: [{name: v, hostPath: {path: /foo}}], containers: [{name: c, image: i, volumeMounts: [{name: v, mountPath: /x}]}]}", "spec.containers[0].volumeMounts[0].readOnly", "must be read-only", nil},
		{"flex driver", "  volumes: [flexVolume]\n  allowedFlexVolumes: [{driver: example/lvm}]\n",
			"spec: {volumes: [{name: v, flexVolume: {driver: example/cifs}}], containers: [{name: c, image: i}]}", "spec.volumes[0].driver", "Flexvolume driver is not allowed", nil},
		{"csi driver", "  volumes: [csi]\n  allowedCSIDrivers: [{name: a.example.com}]\n",
			"spec: {volumes: [{name: v, csi: {driver: b.example.com}}], containers: [{name: c, image: i}]}", "spec.volumes[0].csi.driver", "Inline CSI driver", nil},
		{"read-only root filesystem defaulted", "  readOnlyRootFilesystem: true\n", pausePod, "", "",
			func(t *testing.T, p *corev1.Pod) {
				if !*p.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem {
					t.Fatal("not defaulted")
				}
			}},
		{"read-only root filesystem false", "  readOnlyRootFilesystem: true\n", "spec: {containers: [{name: c, image: i, securityContext: {readOnlyRootFilesystem: false}}]}",
			"spec.containers[0].securityContext.readOnlyRootFilesystem", "must be set to true", nil},
		{"privilege escalation forbidden", "  allowPrivilegeEscalation: false\n", "spec: {containers: [{name: c, image: i, securityContext: {allowPrivilegeEscalation: true}}]}",
			"spec.containers[0].securityContext.allowPrivilegeEscalation", "not allowed", nil},
		{"unsafe sysctl", "", "spec: {securityContext: {sysctls: [{name: kernel.msgmax, value: '1'}]}, containers: [{name: c, image: i}]}",
			"pod.spec.securityContext.sysctls[0]", `unsafe sysctl "kernel.msgmax" is not allowed`, nil},
		{"safe sysctl", "", "spec: {securityContext: {sysctls: [{name: net.ipv4.tcp_syncookies, value: '1'}]}, containers: [{name: c, image: i}]}", "", "", nil},
		{"forbidden safe sysctl", "  forbiddenSysctls: ['net.*']\n", "spec: {securityContext: {sysctls: [{name: net.ipv4.tcp_syncookies, value: '1'}]}, containers: [{name: c, image: i}]}",
			"pod.spec.securityContext.sysctls[0]", `sysctl "net.ipv4.tcp_syncookies" is not allowed`, nil},
		{"allowed unsafe pattern", "  allowedUnsafeSysctls: ['kernel.msg*']\n", "spec: {securityContext: {sysctls: [{name: kernel.msgmax, value: '1'}]}, containers: [{name: c, image: i}]}", "", "", nil},
		{"proc mount", "", "spec: {containers: [{name: c, image: i, securityContext: {procMount: Unmasked}}]}", "spec.containers[0].securityContext.procMount", "ProcMountType is not allowed", nil},
		{"init containers are checked", "", "spec: {initContainers: [{name: i, image: i, securityContext: {privileged: true}}], containers: [{name: c, image: i}]}",
			"spec.initContainers[0].securityContext.privileged", "", nil},
		{"ephemeral containers are checked", "", "spec: {ephemeralContainers: [{name: e, image: i, securityContext: {privileged: true}}], containers: [{name: c, image: i}]}",
			"spec.ephemeralContainers[0].securityContext.privileged", "", nil},
		{"runtime class", "  runtimeClass: {allowedRuntimeClassNames: [gvisor]}\n", "spec: {runtimeClassName: runc, containers: [{name: c, image: i}]}", "spec.runtimeClassName", "", nil},
		{"seccomp not allowed at all", "", "spec: {securityContext: {seccompProfile: {type: RuntimeDefault}}, containers: [{name: c, image: i}]}",
			"pod.metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]", "seccomp may not be set", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := engine(t, psp("p", mergeSpec(anyRules, tc.spec)), useAll)
			r := admit(t, e, pod(t, tc.pod))
			if tc.errAt == "" {
				if !r.Allowed {
					t.Fatalf("denied: %s", r.Message)
				}
				if tc.check != nil {
					tc.check(t, r.Pod)
				}
				return
			}
			if r.Allowed {
				t.Fatalf("admitted, want an error at %s", tc.errAt)
			}
			found := false
			for _, err := range r.Errors {
				found = found || (err.Field == tc.errAt && strings.Contains(err.Error(), tc.detail))
			}
			if !found {
				t.Fatalf("errors %v, want one at %s mentioning %q", r.Errors, tc.errAt, tc.detail)
			}
		})
	}
}

// mergeSpec overrides the top-level keys of base with those of override.
func mergeSpec(base, override string) string {
	keys := map[string]bool{}
	for _, l := range strings.Split(override, "\n") {
		if k, _, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "   ") {
			keys[k] = true
		}
	}
	var out []string
	for _, l := range strings.Split(base, "\n") {
		if k, _, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && keys[k] {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n") + override
}

func TestSeccompAndAppArmorAnnotations(t *testing.T) {
	spec := anyRules
	meta := "metadata:\n  name: p\n  annotations:\n    seccomp.security.alpha.kubernetes.io/allowedProfileNames: 'docker/default'\n    seccomp.security.alpha.kubernetes.io/defaultProfileName: 'runtime/default'\n    apparmor.security.beta.kubernetes.io/allowedProfileNames: 'runtime/default'\n"
	e := engine(t, "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\n"+meta+"spec:\n"+spec, useAll)
	r := admit(t, e, pod(t, pausePod))
	if r.Allowed || !strings.Contains(r.Message, "AppArmor profile must be set") {
		t.Fatalf("without an AppArmor default the pod needs a profile: %+v", r)
	}
	p := pod(t, pausePod)
	p.Annotations = map[string]string{"container.apparmor.security.beta.kubernetes.io/pause": "runtime/default"}
	r = admit(t, e, p)
	if !r.Allowed || r.Pod.Annotations["seccomp.security.alpha.kubernetes.io/pod"] != "runtime/default" {
		t.Fatalf("seccomp default (docker/default allows runtime/default): %+v", r)
	}
	p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}
	if r := admit(t, e, p); r.Allowed || !strings.Contains(r.Message, "unconfined is not an allowed seccomp profile") {
		t.Fatalf("unconfined: %+v", r)
	}
}

func TestFieldRootForWorkloads(t *testing.T) {
	e := engine(t, psp("p", anyRules), useAll)
	r := e.Admit(context.Background(), Attributes{Operation: "CREATE", Namespace: "ns", User: alice, FieldRoot: field.NewPath("spec", "template"),
		Pod: pod(t, "spec: {securityContext: {sysctls: [{name: kernel.msgmax, value: '1'}]}, containers: [{name: c, image: i, securityContext: {privileged: true}}]}")})
	var fields []string
	for _, err := range r.Errors {
		fields = append(fields, err.Field)
	}
	got := strings.Join(fields, ",")
	if got != "spec.template.spec.securityContext.sysctls[0],spec.template.spec.containers[0].securityContext.privileged" {
		t.Fatalf("fields = %s", got)
	}
}

func TestNewEngine(t *testing.T) {
	s := loadSet(t, psp("p", anyRules), useAll)
	if _, err := NewEngine(append(s.PodSecurityPolicies, s.PodSecurityPolicies...), rbac.New(s)); err == nil {
		t.Fatal("duplicate policy accepted")
	}
	if _, err := NewEngine(s.PodSecurityPolicies, nil); err == nil {
		t.Fatal("nil authorizer accepted")
	}
	e, _ := NewEngine(nil, rbac.New(s))
	if r := admit(t, e, pod(t, pausePod)); r.Allowed || r.Message != MessageNoProviders {
		t.Fatalf("no policies: %+v", r)
	}
	if r := e.Admit(context.Background(), Attributes{Operation: "CREATE"}); r.Allowed {
		t.Fatal("admitted nothing")
	}
	var _ = v1alpha1.PodAnnotation
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// The shortcut that refuses a policy before copying and defaulting the pod
// fires for each kind of value defaulting keeps, agrees with the full
// evaluation, and stays silent when defaulting makes the pod pass.
func TestRefusesUnchanged(t *testing.T) {
	const base = "  seLinux: {rule: RunAsAny}\n  supplementalGroups: {rule: MustRunAs, ranges: [{min: 100, max: 200}]}\n  fsGroup: {rule: MustRunAs, ranges: [{min: 100, max: 200}]}\n  runAsUser: {rule: MustRunAs, ranges: [{min: 1000, max: 2000}]}\n  runAsGroup: {rule: MustRunAs, ranges: [{min: 1000, max: 2000}]}\n  volumes: ['*']\n  readOnlyRootFilesystem: true\n  allowPrivilegeEscalation: false\n  allowedCapabilities: [NET_BIND_SERVICE]\n"
	e := engine(t, psp("p", base))
	p := e.providers[0]
	for _, tc := range []struct {
		name, pod string
		refused   bool
	}{
		{"defaults make it pass", "spec: {containers: [{name: c, image: i}]}", false},
		{"allowed values set", "spec: {securityContext: {runAsUser: 1500, fsGroup: 150}, containers: [{name: c, image: i, securityContext: {capabilities: {add: [NET_BIND_SERVICE]}}}]}", false},
		{"pod runAsUser", "spec: {securityContext: {runAsUser: 10}, containers: [{name: c, image: i}]}", true},
		{"container runAsUser", "spec: {containers: [{name: c, image: i, securityContext: {runAsUser: 10}}]}", true},
		{"runAsGroup", "spec: {containers: [{name: c, image: i, securityContext: {runAsGroup: 10}}]}", true},
		{"fsGroup", "spec: {securityContext: {fsGroup: 10}, containers: [{name: c, image: i}]}", true},
		{"supplementalGroups", "spec: {securityContext: {supplementalGroups: [150, 10]}, containers: [{name: c, image: i}]}", true},
		{"capability add", "spec: {containers: [{name: c, image: i, securityContext: {capabilities: {add: [SYS_ADMIN]}}}]}", true},
		{"readOnlyRootFilesystem false", "spec: {containers: [{name: c, image: i, securityContext: {readOnlyRootFilesystem: false}}]}", true},
		{"allowPrivilegeEscalation true", "spec: {containers: [{name: c, image: i, securityContext: {allowPrivilegeEscalation: true}}]}", true},
		{"seccomp not allowed", "spec: {securityContext: {seccompProfile: {type: Unconfined}}, containers: [{name: c, image: i}]}", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pd := pod(t, tc.pod)
			if got := p.refusesUnchanged(pd); got != tc.refused {
				t.Fatalf("refusesUnchanged = %v, want %v", got, tc.refused)
			}
			m := mutableCopy(pd)
			p.mutate(m)
			if errs := p.validate(m); (len(errs) > 0) != tc.refused {
				t.Fatalf("full evaluation disagrees: %v", errs)
			}
		})
	}
}

// Narrowing selection with the rule resolver decides exactly as asking the
// authorizer for every policy, whatever the grants.
func TestRuleResolverSameDecisions(t *testing.T) {
	policies := []string{
		psp("a-mutating", "  defaultAddCapabilities: [NET_ADMIN]\n  allowedCapabilities: [NET_ADMIN]\n"+anyRules),
		psp("b-plain", anyRules),
		psp("c-privileged", "  privileged: true\n"+anyRules),
		psp("d-strict", "  requiredDropCapabilities: [ALL]\n"+strings.Replace(anyRules, "volumes: ['*']", "volumes: [configMap]", 1)),
	}
	grants := map[string]string{
		"nothing":           "",
		"all, cluster-wide": useAll,
		"by name in the namespace": `kind: Role
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: r, namespace: ns}
rules: [{apiGroups: [kguard.io], resources: [podsecuritypolicies], verbs: [use], resourceNames: [d-strict, c-privileged]}]
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: r, namespace: ns}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: Role, name: r, apiGroup: rbac.authorization.k8s.io}`,
		"by name to the ServiceAccount, in another namespace too": `kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: r}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["use"], resourceNames: [a-mutating]}]
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: r, namespace: ns}
subjects: [{kind: ServiceAccount, name: default, namespace: ns}]
roleRef: {kind: ClusterRole, name: r, apiGroup: rbac.authorization.k8s.io}
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: r, namespace: other}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: r, apiGroup: rbac.authorization.k8s.io}`,
		"wildcard verbs in a group": `kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: r}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: ["*"]}]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: r}
subjects: [{kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: r, apiGroup: rbac.authorization.k8s.io}`,
	}
	pods := []string{pausePod,
		"metadata: {name: p}\nspec: {containers: [{name: c, image: i, securityContext: {privileged: true}}]}",
		"metadata: {name: p}\nspec: {volumes: [{name: v, emptyDir: {}}], containers: [{name: c, image: i}]}",
		"metadata: {name: p}\nspec: {containers: [{name: c, image: i, securityContext: {capabilities: {drop: [ALL]}}}]}"}
	for name, grant := range grants {
		t.Run(name, func(t *testing.T) {
			docs := append([]string(nil), policies...)
			if grant != "" {
				docs = append(docs, grant)
			}
			s := loadSet(t, docs...)
			authz := rbac.New(s)
			plain, err := NewEngine(s.PodSecurityPolicies, authz)
			if err != nil {
				t.Fatal(err)
			}
			narrowed := plain.WithRuleResolver(authz)
			for i, y := range pods {
				for _, op := range []string{"CREATE", "UPDATE"} {
					a := Attributes{Operation: op, Pod: pod(t, y), Namespace: "ns", User: alice}
					if op == "UPDATE" {
						a.OldPod = pod(t, y)
						a.OldPod.Labels = map[string]string{"v": "1"}
					}
					want, got := plain.Admit(context.Background(), a), narrowed.Admit(context.Background(), a)
					if want.Allowed != got.Allowed || want.Policy != got.Policy || want.Message != got.Message {
						t.Fatalf("pod %d %s: narrowed %+v, plain %+v", i, op, got, want)
					}
				}
			}
		})
	}
}

// A request whose context has ended is denied, never admitted: the policy walk
// stops at the caller's deadline.
func TestAdmitHonoursContext(t *testing.T) {
	e := engine(t, psp("open", "  privileged: true\n"+anyRules), useAll)
	if r := admit(t, e, pod(t, pausePod)); !r.Allowed {
		t.Fatalf("the open policy does not admit the pause pod: %+v", r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := e.Admit(ctx, Attributes{Operation: "CREATE", Pod: pod(t, pausePod), Namespace: "ns", User: alice})
	if r.Allowed || !strings.Contains(r.Message, "context canceled") {
		t.Fatalf("after cancel: %+v; want denied with the context's error", r)
	}
}

// A mirror pod has no ServiceAccount (the ServiceAccount admission plugin
// skips it): a grant to the namespace's default ServiceAccount does not let
// it use a policy, as in v1.24; an ordinary pod without a name gets
// "default", and the grant. Found by test/upstream124's differential test.
func TestMirrorPodHasNoServiceAccount(t *testing.T) {
	grant := `kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: default-sa, namespace: ns}
roleRef: {kind: ClusterRole, name: use-all, apiGroup: rbac.authorization.k8s.io}
subjects: [{kind: ServiceAccount, name: default, namespace: ns}]
---
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: use-all}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use]}]`
	e := engine(t, psp("any", anyRules), grant)
	bob := &user.DefaultInfo{Name: "bob", Groups: []string{"system:authenticated"}}
	for _, narrowed := range []bool{false, true} {
		e := e
		if narrowed {
			e = e.WithRuleResolver(rbac.New(loadSet(t, psp("any", anyRules), grant)))
		}
		plain := pod(t, pausePod)
		if r := e.Admit(context.Background(), Attributes{Operation: "CREATE", Pod: plain, Namespace: "ns", User: bob}); !r.Allowed || r.Policy != "any" {
			t.Errorf("narrowed=%v: a pod without ServiceAccount name is the default one's: %+v", narrowed, r)
		}
		mirror := pod(t, "metadata: {name: pause, annotations: {kubernetes.io/config.mirror: x}}\nspec: {containers: [{name: pause, image: k8s.gcr.io/pause}]}")
		if r := e.Admit(context.Background(), Attributes{Operation: "CREATE", Pod: mirror, Namespace: "ns", User: bob}); r.Allowed || r.Message != MessageNoProviders {
			t.Errorf("narrowed=%v: a mirror pod got the default ServiceAccount's grant: %+v", narrowed, r)
		}
	}
}

// ShareUnchanged returns the request's own pod when the policy leaves it as
// it is and sets no annotation; Owned, whenever the policy leaves it as it
// is; otherwise the result is always a copy.
func TestShareUnchanged(t *testing.T) {
	e := engine(t, psp("b-plain", anyRules), useAll)
	for _, tc := range []struct {
		name      string
		a         Attributes
		wantShare bool
	}{
		{"validating pass, shared", Attributes{Operation: "CREATE", Validate: true, ShareUnchanged: true}, true},
		{"validating pass, not asked", Attributes{Operation: "CREATE", Validate: true}, false},
		{"create sets the annotation", Attributes{Operation: "CREATE", ShareUnchanged: true}, false},
		{"owned: annotated in place", Attributes{Operation: "CREATE", Owned: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.a
			a.Pod, a.Namespace, a.User = pod(t, pausePod), "ns", alice
			r := e.Admit(context.Background(), a)
			if !r.Allowed {
				t.Fatalf("denied: %+v", r)
			}
			if shared := r.Pod == a.Pod; shared != tc.wantShare {
				t.Fatalf("result shares the request's pod: %v, want %v", shared, tc.wantShare)
			}
			if !tc.wantShare && a.Pod.Annotations[v1alpha1.PodAnnotation] != "" {
				t.Fatalf("the request's pod was annotated: %v", a.Pod.Annotations)
			}
		})
	}
}
