package imagepolicy

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	k8sauthn "github.com/google/go-containerregistry/pkg/authn/kubernetes"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Mode is what a failed policy does: refuse (enforce) or only warn.
type Mode string

const (
	ModeEnforce Mode = "enforce"
	ModeWarn    Mode = "warn"
)

// NoMatch is what happens to an image that no policy matches, as
// policy-controller's no-match-policy: deny (its default), warn or allow.
type NoMatch string

const (
	NoMatchDeny  NoMatch = "deny"
	NoMatchWarn  NoMatch = "warn"
	NoMatchAllow NoMatch = "allow"
)

// ParseNoMatch reads a --image-policy-no-match value.
func ParseNoMatch(s string) (NoMatch, error) {
	switch n := NoMatch(s); n {
	case NoMatchDeny, NoMatchWarn, NoMatchAllow:
		return n, nil
	}
	return "", fmt.Errorf("unknown no-match rule %q (deny, warn or allow)", s)
}

// Options are what policies are compiled with besides the objects.
type Options struct {
	// TrustedRoot is the Sigstore trust root of keyless authorities that name
	// no trustRootRef (a trusted_root.json file: kguard never fetches it).
	TrustedRoot root.TrustedMaterial
	// Secrets are the Secrets of SecretNamespace (kguard's own), by name:
	// key.secretRef and keyless.ca-cert.secretRef read them, as
	// policy-controller reads its namespace's.
	Secrets         map[string]*corev1.Secret
	SecretNamespace string
}

// Policies are compiled ClusterImagePolicies, ready to verify images.
type Policies struct {
	List []*Policy // by name
}

// Policy is one compiled ClusterImagePolicy.
type Policy struct {
	Name        string
	Mode        Mode
	globs       []*regexp.Regexp
	Authorities []*Authority
}

// Authority is one compiled authority of a policy.
type Authority struct {
	Name string
	// Static: "pass" or "fail" (Message), and nothing else is set.
	Static, Message string
	// Bundle: signatures and attestations are read as sigstore bundles
	// attached as OCI referrers (signatureFormat: bundle); otherwise from
	// cosign's sha256-<digest>.sig and .att tags.
	Bundle bool
	// Source is the repository signatures are read from (source[0].oci),
	// empty: the image's own.
	Source       string
	Attestations []Attestation
	// sourceCreds read the signatures (source[0].signaturePullSecrets, from
	// kguard's namespace); nil: the pod's and the client's.
	sourceCreds   authn.Keychain
	sourceCredsID string
	verifier      *verify.Verifier
	identity      []verify.PolicyOption // WithKey, or WithCertificateIdentity for each identity (any one matches)
	keyHint       string
}

// Compile checks and compiles policies against the trust roots they name.
// Every invalid field is reported with its path, as the API server would
// report it on create.
func Compile(cips []*ClusterImagePolicy, roots []*TrustRoot, opts Options) (*Policies, error) {
	trustRoots := map[string]*root.TrustedRoot{}
	var errs []error
	for _, tr := range roots {
		r, err := trustedRoot(tr)
		if err != nil {
			errs = append(errs, fmt.Errorf("TrustRoot %q: %w", tr.Name, err))
			continue
		}
		trustRoots[tr.Name] = r
	}
	out := &Policies{}
	for _, cip := range cips {
		p, fieldErrs := compilePolicy(cip, trustRoots, opts)
		if len(fieldErrs) > 0 {
			errs = append(errs, fmt.Errorf("invalid ClusterImagePolicy %q: %w", cip.Name, fieldErrs.ToAggregate()))
			continue
		}
		out.List = append(out.List, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(out.List, func(i, j int) bool { return out.List[i].Name < out.List[j].Name })
	return out, nil
}

func compilePolicy(cip *ClusterImagePolicy, trustRoots map[string]*root.TrustedRoot, opts Options) (*Policy, field.ErrorList) {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	p := &Policy{Name: cip.Name, Mode: Mode(cip.Spec.Mode)}
	if cip.Name == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), ""))
	}
	switch p.Mode {
	case "":
		p.Mode = ModeEnforce
	case ModeEnforce, ModeWarn:
	default:
		errs = append(errs, field.NotSupported(spec.Child("mode"), cip.Spec.Mode, []string{"enforce", "warn"}))
	}
	if len(cip.Spec.Images) == 0 {
		errs = append(errs, field.Required(spec.Child("images"), ""))
	}
	for i, img := range cip.Spec.Images {
		path := spec.Child("images").Index(i).Child("glob")
		if img.Glob == "" {
			errs = append(errs, field.Required(path, ""))
			continue
		}
		re, err := compileGlob(img.Glob)
		if err != nil {
			errs = append(errs, field.Invalid(path, img.Glob, err.Error()))
			continue
		}
		p.globs = append(p.globs, re)
	}
	if len(cip.Spec.Authorities) == 0 {
		errs = append(errs, field.Required(spec.Child("authorities"), "kguard refuses a policy that no authority can satisfy"))
	}
	if cip.Spec.Policy != nil {
		errs = append(errs, field.Forbidden(spec.Child("policy"), "policies over the authorities' results (cue, rego) are not supported yet"))
	}
	if len(cip.Spec.Match) > 0 {
		errs = append(errs, field.Forbidden(spec.Child("match"), "kguard checks the images of pods and pod templates; match on other resources is not supported yet"))
	}
	for i := range cip.Spec.Authorities {
		a, aerrs := compileAuthority(&cip.Spec.Authorities[i], i, spec.Child("authorities").Index(i), trustRoots, opts)
		errs = append(errs, aerrs...)
		if a != nil {
			p.Authorities = append(p.Authorities, a)
		}
	}
	return p, errs
}

func compileAuthority(in *AuthoritySpec, i int, path *field.Path, trustRoots map[string]*root.TrustedRoot, opts Options) (*Authority, field.ErrorList) {
	var errs field.ErrorList
	a := &Authority{Name: in.Name, Bundle: in.SignatureFormat == "bundle"}
	if a.Name == "" {
		a.Name = fmt.Sprintf("authority-%d", i)
	}
	set := 0
	for _, b := range []bool{in.Key != nil, in.Keyless != nil, in.Static != nil} {
		if b {
			set++
		}
	}
	switch {
	case set == 0:
		return nil, field.ErrorList{field.Required(path, "one of key, keyless or static")}
	case set > 1:
		return nil, field.ErrorList{field.Invalid(path, "", "only one of key, keyless or static may be set")}
	}
	switch in.SignatureFormat {
	case "", "legacy", "bundle":
	default:
		errs = append(errs, field.NotSupported(path.Child("signatureFormat"), in.SignatureFormat, []string{"legacy", "bundle"}))
	}
	if len(in.Sources) > 1 {
		errs = append(errs, field.Invalid(path.Child("source"), len(in.Sources), "only a single source is supported"))
	}
	for j, s := range in.Sources {
		sp := path.Child("source").Index(j)
		if len(s.SignaturePullSecrets) > 0 {
			var secrets []corev1.Secret
			id := opts.SecretNamespace
			for k, ref := range s.SignaturePullSecrets {
				sec, ok := opts.Secrets[ref.Name]
				if !ok {
					errs = append(errs, field.NotFound(sp.Child("signaturePullSecrets").Index(k).Child("name"), fmt.Sprintf("%s/%s", opts.SecretNamespace, ref.Name)))
					continue
				}
				secrets = append(secrets, *sec)
				id += "/" + sec.Name + "@" + sec.ResourceVersion
			}
			kc, err := k8sauthn.NewFromPullSecrets(context.Background(), secrets)
			if err != nil {
				errs = append(errs, field.Invalid(sp.Child("signaturePullSecrets"), "", err.Error()))
			}
			a.sourceCredsID, a.sourceCreds = id, kc
		}
		if s.TagPrefix != nil {
			errs = append(errs, field.Forbidden(sp.Child("tagPrefix"), "not supported yet"))
		}
		a.Source = s.OCI
	}
	for j, att := range in.Attestations {
		ap := path.Child("attestations").Index(j)
		if att.Name == "" {
			errs = append(errs, field.Required(ap.Child("name"), ""))
		}
		if att.PredicateType == "" {
			errs = append(errs, field.Required(ap.Child("predicateType"), ""))
		}
		want := Attestation{Name: att.Name, PredicateType: predicateTypeURI(att.PredicateType)}
		if pol := att.Policy; pol != nil {
			pp := ap.Child("policy")
			switch {
			case pol.Type != "rego" && pol.Type != "cue":
				errs = append(errs, field.NotSupported(pp.Child("type"), pol.Type, []string{"cue", "rego"}))
			case pol.ConfigMapRef != nil:
				errs = append(errs, field.Forbidden(pp.Child("configMapRef"), "not supported yet: put the policy in data"))
			case pol.Remote != nil:
				errs = append(errs, field.Forbidden(pp.Child("remote"), "not supported: kguard fetches nothing; put the policy in data"))
			case pol.FetchConfigFile != nil || pol.IncludeSpec != nil || pol.IncludeObjectMeta != nil || pol.IncludeTypeMeta != nil:
				errs = append(errs, field.Forbidden(pp, "fetchConfigFile, includeSpec, includeObjectMeta and includeTypeMeta apply to spec.policy only"))
			case pol.Data == "":
				errs = append(errs, field.Required(pp.Child("data"), ""))
			default:
				eval, err := compileStatementPolicy(pol.Type, pol.Data)
				if err != nil {
					errs = append(errs, field.Invalid(pp.Child("data"), "("+pol.Type+")", err.Error()))
				}
				want.policy = eval
			}
		}
		a.Attestations = append(a.Attestations, want)
	}
	switch {
	case in.Static != nil:
		sp := path.Child("static")
		switch in.Static.Action {
		case "pass", "fail":
			a.Static, a.Message = in.Static.Action, in.Static.Message
		case "":
			errs = append(errs, field.Required(sp.Child("action"), ""))
		default:
			errs = append(errs, field.NotSupported(sp.Child("action"), in.Static.Action, []string{"pass", "fail"}))
		}
		for name, set := range map[string]bool{"attestations": len(in.Attestations) > 0, "source": len(in.Sources) > 0, "ctlog": in.CTLog != nil, "rfc3161timestamp": in.RFC3161Timestamp != nil} {
			if set {
				errs = append(errs, field.Invalid(path.Child(name), "", "static authorities take no "+name))
			}
		}
	case in.Key != nil:
		errs = append(errs, a.compileKey(in, path, trustRoots, opts)...)
	case in.Keyless != nil:
		errs = append(errs, a.compileKeyless(in, path, trustRoots, opts)...)
	}
	return a, errs
}

func (a *Authority) compileKey(in *AuthoritySpec, path *field.Path, trustRoots map[string]*root.TrustedRoot, opts Options) field.ErrorList {
	kp := path.Child("key")
	var errs field.ErrorList
	data := in.Key.Data
	switch {
	case in.Key.KMS != "":
		return append(errs, field.Forbidden(kp.Child("kms"), "KMS keys are not supported: kguard verifies offline; put the public key in data or a Secret"))
	case in.Key.SecretRef != nil && data != "":
		return append(errs, field.Invalid(kp, "", "only one of data, kms or secretRef may be set"))
	case in.Key.SecretRef != nil:
		var ferr *field.Error
		if data, ferr = secretData(in.Key.SecretRef, kp.Child("secretRef"), opts); ferr != nil {
			return append(errs, ferr)
		}
	case data == "":
		return append(errs, field.Required(kp, "one of data, kms or secretRef"))
	}
	hash := crypto.SHA256
	switch in.Key.HashAlgorithm {
	case "", "sha256":
	case "sha224":
		hash = crypto.SHA224
	case "sha384":
		hash = crypto.SHA384
	case "sha512":
		hash = crypto.SHA512
	default:
		errs = append(errs, field.NotSupported(kp.Child("hashAlgorithm"), in.Key.HashAlgorithm, []string{"sha224", "sha256", "sha384", "sha512"}))
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(data))
	if err != nil {
		return append(errs, field.Invalid(kp.Child("data"), "(PEM)", "not a PEM public key: "+err.Error()))
	}
	v, err := signature.LoadVerifier(pub, hash)
	if err != nil {
		return append(errs, field.Invalid(kp.Child("data"), "(PEM)", err.Error()))
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return append(errs, field.Invalid(kp.Child("data"), "(PEM)", err.Error()))
	}
	sum := sha256Sum(der)
	a.keyHint = hex.EncodeToString(sum[:])
	keys := root.NewTrustedPublicKeyMaterialFromMapping(map[string]*root.ExpiringKey{a.keyHint: root.NewExpiringKey(v, time.Time{}, time.Time{})})
	material := root.TrustedMaterialCollection{keys}
	vopts := []verify.VerifierOption{}
	if tsa, ok, ferr := timestampAuthority(in, path, trustRoots, opts); ferr != nil {
		return append(errs, ferr)
	} else if ok {
		// As policy-controller: signed timestamps instead of the log.
		material = append(material, tsa)
		vopts = append(vopts, verify.WithSignedTimestamps(1))
	} else if in.CTLog != nil {
		tr, ferr := trustRootFor(in.CTLog.TrustRootRef, path.Child("ctlog", "trustRootRef"), trustRoots, opts)
		if ferr != nil {
			return append(errs, ferr)
		}
		material = append(material, tr)
		vopts = append(vopts, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
	} else {
		// As policy-controller: a key authority without ctlog does not
		// look at the transparency log.
		vopts = append(vopts, verify.WithCurrentTime())
	}
	verifier, err := verify.NewVerifier(material, vopts...)
	if err != nil {
		return append(errs, field.Invalid(kp, "", err.Error()))
	}
	a.verifier, a.identity = verifier, []verify.PolicyOption{verify.WithKey()}
	return errs
}

func (a *Authority) compileKeyless(in *AuthoritySpec, path *field.Path, trustRoots map[string]*root.TrustedRoot, opts Options) field.ErrorList {
	kp := path.Child("keyless")
	k := in.Keyless
	var errs field.ErrorList
	if len(k.Identities) == 0 {
		errs = append(errs, field.Required(kp.Child("identities"), ""))
	}
	var ids []verify.CertificateIdentity
	for j, id := range k.Identities {
		ip := kp.Child("identities").Index(j)
		switch {
		case id.Issuer != "" && id.IssuerRegExp != "":
			errs = append(errs, field.Invalid(ip, "", "only one of issuer or issuerRegExp may be set"))
		case id.Issuer == "" && id.IssuerRegExp == "":
			errs = append(errs, field.Required(ip.Child("issuer"), "one of issuer or issuerRegExp"))
		}
		switch {
		case id.Subject != "" && id.SubjectRegExp != "":
			errs = append(errs, field.Invalid(ip, "", "only one of subject or subjectRegExp may be set"))
		case id.Subject == "" && id.SubjectRegExp == "":
			errs = append(errs, field.Required(ip.Child("subject"), "one of subject or subjectRegExp"))
		}
		ci, err := verify.NewShortCertificateIdentity(id.Issuer, id.IssuerRegExp, id.Subject, id.SubjectRegExp)
		if err != nil {
			errs = append(errs, field.Invalid(ip, "", err.Error()))
			continue
		}
		ids = append(ids, ci)
	}
	if k.URL != "" && k.CACert != nil {
		errs = append(errs, field.Invalid(kp, "", "only one of url or ca-cert may be set"))
	}
	var material root.TrustedMaterial
	vopts := []verify.VerifierOption{}
	switch {
	case k.CACert != nil:
		// A private CA and no log: the certificate must be valid now.
		caData := k.CACert.Data
		if k.CACert.SecretRef != nil && caData == "" {
			var ferr *field.Error
			if caData, ferr = secretData(k.CACert.SecretRef, kp.Child("ca-cert", "secretRef"), opts); ferr != nil {
				return append(errs, ferr)
			}
		}
		if caData == "" {
			return append(errs, field.Required(kp.Child("ca-cert", "data"), "a PEM certificate chain, in data or a Secret (kms is not supported)"))
		}
		certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(caData))
		if err != nil || len(certs) == 0 {
			return append(errs, field.Invalid(kp.Child("ca-cert", "data"), "(PEM)", fmt.Sprintf("not a PEM certificate chain: %v", err)))
		}
		ca := &root.FulcioCertificateAuthority{Root: certs[len(certs)-1], Intermediates: certs[:len(certs)-1]}
		tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, []root.CertificateAuthority{ca}, nil, nil, nil)
		if err != nil {
			return append(errs, field.Invalid(kp.Child("ca-cert"), "(PEM)", err.Error()))
		}
		material = tr
		vopts = append(vopts, verify.WithCurrentTime())
	default:
		tr, ferr := trustRootFor(k.TrustRootRef, kp.Child("trustRootRef"), trustRoots, opts)
		if ferr != nil {
			return append(errs, ferr)
		}
		material = tr
		tsa, ok, ferr := timestampAuthority(in, path, trustRoots, opts)
		switch {
		case ferr != nil:
			return append(errs, ferr)
		case ok:
			// As policy-controller: the time of the signature comes from
			// the timestamping authority, and the log is not required.
			material = root.TrustedMaterialCollection{tr, tsa}
			vopts = append(vopts, verify.WithSignedTimestamps(1))
		default:
			vopts = append(vopts, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
		}
		if in.CTLog != nil && in.CTLog.TrustRootRef != "" && in.CTLog.TrustRootRef != k.TrustRootRef {
			errs = append(errs, field.Invalid(path.Child("ctlog", "trustRootRef"), in.CTLog.TrustRootRef, "must be the keyless authority's trustRootRef"))
		}
	}
	if k.InsecureIgnoreSCT == nil || !*k.InsecureIgnoreSCT {
		vopts = append(vopts, verify.WithSignedCertificateTimestamps(1))
	}
	if len(errs) > 0 {
		return errs
	}
	verifier, err := verify.NewVerifier(material, vopts...)
	if err != nil {
		return append(errs, field.Invalid(kp, "", err.Error()))
	}
	a.verifier = verifier
	for _, id := range ids {
		a.identity = append(a.identity, verify.WithCertificateIdentity(id))
	}
	return nil
}

// secretData is the single entry of the Secret ref names, which must be in
// kguard's namespace, as policy-controller reads its own namespace's.
func secretData(ref *corev1.SecretReference, path *field.Path, opts Options) (string, *field.Error) {
	if ref.Namespace != "" && ref.Namespace != opts.SecretNamespace {
		return "", field.Invalid(path.Child("namespace"), ref.Namespace, fmt.Sprintf("if set, it must be kguard's namespace (%s)", opts.SecretNamespace))
	}
	if ref.Name == "" {
		return "", field.Required(path.Child("name"), "")
	}
	sec, ok := opts.Secrets[ref.Name]
	if !ok {
		return "", field.NotFound(path.Child("name"), fmt.Sprintf("%s/%s", opts.SecretNamespace, ref.Name))
	}
	data := sec.Data
	if len(data) != 1 {
		return "", field.Invalid(path.Child("name"), ref.Name, fmt.Sprintf("the Secret has %d data entries; it must hold exactly one", len(data)))
	}
	for _, v := range data {
		return string(v), nil
	}
	return "", nil
}

// timestampAuthority is the trust root of an authority's rfc3161timestamp
// (its timestamping authorities verify the signed timestamps cosign attaches).
func timestampAuthority(in *AuthoritySpec, path *field.Path, trustRoots map[string]*root.TrustedRoot, opts Options) (root.TrustedMaterial, bool, *field.Error) {
	if in.RFC3161Timestamp == nil {
		return nil, false, nil
	}
	tp := path.Child("rfc3161timestamp", "trustRootRef")
	if in.RFC3161Timestamp.TrustRootRef == "" {
		return nil, false, field.Required(tp, "the TrustRoot whose timestampAuthorities verify the timestamps")
	}
	tr, ferr := trustRootFor(in.RFC3161Timestamp.TrustRootRef, tp, trustRoots, opts)
	if ferr != nil {
		return nil, false, ferr
	}
	if len(tr.TimestampingAuthorities()) == 0 {
		return nil, false, field.Invalid(tp, in.RFC3161Timestamp.TrustRootRef, "the TrustRoot has no timestampAuthorities")
	}
	return tr, true, nil
}

// trustRootFor is the TrustRoot named ref, or the --trusted-root file when
// ref is empty.
func trustRootFor(ref string, path *field.Path, trustRoots map[string]*root.TrustedRoot, opts Options) (root.TrustedMaterial, *field.Error) {
	if ref == "" {
		if opts.TrustedRoot == nil {
			return nil, field.Required(path, "kguard verifies offline: name a TrustRoot, or give kguard the Sigstore trust root with --trusted-root")
		}
		return opts.TrustedRoot, nil
	}
	tr, ok := trustRoots[ref]
	if !ok {
		return nil, field.NotFound(path, ref)
	}
	return tr, nil
}

// Attestation is one attestation an authority requires: of PredicateType,
// and complying with its policy when it has one.
type Attestation struct {
	Name, PredicateType string
	policy              statementPolicy
}

// predicateTypeURI maps cosign's short attestation types to their URIs.
func predicateTypeURI(t string) string {
	if u, ok := shortPredicateTypes[t]; ok {
		return u
	}
	return t
}

var shortPredicateTypes = map[string]string{
	"custom":           "https://cosign.sigstore.dev/attestation/v1",
	"slsaprovenance":   "https://slsa.dev/provenance/v0.2",
	"slsaprovenance02": "https://slsa.dev/provenance/v0.2",
	"slsaprovenance1":  "https://slsa.dev/provenance/v1",
	"spdx":             "https://spdx.dev/Document",
	"spdxjson":         "https://spdx.dev/Document",
	"cyclonedx":        "https://cyclonedx.org/bom",
	"link":             "https://in-toto.io/Link/v1",
	"vuln":             "https://cosign.sigstore.dev/attestation/vuln/v1",
	"openvex":          "https://openvex.dev/ns",
}
