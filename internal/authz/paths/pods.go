package paths

import (
	"fmt"
	"path"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/kguard/kguard/internal/podspec"
	"github.com/kguard/kguard/internal/policy"
)

// Pod is what a path needs of a pod, or of a workload's pod template: where
// it runs and as whom.
type Pod struct {
	Namespace, Name, ServiceAccount, Node string
	// Root says why a command run in the pod is root on its node ("" when
	// it is not): as the admission probes, a privileged container, hostPID
	// or a hostPath volume of /.
	Root string
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
		out = append(out, Pod{Namespace: ns, Name: d.Name, ServiceAccount: sa, Node: spec.NodeName, Root: rootOnNode(spec)})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, warnings
}

// rootOnNode says why a shell in the pod is root on its node, "" if not: a
// privileged container (hostNetwork or not) sees the node's devices and may
// nsenter its PID 1, hostPID shares the node's processes, a hostPath volume
// of / is the node's file system.
func rootOnNode(spec *corev1.PodSpec) string {
	if spec.HostPID {
		return "hostPID"
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range cs {
			if podspec.Privileged(c.SecurityContext) {
				return fmt.Sprintf("privileged container %q", c.Name)
			}
		}
	}
	for _, c := range spec.EphemeralContainers {
		if podspec.Privileged(c.SecurityContext) {
			return fmt.Sprintf("privileged ephemeral container %q", c.Name)
		}
	}
	for _, v := range spec.Volumes {
		if v.HostPath != nil && path.Clean(v.HostPath.Path) == "/" {
			return fmt.Sprintf("hostPath volume %q of /", v.Name)
		}
	}
	return ""
}
