package authz

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	authorizationv1beta1 "k8s.io/api/authorization/v1beta1"

	"github.com/kguard/kguard/internal/policy"
)

func chain(t *testing.T) *Chain {
	t.Helper()
	s := objects(t)
	c, err := New(Config{Modes: []string{"RBAC", "ABAC"}, ABACFile: abacFile, Objects: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReview(t *testing.T) {
	c := chain(t)
	cases := []struct {
		name    string
		body    string
		version string
		allowed bool
		reason  string
	}{
		{"v1 resource allowed", `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"jane","resourceAttributes":{"namespace":"default","verb":"get","resource":"pods"}}}`,
			"authorization.k8s.io/v1", true, `RoleBinding "read-pods/default"`},
		{"v1 resource not allowed", `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"jane","resourceAttributes":{"namespace":"default","verb":"delete","resource":"pods"}}}`,
			"authorization.k8s.io/v1", false, "not found"},
		{"v1beta1 group field", `{"apiVersion":"authorization.k8s.io/v1beta1","kind":"SubjectAccessReview","spec":{"user":"x","group":["manager"],"resourceAttributes":{"namespace":"ns","verb":"list","resource":"secrets"}}}`,
			"authorization.k8s.io/v1beta1", true, `to Group "manager"`},
		{"non-resource", `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"system:anonymous","groups":["system:unauthenticated"],"nonResourceAttributes":{"path":"/healthz","verb":"get"}}}`,
			"authorization.k8s.io/v1", true, "healthz-everyone"},
		{"ABAC in the chain", `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"bob","resourceAttributes":{"namespace":"projectCaribou","verb":"watch","resource":"pods"}}}`,
			"authorization.k8s.io/v1", true, "ABAC"},
		{"groups only", `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"groups":["manager"],"resourceAttributes":{"verb":"get","resource":"secrets","namespace":"a"}}}`,
			"authorization.k8s.io/v1", true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Review(context.Background(), c.Authorizer, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			var sar authorizationv1.SubjectAccessReview
			if err := json.Unmarshal(out, &sar); err != nil {
				t.Fatal(err)
			}
			if sar.APIVersion != tc.version || sar.Kind != "SubjectAccessReview" {
				t.Fatalf("answered as %s %s", sar.APIVersion, sar.Kind)
			}
			if sar.Status.Allowed != tc.allowed || sar.Status.Denied {
				t.Fatalf("status = %+v, want allowed=%v", sar.Status, tc.allowed)
			}
			if !strings.Contains(sar.Status.Reason, tc.reason) {
				t.Fatalf("reason %q lacks %q", sar.Status.Reason, tc.reason)
			}
			if tc.version == "authorization.k8s.io/v1beta1" && !strings.Contains(string(out), `"group":["manager"]`) {
				t.Fatalf("v1beta1 answer lost the group field: %s", out)
			}
		})
	}
}

func TestReviewSelectors(t *testing.T) {
	body := `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"jane","resourceAttributes":{"namespace":"default","verb":"list","resource":"pods",
	"labelSelector":{"rawSelector":"a in (b"},"fieldSelector":{"requirements":[{"key":"spec.nodeName","operator":"In","values":["n1"]}]}}}}`
	out, err := Review(context.Background(), chain(t).Authorizer, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var sar authorizationv1.SubjectAccessReview
	_ = json.Unmarshal(out, &sar)
	if !sar.Status.Allowed || sar.Status.EvaluationError != "spec.resourceAttributes.labelSelector ignored due to parse error" {
		t.Fatalf("status = %+v", sar.Status)
	}
}

func TestReviewRejectsMalformed(t *testing.T) {
	c := chain(t)
	cases := []struct{ name, body, want string }{
		{"not json", `{"apiVersion":`, "malformed JSON"},
		{"wrong kind", `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}`, `kind "SelfSubjectAccessReview"`},
		{"wrong version", `{"apiVersion":"authorization.k8s.io/v2","kind":"SubjectAccessReview","spec":{}}`, `apiVersion "authorization.k8s.io/v2"`},
		{"neither attributes", `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"a"}}`, "exactly one of"},
		{"both attributes", `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"a","resourceAttributes":{"verb":"get"},"nonResourceAttributes":{"path":"/"}}}`, "exactly one of"},
		{"no subject", `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"nonResourceAttributes":{"path":"/","verb":"get"}}}`, "at least one of user or group"},
		{"type error", `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":5}}`, "malformed JSON"},
		{"another kind that does not decode as a review", `{"apiVersion":"v1","kind":"Pod","spec":{"user":5}}`, `kind "Pod"`},
		{"v1beta1 type error", `{"apiVersion":"authorization.k8s.io/v1beta1","kind":"SubjectAccessReview","spec":{"group":"not a list"}}`, "malformed JSON"},
		{"too big", `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"` + strings.Repeat("a", MaxReviewBytes) + `"}}`, "exceeds the limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Review(context.Background(), c.Authorizer, []byte(tc.body))
			if err == nil || out != nil {
				t.Fatalf("answered %s, want an error", out)
			}
			if !errors.Is(err, ErrReview) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzReview(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "sar", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"a","resourceAttributes":{"verb":"get","labelSelector":{"requirements":[{"key":"k","operator":"Bad"}]}}}}`))
	f.Add([]byte(`null`))
	s, err := policy.Load([]string{rbacDir}, nil)
	if err != nil {
		f.Fatal(err)
	}
	c, err := New(Config{Objects: s})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := Review(context.Background(), c.Authorizer, body)
		if err != nil {
			if out != nil || !errors.Is(err, ErrReview) {
				t.Fatalf("an error must come alone and match ErrReview: %v", err)
			}
			return
		}
		// The answer is in the request's version; v1beta1 names the groups "group".
		var sar authorizationv1.SubjectAccessReview
		if err := json.Unmarshal(out, &sar); err != nil {
			t.Fatalf("answer is not JSON: %v", err)
		}
		groups := sar.Spec.Groups
		if sar.APIVersion == authorizationv1beta1.SchemeGroupVersion.String() {
			var old authorizationv1beta1.SubjectAccessReview
			if err := json.Unmarshal(out, &old); err != nil {
				t.Fatalf("answer is not JSON: %v", err)
			}
			groups = old.Spec.Groups
		}
		if sar.Status.Allowed && sar.Spec.User == "" && len(groups) == 0 {
			t.Fatal("allowed a review without subject")
		}
	})
}
