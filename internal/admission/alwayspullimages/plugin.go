// Package alwayspullimages is the AlwaysPullImages admission plugin with the
// behaviour of Kubernetes v1.37's in-tree plugin
// (plugin/pkg/admission/alwayspullimages): every container of a new pod, and
// of a pod updated to a new image, pulls its image on every start, so that a
// pod can only run an image its owner has the credentials to pull, not one
// another tenant left on the node.
//
// kguard adds one thing upstream cannot know about: a namespace labelled
// kguard.io/always-pull-images=false is exempt. A namespace the snapshot does
// not hold is not exempt.
package alwayspullimages

import (
	"context"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kguard/kguard/internal/admission"
)

// PluginName is the plugin's name in --enable-admission-plugins, as
// kube-apiserver spells it.
const PluginName = "AlwaysPullImages"

// ExemptLabel is the Namespace label that, set to "false", exempts the
// namespace's pods from the plugin. Any other value, or no label, does not.
const ExemptLabel = "kguard.io/always-pull-images"

func init() { admission.Register(PluginName, newPlugin) }

// plugin mutates pods to pull always and validates that they do.
type plugin struct {
	exempt map[string]bool // namespace name -> labelled exempt
}

var (
	_ admission.Mutator   = (*plugin)(nil)
	_ admission.Validator = (*plugin)(nil)
)

// newPlugin reads the exempt namespaces from the snapshot. The plugin takes
// no configuration, as upstream's.
func newPlugin(in admission.Inputs) (admission.Plugin, error) {
	if in.Config != nil {
		return nil, fmt.Errorf("takes no configuration, got %T", in.Config)
	}
	p := &plugin{exempt: map[string]bool{}}
	if in.Policies != nil {
		for _, ns := range in.Policies.Namespaces {
			if ns.Labels[ExemptLabel] == "false" {
				p.exempt[ns.Name] = true
			}
		}
	}
	return p, nil
}

// Handles pods themselves, on CREATE and UPDATE: upstream ignores every
// subresource, pods/ephemeralcontainers (kubectl debug) included.
func (p *plugin) Handles(op admissionv1.Operation, subresource string) bool {
	return subresource == "" && (op == admissionv1.Create || op == admissionv1.Update)
}

// Mutate sets imagePullPolicy Always on every container (init, regular,
// ephemeral) and pullPolicy Always on every image volume.
func (p *plugin) Mutate(_ context.Context, r *admission.Request, pod *corev1.Pod) admission.Decision {
	if p.ignores(r, pod) {
		return admission.Decision{}
	}
	visitContainers(&pod.Spec, nil, func(c *corev1.Container, _ *field.Path) {
		c.ImagePullPolicy = corev1.PullAlways
	})
	for i := range pod.Spec.Volumes {
		if img := pod.Spec.Volumes[i].Image; img != nil {
			img.PullPolicy = corev1.PullAlways
		}
	}
	return admission.Decision{Pod: pod}
}

// Validate denies a pod with a container or image volume that does not pull
// always, naming every one with upstream's field error.
func (p *plugin) Validate(_ context.Context, r *admission.Request, pod *corev1.Pod) admission.Decision {
	if p.ignores(r, pod) {
		return admission.Decision{}
	}
	var root *field.Path
	if r.Workload != nil {
		root = r.Workload.Root
	}
	var errs []string
	visitContainers(&pod.Spec, root, func(c *corev1.Container, path *field.Path) {
		if c.ImagePullPolicy != corev1.PullAlways {
			errs = append(errs, notAlways(path.Child("imagePullPolicy"), c.ImagePullPolicy))
		}
	})
	for i, v := range pod.Spec.Volumes {
		if v.Image != nil && v.Image.PullPolicy != corev1.PullAlways {
			errs = append(errs, notAlways(specPath(root).Child("volumes").Index(i).Child("image", "pullPolicy"), v.Image.PullPolicy))
		}
	}
	if len(errs) == 0 {
		return admission.Decision{}
	}
	return admission.Decision{Denied: true, Reason: strings.Join(errs, ", ")}
}

// ignores is upstream's shouldIgnore for a pod: the namespace is exempt, or
// the request is an UPDATE that brings no image the old pod did not have.
func (p *plugin) ignores(r *admission.Request, pod *corev1.Pod) bool {
	return p.exempt[r.Namespace] || (r.Operation == admissionv1.Update && noNewImages(r.OldPod, pod))
}

// noNewImages reports whether every container image of pod is one of old's
// (in any container: upstream compares sets of images). Without the old pod
// the update is treated as bringing new images, as upstream does.
func noNewImages(old, pod *corev1.Pod) bool {
	if old == nil {
		return false
	}
	had := map[string]bool{}
	visitContainers(&old.Spec, nil, func(c *corev1.Container, _ *field.Path) { had[c.Image] = true })
	none := true
	visitContainers(&pod.Spec, nil, func(c *corev1.Container, _ *field.Path) { none = none && had[c.Image] })
	return none
}

// notAlways is the message of upstream's field.NotSupported error.
func notAlways[T ~string](path *field.Path, got T) string {
	return field.NotSupported(path, got, []string{string(corev1.PullAlways)}).Error()
}

// specPath is the path of the pod spec: spec for a Pod, or inside the object
// whose pod template is admitted offline.
func specPath(root *field.Path) *field.Path {
	if root == nil {
		return field.NewPath("spec")
	}
	return root.Child("spec")
}

// visitContainers calls visit with every init, regular and ephemeral
// container of spec, in that order, and its path.
func visitContainers(spec *corev1.PodSpec, root *field.Path, visit func(*corev1.Container, *field.Path)) {
	sp := specPath(root)
	for i := range spec.InitContainers {
		visit(&spec.InitContainers[i], sp.Child("initContainers").Index(i))
	}
	for i := range spec.Containers {
		visit(&spec.Containers[i], sp.Child("containers").Index(i))
	}
	for i := range spec.EphemeralContainers {
		visit((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon), sp.Child("ephemeralContainers").Index(i))
	}
}
