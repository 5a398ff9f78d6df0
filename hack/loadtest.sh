#!/usr/bin/env bash
# Load test of `kguard serve` (issue #4): a generated policy set of 10,000
# RoleBindings over 1,000 namespaces, 500 PodSecurityPolicies and 1,000
# Namespaces, then 1,000 req/s of SubjectAccessReviews and AdmissionReviews for
# 30 s over HTTPS on 127.0.0.1, then kguard's resident memory.
#
#   bash hack/loadtest.sh [extra loadgen flags, e.g. --output json, --mix authorize=100]
#   LOADTEST=images bash hack/loadtest.sh     signed images, verdicts cached (below)
#   LOADTEST=constraints bash hack/loadtest.sh  Gatekeeper constraints (below)
#
# Environment: RATE (1000), DURATION (30s), SEED (1), PSPS (500 PodSecurityPolicies
# generated), KEEP=1 keeps the work directory (policies, certificates, kguard's
# log). kguard runs with GOGC=400, as deploy/deployment.yaml sets it;
# KGUARD_GOGC=100 measures Go's default. Other variables reach kguard too.
# KGUARD_ARGS: extra flags for kguard serve, space-separated (e.g. "--probe-address
# 127.0.0.1:18082 --profiling" to take a CPU profile under the load).
# HTTP2=1 starts kguard (or noopwebhook) with --enable-http2: /authorize is then
# called over HTTP/2, as kube-apiserver's authorization webhook client would.
# TARGET=noop serves the same load with hack/noopwebhook instead of kguard: the
# same HTTPS stack answering without deciding (decisions are then not checked),
# the latency floor of the machine.
# LOADTEST=images (issue #13): pods whose images are signed, with verdicts cached.
# The same world plus a real registry (hack/supply-chain.sh registry-up, stopped
# at the end) holding IMAGES (4) small images pushed with crane and signed with
# cosign (a throwaway key, legacy .sig format, no Rekor), a ClusterImagePolicy
# requiring that key for them, and kguard serve with
# --enable-admission-plugins PodSecurity,ClusterImagePolicy
# --image-policy-all-namespaces --registry-ca-file; the load generator
# (-images) warms the cache with one /mutate review per image, then sends
# /mutate and /validate reviews (50/50) of restricted pods naming 3 of the
# images by tag, each answer to allow the pod and each /mutate answer to pin
# every image to its digest. Needs hack/supply-chain.sh install (run here).
# kguard keeps verdicts 60 s (--image-policy-cache-ttl): a DURATION past about
# 55 s measures their expiry too. kguard's image counters (registry calls, cache
# hits and misses) are printed before and after the load.
# LOADTEST=constraints (issue #14): the same world plus the gatekeeper-library's
# pod-security-policy templates (internal/constraints/testdata) with CONSTRAINTS (50)
# constraints — their samples' constraints, renamed, repeated until there are as
# many —, kguard with --enable-admission-plugins PodSecurity,Constraints, and only
# /validate reviews (--mix validate=100), whose decisions the load generator does
# not check (its world knows no constraints; the engine's decisions are tested by
# internal/constraints and test/gatekeeper). NO_CEL=1 runs the templates' Rego
# (--constraints-no-cel) instead of their CEL.
# Progress and kguard's figures (readiness, RSS, CPU) go to stderr, the load
# generator's report to stdout. Exit status: the load generator's (1 on any
# error or late request).
set -euo pipefail

cd "$(dirname "$0")/.."
exec 3>&1 1>&2 # fd 3: the report only (--output json > report.json)
RATE="${RATE:-1000}"
DURATION="${DURATION:-30s}"
SEED="${SEED:-1}"
PSPS="${PSPS:-500}"
GO="${GO:-go}"
TARGET="${TARGET:-kguard}"
KGUARD_GOGC="${KGUARD_GOGC:-400}"
LOADTEST="${LOADTEST:-policies}"
IMAGES="${IMAGES:-4}"
CONSTRAINTS="${CONSTRAINTS:-50}"
h2flag=()
if [[ "${HTTP2:-0}" == 1 ]]; then h2flag=(--enable-http2); fi
case "$TARGET" in
  kguard | noop) ;;
  *) echo "loadtest: TARGET=$TARGET: want kguard or noop" >&2; exit 2 ;;
esac
case "$LOADTEST" in
  policies) ;;
  images)
    [[ "$TARGET" == kguard ]] || { echo "loadtest: LOADTEST=images measures kguard only (noop pins no image)" >&2; exit 2; }
    [[ "$IMAGES" =~ ^[0-9]+$ && "$IMAGES" -ge 3 && "$IMAGES" -le 20 ]] || { echo "loadtest: IMAGES=$IMAGES: want 3 to 20" >&2; exit 2; } ;;
  constraints) ;;
  *) echo "loadtest: LOADTEST=$LOADTEST: want policies, images or constraints" >&2; exit 2 ;;
esac

for tool in openssl curl "$GO"; do
  command -v "$tool" >/dev/null || { echo "loadtest: $tool is required" >&2; exit 2; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/kguard-loadtest.XXXXXX")"
kguard_pid=""
loadgen_pid=""
registry_dir=""
cleanup() {
  if [[ -n "$loadgen_pid" ]]; then kill "$loadgen_pid" 2>/dev/null || true; fi
  if [[ -n "$kguard_pid" ]] && kill -0 "$kguard_pid" 2>/dev/null; then
    kill "$kguard_pid" 2>/dev/null || true
    wait "$kguard_pid" 2>/dev/null || true
  fi
  if [[ -n "$registry_dir" ]]; then bash hack/supply-chain.sh registry-down "$registry_dir" >/dev/null 2>&1 || true; fi
  if [[ "${KEEP:-0}" == 1 ]]; then
    echo "loadtest: work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building kguard and the load generator"
"$GO" build -o "$work/kguard" ./cmd/kguard
"$GO" build -o "$work/loadgen" ./hack/loadgen
"$GO" build -o "$work/noopwebhook" ./hack/noopwebhook

echo "== generating the policy set (seed $SEED)"
"$work/loadgen" -generate "$work/policies" -seed "$SEED" -psps "$PSPS"

admission=()
images=()
if [[ "$LOADTEST" == images ]]; then
  echo "== the registry, $IMAGES signed images and their ClusterImagePolicy"
  bash hack/supply-chain.sh install
  registry_dir="$work/registry"
  bash hack/supply-chain.sh registry-up "$registry_dir" >/dev/null
  # shellcheck disable=SC1091
  source "$registry_dir/env"
  tools_env=(env COSIGN_PASSWORD= TUF_ROOT="$work/tuf" SSL_CERT_FILE="$KGUARD_REGISTRY_CA")
  "${tools_env[@]}" "$COSIGN" generate-key-pair --output-key-prefix "$work/cosign" >/dev/null 2>&1
  : >"$work/images.txt"
  for i in $(seq 1 "$IMAGES"); do
    # A one-layer image (a 4 KiB file of its own) on crane's empty base.
    mkdir -p "$work/layer-$i"
    head -c 4096 /dev/urandom >"$work/layer-$i/data"
    tar -C "$work/layer-$i" -cf "$work/layer-$i.tar" data
    repo="$KGUARD_REGISTRY/kguard/loadtest-$i"
    "${tools_env[@]}" "$CRANE" append -f "$work/layer-$i.tar" -t "$repo:v1" >/dev/null 2>&1
    digest="$("${tools_env[@]}" "$CRANE" digest "$repo:v1")"
    "${tools_env[@]}" "$COSIGN" sign --key "$work/cosign.key" --use-signing-config=false --tlog-upload=false \
      --new-bundle-format=false --registry-cacert "$KGUARD_REGISTRY_CA" -y "$repo@$digest" >/dev/null 2>&1
    echo "$repo:v1 $repo@$digest" >>"$work/images.txt"
  done
  {
    printf 'apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: loadtest-signed\nspec:\n'
    printf '  images:\n  - glob: "%s/kguard/loadtest-*"\n  authorities:\n  - name: loadtest-key\n    key:\n      data: |\n' "$KGUARD_REGISTRY"
    sed 's/^/        /' "$work/cosign.pub"
  } >"$work/policies/clusterimagepolicy.yaml"
  sed 's/^/  /' "$work/images.txt"
  admission=(--enable-admission-plugins PodSecurity,ClusterImagePolicy --image-policy-all-namespaces --registry-ca-file "$KGUARD_REGISTRY_CA")
  images=(--images "$work/images.txt")
fi

if [[ "$LOADTEST" == constraints ]]; then
  echo "== the gatekeeper-library's pod-security-policy templates and $CONSTRAINTS constraints"
  lib=internal/constraints/testdata/gatekeeper-library/library/pod-security-policy
  mkdir -p "$work/policies/constraints"
  samples=()
  for d in "$lib"/*/; do
    cp "$d/template.yaml" "$work/policies/constraints/$(basename "$d")-template.yaml"
    for c in "$d"samples/*/constraint.yaml; do samples+=("$c"); done
  done
  n=0
  while [[ "$n" -lt "$CONSTRAINTS" ]]; do
    c="${samples[$(( n % ${#samples[@]} ))]}"
    # The first name: under metadata, made unique.
    awk -v n="$n" '!done && /^  name: / {sub(/$/, "-" n); done=1} {print}' "$c" >"$work/policies/constraints/constraint-$n.yaml"
    n=$(( n + 1 ))
  done
  admission=(--enable-admission-plugins PodSecurity,Constraints)
  if [[ "${NO_CEL:-0}" == 1 ]]; then admission+=(--constraints-no-cel); fi
  check=(--no-check-decisions --mix validate=100)
fi

echo "== throwaway CA and serving certificate for 127.0.0.1"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj "/CN=kguard-loadtest-ca" -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/CN=kguard" -keyout "$work/tls.key" -out "$work/tls.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n' >"$work/ext.cnf"
openssl x509 -req -in "$work/tls.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
  -days 1 -extfile "$work/ext.cnf" -out "$work/tls.crt" 2>/dev/null

# A free loopback port: bind port 0 and read what the kernel picked. (A race
# with another process taking it meanwhile is possible but unlikely; kguard
# then fails to listen and the script stops.)
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || true)"
if [[ -z "$port" ]]; then
  port=$(( 20000 + RANDOM % 20000 ))
fi
url="https://127.0.0.1:$port"

# KGUARD_CPUS / LOADGEN_CPUS (e.g. 1 and 0) pin the two to separate cores (taskset
# execs the command, so $! stays the process measured and stopped).
if [[ "$LOADTEST" != constraints ]]; then check=(); fi
if [[ "$TARGET" == noop ]]; then
  echo "== starting noopwebhook (no decisions: the floor) on $url"
  GOGC="$KGUARD_GOGC" ${KGUARD_CPUS:+taskset -c "$KGUARD_CPUS"} "$work/noopwebhook" --listen-address "127.0.0.1:$port" \
    --tls-cert-file "$work/tls.crt" --tls-private-key-file "$work/tls.key" ${h2flag[@]+"${h2flag[@]}"} 2>"$work/kguard.log" &
  check=(--no-check-decisions ${check[@]+"${check[@]:1}"})
else
  echo "== starting kguard serve on $url"
  GOGC="$KGUARD_GOGC" ${KGUARD_CPUS:+taskset -c "$KGUARD_CPUS"} "$work/kguard" serve --listen-address "127.0.0.1:$port" \
    --tls-cert-file "$work/tls.crt" --tls-private-key-file "$work/tls.key" \
    --policy-dir "$work/policies" --log-level warn ${admission[@]+"${admission[@]}"} ${h2flag[@]+"${h2flag[@]}"} \
    ${KGUARD_ARGS:-} 2>"$work/kguard.log" &
fi
kguard_pid=$!

ready=0
started=$(date +%s.%N)
for _ in $(seq 1 600); do
  if ! kill -0 "$kguard_pid" 2>/dev/null; then
    echo "loadtest: kguard exited:" >&2; cat "$work/kguard.log" >&2; exit 2
  fi
  if curl -fsS --cacert "$work/ca.crt" "$url/readyz" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.1
done
[[ "$ready" == 1 ]] || { echo "loadtest: kguard not ready after 60 s" >&2; cat "$work/kguard.log" >&2; exit 2; }
echo "ready after $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"

rss() { awk '/^(VmRSS|VmHWM|RssAnon|RssFile):/ {printf "%s %.1f MiB  ", $1, $2/1024}' "/proc/$kguard_pid/status"; echo; }
echo "$TARGET memory after loading: $(rss)"

# CPU seconds kguard has used (user + system), from /proc/PID/stat.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz}' "/proc/$kguard_pid/stat"; }

# Image verification counters (LOADTEST=images): registry calls and cache misses
# are the cache's failures once it is warm.
image_metrics() {
  curl -fsS --cacert "$work/ca.crt" "$url/metrics" 2>/dev/null |
    awk '/^kguard_(registry_calls|registry_failures|image_cache_hits|image_cache_misses|image_admitted|image_refused|image_unverifiable)_total / {printf "%s=%s ", $1, $2}'
}
if [[ "$LOADTEST" == images ]]; then echo "image counters before the load: $(image_metrics)"; fi

echo "== load ($LOADTEST): $RATE req/s for $DURATION, $TARGET with GOGC=$KGUARD_GOGC ($(uptime | sed 's/.*load average/load average/'))"
rc=0
cpu0=$(cpu); t0=$(date +%s.%N)
# In the background, so that a signal interrupts `wait` and the trap stops both.
${LOADGEN_CPUS:+taskset -c "$LOADGEN_CPUS"} "$work/loadgen" --url "$url" --ca-file "$work/ca.crt" --rate "$RATE" --duration "$DURATION" \
  --seed "$SEED" --psps "$PSPS" --max-requests 1000000 ${check[@]+"${check[@]}"} ${images[@]+"${images[@]}"} "$@" >&3 &
loadgen_pid=$!
wait "$loadgen_pid" || rc=$?
loadgen_pid=""
cpu1=$(cpu); t1=$(date +%s.%N)
awk -v who="$TARGET" -v c0="$cpu0" -v c1="$cpu1" -v t0="$t0" -v t1="$t1" \
  'BEGIN{printf "== %s CPU during the load (warm-up included): %.1f s in %.1f s = %.2f cores\n", who, c1-c0, t1-t0, (c1-c0)/(t1-t0)}'

echo "== $TARGET memory after the load: $(rss)"
curl -fsS --cacert "$work/ca.crt" "$url/metrics" 2>/dev/null |
  awk '/^go_memstats_(heap_inuse|heap_alloc|sys)_bytes / {printf "  %s %.1f MiB\n", $1, $2/1048576}
       /^go_gc_duration_seconds_count / {printf "  GC cycles %d\n", $2}' || true
if [[ "$LOADTEST" == images ]]; then echo "image counters after the load (cache warm-up included): $(image_metrics)"; fi
if grep -q 'level=ERROR' "$work/kguard.log"; then
  echo "kguard logged errors:" >&2; grep 'level=ERROR' "$work/kguard.log" | head -5 >&2
fi
exit "$rc"
