#!/usr/bin/env bash
# Regenerates what is derived from kguard's API types: the deepcopy functions
# (pkg/apis/.../zz_generated.deepcopy.go) and the CRDs (deploy/crds/).
# Uses controller-gen, installed into $GOBIN on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTROLLER_GEN_VERSION=v0.23.0
gobin="$(go env GOPATH)/bin"
if ! "$gobin/controller-gen" --version 2>/dev/null | grep -q "$CONTROLLER_GEN_VERSION"; then
  GOFLAGS= go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_GEN_VERSION"
fi
"$gobin/controller-gen" object paths=./pkg/apis/...
# CRDs only for kguard's own group: pkg/apis/gatekeeper and pkg/apis/sigstore
# mirror other projects' types (their CRDs are theirs, e.g. policy.sigstore.dev.yaml),
# which controller-gen cannot render (fields of type any) and, given them, fails
# after writing stray deploy/crds/_*.yaml files.
"$gobin/controller-gen" crd paths=./pkg/apis/kguard/... output:crd:dir=./deploy/crds
