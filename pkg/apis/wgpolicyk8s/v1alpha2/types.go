// Package v1alpha2 is the part of the Kubernetes Policy WG's PolicyReport
// API (wgpolicyk8s.io/v1alpha2) that kguard writes: the report of one
// namespace (PolicyReport) or of the cluster-scoped objects
// (ClusterPolicyReport), its results and their summary. The types are plain
// JSON shapes, not registered in a scheme.
package v1alpha2

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GroupVersion is the API version of the reports.
const GroupVersion = "wgpolicyk8s.io/v1alpha2"

// Kinds of report.
const (
	KindPolicyReport        = "PolicyReport"
	KindClusterPolicyReport = "ClusterPolicyReport"
)

// Result is a result's outcome.
type Result string

// The outcomes of PolicyReportResult.Result.
const (
	ResultPass  Result = "pass"
	ResultFail  Result = "fail"
	ResultWarn  Result = "warn"
	ResultError Result = "error"
	ResultSkip  Result = "skip"
)

// PolicyReport is the report of one namespace (or, with Kind
// ClusterPolicyReport and no namespace, of the cluster-scoped objects).
type PolicyReport struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Scope             *corev1.ObjectReference `json:"scope,omitempty"`
	Summary           Summary                 `json:"summary"`
	Results           []PolicyReportResult    `json:"results,omitempty"`
}

// Summary counts the results of a report by outcome, those left out of
// Results included.
type Summary struct {
	Pass  int `json:"pass"`
	Fail  int `json:"fail"`
	Warn  int `json:"warn"`
	Error int `json:"error"`
	Skip  int `json:"skip"`
}

// PolicyReportResult is the outcome of one policy rule on its resources.
type PolicyReportResult struct {
	Source     string                   `json:"source,omitempty"`
	Policy     string                   `json:"policy"`
	Rule       string                   `json:"rule,omitempty"`
	Category   string                   `json:"category,omitempty"`
	Severity   string                   `json:"severity,omitempty"`
	Result     Result                   `json:"result"`
	Message    string                   `json:"message,omitempty"`
	Resources  []corev1.ObjectReference `json:"resources,omitempty"`
	Properties map[string]string        `json:"properties,omitempty"`
}
