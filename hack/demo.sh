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
echo "### PSP -> PSS migration"
run psp migrate examples/psp/tenant/tenant-psp.yaml --workloads examples/psp/pods
