// Package denyescalatingexec is the DenyEscalatingExec admission plugin:
// kube-apiserver's plugin of that name (removed in v1.18), which refuses
// `kubectl exec` and `kubectl attach` into a pod that runs with escalated
// privileges on its node: a privileged container (init and ephemeral
// containers included) or the host's PID, IPC or network namespace. A shell
// in such a pod is a shell on the node; a user who may exec into pods but not
// create privileged ones must not get one through an existing pod.
//
// The pod is read, when the request comes, through the PodGetter of the
// plugin's Inputs; a pod that cannot be read is refused (fail closed), as
// upstream refused it.
package denyescalatingexec

import (
	"context"
	"errors"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kguard/kguard/internal/admission"
)

// PluginName is the plugin's name in --enable-admission-plugins, as
// kube-apiserver spelled it.
const PluginName = "DenyEscalatingExec"

func init() { admission.Register(PluginName, newPlugin) }

// ErrNoPodGetter is why a pod cannot be checked where kguard reads no live
// cluster (offline): the plugin then refuses every exec and attach.
var ErrNoPodGetter = errors.New("no live pod reader (kguard serve in cluster mode reads pods)")

// plugin judges CONNECT requests on pods/exec and pods/attach.
type plugin struct{ pods admission.PodGetter }

var _ admission.ConnectValidator = (*plugin)(nil)

// newPlugin takes no configuration: upstream's four checks are always on, as
// DenyEscalatingExec configured them (DenyExecOnPrivileged, its older
// sibling, checked privileged alone).
func newPlugin(in admission.Inputs) (admission.Plugin, error) {
	if in.Config != nil {
		return nil, fmt.Errorf("takes no configuration, got %T", in.Config)
	}
	return &plugin{pods: in.Pods}, nil
}

// Handles CONNECT on pods/exec and pods/attach, as upstream; not
// pods/portforward or pods/proxy, and never the pod's admission.
func (p *plugin) Handles(op admissionv1.Operation, subresource string) bool {
	return op == admissionv1.Connect && (subresource == "exec" || subresource == "attach")
}

// ValidateConnect reads the target pod and refuses the connection when the
// pod escalates (Check). Any failure to read the pod refuses it too.
func (p *plugin) ValidateConnect(ctx context.Context, r *admission.ConnectRequest) admission.Decision {
	if p.pods == nil {
		return deny(fmt.Sprintf("%s cannot check the pod: %v", PluginName, ErrNoPodGetter))
	}
	pod, err := p.pods.GetPod(ctx, r.Namespace, r.Name)
	if err != nil {
		return deny(fmt.Sprintf("%s cannot check the pod: %v", PluginName, err))
	}
	if pod == nil {
		return deny(fmt.Sprintf("%s cannot check the pod: the pod reader returned no pod", PluginName))
	}
	if reason := Check(&pod.Spec); reason != "" {
		return deny(reason)
	}
	return admission.Decision{}
}

func deny(reason string) admission.Decision {
	return admission.Decision{Denied: true, Reason: reason}
}
