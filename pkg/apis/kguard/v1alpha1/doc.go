// Package v1alpha1 holds kguard's API types, group kguard.io. PodSecurityPolicy
// keeps the complete policy/v1beta1 schema of Kubernetes v1.24, so that PSP
// manifests keep working on clusters where the built-in API was removed.
// Tenant is a team's namespaces and the guardrails that isolate them.
//
// +kubebuilder:object:generate=true
// +groupName=kguard.io
package v1alpha1
