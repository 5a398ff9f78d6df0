#!/usr/bin/env bash
# Regenerates internal/authz/defaultroles/defaultroles.yaml from a real
# kube-apiserver: the ClusterRoles and ClusterRoleBindings it bootstraps
# (label kubernetes.io/bootstrapping=rbac-defaults), after kube-controller-manager
# has filled the aggregated roles (admin, edit, view, ...).
#   hack/gen-default-roles.sh            starts a cluster, dumps, stops it
#   KUBECONFIG=... hack/gen-default-roles.sh --running   uses a running cluster
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/internal/authz/defaultroles/defaultroles.yaml"
if [ "${1:-}" != "--running" ]; then
  env_file="$(bash "$ROOT/hack/e2e-cluster.sh" up)"
  trap 'bash "$ROOT/hack/e2e-cluster.sh" down' EXIT
  # shellcheck disable=SC1090
  . "$env_file"; export KUBECONFIG
fi
# Wait until the aggregation controller has filled the aggregated roles.
for _ in $(seq 1 60); do
  n="$(kubectl get clusterrole admin -o jsonpath='{.rules}' 2>/dev/null | wc -c)"
  [ "$n" -gt 10 ] && break
  sleep 1
done
version="$(kubectl get --raw /version | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p')"
kubectl get clusterroles,clusterrolebindings -l kubernetes.io/bootstrapping=rbac-defaults -o json |
  (cd "$ROOT" && go run ./hack/cleanobjects "$version") >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT ($version)"
