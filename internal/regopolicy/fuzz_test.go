package regopolicy

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// FuzzCompile: any module compiles or is refused; a compiled one reviews
// an AdmissionReview without panicking.
func FuzzCompile(f *testing.F) {
	f.Add("package kubernetes.admission\ndeny[msg] { input.request.kind.kind == \"Pod\"; msg := \"no\" }")
	f.Add("package a\nimport rego.v1\nwarn contains \"w\" if input.request\n")
	f.Add("package a\ndeny := 1")
	review := ast.MustParseTerm(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"kind":{"kind":"Pod"},"object":{}}}`).Value
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile(context.Background(), []Module{{Name: "m.rego", Source: src}})
		if err != nil {
			return
		}
		p.Review(context.Background(), review)
	})
}
