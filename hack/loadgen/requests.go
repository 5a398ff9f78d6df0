package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Endpoints the load calls.
const (
	epAuthorize = "/authorize"
	epMutate    = "/mutate"
	epValidate  = "/validate"
)

// uidPlaceholder is replaced in each AdmissionReview by a unique uid of the same length.
const uidPlaceholder = "00000000-0000-4000-8000-000000000000"

// reqCase is one prepared request: its body (split around the uid for
// admission) and the decision the generated world implies.
type reqCase struct {
	endpoint string
	name     string // the kind of case, for the report
	prefix   []byte // body up to the uid (admission), or the whole body (SAR)
	suffix   []byte // body after the uid (admission)
	allowed  bool
	pins     []string // image mode, /mutate: the image each container must be pinned to
}

func uid(seq uint64) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", seq) }

// body builds the request body for sequence number seq into buf.
func (c *reqCase) body(buf *bytes.Buffer, seq uint64) string {
	buf.Reset()
	buf.Write(c.prefix)
	if c.suffix == nil {
		return ""
	}
	u := uid(seq)
	buf.WriteString(u)
	buf.Write(c.suffix)
	return u
}

// sarCase: (user, groups) asking verb on group/resource in namespace.
func sarCase(name, user string, groups []string, verb, group, resource, namespace string, allowed bool) reqCase {
	r := authorizationv1.SubjectAccessReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SubjectAccessReview"},
		Spec: authorizationv1.SubjectAccessReviewSpec{User: user, Groups: groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Version: "v1", Resource: resource, Namespace: namespace}},
	}
	b, err := json.Marshal(&r)
	if err != nil {
		panic(err)
	}
	return reqCase{endpoint: epAuthorize, name: name, prefix: b, allowed: allowed}
}

var authenticated = "system:authenticated"

// sarCases are the authorization requests about namespace n.
func (w *world) sarCases(n int) []reqCase {
	other := (n + numNamespaces/2) % numNamespaces
	member := fmt.Sprintf("member-%04d", n)
	sa := fmt.Sprintf("system:serviceaccount:%s:ci", ns(n))
	return []reqCase{
		sarCase("admin-deletes-pods", adminUser(n), []string{team(n), authenticated}, "delete", "", "pods", ns(n), true),
		sarCase("dev-creates-deployments", devUser(n), []string{team(n), authenticated}, "create", "apps", "deployments", ns(n), true),
		sarCase("team-lists-pods", member, []string{team(n), authenticated}, "list", "", "pods", ns(n), true),
		sarCase("team-lists-namespaces", member, []string{team(n), authenticated}, "list", "", "namespaces", "", true),
		sarCase("ci-creates-pods", sa, []string{"system:serviceaccounts", saGroup(n), authenticated}, "create", "", "pods", ns(n), true),
		sarCase("dev-creates-rolebindings", devUser(n), []string{team(n), authenticated}, "create", "rbac.authorization.k8s.io", "rolebindings", ns(n), false),
		sarCase("admin-reads-other-namespace", adminUser(n), []string{team(n), authenticated}, "get", "", "pods", ns(other), false),
		sarCase("dev-lists-namespaces", devUser(n), []string{authenticated}, "list", "", "namespaces", "", false),
		sarCase("stranger-reads-secrets", fmt.Sprintf("mallory-%04d", n), []string{authenticated}, "get", "", "secrets", ns(n), false),
	}
}

// The load's pods.
func webPod(n int, annotations map[string]string) *corev1.Pod {
	p := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%04d", n), Namespace: ns(n), Labels: map[string]string{"app": "web"}, Annotations: annotations},
		Spec: corev1.PodSpec{
			ServiceAccountName: "default",
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(1000)), FSGroup: ptr(int64(2000)),
				SupplementalGroups: []int64{2000}, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{
				webContainer("app", "registry.example/web:1.4.2", 8080),
				webContainer("metrics", "registry.example/exporter:0.9", 9090),
			},
			Volumes: []corev1.Volume{
				{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web"}}}},
			},
		},
	}
	return p
}

func webContainer(name, image string, port int32) corev1.Container {
	return corev1.Container{Name: name, Image: image,
		Ports: []corev1.ContainerPort{{ContainerPort: port, Protocol: corev1.ProtocolTCP}},
		SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true),
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
		VolumeMounts: []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}, {Name: "config", MountPath: "/etc/web"}}}
}

// plainPod is the web pod without any security settings; nonRoot adds what
// baseline-defaults sets (runAsNonRoot in every container), as after /mutate.
func plainPod(n int, nonRoot bool, annotations map[string]string) *corev1.Pod {
	p := webPod(n, annotations)
	p.Name = fmt.Sprintf("plain-%04d", n)
	p.Spec.SecurityContext = nil
	for i := range p.Spec.Containers {
		p.Spec.Containers[i].SecurityContext = nil
		if nonRoot {
			p.Spec.Containers[i].SecurityContext = &corev1.SecurityContext{RunAsNonRoot: ptr(true)}
		}
	}
	return p
}

func privilegedPod(n int) *corev1.Pod {
	p := webPod(n, nil)
	p.Name = fmt.Sprintf("debug-%04d", n)
	p.Spec.SecurityContext = nil
	p.Spec.HostNetwork, p.Spec.HostPID = true, true
	p.Spec.Containers = p.Spec.Containers[:1]
	p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr(true)}
	p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "host", MountPath: "/host"}}
	p.Spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
	return p
}

func admissionCase(endpoint, name string, n int, pod *corev1.Pod, allowed bool) reqCase {
	raw, err := json.Marshal(pod)
	if err != nil {
		panic(err)
	}
	r := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       uidPlaceholder,
			Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Name:      pod.Name,
			Namespace: ns(n),
			Operation: admissionv1.Create,
			UserInfo:  authenticationv1.UserInfo{Username: devUser(n), UID: fmt.Sprintf("uid-%04d", 2*n+1), Groups: []string{team(n), authenticated}},
			Object:    runtime.RawExtension{Raw: raw},
			DryRun:    ptr(false),
			Options:   runtime.RawExtension{Raw: []byte(`{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions"}`)},
		},
	}
	b, err := json.Marshal(&r)
	if err != nil {
		panic(err)
	}
	prefix, suffix, ok := bytes.Cut(b, []byte(uidPlaceholder))
	if !ok {
		panic("uid placeholder not found")
	}
	return reqCase{endpoint: endpoint, name: name, prefix: prefix, suffix: suffix, allowed: allowed}
}

// mayUseTenantFlavour reports whether namespace n's team policies include a
// tenant policy of the given flavour.
func (w *world) mayUseTenantFlavour(n, flavour int) bool {
	for _, t := range w.pspGroups[w.pspGroup[n]] {
		if t%5 == flavour {
			return true
		}
	}
	return false
}

// admissionCases are the pod admissions the developer of namespace n asks for.
func (w *world) admissionCases(endpoint string, n int) []reqCase {
	pspAnn := func(name string) map[string]string { return map[string]string{"kubernetes.io/psp": name} }
	if endpoint == epMutate {
		return []reqCase{
			// restricted admits it (through the namespace's ServiceAccounts;
			// it adds the seccomp annotation), else a flavour-4 tenant policy
			// of the team's.
			admissionCase(endpoint, "web-pod", n, webPod(n, nil), w.defaultPSP[n] || w.mayUseTenantFlavour(n, 4)),
			// baseline-defaults (every team) admits it with runAsNonRoot.
			admissionCase(endpoint, "plain-pod", n, plainPod(n, false, nil), true),
			admissionCase(endpoint, "privileged-pod", n, privilegedPod(n), false),
		}
	}
	return []reqCase{
		// As /mutate leaves it: the policy's name, and the seccomp profile
		// of the pod's field copied into the annotation, as in Kubernetes 1.24.
		admissionCase(endpoint, "web-pod", n, webPod(n, map[string]string{"kubernetes.io/psp": "restricted",
			"seccomp.security.alpha.kubernetes.io/pod": "runtime/default"}), w.defaultPSP[n]),
		// Admitted by baseline-defaults; Pod Security restricted refuses it.
		admissionCase(endpoint, "baseline-pod", n, plainPod(n, true, pspAnn("baseline-defaults")), w.enforce[n] != "restricted"),
		admissionCase(endpoint, "privileged-pod", n, privilegedPod(n), false),
	}
}

// mix is the share of each endpoint, in percent.
type mix struct{ authorize, mutate, validate int }

// pool prepares size requests: endpoints by mix, namespaces and cases uniformly.
func (w *world) pool(r *rand.Rand, m mix, size int) []reqCase {
	out := make([]reqCase, 0, size)
	total := m.authorize + m.mutate + m.validate
	for range size {
		n := r.IntN(numNamespaces)
		var cases []reqCase
		switch p := r.IntN(total); {
		case p < m.authorize:
			cases = w.sarCases(n)
		case p < m.authorize+m.mutate:
			cases = w.admissionCases(epMutate, n)
		default:
			cases = w.admissionCases(epValidate, n)
		}
		out = append(out, cases[r.IntN(len(cases))])
	}
	return out
}
