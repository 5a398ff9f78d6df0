package denyescalatingexec_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kguard/kguard/internal/admission"
	"github.com/kguard/kguard/internal/admission/denyescalatingexec"
	"github.com/kguard/kguard/internal/admission/podsecurity"
	"github.com/kguard/kguard/internal/policy"
)

// pods is a PodGetter over a map, counting its reads.
type pods struct {
	byName map[string]*corev1.Pod // namespace/name
	err    error
	reads  int
}

func (p *pods) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	p.reads++
	if p.err != nil {
		return nil, p.err
	}
	pod, ok := p.byName[namespace+"/"+name]
	if !ok {
		return nil, apierrors.NewNotFound(corev1.Resource("pods"), name)
	}
	return pod, nil
}

func yes() *bool { return new(true) }

// pod is a plain pod "web" in "shop", changed by tweak.
func pod(tweak func(*corev1.PodSpec)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
	if tweak != nil {
		tweak(&p.Spec)
	}
	return p
}

func chain(t *testing.T, getter admission.PodGetter, names ...string) *admission.Chain {
	t.Helper()
	c, err := admission.NewChain(names, admission.Inputs{Policies: &policy.Set{}, Pods: getter}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// connectReview is an AdmissionReview of a CONNECT to pods/<sub> of shop/web.
func connectReview(group, resource, sub string) []byte {
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",` +
		`"kind":{"group":"","version":"v1","kind":"PodExecOptions"},"resource":{"group":"` + group + `","version":"v1","resource":"` + resource + `"},"subResource":"` + sub + `",` +
		`"name":"web","namespace":"shop","operation":"CONNECT","userInfo":{"username":"alice"},` +
		`"object":{"apiVersion":"v1","kind":"PodExecOptions","stdin":true,"tty":true,"container":"app","command":["sh"]}}}`)
}

func review(t *testing.T, c *admission.Chain, body []byte, phase admission.Phase) *admissionv1.AdmissionResponse {
	t.Helper()
	out, err := c.Review(context.Background(), body, phase)
	if err != nil {
		t.Fatal(err)
	}
	var r admissionv1.AdmissionReview
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	return r.Response
}

// Each way a pod escalates refuses exec and attach with upstream's message;
// a pod that escalates several ways gets upstream's first.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(*corev1.PodSpec)
		want  string
	}{
		{"plain pod", nil, ""},
		{"privileged false", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: new(false)}
		}, ""},
		{"privileged container", func(s *corev1.PodSpec) {
			s.Containers = append(s.Containers, corev1.Container{Name: "b", SecurityContext: &corev1.SecurityContext{Privileged: yes()}})
		}, "cannot exec into or attach to a privileged container"},
		{"privileged init container", func(s *corev1.PodSpec) {
			s.InitContainers = []corev1.Container{{Name: "init", SecurityContext: &corev1.SecurityContext{Privileged: yes()}}}
		}, "cannot exec into or attach to a privileged container"},
		{"privileged ephemeral container", func(s *corev1.PodSpec) {
			s.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debugger", SecurityContext: &corev1.SecurityContext{Privileged: yes()}}}}
		}, "cannot exec into or attach to a privileged container"},
		{"host pid", func(s *corev1.PodSpec) { s.HostPID = true }, "cannot exec into or attach to a container using host pid"},
		{"host ipc", func(s *corev1.PodSpec) { s.HostIPC = true }, "cannot exec into or attach to a container using host ipc"},
		{"host network", func(s *corev1.PodSpec) { s.HostNetwork = true }, "cannot exec into or attach to a container using host network"},
		{"all of them: host network first", func(s *corev1.PodSpec) {
			s.HostNetwork, s.HostPID, s.HostIPC = true, true, true
			s.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: yes()}
		}, "cannot exec into or attach to a container using host network"},
		{"host pid before privileged", func(s *corev1.PodSpec) {
			s.HostPID = true
			s.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: yes()}
		}, "cannot exec into or attach to a container using host pid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := denyescalatingexec.Check(&pod(tc.tweak).Spec); got != tc.want {
				t.Errorf("Check = %q, want %q", got, tc.want)
			}
		})
	}
}

// Through the webhook: a CONNECT to pods/exec or pods/attach is judged in the
// validating pass only, with the API server's wording; other CONNECTs and
// other resources pass without a read.
func TestReviewConnect(t *testing.T) {
	privileged := pod(func(s *corev1.PodSpec) { s.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: yes()} })
	for _, tc := range []struct {
		name      string
		pod       *corev1.Pod
		resource  string
		sub       string
		phase     admission.Phase
		want      string // "" allowed
		wantReads int
	}{
		{"exec into a privileged pod", privileged, "pods", "exec", admission.PhaseValidate,
			`pods "web" is forbidden: cannot exec into or attach to a privileged container`, 1},
		{"attach to a privileged pod", privileged, "pods", "attach", admission.PhaseValidate,
			`pods "web" is forbidden: cannot exec into or attach to a privileged container`, 1},
		{"offline both phases", privileged, "pods", "exec", admission.PhaseBoth,
			`pods "web" is forbidden: cannot exec into or attach to a privileged container`, 1},
		{"exec into a plain pod", pod(nil), "pods", "exec", admission.PhaseValidate, "", 1},
		{"mutating pass", privileged, "pods", "exec", admission.PhaseMutate, "", 0},
		{"port-forward", privileged, "pods", "portforward", admission.PhaseValidate, "", 0},
		{"proxy", privileged, "pods", "proxy", admission.PhaseValidate, "", 0},
		{"another resource", privileged, "services", "proxy", admission.PhaseValidate, "", 0},
		{"the pod is gone", nil, "pods", "exec", admission.PhaseValidate,
			`pods "web" is forbidden: DenyEscalatingExec cannot check the pod: pods "web" not found`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getter := &pods{byName: map[string]*corev1.Pod{}}
			if tc.pod != nil {
				getter.byName["shop/web"] = tc.pod
			}
			// PodSecurity first: it has no part in a CONNECT.
			c := chain(t, getter, podsecurity.PluginName, denyescalatingexec.PluginName)
			resp := review(t, c, connectReview("", tc.resource, tc.sub), tc.phase)
			if resp.UID != "u1" {
				t.Errorf("uid %q", resp.UID)
			}
			switch {
			case tc.want == "" && !resp.Allowed:
				t.Errorf("denied: %+v", resp.Result)
			case tc.want != "" && (resp.Allowed || resp.Result == nil || resp.Result.Message != tc.want || resp.Result.Code != 403):
				t.Errorf("answer %+v, want 403 %q", resp.Result, tc.want)
			}
			if getter.reads != tc.wantReads {
				t.Errorf("%d pod reads, want %d", getter.reads, tc.wantReads)
			}
		})
	}
}

// The pod cannot be read: refused, saying why (fail closed).
func TestUnreadablePodIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		getter admission.PodGetter
		want   string
	}{
		{"no pod reader (offline)", nil, "DenyEscalatingExec cannot check the pod: no live pod reader"},
		{"API error", &pods{err: errors.New("connection refused")}, "DenyEscalatingExec cannot check the pod: connection refused"},
		{"timeout", &pods{err: context.DeadlineExceeded}, "DenyEscalatingExec cannot check the pod: context deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := chain(t, tc.getter, denyescalatingexec.PluginName)
			resp := review(t, c, connectReview("", "pods", "exec"), admission.PhaseValidate)
			if resp.Allowed || resp.Result == nil || !strings.Contains(resp.Result.Message, tc.want) {
				t.Errorf("answer %+v, want a denial containing %q", resp.Result, tc.want)
			}
		})
	}
}

// The plugin has no say in the admission of pods: a privileged pod is
// created, and `kguard check` (no CONNECT offline) is unchanged by it.
func TestPodAdmissionUnaffected(t *testing.T) {
	getter := &pods{}
	c := chain(t, getter, denyescalatingexec.PluginName)
	body := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",` +
		`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},` +
		`"name":"web","namespace":"shop","operation":"CREATE","userInfo":{"username":"alice"},` +
		`"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop"},"spec":{"hostPID":true,"containers":[{"name":"app","image":"app","securityContext":{"privileged":true}}]}}}}`)
	for _, phase := range []admission.Phase{admission.PhaseMutate, admission.PhaseValidate, admission.PhaseBoth} {
		if resp := review(t, c, body, phase); !resp.Allowed {
			t.Errorf("phase %d: denied %+v", phase, resp.Result)
		}
	}
	if getter.reads != 0 {
		t.Errorf("%d pod reads for a pod's creation", getter.reads)
	}
}

// The plugin takes no configuration.
func TestRefusesConfiguration(t *testing.T) {
	_, err := admission.NewChain([]string{denyescalatingexec.PluginName}, admission.Inputs{Policies: &policy.Set{}},
		map[string]any{denyescalatingexec.PluginName: "x"})
	if err == nil || !strings.Contains(err.Error(), "takes no configuration") {
		t.Errorf("error %v", err)
	}
}
