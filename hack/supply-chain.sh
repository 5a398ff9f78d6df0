#!/usr/bin/env bash
# Real supply-chain tools for kguard's image-signature tests: the cosign CLI and crane
# (built from the tools module hack/tools/cosign) and a real OCI registry (Debian's
# docker-registry, i.e. CNCF distribution 2.8) on 127.0.0.1 with TLS.
#
#   hack/supply-chain.sh install             install docker-registry, openssl and curl if missing;
#                                            build cosign and crane (cached in $KGUARD_CACHE/bin as
#                                            cosign-<version> and crane-<version>)
#   hack/supply-chain.sh registry-up DIR     generate a CA and serving certificate in DIR, start the
#                                            registry on a free port (storage DIR/storage, deletes
#                                            enabled), wait for /v2/; prints the env file DIR/env
#   hack/supply-chain.sh registry-stop DIR   stop the registry, keeping its port, certificates and storage
#   hack/supply-chain.sh registry-start DIR  start it again as it was (same port, same storage); updates
#                                            KGUARD_REGISTRY_PID in DIR/env: "registry stopped → refused,
#                                            restarted → admitted"
#   hack/supply-chain.sh registry-down DIR   stop the registry (DIR itself is left to its owner)
#   hack/supply-chain.sh smoke               push an image, sign and verify it with a key, no Rekor
#
# DIR/env: KGUARD_REGISTRY=127.0.0.1:PORT, KGUARD_REGISTRY_CA=DIR/ca.crt, KGUARD_REGISTRY_PID,
# COSIGN and CRANE (paths of the cached binaries), KGUARD_REGISTRY_LOG.
#
# TLS trust (no --insecure / --allow-insecure-registry needed): cosign takes
# --registry-cacert "$KGUARD_REGISTRY_CA" (sign, verify, attest, verify-attestation, tree, ...);
# crane has no CA flag, so run it with SSL_CERT_FILE="$KGUARD_REGISTRY_CA" (Go reads SSL_CERT_FILE
# on Linux; it replaces the system roots, fine for a loopback registry). SSL_CERT_FILE alone
# works for cosign too. Without either, both fail with "x509: certificate signed by unknown
# authority". Repository names need at least two characters (distribution), e.g. kguard/img.
#
# Key-based signing with no Rekor and no Sigstore service at all (cosign v3.1.3, offline;
# COSIGN_PASSWORD= cosign generate-key-pair --output-key-prefix DIR/cosign). v3 defaults to
# --use-signing-config=true, which fetches the Sigstore TUF signing config and uploads to Rekor;
# --tlog-upload=false alone is rejected with it. Two ways round:
#   bundle format (v3 default: a Sigstore bundle attached as an OCI 1.1 referrer; this registry
#   has no referrers API, so cosign pushes it under the fallback tag sha256-<digest>, an index):
#     cosign signing-config create --out sc.json     # empty: no Fulcio, Rekor or TSA
#     cosign sign --key k --signing-config sc.json -y IMAGE@DIGEST
#   or (deprecated flags, still working, with a warning):
#     cosign sign --key k --use-signing-config=false --tlog-upload=false -y IMAGE@DIGEST
#   legacy format (simplesigning payload in the tag sha256-<digest>.sig; needs the flags):
#     cosign sign --key k --use-signing-config=false --tlog-upload=false --new-bundle-format=false -y IMAGE@DIGEST
#   verify: cosign verify --key k.pub --insecure-ignore-tlog IMAGE@DIGEST
#     finds either format (bundle first, then the .sig tag); add --new-bundle-format=false to
#     look at the .sig tag only ("no signatures found" for a bundle-only image). Exit codes:
#     10 no signatures found, 12 (legacy) / 1 (bundle) signature does not match the key.
#   attest: the same flags, plus --predicate p.json --type https://example.com/predicate/v1
#     (legacy format: tag sha256-<digest>.att); check with
#     cosign verify-attestation --key k.pub --insecure-ignore-tlog --type https://example.com/predicate/v1 IMAGE@DIGEST
#     (a different --type fails: "none of the attestations matched the predicate type").
# `smoke` runs all of these.
#
# Measured on 2 cores (docker-registry already installed; its apt install takes ~5 s), while
# other builds kept the load average at 7-9, so expect less on an idle machine:
#   clean (empty GOMODCACHE, GOCACHE and KGUARD_CACHE; ~300 modules, 1.8 GB module cache and
#   1.3 GB build cache): 13m39s real, 7m56s user (9m24s with the modules already downloaded)
#   warm Go caches, empty KGUARD_CACHE (relink only): 11 s
#   warm (binaries in KGUARD_CACHE, 141 MB cosign + 17 MB crane): 0.01 s
# The tests' binaries stay cached across runs; a version bump in hack/tools/cosign/go.mod
# builds new ones next to the old.
#
# Environment: KGUARD_CACHE (default $HOME/.cache/kguard).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${KGUARD_CACHE:-$HOME/.cache/kguard}"
TOOLS="$ROOT/hack/tools/cosign"

log() { printf '[supply-chain] %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null 2>&1 || {
    as_root apt-get update >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null
  }
}

mod_version() { # module path: its version in the tools module's go.mod
  awk -v m="$1" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$TOOLS/go.mod"
}

COSIGN_VERSION="$(mod_version github.com/sigstore/cosign/v3)"
CRANE_VERSION="$(mod_version github.com/google/go-containerregistry)"
COSIGN="$CACHE/bin/cosign-$COSIGN_VERSION"
CRANE="$CACHE/bin/crane-$CRANE_VERSION"

build() { # output package ldflags
  [ -x "$1" ] && return 0
  log "building $(basename "$1") (first time: several minutes on 2 cores)"
  mkdir -p "$(dirname "$1")"
  # Quiet: a clean module cache prints hundreds of "go: downloading" lines; show them on failure.
  if ! (cd "$TOOLS" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$3" -o "$1.tmp" "$2") >"$1.log" 2>&1; then
    cat "$1.log" >&2; rm -f "$1.tmp"; return 1
  fi
  rm -f "$1.log"
  mv "$1.tmp" "$1"
}

install() {
  [ -x /usr/bin/docker-registry ] || { log "installing docker-registry"; apt_install docker-registry; }
  command -v openssl >/dev/null || { log "installing openssl"; apt_install openssl; }
  command -v curl >/dev/null || { log "installing curl"; apt_install curl; }
  local v=sigs.k8s.io/release-utils/version
  build "$COSIGN" github.com/sigstore/cosign/v3/cmd/cosign \
    "-X $v.gitVersion=$COSIGN_VERSION -X $v.gitTreeState=clean"
  build "$CRANE" github.com/google/go-containerregistry/cmd/crane \
    "-X github.com/google/go-containerregistry/cmd/crane/cmd.Version=$CRANE_VERSION"
}

certs() { # dir
  local d="$1"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kguard-registry-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$d/registry.key" -out "$d/registry.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/registry.ext"
  openssl x509 -req -in "$d/registry.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/registry.ext" -out "$d/registry.crt" 2>/dev/null
}

config() { # dir port
  cat >"$1/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $1/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$2
  tls:
    certificate: $1/registry.crt
    key: $1/registry.key
EOF
}

start() { # dir: start the registry of DIR/config.yml, wait for /v2/; sets PID
  local d="$1" port i
  port="$(awk '$1 == "addr:" { sub(/.*:/, "", $2); print $2 }' "$d/config.yml")"
  /usr/bin/docker-registry serve "$d/config.yml" >>"$d/registry.log" 2>&1 &
  PID=$!
  for i in $(seq 1 100); do
    if curl -sf --cacert "$d/ca.crt" "https://127.0.0.1:$port/v2/" >/dev/null 2>&1; then return 0; fi
    kill -0 "$PID" 2>/dev/null || { log "docker-registry exited:"; tail -n 20 "$d/registry.log" >&2; return 1; }
    sleep 0.1
  done
  log "docker-registry did not answer on 127.0.0.1:$port"; tail -n 20 "$d/registry.log" >&2
  kill "$PID" 2>/dev/null || true
  return 1
}

stop() { # dir
  [ -f "$1/env" ] || return 0
  local pid
  pid="$(awk -F= '$1 == "KGUARD_REGISTRY_PID" { print $2 }' "$1/env")"
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

set_pid() { # dir pid
  sed -i "s/^KGUARD_REGISTRY_PID=.*/KGUARD_REGISTRY_PID=$2/" "$1/env"
}

registry_up() { # dir
  local d port
  mkdir -p "$1"; d="$(cd "$1" && pwd)"
  install
  stop "$d"
  certs "$d"
  port="$(cd "$ROOT" && go run ./hack/freeport)"
  config "$d" "$port"
  start "$d"
  cat >"$d/env" <<EOF
KGUARD_REGISTRY=127.0.0.1:$port
KGUARD_REGISTRY_CA=$d/ca.crt
KGUARD_REGISTRY_PID=$PID
KGUARD_REGISTRY_LOG=$d/registry.log
COSIGN=$COSIGN
CRANE=$CRANE
EOF
  echo "$d/env"
}

registry_start() { # dir
  local d; d="$(cd "$1" && pwd)"
  [ -f "$d/env" ] || { log "no registry in $d (registry-up first)"; exit 1; }
  stop "$d"
  start "$d"
  set_pid "$d" "$PID"
}

registry_stop() { # dir
  local d; d="$(cd "$1" && pwd)"
  stop "$d"
  set_pid "$d" ""
}

smoke() {
  local d env_file
  d="$(mktemp -d)"
  trap 'bash "$0" registry-down "'"$d"'"; rm -rf "'"$d"'"' EXIT
  env_file="$(registry_up "$d")"
  # shellcheck disable=SC1090
  . "$env_file"
  # TUF_ROOT: keep cosign's TUF cache out of $HOME (nothing here fetches from TUF).
  export COSIGN_PASSWORD="" TUF_ROOT="$d/tuf"
  local r="$KGUARD_REGISTRY/kguard/smoke" c=(--registry-cacert "$KGUARD_REGISTRY_CA")
  local legacy=(--use-signing-config=false --tlog-upload=false --new-bundle-format=false)
  local type=https://kguard.io/smoke/v1
  push() { # name: push a one-file image, print its digest reference
    mkdir -p "$d/$1"; echo "$1" >"$d/$1/$1.txt"; tar -C "$d/$1" -cf "$d/$1.tar" "$1.txt"
    SSL_CERT_FILE="$KGUARD_REGISTRY_CA" "$CRANE" append -f "$d/$1.tar" -t "$r:$1" 2>/dev/null
  }
  ok() { "$@" >"$d/out" 2>&1 || { log "failed: ${*##*/}"; cat "$d/out" >&2; exit 1; }; }
  fails() { if "$@" >"$d/out" 2>&1; then log "succeeded, should not: ${*##*/}"; cat "$d/out" >&2; exit 1; fi; }
  local bundle legacy_img unsigned
  bundle="$(push bundle)"; legacy_img="$(push legacy)"; unsigned="$(push unsigned)"
  ok "$COSIGN" generate-key-pair --output-key-prefix "$d/cosign"
  ok "$COSIGN" generate-key-pair --output-key-prefix "$d/other"
  ok "$COSIGN" signing-config create --out "$d/signing-config.json"
  echo '{"builder":"kguard-smoke"}' >"$d/predicate.json"

  # Bundle format, with an empty signing config (no Rekor, Fulcio or TSA).
  ok "$COSIGN" sign "${c[@]}" --key "$d/cosign.key" --signing-config "$d/signing-config.json" -y "$bundle"
  ok "$COSIGN" attest "${c[@]}" --key "$d/cosign.key" --signing-config "$d/signing-config.json" \
    --predicate "$d/predicate.json" --type "$type" -y "$bundle"
  ok "$COSIGN" verify "${c[@]}" --key "$d/cosign.pub" --insecure-ignore-tlog "$bundle"
  ok "$COSIGN" verify-attestation "${c[@]}" --key "$d/cosign.pub" --insecure-ignore-tlog --type "$type" "$bundle"
  fails "$COSIGN" verify "${c[@]}" --key "$d/other.pub" --insecure-ignore-tlog "$bundle"
  fails "$COSIGN" verify-attestation "${c[@]}" --key "$d/cosign.pub" --insecure-ignore-tlog --type https://kguard.io/other "$bundle"

  # Legacy format: the sha256-<digest>.sig and .att tags.
  ok "$COSIGN" sign "${c[@]}" --key "$d/cosign.key" "${legacy[@]}" -y "$legacy_img"
  ok "$COSIGN" attest "${c[@]}" --key "$d/cosign.key" "${legacy[@]}" --predicate "$d/predicate.json" --type "$type" -y "$legacy_img"
  ok "$COSIGN" verify "${c[@]}" --key "$d/cosign.pub" --insecure-ignore-tlog --new-bundle-format=false "$legacy_img"
  ok "$COSIGN" verify "${c[@]}" --key "$d/cosign.pub" --insecure-ignore-tlog "$legacy_img"
  ok "$COSIGN" verify-attestation "${c[@]}" --key "$d/cosign.pub" --insecure-ignore-tlog --new-bundle-format=false --type "$type" "$legacy_img"
  fails "$COSIGN" verify "${c[@]}" --key "$d/other.pub" --insecure-ignore-tlog "$legacy_img"
  SSL_CERT_FILE="$KGUARD_REGISTRY_CA" "$CRANE" ls "$r" >"$d/tags"
  grep -qx "sha256-${legacy_img#*@sha256:}.sig" "$d/tags" || { log "no .sig tag:"; cat "$d/tags" >&2; exit 1; }
  grep -qx "sha256-${bundle#*@sha256:}" "$d/tags" || { log "no referrers fallback tag:"; cat "$d/tags" >&2; exit 1; }

  # Unsigned: refused in either format.
  fails "$COSIGN" verify "${c[@]}" --key "$d/cosign.pub" --insecure-ignore-tlog "$unsigned"
  fails "$COSIGN" verify "${c[@]}" --key "$d/cosign.pub" --insecure-ignore-tlog --new-bundle-format=false "$unsigned"

  # Registry stopped: verification fails; restarted on the same port and storage: passes again.
  registry_stop "$d"
  fails "$COSIGN" verify "${c[@]}" --key "$d/cosign.pub" --insecure-ignore-tlog "$bundle"
  registry_start "$d"
  ok "$COSIGN" verify "${c[@]}" --key "$d/cosign.pub" --insecure-ignore-tlog "$bundle"

  log "ok: cosign $("$COSIGN" version 2>/dev/null | awk '$1 == "GitVersion:" { print $2 }'), crane $("$CRANE" version):" \
    "bundle and legacy signatures and attestations verified; wrong key, wrong type, unsigned and stopped registry refused"
}

case "${1:-}" in
  install) install ;;
  registry-up) registry_up "${2:?DIR}" ;;
  registry-start) registry_start "${2:?DIR}" ;;
  registry-stop) registry_stop "${2:?DIR}" ;;
  registry-down) stop "$(cd "${2:?DIR}" && pwd)"; rm -f "$2/env" ;;
  smoke) smoke ;;
  *) sed -n '2,/^# Environment/p' "$0" >&2; exit 2 ;;
esac
