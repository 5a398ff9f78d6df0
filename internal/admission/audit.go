package admission

import (
	admissionv1 "k8s.io/api/admission/v1"
	psaapi "k8s.io/pod-security-admission/api"
)

// Audit annotation keys. kube-apiserver files each key a webhook returns under
// the webhook's name ("<webhook name>/<key>", e.g. "mutate.kguard.io/admit-policy")
// and drops any key that is not then a qualified name, so a key is a bare name
// (no "/", at most 63 characters) — not the "<plugin>/<key>" of the in-tree
// plugins, which kube-apiserver would refuse.
//
// PodSecurityPolicy's and Pod Security's keys share one namespace under a
// webhook name, and keep the name part of their in-tree keys: PodSecurityPolicy
// owns admit-policy and validate-policy, Pod Security every key its library
// returns (enforce-policy, audit-violations, exempt, error). The two sets are
// disjoint (a test holds it for the library kguard is built with).
const (
	// AuditKeyAdmitPolicy names the PodSecurityPolicy that admitted (and may
	// have mutated) the pod: the mutating webhook and offline checks.
	AuditKeyAdmitPolicy = "admit-policy"
	// AuditKeyValidatePolicy names the PodSecurityPolicy that validated the
	// final pod: the validating webhook.
	AuditKeyValidatePolicy = "validate-policy"

	// AuditKeyEnforcePolicy is Pod Security's enforced level and version.
	AuditKeyEnforcePolicy = psaapi.EnforcedPolicyAnnotationKey
	// AuditKeyAuditViolations lists the violations of the namespace's audit level.
	AuditKeyAuditViolations = psaapi.AuditViolationsAnnotationKey
	// AuditKeyExempt is why Pod Security did not evaluate: user, namespace or runtimeClass.
	AuditKeyExempt = psaapi.ExemptionReasonAnnotationKey
	// AuditKeyError is a Pod Security error that allowed the object
	// unevaluated (unreadable namespace or object).
	AuditKeyError = "error"
)

// pspAuditKeys are the keys PodSecurityPolicy returns; Pod Security's must not
// be among them.
var pspAuditKeys = map[string]bool{AuditKeyAdmitPolicy: true, AuditKeyValidatePolicy: true}

// addAudit records an audit annotation under a bare key (see above).
func addAudit(resp *admissionv1.AdmissionResponse, k, v string) {
	if resp.AuditAnnotations == nil {
		resp.AuditAnnotations = map[string]string{}
	}
	resp.AuditAnnotations[k] = v
}

// addPodSecurityAudit records Pod Security's annotations. A key that would take
// PodSecurityPolicy's name (none does today) is kept apart with a
// "pod-security-" prefix rather than overwriting or being overwritten.
func addPodSecurityAudit(resp *admissionv1.AdmissionResponse, annotations map[string]string) {
	for k, v := range annotations {
		if pspAuditKeys[k] {
			k = "pod-security-" + k
		}
		addAudit(resp, k, v)
	}
}
