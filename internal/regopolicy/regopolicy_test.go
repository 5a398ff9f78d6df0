package regopolicy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// podReview is the AdmissionReview of a pod's CREATE, as kube-mgmt's OPA
// receives it.
var podReview = ast.MustParseTerm(`{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
	"request": {"uid": "1", "operation": "CREATE", "kind": {"group": "", "version": "v1", "kind": "Pod"},
		"namespace": "default", "object": {"metadata": {"name": "p", "labels": {"replicas": "many"}}, "spec": {"containers": [{"name": "c"}]}}}}`).Value

func review(t *testing.T, src string) (Decision, error) {
	t.Helper()
	p, err := Compile(context.Background(), []Module{{Name: "m.rego", Source: src}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p.Review(context.Background(), podReview)
}

// A rule may define deny through a ref head (package kubernetes,
// admission.deny contains ...): OPA serves it at data.kubernetes.admission.deny,
// where kube-mgmt's main policy reads it, so it refuses as any deny rule does.
func TestRefHeadDeny(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"v1", "package kubernetes\nadmission.deny contains \"no\" if input.request.kind.kind == \"Pod\"\n"},
		{"v0", "package kubernetes\nimport future.keywords\nadmission.deny contains msg if { pod; msg := \"no\" }\npod { input.request.kind.kind == \"Pod\" }\n"},
		{"deeper", "package kubernetes\nadmission.pods.deny contains \"no\" if true\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := review(t, tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"no"}; !reflect.DeepEqual(d.Deny, want) {
				t.Errorf("Deny = %q, want %q", d.Deny, want)
			}
		})
	}
}

// A deny document that is not a set of strings (here an object, as a
// package named deny or a rule deny.x makes) is an error, not an admission.
func TestDenyDocumentNotASet(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"package", "package kubernetes.admission.deny\npods contains \"no\" if true\n"},
		{"ref head", "package kubernetes.admission\ndeny.pods contains \"no\" if true\n"},
		// Rego v0 too: a ref head ending in a constant is one value, true.
		{"v0 ref head", "package kubernetes\nadmission.deny[\"no\"] { true }\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := review(t, tc.src)
			if err == nil || !strings.Contains(err.Error(), "data.kubernetes.admission.deny") {
				t.Errorf("err = %v, want an error about data.kubernetes.admission.deny", err)
			}
		})
	}
}

// A builtin that errs is an evaluation error, which refuses the request:
// OPA's default (the expression is undefined) would drop the deny and admit.
func TestBuiltinErrorFailsClosed(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"to_number", "package a\ndeny contains \"too many replicas\" if to_number(input.request.object.metadata.labels.replicas) > 3\n", "to_number"},
		{"division by zero", "package a\ndeny contains \"no\" if count(input.request.object.spec.containers) / 0 > 1\n", "divide by zero"},
		{"in warn", "package a\nwarn contains \"w\" if to_number(input.request.object.metadata.labels.replicas) > 3\n", "to_number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := review(t, tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Review = %+v, %v; want an error about %s", d, err, tc.want)
			}
		})
	}
}

// http.send runs as in OPA, bounded by the caller's deadline; a call that
// outlasts it is an error, which refuses the request, not an undefined
// expression that drops the deny.
func TestHTTPSendDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	src := fmt.Sprintf("package a\ndeny contains \"registry says no\" if http.send({\"method\": \"get\", \"url\": %q}).body.verdict == \"no\"\n", srv.URL)
	p, err := Compile(context.Background(), []Module{{Name: "m.rego", Source: src}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	d, err := p.Review(ctx, podReview)
	if err == nil {
		t.Errorf("Review = %+v, want an error", d)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Review took %v past a 200ms deadline", took)
	}
}
