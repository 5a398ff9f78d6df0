package paths

import (
	"sort"

	"github.com/kguard/kguard/internal/podspec"
	"github.com/kguard/kguard/internal/policy"
)

// Pod is what a path needs of a pod, or of a workload's pod template: where
// it runs and as whom.
type Pod struct {
	Namespace, Name, ServiceAccount, Node string
}

// PodsOf reads the pods and workloads among the set's other objects (a
// template's ServiceAccount runs as the workload's pods will), sorted by
// namespace and name; documents that do not decode are returned as warnings.
func PodsOf(s *policy.Set) ([]Pod, []string) {
	var out []Pod
	var warnings []string
	for i := range s.Others {
		d := &s.Others[i]
		if !podspec.HasPod(d) {
			continue
		}
		w, _, err := podspec.DecodeLenient(d)
		if err != nil {
			warnings = append(warnings, err.Error())
			continue
		}
		spec := podspec.SpecOf(w.Object)
		if spec == nil {
			continue
		}
		sa := spec.ServiceAccountName
		if sa == "" {
			sa = spec.DeprecatedServiceAccount
		}
		if sa == "" {
			sa = "default"
		}
		ns := d.Namespace
		if ns == "" {
			ns = "default"
		}
		out = append(out, Pod{Namespace: ns, Name: d.Name, ServiceAccount: sa, Node: spec.NodeName})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, warnings
}
