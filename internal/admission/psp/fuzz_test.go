package psp

import (
	"context"
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/kguard/kguard/internal/authz/rbac"
	"github.com/kguard/kguard/internal/policy"
)

// FuzzAdmit runs random pods through the seed's example, privileged and
// restricted policies: never a panic, and an admitted pod passes its policy
// again unchanged (what the validating phase checks).
func FuzzAdmit(f *testing.F) {
	for _, s := range []string{
		`{"spec":{"containers":[{"name":"c","image":"i"}]}}`,
		`{"spec":{"hostNetwork":true,"containers":[{"name":"c","image":"i","securityContext":{"privileged":true,"capabilities":{"add":["SYS_ADMIN"]}}}]}}`,
		`{"spec":{"securityContext":{"seccompProfile":{"type":"RuntimeDefault"},"fsGroup":0},"volumes":[{"name":"v","hostPath":{"path":"/"}}],"containers":[{"name":"c","image":"i","volumeMounts":[{"name":"v","mountPath":"/x"}]}]}}`,
		`{"metadata":{"annotations":{"seccomp.security.alpha.kubernetes.io/pod":"unconfined"}},"spec":{"initContainers":[{"name":"i"}],"ephemeralContainers":[{"name":"e"}]}}`,
		`{"spec":{"securityContext":{"sysctls":[{"name":"kernel.msgmax","value":"1"}]},"containers":[{"name":"c","ports":[{"containerPort":1,"hostPort":80}]}]}}`,
	} {
		f.Add([]byte(s))
	}
	set, err := policy.Load([]string{"testdata/policies"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	all := loadSetForFuzz(f)
	e, err := NewEngine(set.PodSecurityPolicies, rbac.New(all))
	if err != nil {
		f.Fatal(err)
	}
	narrowed := e.WithRuleResolver(rbac.New(all))
	u := &user.DefaultInfo{Name: "alice", Groups: []string{"system:authenticated"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		var pod corev1.Pod
		if json.Unmarshal(data, &pod) != nil {
			return
		}
		// The quick check and the full validation agree on every policy.
		for _, p := range e.providers {
			m := mutableCopy(&pod)
			p.mutate(m)
			if quick, errs := p.admits(m), p.validate(m); quick != (len(errs) == 0) {
				t.Fatalf("policy %s: admits=%v but validate=%v", p.psp.Name, quick, errs)
			}
			if p.refusesUnchanged(&pod) && p.admits(m) {
				t.Fatalf("policy %s: the shortcut refuses a pod the policy admits", p.psp.Name)
			}
		}
		before, _ := json.Marshal(&pod)
		r := e.Admit(context.Background(), Attributes{Operation: "CREATE", Pod: &pod, Namespace: "ns", User: u})
		if n := narrowed.Admit(context.Background(), Attributes{Operation: "CREATE", Pod: &pod, Namespace: "ns", User: u}); n.Allowed != r.Allowed || n.Policy != r.Policy || n.Message != r.Message {
			t.Fatalf("the rule resolver changed the decision: %+v, without it %+v", n, r)
		}
		if after, _ := json.Marshal(&pod); string(before) != string(after) {
			t.Fatalf("Admit modified the request's pod:\n%s\n%s", before, after)
		}
		// A pod given up (Owned) gets the same decision and result.
		owned := e.Admit(context.Background(), Attributes{Operation: "CREATE", Pod: pod.DeepCopy(), Namespace: "ns", User: u, Owned: true})
		if a, b := mustJSON(t, owned), mustJSON(t, r); a != b {
			t.Fatalf("owned:\n%s\nnot owned:\n%s", a, b)
		}
		if !r.Allowed {
			if r.Message == "" || r.Pod != nil {
				t.Fatalf("a denial must say why and carry no pod: %+v", r)
			}
			return
		}
		again := e.Admit(context.Background(), Attributes{Operation: "UPDATE", Pod: r.Pod, Namespace: "ns", User: u})
		if !again.Allowed {
			t.Fatalf("admitted pod fails re-validation: %s", again.Message)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func loadSetForFuzz(f *testing.F) *policy.Set {
	f.Helper()
	s, err := policy.Load([]string{"-"}, stringsReader(useAll))
	if err != nil {
		f.Fatal(err)
	}
	return s
}
