package authz

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
)

// BenchmarkReviewRepeatedGroups is the review of the hardening issue: a
// LocalSubjectAccessReview that repeats system:authenticated, answered with
// the default roles. Cost per group (ns/group) stays flat as the review grows:
// decoding and evaluation are linear in its size.
func BenchmarkReviewRepeatedGroups(b *testing.B) {
	c, err := New(Config{DefaultRoles: true})
	if err != nil {
		b.Fatal(err)
	}
	for _, repeats := range []int{1000, 10000, 40000} {
		b.Run(strconv.Itoa(repeats), func(b *testing.B) {
			groups := make([]string, repeats)
			for i := range groups {
				groups[i] = user.AllAuthenticated
			}
			body, err := json.Marshal(authorizationv1.SubjectAccessReview{
				TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SubjectAccessReview"},
				Spec: authorizationv1.SubjectAccessReviewSpec{User: "mallory", Groups: groups,
					ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "ns", Verb: "list", Resource: "secrets"}},
			})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := Review(context.Background(), c.Authorizer, body); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(repeats), "ns/group")
		})
	}
}
