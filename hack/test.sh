#!/usr/bin/env bash
# Runs every kguard test on a fresh machine: installs what is missing, then the
# unit and fuzz-seed tests, the differential tests against upstream Kubernetes,
# the HTML paths page in headless Chromium (Debian's chromium), the demo, and the
# end-to-end suite against a real etcd + kube-apiserver + kube-controller-manager
# — all with -race.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -mod=mod"
export KGUARD_CACHE="${KGUARD_CACHE:-$HOME/.cache/kguard}"
mkdir -p "$KGUARD_CACHE"

# go test's default ten minutes per test binary is not enough on a fresh
# machine: with an empty build cache, tests that build kguard or a peer tool
# (TestSBOM's go build -trimpath, the gator verify module) compile it from
# scratch while the other packages' tests run on the same two cores.
GOFLAGS="$(go env GOFLAGS)"
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-timeout=30m"

echo "== go vet"
go vet ./...

echo "== unit tests (race)"
go test -race -count=1 ./...

if [ -d test/upstream ]; then
  echo "== differential tests against upstream Kubernetes (race)"
  (cd test/upstream && go vet ./... && go test -race -count=1 ./...)
fi

if [ -d test/upstream124 ]; then
  echo "== differential tests against upstream Kubernetes v1.24 (race)"
  (cd test/upstream124 && go vet ./... && go test -race -count=1 ./...)
fi

if [ -d test/gatekeeper ]; then
  echo "== differential tests against Gatekeeper (race)"
  (cd test/gatekeeper/gatorverify && go vet ./...)
  (cd test/gatekeeper && go vet ./... && go test -race -count=1 ./...)
fi

if [ -d test/netpol ]; then
  echo "== tenant NetworkPolicies against the cyclonus matcher (race)"
  (cd test/netpol && go vet ./... && go test -race -count=1 ./...)
fi

if [ -d test/policycontroller ]; then
  echo "== differential tests against sigstore policy-controller (race)"
  (cd test/policycontroller && go vet ./... && go test -race -count=1 ./...)
fi

echo "== browser: authz paths -o html in headless Chromium (race)"
bash hack/browser.sh install
go test -race -count=1 -tags browser ./internal/authz/paths/htmlreport/

echo "== demo"
make -s demo >/dev/null

bash hack/supply-chain.sh install
echo "== supply chain: kguard against the real cosign and registry (race)"
go test -race -count=1 -tags supplychain ./test/supplychain/...

echo "== end-to-end against a real control plane"
bash hack/e2e-cluster.sh install
env_file="$(bash hack/e2e-cluster.sh up)"
trap 'bash hack/e2e-cluster.sh down' EXIT
KGUARD_E2E_ENV="$env_file" go test -race -count=1 -tags e2e -timeout 30m ./test/e2e/...
echo "all suites passed"
