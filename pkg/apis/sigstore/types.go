// Package sigstore holds sigstore policy-controller's policy.sigstore.dev
// kinds as kguard reads them (internal/imagepolicy compiles and verifies
// them). It imports only Kubernetes' API types, so that reading policy
// files costs no verification dependency.
package sigstore

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The objects below are sigstore policy-controller's policy.sigstore.dev
// ClusterImagePolicy (v1alpha1 and v1beta1 share this schema) and TrustRoot
// (v1alpha1), field for field, so that existing policies load unchanged.
// kguard defines them instead of importing policy-controller, whose API
// package pulls in knative; the JSON is the contract.

// GroupName is policy-controller's API group.
const GroupName = "policy.sigstore.dev"

// ClusterImagePolicy says which authorities must have signed (or attested)
// the images its globs match.
type ClusterImagePolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ClusterImagePolicySpec `json:"spec"`
	Status            map[string]any         `json:"status,omitempty"`
}

type ClusterImagePolicySpec struct {
	Images      []ImagePattern  `json:"images"`
	Authorities []AuthoritySpec `json:"authorities,omitempty"`
	Policy      *PolicySpec     `json:"policy,omitempty"`
	Mode        string          `json:"mode,omitempty"`
	Match       []MatchResource `json:"match,omitempty"`
}

type ImagePattern struct {
	Glob string `json:"glob"`
}

type AuthoritySpec struct {
	Name             string            `json:"name,omitempty"`
	Key              *KeyRef           `json:"key,omitempty"`
	Keyless          *KeylessRef       `json:"keyless,omitempty"`
	Static           *StaticRef        `json:"static,omitempty"`
	Sources          []Source          `json:"source,omitempty"`
	CTLog            *TLog             `json:"ctlog,omitempty"`
	Attestations     []AttestationSpec `json:"attestations,omitempty"`
	RFC3161Timestamp *RFC3161Timestamp `json:"rfc3161timestamp,omitempty"`
	SignatureFormat  string            `json:"signatureFormat,omitempty"`
}

type KeyRef struct {
	SecretRef     *corev1.SecretReference `json:"secretRef,omitempty"`
	Data          string                  `json:"data,omitempty"`
	KMS           string                  `json:"kms,omitempty"`
	HashAlgorithm string                  `json:"hashAlgorithm,omitempty"`
}

type StaticRef struct {
	Action  string `json:"action"`
	Message string `json:"message,omitempty"`
}

type Source struct {
	OCI                  string                        `json:"oci,omitempty"`
	SignaturePullSecrets []corev1.LocalObjectReference `json:"signaturePullSecrets,omitempty"`
	TagPrefix            *string                       `json:"tagPrefix,omitempty"`
}

type TLog struct {
	URL          string `json:"url,omitempty"`
	TrustRootRef string `json:"trustRootRef,omitempty"`
}

type KeylessRef struct {
	URL               string     `json:"url,omitempty"`
	Identities        []Identity `json:"identities"`
	CACert            *KeyRef    `json:"ca-cert,omitempty"`
	TrustRootRef      string     `json:"trustRootRef,omitempty"`
	InsecureIgnoreSCT *bool      `json:"insecureIgnoreSCT,omitempty"`
}

type AttestationSpec struct {
	Name          string      `json:"name"`
	PredicateType string      `json:"predicateType"`
	Policy        *PolicySpec `json:"policy,omitempty"`
}

type RemotePolicy struct {
	URL       string `json:"url,omitempty"`
	Sha256sum string `json:"sha256sum,omitempty"`
}

type PolicySpec struct {
	Type              string              `json:"type"`
	Data              string              `json:"data,omitempty"`
	Remote            *RemotePolicy       `json:"remote,omitempty"`
	ConfigMapRef      *ConfigMapReference `json:"configMapRef,omitempty"`
	FetchConfigFile   *bool               `json:"fetchConfigFile,omitempty"`
	IncludeSpec       *bool               `json:"includeSpec,omitempty"`
	IncludeObjectMeta *bool               `json:"includeObjectMeta,omitempty"`
	IncludeTypeMeta   *bool               `json:"includeTypeMeta,omitempty"`
}

type MatchResource struct {
	metav1.GroupVersionResource `json:",inline"`
	ResourceSelector            *metav1.LabelSelector `json:"selector,omitempty"`
}

type ConfigMapReference struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Key       string `json:"key,omitempty"`
}

type Identity struct {
	Issuer        string `json:"issuer,omitempty"`
	Subject       string `json:"subject,omitempty"`
	IssuerRegExp  string `json:"issuerRegExp,omitempty"`
	SubjectRegExp string `json:"subjectRegExp,omitempty"`
}

type RFC3161Timestamp struct {
	TrustRootRef string `json:"trustRootRef,omitempty"`
}

// TrustRoot holds the keys and certificates of one Sigstore instance. kguard
// verifies offline: it reads sigstoreKeys; remote and repository (TUF) are
// refused at load.
type TrustRoot struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              TrustRootSpec  `json:"spec"`
	Status            map[string]any `json:"status,omitempty"`
}

type TrustRootSpec struct {
	Remote       map[string]any `json:"remote,omitempty"`
	Repository   map[string]any `json:"repository,omitempty"`
	SigstoreKeys *SigstoreKeys  `json:"sigstoreKeys,omitempty"`
}

type SigstoreKeys struct {
	CertificateAuthorities []CertificateAuthority    `json:"certificateAuthorities"`
	TLogs                  []TransparencyLogInstance `json:"tLogs,omitempty"`
	CTLogs                 []TransparencyLogInstance `json:"ctLogs,omitempty"`
	TimeStampAuthorities   []CertificateAuthority    `json:"timestampAuthorities,omitempty"`
}

// TransparencyLogInstance: PublicKey is PEM (base64 in JSON, as []byte).
type TransparencyLogInstance struct {
	BaseURL       string `json:"baseURL"`
	HashAlgorithm string `json:"hashAlgorithm"`
	PublicKey     []byte `json:"publicKey"`
}

type DistinguishedName struct {
	Organization string `json:"organization"`
	CommonName   string `json:"commonName"`
}

// CertificateAuthority: CertChain is PEM, the root last (base64 in JSON).
type CertificateAuthority struct {
	Subject   DistinguishedName `json:"subject"`
	URI       string            `json:"uri"`
	CertChain []byte            `json:"certChain"`
}
