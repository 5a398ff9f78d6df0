package admission

import (
	admissionv1 "k8s.io/api/admission/v1"
)

// Audit annotation keys. kube-apiserver files each key a webhook returns under
// the webhook's name ("<webhook name>/<key>", e.g. "mutate.kguard.io/admit-policy")
// and drops any key that is not then a qualified name, so a key is a bare name
// (no "/", at most 63 characters) — not the "<plugin>/<key>" of the in-tree
// plugins, which kube-apiserver would refuse.
//
// The plugins of a chain share one namespace of keys under a webhook name:
// each declares its keys (AuditKeys) and NewChain refuses two plugins that
// declare the same one. The plugins keep the name part of their in-tree keys
// (PodSecurityPolicy: admit-policy, validate-policy; PodSecurity: every key
// its library returns).

// AuditKeyError records why an object was let through unevaluated (a pod
// controller kguard cannot read), under Pod Security's key for its own errors.
const AuditKeyError = "error"

// addAudit records an audit annotation under a bare key (see above).
func addAudit(resp *admissionv1.AdmissionResponse, k, v string) {
	if resp.AuditAnnotations == nil {
		resp.AuditAnnotations = map[string]string{}
	}
	resp.AuditAnnotations[k] = v
}
