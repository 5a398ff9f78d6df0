package tenancy

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kguard/kguard/internal/policy"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// BenchmarkTenancy1000: what the Tenancy rules cost a pod of one tenant
// with 1,000 tenants loaded (injection and validation, as the mutating
// pass runs them).
func BenchmarkTenancy1000(b *testing.B) {
	var tenants []*v1alpha1.Tenant
	for i := 0; i < 1000; i++ {
		t := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("team-%d", i)},
			Spec: v1alpha1.TenantSpec{Namespaces: v1alpha1.TenantNamespaces{Names: []string{fmt.Sprintf("ns-%d", i)}}}}
		if err := policy.CheckTenant(t); err != nil {
			b.Fatal(err)
		}
		tenants = append(tenants, t)
	}
	ix, err := NewIndex(tenants, nil)
	if err != nil {
		b.Fatal(err)
	}
	base := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}, {Name: "proxy", Image: "proxy"}},
		Tolerations: []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}}
	path := field.NewPath("spec")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := ix.TenantOf("ns-500")
		spec := base
		spec.Tolerations = append([]corev1.Toleration(nil), base.Tolerations...)
		Inject(t, &spec)
		if errs := ix.ValidatePod(t, &spec, path, true); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}
