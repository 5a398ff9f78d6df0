#!/usr/bin/env bash
# Runs kguard's main job on the bundled examples.
set -euo pipefail
cd "$(dirname "$0")/.."
kguard=${1:-bin/kguard}
run() { printf '\n$ %s\n' "kguard $*"; "$kguard" "$@" || printf '(exit status %d)\n' "$?"; }
run version
