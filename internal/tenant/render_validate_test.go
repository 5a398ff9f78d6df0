package tenant

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateRendered decodes every object strictly into its typed struct (an
// unknown or misspelt field fails) and checks it with the validation the
// module has (k8s.io/kubernetes is not a dependency): object metadata as the
// API server checks it, label selectors, RBAC references, and NetworkPolicy
// ipBlocks with net/netip.
func validateRendered(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, u := range objs {
		id := fmt.Sprintf("%s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
		if errs := validateObject(t, u); len(errs) > 0 {
			t.Errorf("%s is invalid: %v", id, errs.ToAggregate())
		}
	}
}

func decodeStrict(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	b, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		t.Fatalf("%s %s/%s does not decode strictly: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
}

func validateObject(t *testing.T, u *unstructured.Unstructured) field.ErrorList {
	t.Helper()
	var errs field.ErrorList
	metaOf := func(m *metav1.ObjectMeta, namespaced bool, name apivalidation.ValidateNameFunc) {
		errs = append(errs, apivalidation.ValidateObjectMeta(m, namespaced, name, field.NewPath("metadata"))...)
	}
	selector := func(s *metav1.LabelSelector, fld *field.Path) {
		errs = append(errs, metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, fld)...)
	}
	switch gvk := u.GroupVersionKind().String(); gvk {
	case "/v1, Kind=Namespace":
		var o corev1.Namespace
		decodeStrict(t, u, &o)
		metaOf(&o.ObjectMeta, false, apivalidation.ValidateNamespaceName)
	case "rbac.authorization.k8s.io/v1, Kind=RoleBinding":
		var o rbacv1.RoleBinding
		decodeStrict(t, u, &o)
		metaOf(&o.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
		if o.RoleRef.APIGroup != rbacv1.GroupName || (o.RoleRef.Kind != "Role" && o.RoleRef.Kind != "ClusterRole") || o.RoleRef.Name == "" {
			errs = append(errs, field.Invalid(field.NewPath("roleRef"), o.RoleRef, "must be a Role or ClusterRole of rbac.authorization.k8s.io"))
		}
		for i, s := range o.Subjects {
			p := field.NewPath("subjects").Index(i)
			switch {
			case s.Name == "":
				errs = append(errs, field.Required(p.Child("name"), ""))
			case s.Kind == rbacv1.ServiceAccountKind && (s.APIGroup != "" || s.Namespace == ""):
				errs = append(errs, field.Invalid(p, s, "a ServiceAccount has apiGroup \"\" and a namespace"))
			case (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) && s.APIGroup != rbacv1.GroupName:
				errs = append(errs, field.Invalid(p.Child("apiGroup"), s.APIGroup, "must be rbac.authorization.k8s.io"))
			case s.Kind != rbacv1.ServiceAccountKind && s.Kind != rbacv1.UserKind && s.Kind != rbacv1.GroupKind:
				errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind, []string{"User", "Group", "ServiceAccount"}))
			}
		}
	case "rbac.authorization.k8s.io/v1, Kind=Role":
		var o rbacv1.Role
		decodeStrict(t, u, &o)
		metaOf(&o.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
		for i, r := range o.Rules {
			if len(r.Verbs) == 0 || len(r.Resources) == 0 || len(r.APIGroups) == 0 {
				errs = append(errs, field.Required(field.NewPath("rules").Index(i), "verbs, resources and apiGroups"))
			}
		}
	case "networking.k8s.io/v1, Kind=NetworkPolicy":
		var o networkingv1.NetworkPolicy
		decodeStrict(t, u, &o)
		metaOf(&o.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
		spec := field.NewPath("spec")
		selector(&o.Spec.PodSelector, spec.Child("podSelector"))
		peers := func(ps []networkingv1.NetworkPolicyPeer, fld *field.Path) {
			for i, p := range ps {
				pf := fld.Index(i)
				n := 0
				if p.PodSelector != nil {
					n++
					selector(p.PodSelector, pf.Child("podSelector"))
				}
				if p.NamespaceSelector != nil {
					n++
					selector(p.NamespaceSelector, pf.Child("namespaceSelector"))
				}
				if p.IPBlock != nil {
					n++
					if p.PodSelector != nil || p.NamespaceSelector != nil {
						errs = append(errs, field.Forbidden(pf, "ipBlock with selectors"))
					}
					errs = append(errs, validateIPBlock(p.IPBlock, pf.Child("ipBlock"))...)
				}
				if n == 0 {
					errs = append(errs, field.Required(pf, "a peer sets a selector or an ipBlock"))
				}
			}
		}
		for i, r := range o.Spec.Ingress {
			peers(r.From, spec.Child("ingress").Index(i).Child("from"))
		}
		for i, r := range o.Spec.Egress {
			peers(r.To, spec.Child("egress").Index(i).Child("to"))
		}
	case "/v1, Kind=ResourceQuota":
		var o corev1.ResourceQuota
		decodeStrict(t, u, &o)
		metaOf(&o.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	case "/v1, Kind=LimitRange":
		var o corev1.LimitRange
		decodeStrict(t, u, &o)
		metaOf(&o.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	default:
		t.Fatalf("unexpected kind %s", gvk)
	}
	return errs
}

// validateIPBlock checks an ipBlock as the API server does: cidr and every
// except are CIDRs, and each except is a strict subset of cidr (hence of the
// same family).
func validateIPBlock(b *networkingv1.IPBlock, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil || cidr != cidr.Masked() {
		return append(errs, field.Invalid(fld.Child("cidr"), b.CIDR, "must be a canonical CIDR"))
	}
	for i, e := range b.Except {
		ex, err := netip.ParsePrefix(e)
		switch {
		case err != nil || ex != ex.Masked():
			errs = append(errs, field.Invalid(fld.Child("except").Index(i), e, "must be a canonical CIDR"))
		case ex.Addr().Is4() != cidr.Addr().Is4():
			errs = append(errs, field.Invalid(fld.Child("except").Index(i), e, "must be of the family of cidr "+b.CIDR))
		case ex.Bits() <= cidr.Bits() || !cidr.Contains(ex.Addr()):
			errs = append(errs, field.Invalid(fld.Child("except").Index(i), e, "must be a strict subset of cidr "+b.CIDR))
		}
	}
	return errs
}

func TestValidateIPBlockCatchesMixedFamilies(t *testing.T) {
	for name, b := range map[string]networkingv1.IPBlock{
		"IPv6 except in IPv4 cidr": {CIDR: "0.0.0.0/0", Except: []string{"fd00:ec2::254/128"}},
		"except not inside":        {CIDR: "10.0.0.0/8", Except: []string{"169.254.0.0/16"}},
		"except equal to cidr":     {CIDR: "10.0.0.0/8", Except: []string{"10.0.0.0/8"}},
		"not canonical":            {CIDR: "10.1.0.0/8"},
	} {
		t.Run(name, func(t *testing.T) {
			if errs := validateIPBlock(&b, field.NewPath("ipBlock")); len(errs) == 0 {
				t.Fatalf("%+v passed", b)
			}
		})
	}
}
