package v1alpha1

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsvalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

func decodeStrict(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	strict, err := sigsjson.UnmarshalStrict(j, into)
	if err != nil || len(strict) > 0 {
		t.Fatalf("%s: %v %v", path, err, strict)
	}
}

// The seed's policy/v1beta1 manifests decode into kguard's type without a
// single unknown field, and survive a round trip.
func TestPolicyV1beta1ManifestsDecode(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "policies", "*-psp.yaml"))
	if len(files) < 3 {
		t.Fatalf("testdata missing: %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var p PodSecurityPolicy
			decodeStrict(t, f, &p)
			if p.Kind != "PodSecurityPolicy" || p.Name == "" || p.Spec.SELinux.Rule == "" || p.Spec.RunAsUser.Rule == "" {
				t.Fatalf("decoded %+v", p)
			}
			b, err := yaml.Marshal(&p)
			if err != nil {
				t.Fatal(err)
			}
			var again PodSecurityPolicy
			if err := yaml.UnmarshalStrict(b, &again); err != nil || !reflect.DeepEqual(p, again) {
				t.Fatalf("round trip: %v", err)
			}
		})
	}
	var r PodSecurityPolicy
	decodeStrict(t, filepath.Join("testdata", "policies", "restricted-psp.yaml"), &r)
	if r.Spec.RunAsUser.Rule != RunAsUserStrategyMustRunAsNonRoot || r.Spec.FSGroup.Ranges[0] != (IDRange{Min: 1, Max: 65535}) ||
		*r.Spec.AllowPrivilegeEscalation || r.Spec.RequiredDropCapabilities[0] != "ALL" || len(r.Spec.Volumes) != 8 ||
		r.Annotations[AppArmorDefaultProfileAnnotation] != "runtime/default" {
		t.Fatalf("restricted decoded wrongly: %+v", r.Spec)
	}
}

func TestDeepCopyIsIndependent(t *testing.T) {
	yes := true
	p := &PodSecurityPolicy{Spec: PodSecurityPolicySpec{
		AllowedCapabilities:      []corev1.Capability{"NET_ADMIN"},
		AllowPrivilegeEscalation: &yes,
		RunAsGroup:               &RunAsGroupStrategyOptions{Rule: RunAsGroupStrategyMustRunAs, Ranges: []IDRange{{Min: 1, Max: 2}}},
	}}
	c := p.DeepCopy()
	c.Spec.AllowedCapabilities[0] = "SYS_ADMIN"
	*c.Spec.AllowPrivilegeEscalation = false
	c.Spec.RunAsGroup.Ranges[0].Min = 9
	if p.Spec.AllowedCapabilities[0] != "NET_ADMIN" || !*p.Spec.AllowPrivilegeEscalation || p.Spec.RunAsGroup.Ranges[0].Min != 1 {
		t.Fatal("DeepCopy shares memory with the original")
	}
}

// Every field of the Go types is in the generated CRDs' schemas: the CRDs are
// current with the types (run hack/generate.sh after changing them).
func TestCRDCoversEveryField(t *testing.T) {
	cases := []struct {
		file   string
		kind   string
		fields map[string]reflect.Type // top-level property: its Go type
	}{
		{"kguard.io_podsecuritypolicies.yaml", "PodSecurityPolicy", map[string]reflect.Type{"spec": reflect.TypeOf(PodSecurityPolicySpec{})}},
		{"kguard.io_tenants.yaml", "Tenant", map[string]reflect.Type{"spec": reflect.TypeOf(TenantSpec{}), "status": reflect.TypeOf(TenantStatus{})}},
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			var crd apiextensionsv1.CustomResourceDefinition
			decodeStrict(t, filepath.Join("..", "..", "..", "..", "deploy", "crds", tc.file), &crd)
			if crd.Spec.Group != GroupName || crd.Spec.Scope != apiextensionsv1.ClusterScoped || crd.Spec.Versions[0].Name != "v1alpha1" ||
				crd.Spec.Names.Kind != tc.kind {
				t.Fatalf("crd = %s %s %s %s", crd.Spec.Group, crd.Spec.Scope, crd.Spec.Versions[0].Name, crd.Spec.Names.Kind)
			}
			for name, typ := range tc.fields {
				schema, ok := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties[name]
				if !ok {
					t.Fatalf("CRD lacks %s", name)
				}
				walkSchema(t, typ, schema, name)
			}
		})
	}
}

func walkSchema(t *testing.T, typ reflect.Type, schema apiextensionsv1.JSONSchemaProps, path string) {
	t.Helper()
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		typ = typ.Elem()
		if schema.Items != nil && schema.Items.Schema != nil {
			schema = *schema.Items.Schema
		}
	}
	if typ.Kind() != reflect.Struct || !strings.Contains(typ.PkgPath(), "kguard") {
		return
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			continue
		}
		sub, ok := schema.Properties[name]
		if !ok {
			t.Errorf("CRD lacks %s.%s", path, name)
			continue
		}
		walkSchema(t, f.Type, sub, path+"."+name)
	}
}

func TestSetTenantDefaults(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		tn := &Tenant{}
		tn.Name = "team-a"
		SetTenantDefaults(tn)
		s := tn.Spec
		if *s.Nodes.Taint != (TenantTaint{Key: "kguard.io/tenant", Value: "team-a", Effect: corev1.TaintEffectNoSchedule}) ||
			!reflect.DeepEqual(s.Nodes.Labels, map[string]string{"kguard.io/tenant": "team-a"}) || s.Nodes.Mode != TenantNodeModeInject {
			t.Errorf("nodes = %+v taint %+v", s.Nodes, s.Nodes.Taint)
		}
		if !reflect.DeepEqual(s.PodSecurity, TenantPodSecurity{Level: PodSecurityLevelRestricted, Seccomp: corev1.SeccompProfileTypeRuntimeDefault, SELinux: TenantSELinuxPerPod}) {
			t.Errorf("podSecurity = %+v", s.PodSecurity)
		}
		if s.Services.ExternalIPs || !reflect.DeepEqual(s.Services.AllowedTypes, []corev1.ServiceType{corev1.ServiceTypeClusterIP}) {
			t.Errorf("services = %+v", s.Services)
		}
		if !reflect.DeepEqual(s.Network.BlockedEgressCIDRs, []string{"169.254.0.0/16", "fd00:ec2::254/128"}) {
			t.Errorf("network = %+v", s.Network)
		}
		s.Network.BlockedEgressCIDRs[0] = "x"
		if DefaultBlockedEgressCIDRs[0] != "169.254.0.0/16" {
			t.Fatal("defaulting shares DefaultBlockedEgressCIDRs")
		}
	})
	t.Run("explicit values are kept", func(t *testing.T) {
		tn := &Tenant{Spec: TenantSpec{
			Nodes:       TenantNodes{Taint: &TenantTaint{Key: "pool", Value: "a", Effect: corev1.TaintEffectNoExecute}, Labels: map[string]string{"pool": "a"}, Mode: TenantNodeModeRequire},
			PodSecurity: TenantPodSecurity{PodSecurityPolicies: []string{"restricted"}, Seccomp: corev1.SeccompProfileTypeUnconfined, SELinux: TenantSELinuxOff},
			Services:    TenantServices{AllowedTypes: []corev1.ServiceType{corev1.ServiceTypeNodePort}},
			Network:     TenantNetwork{BlockedEgressCIDRs: []string{"100.100.100.200/32"}},
		}}
		tn.Name = "team-b"
		want := tn.DeepCopy()
		SetTenantDefaults(tn)
		if !reflect.DeepEqual(tn, want) {
			t.Errorf("defaults changed explicit values:\n%+v\nwant\n%+v", tn.Spec, want.Spec)
		}
	})
}

// The generated CRD's schema accepts a defaulted Tenant with every field set
// (the API server stores what kguard validates) and refuses an unknown mode
// before kguard sees it.
func TestTenantCRDSchema(t *testing.T) {
	var crd apiextensionsv1.CustomResourceDefinition
	decodeStrict(t, filepath.Join("..", "..", "..", "..", "deploy", "crds", "kguard.io_tenants.yaml"), &crd)
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, &internal, nil); err != nil {
		t.Fatal(err)
	}
	validator, _, err := apiextensionsvalidation.NewSchemaValidator(&internal)
	if err != nil {
		t.Fatal(err)
	}
	var tn Tenant
	decodeStrict(t, filepath.Join("testdata", "tenants", "full-tenant.yaml"), &tn)
	if tn.Name != "team-a" || len(tn.Spec.Owners.ServiceAccounts) != 1 || len(tn.Spec.Network.IngressFrom) != 3 || tn.Spec.Quota.LimitRange == nil {
		t.Fatalf("testdata decoded as %+v", tn)
	}
	SetTenantDefaults(&tn)
	validate := func(tn *Tenant) field.ErrorList {
		t.Helper()
		b, err := json.Marshal(tn)
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			t.Fatal(err)
		}
		return apiextensionsvalidation.ValidateCustomResource(nil, obj, validator)
	}
	if errs := validate(&tn); len(errs) != 0 {
		t.Fatalf("the CRD refuses a valid Tenant: %v", errs)
	}
	tn.Spec.Nodes.Mode = "x"
	if errs := validate(&tn); len(errs) != 1 || errs[0].Field != "spec.nodes.mode" {
		t.Fatalf("errors = %v, want one at spec.nodes.mode", errs)
	}
}
