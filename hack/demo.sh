#!/usr/bin/env bash
# Runs kguard's main job on the bundled examples.
set -euo pipefail
cd "$(dirname "$0")/.."
kguard=${1:-bin/kguard}
# run prints a command and its output. Exit status 1 (a "no" or a denial) is an
# answer the demo shows; anything above 1 means bad input or a crash and fails the demo.
run() {
  printf '\n$ %s\n' "kguard $*"
  local rc=0
  "$kguard" "$@" || rc=$?
  if [ "$rc" -eq 1 ]; then printf '(exit status 1)\n'; fi
  if [ "$rc" -gt 1 ]; then printf 'demo failed: exit status %d\n' "$rc" >&2; exit "$rc"; fi
}
run version
