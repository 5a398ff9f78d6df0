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

echo
echo "### Authorization: the RBAC objects of seeds 001/002 (examples/rbac)"
run authz can-i get pods -n default --as jane -f examples/rbac --reason
run authz can-i delete pods -n default --as jane -f examples/rbac --reason
run authz can-i get secrets -n development --as dave -f examples/rbac --reason
run authz can-i get /healthz --as system:anonymous -f examples/rbac --reason
run authz can-i list pods -n qa --as system:serviceaccount:qa:builder -f examples/rbac --default-roles --reason
run authz can-i --list -n default --as jane -f examples/rbac
run authz who-can get secrets -n development -f examples/rbac

echo
echo "### ABAC of seed 001 chained after RBAC, like --authorization-mode=RBAC,ABAC"
run authz can-i list pods -n projectCaribou --as bob --authorization-mode RBAC,ABAC --authorization-policy-file examples/abac/policy.jsonl -f examples/rbac --reason
run authz can-i create pods -n projectCaribou --as bob --authorization-mode RBAC,ABAC --authorization-policy-file examples/abac/policy.jsonl -f examples/rbac
run authz review --authorization-mode RBAC,ABAC --authorization-policy-file examples/abac/policy.jsonl -f examples/rbac examples/sar/bob-list-pods-caribou.json
run authz abac-to-rbac examples/abac/policy.jsonl

echo
echo "### Escalation prevention (seed 002 §6): user-1 may bind view in its namespace, not cluster-admin"
run authz check-escalation -f examples/rbac --default-roles --as user-1 examples/escalation/bindings.yaml

echo
echo "### Risky grants"
run authz audit -f examples/audit/risky.yaml

echo
echo "### PodSecurityPolicy walkthrough of seed 000, offline (examples/psp)"
echo "# fake-user may not use any policy yet: the pause pod is forbidden"
run check --policy examples/psp/policies --as system:serviceaccount:psp-example:fake-user examples/psp/pods/pause.yaml
echo "# after the Role/RoleBindings granting 'use' on the example policy, it is admitted and annotated"
run check --policy examples/psp/policies --policy examples/psp/grant --as system:serviceaccount:psp-example:fake-user examples/psp/pods/pause.yaml
echo "# the privileged pod is still denied, with the field error"
run check --policy examples/psp/policies --policy examples/psp/grant --as system:serviceaccount:psp-example:fake-user examples/psp/pods/privileged.yaml
echo "# workloads are checked through their pod template"
run check --policy examples/psp/policies --policy examples/psp/grant --as system:serviceaccount:psp-example:fake-user examples/psp/pods/deployment.yaml

echo
echo "### Pod Security Standards (the built-in PodSecurity controller's own checks)"
run check --pss restricted examples/psp/pods

echo
echo "### Policies as code: Gatekeeper templates and constraints, plain Rego (seed 004)"
printf '\n$ kguard policy verify examples/constraints/suite.yaml\n'
"$kguard" policy verify examples/constraints/suite.yaml || { echo "demo failed: the example suite does not pass" >&2; exit 1; }
printf '\n$ kguard check --policy examples/constraints examples/constraints/objects.yaml\n'
"$kguard" check --policy examples/constraints examples/constraints/objects.yaml && { echo "demo failed: a Service with externalIPs or a privileged pod was admitted" >&2; exit 1; } || test $? -eq 1

echo
echo "### PSP -> PSS migration"
run psp migrate examples/psp/tenant/tenant-psp.yaml --workloads examples/psp/pods

echo
echo "### kguard serve: the same engines as kube-apiserver's HTTPS webhooks (files mode, on loopback)"
command -v curl >/dev/null || { echo "demo failed: curl is needed for the webhook part" >&2; exit 1; }
tmp="$(mktemp -d)"
port="$(go run ./hack/freeport 2>/dev/null || echo 18443)"
go run ./hack/devcert "$tmp"
echo "# seed 003: image signatures (ClusterImagePolicy). Offline nothing can be verified, so both"
echo "# Deployments are refused, each with its reason; kguard serve and kguard image verify read the registry."
printf '\n$ kguard check --offline --policy examples/imagepolicy examples/imagepolicy/deploy.yaml examples/imagepolicy/deploy-unsigned.yaml\n'
"$kguard" check --offline --policy examples/imagepolicy examples/imagepolicy/deploy.yaml examples/imagepolicy/deploy-unsigned.yaml && { echo "demo failed: unverifiable images admitted" >&2; exit 1; } || test $? -eq 1

printf 'alice-token,alice,1000,"dev"\n' >"$tmp/tokens.csv"
"$kguard" serve --listen-address "127.0.0.1:$port" --tls-cert-file "$tmp/tls.crt" --tls-private-key-file "$tmp/tls.key" \
  --policy-dir examples/psp/policies --policy-dir examples/psp/grant --policy-dir examples/rbac \
  --authorization-mode RBAC,ABAC --authorization-policy-file examples/abac/policy.jsonl \
  --token-auth-file "$tmp/tokens.csv" --log-level warn 2>"$tmp/serve.log" &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
  curl -sf --cacert "$tmp/ca.crt" "https://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; echo "demo failed: kguard serve exited" >&2; exit 1; }
  sleep 0.1
done
post() { # path body: prints the request and kguard's answer
  printf '\n$ curl -X POST https://127.0.0.1:%s%s -d %s\n' "$port" "$1" "$2"
  curl -sS --fail-with-body --cacert "$tmp/ca.crt" -H 'Content-Type: application/json' -d "$2" "https://127.0.0.1:$port$1"
  echo
}
post /authenticate '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"alice-token"}}'
post /authorize "$(cat examples/sar/bob-list-pods-caribou.json)"
pod='{"apiVersion":"v1","kind":"Pod","metadata":{"name":"pause","namespace":"psp-example"},"spec":{"containers":[{"name":"pause","image":"k8s.gcr.io/pause"}]}}'
review() { # uid user pod
  printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"%s","kind":{"version":"v1","kind":"Pod"},"resource":{"version":"v1","resource":"pods"},"namespace":"psp-example","operation":"CREATE","userInfo":{"username":"%s","groups":["system:authenticated"]},"object":%s}}' "$1" "$2" "$3"
}
echo "# fake-user may use the example policy: admitted, with the policy's annotation as a JSON Patch (base64)"
post /mutate "$(review 1 system:serviceaccount:psp-example:fake-user "$pod")"
echo "# the privileged pod is denied with the field error"
post /mutate "$(review 2 system:serviceaccount:psp-example:fake-user "${pod/\"image\":\"k8s.gcr.io\/pause\"/\"image\":\"k8s.gcr.io/pause\",\"securityContext\":{\"privileged\":true\}}")"
echo "# a malformed review is refused, never allowed"
printf '\n$ curl -X POST https://127.0.0.1:%s/authorize -d {"kind":\n' "$port"
curl -sS --cacert "$tmp/ca.crt" -H 'Content-Type: application/json' -d '{"kind":' -w ' (HTTP %{http_code})\n' "https://127.0.0.1:$port/authorize"
