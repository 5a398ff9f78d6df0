package tenancy

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kguard/kguard/internal/mcs"
	"github.com/kguard/kguard/pkg/apis/kguard/v1alpha1"
)

// Config is the Tenancy plugin's configuration.
type Config struct {
	// Levels hands out SELinux MCS levels: in a cluster, the allocator the
	// replicas share (package mcs/mcskube); nil: one of the plugin's own,
	// as `kguard check` and `kguard audit` judge objects offline.
	Levels *mcs.Allocator
}

// setLevel is a level a pod spec sets, and where.
type setLevel struct {
	path  *field.Path
	level string
}

// levelsOf lists the levels spec sets: the pod's, then each container's.
func levelsOf(spec *corev1.PodSpec, path *field.Path) []setLevel {
	var out []setLevel
	if sc := spec.SecurityContext; sc != nil && sc.SELinuxOptions != nil && sc.SELinuxOptions.Level != "" {
		out = append(out, setLevel{path.Child("securityContext", "seLinuxOptions", "level"), sc.SELinuxOptions.Level})
	}
	add := func(name string, i int, sc *corev1.SecurityContext) {
		if sc != nil && sc.SELinuxOptions != nil && sc.SELinuxOptions.Level != "" {
			out = append(out, setLevel{path.Child(name).Index(i).Child("securityContext", "seLinuxOptions", "level"), sc.SELinuxOptions.Level})
		}
	}
	for i, c := range spec.InitContainers {
		add("initContainers", i, c.SecurityContext)
	}
	for i, c := range spec.Containers {
		add("containers", i, c.SecurityContext)
	}
	for i, c := range spec.EphemeralContainers {
		add("ephemeralContainers", i, c.SecurityContext)
	}
	return out
}

// parseLevels reads the levels a pod sets: each must be a pair, and the
// pairs of one pod the same (its containers share its one level).
func parseLevels(t *v1alpha1.Tenant, set []setLevel) (*mcs.Pair, field.ErrorList) {
	var errs field.ErrorList
	var first *mcs.Pair
	for _, s := range set {
		p, err := mcs.ParseLevel(s.level)
		if err != nil {
			errs = append(errs, field.Invalid(s.path, s.level, fmt.Sprintf("tenant %q isolates its pods with SELinux MCS levels (seLinux: %s): %v", t.Name, t.Spec.PodSecurity.SELinux, err)))
			continue
		}
		if first == nil {
			first = &p
		} else if p != *first {
			errs = append(errs, field.Invalid(s.path, s.level, fmt.Sprintf("a pod of tenant %q runs at one level (%s, set above)", t.Name, first)))
		}
	}
	return first, errs
}

// isolated: t gives its pods MCS levels.
func isolated(t *v1alpha1.Tenant) bool {
	m := t.Spec.PodSecurity.SELinux
	return m == v1alpha1.TenantSELinuxPerPod || m == v1alpha1.TenantSELinuxPerTenant
}

// podKey names a new pod for the allocator: its name, or its generateName
// (kube-apiserver names it after admission).
func podKey(namespace string, pod *corev1.Pod) string {
	if pod.Name != "" {
		return namespace + "/" + pod.Name
	}
	return namespace + "/" + pod.GenerateName + "*"
}

// assignLevel gives a new pod of t its level when it sets none, or checks
// the one it sets (perTenant: the tenant's pair; perPod: a pair no running
// pod holds, then reserved for it). It reports whether spec changed; err is
// an allocator failure (the pod is then refused).
func (p *Plugin) assignLevel(ctx context.Context, t *v1alpha1.Tenant, key string, spec *corev1.PodSpec, dryRun bool) (bool, field.ErrorList, error) {
	if !isolated(t) {
		return false, nil, nil
	}
	path := specPath
	set := levelsOf(spec, path)
	want, errs := parseLevels(t, set)
	if len(errs) > 0 {
		return false, errs, nil
	}
	var pair mcs.Pair
	switch t.Spec.PodSecurity.SELinux {
	case v1alpha1.TenantSELinuxPerTenant:
		tp, errs, err := p.tenantLevel(ctx, t, want, set, dryRun)
		if err != nil || len(errs) > 0 {
			return false, errs, err
		}
		pair = tp
	default: // perPod
		if want != nil {
			if err := p.levels.Reserve(key, *want, dryRun); err != nil {
				if err == mcs.ErrNotSynced {
					return false, nil, err
				}
				return false, field.ErrorList{field.Invalid(set[0].path, set[0].level, fmt.Sprintf("each pod of tenant %q holds a level no other running pod holds (seLinux: perPod): %v", t.Name, err))}, nil
			}
			pair = *want
		} else {
			got, err := p.levels.Assign(ctx, key, dryRun)
			if err != nil {
				return false, nil, err
			}
			pair = got
		}
	}
	if sc := spec.SecurityContext; sc != nil && sc.SELinuxOptions != nil && sc.SELinuxOptions.Level != "" {
		return false, nil, nil
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if spec.SecurityContext.SELinuxOptions == nil {
		spec.SecurityContext.SELinuxOptions = &corev1.SELinuxOptions{}
	}
	spec.SecurityContext.SELinuxOptions.Level = pair.String()
	return true, nil, nil
}

// checkLevel is the validating pass's look at a new pod of t: it has a
// level (kguard's mutating webhook gave it one), of its tenant (perTenant)
// or of no running pod (perPod).
func (p *Plugin) checkLevel(ctx context.Context, t *v1alpha1.Tenant, spec *corev1.PodSpec, dryRun bool) (field.ErrorList, error) {
	if !isolated(t) {
		return nil, nil
	}
	path := specPath
	set := levelsOf(spec, path)
	got, errs := parseLevels(t, set)
	if len(errs) > 0 {
		return errs, nil
	}
	lp := path.Child("securityContext", "seLinuxOptions", "level")
	if sc := spec.SecurityContext; got == nil || sc == nil || sc.SELinuxOptions == nil || sc.SELinuxOptions.Level == "" {
		return field.ErrorList{field.Required(lp, fmt.Sprintf("tenant %q's pods get an SELinux MCS level from kguard's mutating webhook (seLinux: %s), and this one has none", t.Name, t.Spec.PodSecurity.SELinux))}, nil
	}
	if t.Spec.PodSecurity.SELinux == v1alpha1.TenantSELinuxPerTenant {
		_, errs, err := p.tenantLevel(ctx, t, got, set, dryRun)
		return errs, err
	}
	if holder := p.levels.Holder(*got); holder != "" {
		return field.ErrorList{field.Invalid(set[0].path, set[0].level, fmt.Sprintf("each pod of tenant %q holds a level no other running pod holds (seLinux: perPod): %s is the level of the running pod %s", t.Name, got, holder))}, nil
	}
	return nil, nil
}

// templateLevel judges the level a pod template sets: perPod, none (every
// pod of the template would share it); perTenant, the tenant's.
func (p *Plugin) templateLevel(ctx context.Context, t *v1alpha1.Tenant, spec *corev1.PodSpec, path *field.Path, dryRun bool) (field.ErrorList, error) {
	if !isolated(t) {
		return nil, nil
	}
	set := levelsOf(spec, path)
	if len(set) == 0 {
		return nil, nil
	}
	if t.Spec.PodSecurity.SELinux == v1alpha1.TenantSELinuxPerPod {
		var errs field.ErrorList
		for _, s := range set {
			errs = append(errs, field.Forbidden(s.path, fmt.Sprintf("every pod of the template would run at this one level; each pod of tenant %q gets its own (seLinux: perPod)", t.Name)))
		}
		return errs, nil
	}
	got, errs := parseLevels(t, set)
	if len(errs) > 0 {
		return errs, nil
	}
	_, errs, err := p.tenantLevel(ctx, t, got, set, dryRun)
	return errs, err
}

// tenantLevel is t's pair (perTenant), given it when it has none, and the
// error of a pod or template whose level (got, set first in set) is another.
func (p *Plugin) tenantLevel(ctx context.Context, t *v1alpha1.Tenant, got *mcs.Pair, set []setLevel, dryRun bool) (mcs.Pair, field.ErrorList, error) {
	tp, err := p.levels.Tenant(ctx, t.Name, got, dryRun)
	if err != nil {
		return mcs.Pair{}, nil, err
	}
	if got != nil && *got != tp {
		return tp, field.ErrorList{field.Invalid(set[0].path, set[0].level, fmt.Sprintf("tenant %q's pods run at its level %s (seLinux: perTenant)", t.Name, tp))}, nil
	}
	return tp, nil, nil
}
