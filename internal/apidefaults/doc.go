// Package apidefaults applies to an offline pod what the API server applies to
// a created pod before admission: the v1 defaulting of
// k8s.io/kubernetes/pkg/apis/core/v1 (SetObjectDefaults_Pod) restricted to the
// fields that admission reads or that show in a pod as stored, and the default
// the ServiceAccount admission plugin gives spec.serviceAccountName.
//
// kguard must not import k8s.io/kubernetes, so the rules are written here; the
// differential test in test/upstream124 compares them with upstream's.
//
// The defaults that change an admission decision:
//   - a hostNetwork pod's container and init container ports get
//     hostPort = containerPort (PodSecurityPolicy hostPorts; Pod Security
//     Standards "baseline" already refuses hostNetwork itself);
//   - spec.serviceAccountName becomes the deprecated spec.serviceAccount, or
//     "default" (PodSecurityPolicy is chosen by the ServiceAccount's "use" grant);
//   - a volume without a source is an emptyDir volume (PodSecurityPolicy volumes).
//
// The others (protocol TCP, DNS and restart policy, termination grace period
// and message, scheduler name, image pull policy, an empty pod securityContext,
// volume modes and hostPath type "", enableServiceLinks) change no verdict of
// PodSecurityPolicy or Pod Security Standards but make the pod admission sees
// the pod the API server would store.
//
// Not applied, because no admission of kguard reads them: resource requests
// from limits, pod-level resources, probe and HTTP handler defaults, field
// selector API versions, and the volumes the ServiceAccount plugin mounts (the
// PodSecurityPolicy engine already allows that projected token volume wherever
// secret volumes are allowed, as upstream does).
package apidefaults
