#!/usr/bin/env bash
# Pod creation through a real kube-apiserver (hack/e2e-cluster.sh), with and without
# admission webhooks: what kguard costs the API server (docs/performance.md, "End to end
# through kube-apiserver"). A benchmark, never part of `make test`.
#
#   bash hack/bench-e2e.sh [extra benche2e run flags]     (make bench-e2e)
#
# Two cluster phases, one after the other:
#   1. the built-in PodSecurity disabled; rounds rotating over the setups none (no
#      webhook), noop (hack/noopwebhook as mutating and validating webhook), noop-mutating
#      (the same, its /mutate answering a one-annotation patch: the floor of any webhook
#      that mutates, which kube-apiserver must apply, decode and default), kguard-pss
#      (kguard, PodSecurity only), kguard-psp (kguard, PodSecurityPolicy with the
#      mutating restricted policy of examples/psp/policies, then PodSecurity),
#      kguard-constraints (PodSecurity and Constraints: the gatekeeper-library's
#      pod-security-policy templates with 50 warning constraints, CEL first) and
#      kguard-constraints-rego (the same, Rego only);
#   2. a fresh cluster with KGUARD_BUILTIN_PODSECURITY=1: the built-in PodSecurity, no webhook.
# Each setup and round: N restricted pods created one at a time (latency), N with
# WORKERS at once (pods/s), DENY privileged pods; the namespace enforces restricted.
# The webhooks listen on ports of their own, not on the cluster's KGUARD_PORT: nothing
# answers kube-apiserver's token and authorization webhooks there, they fail fast, and the
# benchmark's admin (system:masters) never reaches them; only admission differs between setups.
#
# Environment: N (300), ROUNDS (3), WORKERS (8), DENY (10), WARMUP (30),
# PHASES ("webhooks builtin"), KEEP=1 keeps the work directory (results JSON, the
# webhooks' logs). Progress goes to stderr, the markdown table to stdout.
# Only one cluster may run on the machine: the script refuses to start beside another.
set -euo pipefail

cd "$(dirname "$0")/.."
N="${N:-300}"
ROUNDS="${ROUNDS:-3}"
WORKERS="${WORKERS:-8}"
DENY="${DENY:-10}"
WARMUP="${WARMUP:-30}"
PHASES="${PHASES:-webhooks builtin}"
GO="${GO:-go}"

# (zombies, whose parent has not reaped them yet, do not count)
if ps -eo stat=,args= | awk '$1 !~ /^Z/ && /[k]ube-apiserver --etcd-servers/ {found=1} END {exit !found}'; then
  echo "bench-e2e: a kube-apiserver is already running (another cluster); wait for it to stop" >&2
  exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/kguard-bench-e2e.XXXXXX")"
# A cluster directory of our own: never the default one another engineer's cluster may use.
export KGUARD_CLUSTER_DIR="$work/cluster"
cluster_up=0
cleanup() {
  if [[ "$cluster_up" == 1 ]]; then bash hack/e2e-cluster.sh down || true; fi
  if [[ "${KEEP:-0}" == 1 ]]; then echo "bench-e2e: work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building kguard, noopwebhook, benche2e" >&2
"$GO" build -o "$work/kguard" ./cmd/kguard
"$GO" build -o "$work/noopwebhook" ./hack/noopwebhook
"$GO" build -o "$work/benche2e" ./hack/benche2e
bash hack/e2e-cluster.sh install

results=()
for phase in $PHASES; do
  case "$phase" in
    webhooks) setups=none,noop,noop-mutating,kguard-pss,kguard-psp,kguard-constraints,kguard-constraints-rego; builtin=0 ;;
    builtin) setups=builtin; builtin=1 ;;
    *) echo "bench-e2e: unknown phase $phase (webhooks, builtin)" >&2; exit 2 ;;
  esac
  echo "== phase $phase: cluster up" >&2
  cluster_up=1
  # No ImagePolicyWebhook: the setups compare the admission webhooks alone.
  env_file="$(KGUARD_BUILTIN_PODSECURITY=$builtin KGUARD_IMAGE_POLICY_WEBHOOK=0 bash hack/e2e-cluster.sh up)"
  "$work/benche2e" run -env "$env_file" -setups "$setups" -n "$N" -rounds "$ROUNDS" -workers "$WORKERS" \
    -deny "$DENY" -warmup "$WARMUP" -kguard "$work/kguard" -noop "$work/noopwebhook" -work "$work" \
    -out "$work/$phase.json" "$@"
  results+=("$work/$phase.json")
  bash hack/e2e-cluster.sh down
  cluster_up=0
done

"$work/benche2e" report "${results[@]}"
