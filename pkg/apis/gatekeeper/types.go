// Package gatekeeper holds OPA Gatekeeper's kinds as kguard reads them:
// templates.gatekeeper.sh ConstraintTemplate (v1 and v1beta1 share this
// schema), the spec of a constraints.gatekeeper.sh constraint, the
// config.gatekeeper.sh Config's sync list and gator's test.gatekeeper.sh
// Suite. internal/constraints compiles and evaluates them. The package
// imports only Kubernetes' API types: kguard defines these objects field for
// field instead of importing Gatekeeper (controller-runtime and the rest);
// the JSON is the contract.
package gatekeeper

import (
	"encoding/json"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// API groups and the kinds kguard reads from them.
const (
	TemplatesGroup   = "templates.gatekeeper.sh"
	ConstraintsGroup = "constraints.gatekeeper.sh"
	ConfigGroup      = "config.gatekeeper.sh"
	TestGroup        = "test.gatekeeper.sh"

	// TargetName is the only target Gatekeeper's Kubernetes templates use.
	TargetName = "admission.k8s.gatekeeper.sh"

	// EngineRego and EngineCEL name a template's code[].engine.
	EngineRego = "Rego"
	EngineCEL  = "K8sNativeValidation"

	// RequiresSyncData is the template annotation naming the kinds its
	// Rego reads from data.inventory.
	RequiresSyncData = "metadata.gatekeeper.sh/requires-sync-data"
)

// ConstraintTemplate defines a kind of constraint: its parameters' schema
// and the code (Rego, CEL) that finds violations.
type ConstraintTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ConstraintTemplateSpec   `json:"spec,omitempty"`
	Status ConstraintTemplateStatus `json:"status,omitempty"`
}

type ConstraintTemplateSpec struct {
	CRD     CRD      `json:"crd,omitempty"`
	Targets []Target `json:"targets,omitempty"`
}

type CRD struct {
	Spec CRDSpec `json:"spec,omitempty"`
}

type CRDSpec struct {
	Names      Names       `json:"names,omitempty"`
	Validation *Validation `json:"validation,omitempty"`
}

type Names struct {
	Kind       string   `json:"kind,omitempty"`
	ShortNames []string `json:"shortNames,omitempty"`
}

type Validation struct {
	OpenAPIV3Schema *apiextensionsv1.JSONSchemaProps `json:"openAPIV3Schema,omitempty"`
	LegacySchema    *bool                            `json:"legacySchema,omitempty"`
}

type Target struct {
	Target     string   `json:"target,omitempty"`
	Rego       string   `json:"rego,omitempty"`
	Libs       []string `json:"libs,omitempty"`
	Code       []Code   `json:"code,omitempty"`
	Operations []string `json:"operations,omitempty"`
}

// Code is one engine's code; Source is the engine's own document.
type Code struct {
	Engine string          `json:"engine"`
	Source json.RawMessage `json:"source"`
}

// RegoSource is a Rego code[].source.
type RegoSource struct {
	Rego    string   `json:"rego,omitempty"`
	Libs    []string `json:"libs,omitempty"`
	Version string   `json:"version,omitempty"`
}

type ConstraintTemplateStatus struct {
	Created bool          `json:"created,omitempty"`
	ByPod   []ByPodStatus `json:"byPod,omitempty"`
}

type ByPodStatus struct {
	ID                 string           `json:"id,omitempty"`
	ObservedGeneration int64            `json:"observedGeneration,omitempty"`
	Errors             []CreateCRDError `json:"errors,omitempty"`
	Operations         []string         `json:"operations,omitempty"`
	TemplateUID        string           `json:"templateUID,omitempty"`
}

type CreateCRDError struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Location string `json:"location,omitempty"`
}

// ConstraintSpec is the spec of a constraint of any template's kind.
// Parameters stay JSON: the template's schema validates them and its code
// reads them.
type ConstraintSpec struct {
	Match                    *Match                    `json:"match,omitempty"`
	Parameters               json.RawMessage           `json:"parameters,omitempty"`
	EnforcementAction        string                    `json:"enforcementAction,omitempty"`
	ScopedEnforcementActions []ScopedEnforcementAction `json:"scopedEnforcementActions,omitempty"`
}

// Match selects the objects a constraint judges (Gatekeeper's match schema).
type Match struct {
	Kinds              []Kinds               `json:"kinds,omitempty"`
	Scope              string                `json:"scope,omitempty"`
	Namespaces         []string              `json:"namespaces,omitempty"`
	ExcludedNamespaces []string              `json:"excludedNamespaces,omitempty"`
	LabelSelector      *metav1.LabelSelector `json:"labelSelector,omitempty"`
	NamespaceSelector  *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	Name               string                `json:"name,omitempty"`
	Source             string                `json:"source,omitempty"`
}

type Kinds struct {
	APIGroups []string `json:"apiGroups,omitempty"`
	Kinds     []string `json:"kinds,omitempty"`
}

type ScopedEnforcementAction struct {
	Action            string             `json:"action"`
	EnforcementPoints []EnforcementPoint `json:"enforcementPoints"`
}

type EnforcementPoint struct {
	Name string `json:"name"`
}

// Config is config.gatekeeper.sh/v1alpha1 Config; kguard reads its sync
// list (which kinds data.inventory holds) and its match (namespaces no
// constraint judges).
type Config struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ConfigSpec     `json:"spec,omitempty"`
	Status            map[string]any `json:"status,omitempty"`
}

type ConfigSpec struct {
	Sync       Sync           `json:"sync,omitempty"`
	Match      []ConfigMatch  `json:"match,omitempty"`
	Validation map[string]any `json:"validation,omitempty"`
	Readiness  map[string]any `json:"readiness,omitempty"`
}

type Sync struct {
	SyncOnly []SyncOnlyEntry `json:"syncOnly,omitempty"`
}

type SyncOnlyEntry struct {
	Group   string `json:"group,omitempty"`
	Version string `json:"version,omitempty"`
	Kind    string `json:"kind,omitempty"`
}

type ConfigMatch struct {
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`
	Processes          []string `json:"processes,omitempty"`
}

// Suite is gator's test.gatekeeper.sh/v1alpha1 Suite.
type Suite struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Tests             []Test `json:"tests,omitempty"`
	Skip              bool   `json:"skip,omitempty"`
}

type Test struct {
	Name       string  `json:"name,omitempty"`
	Template   string  `json:"template,omitempty"`
	Constraint string  `json:"constraint,omitempty"`
	Expansion  string  `json:"expansion,omitempty"`
	Cases      []*Case `json:"cases,omitempty"`
	Invalid    bool    `json:"invalid,omitempty"`
	Skip       bool    `json:"skip,omitempty"`
}

type Case struct {
	Name       string      `json:"name,omitempty"`
	Object     string      `json:"object,omitempty"`
	Inventory  []string    `json:"inventory,omitempty"`
	Assertions []Assertion `json:"assertions,omitempty"`
	Skip       bool        `json:"skip,omitempty"`
}

// Assertion counts violations: Violations is a count, "yes" (at least
// one) or "no" (none; the default is "yes"), of those whose message
// Message (an unanchored regexp) matches.
type Assertion struct {
	Violations *intstr.IntOrString `json:"violations,omitempty"`
	Message    *string             `json:"message,omitempty"`
}
