package psp

import "k8s.io/apimachinery/pkg/util/validation/field"

// Field paths are immutable, so the fixed ones are built once: validation
// runs for every policy on every request, and most of it finds nothing.
var (
	specPath          = field.NewPath("spec")
	podSCPath         = specPath.Child("securityContext")
	fsGroupPath       = podSCPath.Child("fsGroup")
	supGroupsPath     = podSCPath.Child("supplementalGroups")
	podSELinuxPath    = podSCPath.Child("seLinuxOptions")
	volumesPath       = specPath.Child("volumes")
	sysctlsPath       = field.NewPath("pod", "spec", "securityContext", "sysctls")
	annotationsPath   = field.NewPath("pod", "metadata", "annotations")
	initContainersDir = specPath.Child("initContainers")
	containersDir     = specPath.Child("containers")
	ephemeralDir      = specPath.Child("ephemeralContainers")
)

// containerPath is spec.<kind>[i], cached for the first containers of each kind.
const cachedContainers = 16

var containerPaths = func() map[*field.Path][]*field.Path {
	m := map[*field.Path][]*field.Path{}
	for _, dir := range []*field.Path{initContainersDir, containersDir, ephemeralDir} {
		for i := range cachedContainers {
			m[dir] = append(m[dir], dir.Index(i))
		}
	}
	return m
}()

// securityContextPaths caches spec.<kind>[i].securityContext.
var securityContextPaths = func() map[*field.Path]*field.Path {
	m := map[*field.Path]*field.Path{}
	for _, list := range containerPaths {
		for _, p := range list {
			m[p] = p.Child("securityContext")
		}
	}
	return m
}()

func containerPath(dir *field.Path, i int) *field.Path {
	if i < cachedContainers {
		return containerPaths[dir][i]
	}
	return dir.Index(i)
}

func securityContextPath(container *field.Path) *field.Path {
	if p, ok := securityContextPaths[container]; ok {
		return p
	}
	return container.Child("securityContext")
}
