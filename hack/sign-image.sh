#!/usr/bin/env bash
# Sign kguard's pushed image and attach its SBOM as a signed attestation, with the cosign CLI:
#
#   hack/sign-image.sh IMAGE@sha256:DIGEST COSIGN_KEY SBOM [CA_FILE]
#
# IMAGE@DIGEST  what `make image REGISTRY=...` (hack/kgimage -push) printed: the image index
# COSIGN_KEY    a cosign private key (cosign generate-key-pair; COSIGN_PASSWORD from the
#               environment, empty for a key without a password), or a KMS URI
# SBOM          the SPDX SBOM of the image's binary: dist/kguard-linux-amd64.spdx.json
#               (make release writes it with `kguard sbom`)
# CA_FILE       optional: the CA of a private registry (cosign --registry-cacert)
#
# Runs, in this order (cosign v3.1.3, key-based, no Rekor and no other Sigstore service, the
# legacy format that every registry can hold: tags sha256-<digest>.att and .sig; see
# hack/supply-chain.sh's header for why v3 needs these flags offline):
#   cosign attest --key KEY --predicate SBOM --type spdxjson \
#     --use-signing-config=false --tlog-upload=false --new-bundle-format=false -y IMAGE@DIGEST
#   cosign sign   --key KEY --use-signing-config=false --tlog-upload=false --new-bundle-format=false -y IMAGE@DIGEST
# then checks both with the key's public half (cosign verify / verify-attestation
# --insecure-ignore-tlog). A ClusterImagePolicy with that public key as a `key` authority admits
# the image (docs/install.md, "Sign the image"); with `attestations: [{name: sbom, predicateType: spdxjson}]`
# it requires the SBOM too.
#
# Real releases sign keyless instead, with the CI's OIDC identity, recorded in Rekor
# (COSIGN_KEYLESS=1 runs this): cosign attest -y --predicate SBOM --type spdxjson IMAGE@DIGEST
# and cosign sign -y IMAGE@DIGEST; the policy then names the identity (keyless.identities:
# issuer https://token.actions.githubusercontent.com, subject the release workflow).
#
# Environment: COSIGN (the cosign binary, default `cosign`), COSIGN_PASSWORD, COSIGN_KEYLESS.
set -euo pipefail
if [ $# -lt 3 ] || [ $# -gt 4 ]; then
	sed -n '2,12p' "$0" >&2
	exit 2
fi
image="$1" key="$2" sbom="$3" ca="${4:-}"
COSIGN="${COSIGN:-cosign}"
case "$image" in
*@sha256:*) ;;
*) echo "sign-image.sh: $image: sign a digest (IMAGE@sha256:...), never a tag" >&2; exit 2 ;;
esac
[ -f "$sbom" ] || { echo "sign-image.sh: $sbom: no such SBOM (make release writes dist/kguard-linux-amd64.spdx.json)" >&2; exit 2; }
reg=()
[ -n "$ca" ] && reg=(--registry-cacert "$ca")
log() { printf '[sign-image] %s\n' "$*" >&2; }

if [ -n "${COSIGN_KEYLESS:-}" ]; then
	log "keyless: attest $sbom, sign $image (OIDC, Fulcio, Rekor)"
	"$COSIGN" attest "${reg[@]}" -y --predicate "$sbom" --type spdxjson "$image"
	"$COSIGN" sign "${reg[@]}" -y "$image"
	exit 0
fi

offline=(--use-signing-config=false --tlog-upload=false --new-bundle-format=false)
export COSIGN_PASSWORD="${COSIGN_PASSWORD-}"
log "attest $sbom (spdxjson) on $image"
"$COSIGN" attest "${reg[@]}" --key "$key" "${offline[@]}" -y --predicate "$sbom" --type spdxjson "$image"
log "sign $image"
"$COSIGN" sign "${reg[@]}" --key "$key" "${offline[@]}" -y "$image"

pub="$(mktemp)"
trap 'rm -f "$pub"' EXIT
"$COSIGN" public-key --key "$key" > "$pub"
"$COSIGN" verify "${reg[@]}" --key "$pub" --insecure-ignore-tlog "$image" > /dev/null
"$COSIGN" verify-attestation "${reg[@]}" --key "$pub" --insecure-ignore-tlog --type spdxjson "$image" > /dev/null
log "verified: the signature and the spdxjson attestation of $image"
