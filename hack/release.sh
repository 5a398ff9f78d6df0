#!/usr/bin/env bash
# A reproducible release of kguard:
#   hack/release.sh [OUT_DIR]        (dist/ by default; make release)
# writes OUT_DIR/kguard-linux-amd64 and kguard-linux-arm64, the SPDX SBOM of each
# (kguard-linux-ARCH.spdx.json, from kguard sbom itself) and SHA256SUMS over them all.
#
# The same commit built with the same Go toolchain gives the same bytes, wherever the
# tree lies and whatever the build cache holds: paths are trimmed (-trimpath), the build
# ID is empty (-ldflags=-buildid=), cgo is off, the environment's GOFLAGS and
# architecture levels are replaced by fixed ones, the VCS stamp (revision, commit time,
# modified) comes from git, and SOURCE_DATE_EPOCH, the SBOMs' creation time, is the
# last commit's time unless set. A tree with uncommitted changes is built as it is and
# stamped vcs.modified=true (version +dirty): release from a clean checkout.
# make release-check builds twice and compares (test/release).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist}"
GO="${GO:-go}"
platforms="${PLATFORMS:-linux/amd64 linux/arm64}"

export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly GOAMD64=v1 GOARM64=v8.0 GOTOOLCHAIN=local
unset GOEXPERIMENT GOEXE
if [ -n "$(git status --porcelain)" ]; then
	echo "release.sh: warning: the tree has uncommitted or untracked files; the binaries say vcs.modified=true" >&2
fi

build() { # build GOOS GOARCH OUTPUT
	GOOS="$1" GOARCH="$2" "$GO" build -trimpath -buildvcs=true -ldflags=-buildid= -o "$3" ./cmd/kguard
}

mkdir -p "$out"
tool="$(mktemp -d)"
trap 'rm -rf "$tool"' EXIT
build "$("$GO" env GOHOSTOS)" "$("$GO" env GOHOSTARCH)" "$tool/kguard"

files=()
for p in $platforms; do
	os="${p%/*}" arch="${p#*/}"
	bin="kguard-$os-$arch"
	build "$os" "$arch" "$out/$bin"
	"$tool/kguard" sbom "$out/$bin" > "$out/$bin.spdx.json"
	files+=("$bin" "$bin.spdx.json")
done
(cd "$out" && sha256sum "${files[@]}" > SHA256SUMS)
echo "release.sh: $out (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, $("$GO" env GOVERSION))" >&2
cat "$out/SHA256SUMS"
