#!/usr/bin/env bash
# Benchmarks kguard side by side with the upstream Kubernetes implementations.
#   hack/bench.sh [REGEXP]      (COUNT=5 by default; output in bench.out)
# With benchstat installed (go install golang.org/x/perf/cmd/benchstat@latest)
# the summary is printed too.
set -euo pipefail
cd "$(dirname "$0")/../test/upstream"
pattern="${1:-.}"
go test -run '^$' -bench "$pattern" -benchmem -count "${COUNT:-5}" . | tee ../../bench.out
if command -v benchstat >/dev/null; then benchstat ../../bench.out; fi
