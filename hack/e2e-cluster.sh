#!/usr/bin/env bash
# A real local control plane for kguard's end-to-end tests and for trying kguard
# by hand: etcd + kube-apiserver + kube-controller-manager + kube-scheduler on 127.0.0.1.
# There is no kubelet: tests create Node objects through the API, and the real scheduler
# binds pods to them (issue #15's node isolation); no container ever runs.
#
#   hack/e2e-cluster.sh install   install etcd and kubectl if missing; build kube-apiserver,
#                                 kube-controller-manager and kube-scheduler (cached in
#                                 $KGUARD_CACHE/bin/$K8S_VERSION)
#   hack/e2e-cluster.sh up        generate certificates and tokens, start everything, wait for
#                                 /readyz; prints the env file to source (KUBECONFIG, ports, PIDs)
#   hack/e2e-cluster.sh down      stop everything and remove the cluster directory
#   hack/e2e-cluster.sh env       print the env file path of the running cluster
#
# kube-apiserver is set up to call kguard on 127.0.0.1:$KGUARD_PORT (in the env file) as its
# token and authorization webhook (--authorization-mode=Node,Webhook,RBAC), with its built-in
# PodSecurity admission disabled, and with an audit log of pod requests at Metadata level (where
# the admission webhooks' annotations land; AUDIT_LOG in the env file); start `kguard serve`
# there with the env file's KGUARD_TLS_CERT/KGUARD_TLS_KEY (test/e2e does; docs/e2e.md shows it by hand).
#
# Environment: KGUARD_CACHE (default $HOME/.cache/kguard), KGUARD_CLUSTER_DIR (default
# $KGUARD_CACHE/cluster), KGUARD_APISERVER_FLAGS (extra kube-apiserver flags),
# KGUARD_AUTHORIZATION_MODE (default Node,Webhook,RBAC), KGUARD_BUILTIN_PODSECURITY=1
# (keep kube-apiserver's built-in PodSecurity admission enabled, with its defaults, to
# compare kguard with it: hack/bench-e2e.sh; a --disable-admission-plugins PodSecurity
# of ours would otherwise conflict with --enable-admission-plugins=PodSecurity),
# KGUARD_IMAGE_POLICY_WEBHOOK=0 (no ImagePolicyWebhook: by default kube-apiserver asks
# kguard's /imagereview about every pod's images, failing closed).
set -euo pipefail

K8S_VERSION=v1.37.2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${KGUARD_CACHE:-$HOME/.cache/kguard}"
BIN="$CACHE/bin/$K8S_VERSION"
DIR="${KGUARD_CLUSTER_DIR:-$CACHE/cluster}"
ENV_FILE="$DIR/env"

log() { printf '[e2e-cluster] %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null 2>&1 || {
    as_root apt-get update >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null
  }
}

install() {
  command -v etcd >/dev/null || { log "installing etcd-server"; apt_install etcd-server; }
  command -v kubectl >/dev/null || { log "installing kubectl"; apt_install kubectl; }
  command -v openssl >/dev/null || { log "installing openssl"; apt_install openssl; }
  command -v curl >/dev/null || { log "installing curl"; apt_install curl; }
  command -v python3 >/dev/null || { log "installing python3 (free ports)"; apt_install python3; }
  mkdir -p "$BIN"
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
    if [ -x "$BIN/$cmd" ]; then continue; fi
    log "building $cmd $K8S_VERSION (first time: several minutes on 2 cores)"
    # Stamp the release into the binary as the Kubernetes build does (otherwise it
    # reports v0.0.0-master and its compatibility version is wrong).
    local v="k8s.io/component-base/version" minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
    (cd "$ROOT/hack/tools/kubernetes" && GOFLAGS=-mod=mod go build \
      -ldflags "-X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean" \
      -o "$BIN/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd")
    mv "$BIN/$cmd.tmp" "$BIN/$cmd"
  done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

certs() {
  local d="$DIR/pki"
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kguard-e2e-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$d/apiserver.key" -out "$d/apiserver.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' >"$d/apiserver.ext"
  openssl x509 -req -in "$d/apiserver.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/apiserver.ext" -out "$d/apiserver.crt" 2>/dev/null
  # kguard's serving certificate: kube-apiserver calls its webhooks on 127.0.0.1.
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kguard" \
    -keyout "$d/kguard.key" -out "$d/kguard.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/kguard.ext"
  openssl x509 -req -in "$d/kguard.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/kguard.ext" -out "$d/kguard.crt" 2>/dev/null
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
}

webhook_kubeconfig() { # file path: how kube-apiserver reaches a kguard endpoint
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kguard
  cluster:
    server: https://127.0.0.1:$KGUARD_PORT$2
    certificate-authority: $DIR/pki/ca.crt
users:
- name: kube-apiserver
contexts:
- name: kguard
  context: {cluster: kguard, user: kube-apiserver}
current-context: kguard
EOF
}

kubeconfig() { # file user token
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $DIR/pki/ca.crt
users:
- name: $2
  user:
    token: $3
contexts:
- name: e2e
  context: {cluster: e2e, user: $2}
current-context: e2e
EOF
}

wait_ready() {
  local i
  for i in $(seq 1 180); do
    if curl -sf --cacert "$DIR/pki/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
      "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null 2>&1; then return 0; fi
    kill -0 "$APISERVER_PID" 2>/dev/null || return 1
    sleep 1
  done
  return 1
}

up() {
  install
  if [ -f "$ENV_FILE" ]; then down; fi
  mkdir -p "$DIR"
  trap 'log "start failed; logs:"; tail -n 30 "$DIR"/*.log >&2 || true; down; exit 1' ERR
  certs
  ADMIN_TOKEN="$(openssl rand -hex 16)"
  KCM_TOKEN="$(openssl rand -hex 16)"
  SCHEDULER_TOKEN="$(openssl rand -hex 16)"
  printf '%s,admin,admin,"system:masters"\n%s,system:kube-controller-manager,kcm,\n%s,system:kube-scheduler,scheduler,\n' \
    "$ADMIN_TOKEN" "$KCM_TOKEN" "$SCHEDULER_TOKEN" >"$DIR/tokens.csv"
  ETCD_PORT="$(free_port)"; ETCD_PEER_PORT="$(free_port)"; APISERVER_PORT="$(free_port)"; KGUARD_PORT="$(free_port)"
  SCHEDULER_PORT="$(free_port)"
  # kguard (started by the tests on KGUARD_PORT) is the token and authorization
  # webhook, as in seed 001; short caches so that its decisions show at once.
  # While it is not running the webhooks fail fast: no token is authenticated by
  # it and the authorizer chain falls through to RBAC.
  webhook_kubeconfig "$DIR/kguard-authn.kubeconfig" /authenticate
  webhook_kubeconfig "$DIR/kguard-authz.kubeconfig" /authorize
  # kube-apiserver's ImagePolicyWebhook asks kguard's /imagereview about every
  # pod's images (seed 001); failing closed (defaultAllow: false), with short
  # caches so that kguard's decisions show at once.
  webhook_kubeconfig "$DIR/kguard-imagepolicy.kubeconfig" /imagereview
  cat >"$DIR/admission-config.yaml" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: ImagePolicyWebhook
  configuration:
    imagePolicy:
      kubeConfigFile: $DIR/kguard-imagepolicy.kubeconfig
      allowTTL: 1
      denyTTL: 1
      retryBackoff: 100
      defaultAllow: false
EOF
  # An audit log of pod requests at Metadata level: where the annotations of
  # kguard's admission webhooks land (mutate.kguard.io/admit-policy, ...).
  cat >"$DIR/audit-policy.yaml" <<EOF
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  resources: [{group: "", resources: [pods]}]
- level: None
EOF

  # kguard stands in for the built-in PodSecurity admission unless the comparison asks
  # for the built-in (then it runs with its defaults: privileged, namespaces' labels decide).
  local admission_flags=(--disable-admission-plugins PodSecurity)
  if [ "${KGUARD_BUILTIN_PODSECURITY:-0}" = 1 ]; then admission_flags=(); fi
  if [ "${KGUARD_IMAGE_POLICY_WEBHOOK:-1}" = 1 ]; then
    admission_flags+=(--enable-admission-plugins ImagePolicyWebhook --admission-control-config-file "$DIR/admission-config.yaml")
  fi

  etcd --data-dir "$DIR/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT" >"$DIR/etcd.log" 2>&1 &
  ETCD_PID=$!

  # shellcheck disable=SC2086
  "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
    --tls-cert-file "$DIR/pki/apiserver.crt" --tls-private-key-file "$DIR/pki/apiserver.key" \
    --client-ca-file "$DIR/pki/ca.crt" --token-auth-file "$DIR/tokens.csv" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$DIR/pki/sa.pub" --service-account-signing-key-file "$DIR/pki/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 --allow-privileged=true \
    --authentication-token-webhook-config-file "$DIR/kguard-authn.kubeconfig" \
    --authentication-token-webhook-version v1 --authentication-token-webhook-cache-ttl 1s \
    --authorization-mode "${KGUARD_AUTHORIZATION_MODE:-Node,Webhook,RBAC}" \
    --authorization-webhook-config-file "$DIR/kguard-authz.kubeconfig" --authorization-webhook-version v1 \
    --authorization-webhook-cache-authorized-ttl 1s --authorization-webhook-cache-unauthorized-ttl 1s \
    "${admission_flags[@]}" \
    --audit-policy-file "$DIR/audit-policy.yaml" --audit-log-path "$DIR/audit.log" \
    --endpoint-reconciler-type none --enable-priority-and-fairness=false --profiling=false \
    ${KGUARD_APISERVER_FLAGS:-} >"$DIR/kube-apiserver.log" 2>&1 &
  APISERVER_PID=$!

  kubeconfig "$DIR/admin.kubeconfig" admin "$ADMIN_TOKEN"
  kubeconfig "$DIR/kcm.kubeconfig" system:kube-controller-manager "$KCM_TOKEN"
  kubeconfig "$DIR/scheduler.kubeconfig" system:kube-scheduler "$SCHEDULER_TOKEN"
  wait_ready

  "$BIN/kube-controller-manager" --kubeconfig "$DIR/kcm.kubeconfig" \
    --authentication-kubeconfig "$DIR/kcm.kubeconfig" --authorization-kubeconfig "$DIR/kcm.kubeconfig" \
    --use-service-account-credentials=true --service-account-private-key-file "$DIR/pki/sa.key" \
    --root-ca-file "$DIR/pki/ca.crt" --cluster-signing-cert-file "$DIR/pki/ca.crt" \
    --cluster-signing-key-file "$DIR/pki/ca.key" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 0 >"$DIR/kube-controller-manager.log" 2>&1 &
  KCM_PID=$!

  # The default scheduler (profile default-scheduler) with the rights of the
  # bootstrap ClusterRole system:kube-scheduler. It serves only /healthz, /livez
  # and /readyz (always allowed, self-signed) on SCHEDULER_PORT; /readyz once its
  # informers have synced. No delegated authentication: kube-apiserver has no
  # requestheader CA, which a delegating scheduler would log every second.
  "$BIN/kube-scheduler" --kubeconfig "$DIR/scheduler.kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" >"$DIR/kube-scheduler.log" 2>&1 &
  SCHEDULER_PID=$!

  cat >"$ENV_FILE" <<EOF
KUBECONFIG=$DIR/admin.kubeconfig
KGUARD_CLUSTER_DIR=$DIR
APISERVER_LOG=$DIR/kube-apiserver.log
AUDIT_LOG=$DIR/audit.log
KGUARD_K8S_BIN=$BIN
APISERVER_URL=https://127.0.0.1:$APISERVER_PORT
APISERVER_PORT=$APISERVER_PORT
ETCD_PORT=$ETCD_PORT
CA_CERT=$DIR/pki/ca.crt
CA_KEY=$DIR/pki/ca.key
ADMIN_TOKEN=$ADMIN_TOKEN
KGUARD_PORT=$KGUARD_PORT
KGUARD_TLS_CERT=$DIR/pki/kguard.crt
KGUARD_TLS_KEY=$DIR/pki/kguard.key
SA_PUBLIC_KEY=$DIR/pki/sa.pub
SA_ISSUER=https://kubernetes.default.svc.cluster.local
ETCD_PID=$ETCD_PID
APISERVER_PID=$APISERVER_PID
KCM_PID=$KCM_PID
SCHEDULER_PID=$SCHEDULER_PID
SCHEDULER_PORT=$SCHEDULER_PORT
SCHEDULER_LOG=$DIR/kube-scheduler.log
KGUARD_BUILTIN_PODSECURITY=${KGUARD_BUILTIN_PODSECURITY:-0}
EOF
  trap - ERR
  # The controller manager creates the default ServiceAccounts; wait for one so
  # that tests start on a working cluster.
  local i
  for i in $(seq 1 120); do
    if KUBECONFIG="$DIR/admin.kubeconfig" kubectl get serviceaccount default -n default >/dev/null 2>&1; then break; fi
    kill -0 "$KCM_PID" 2>/dev/null || { log "kube-controller-manager exited"; tail -n 30 "$DIR/kube-controller-manager.log" >&2; down; exit 1; }
    sleep 1
  done
  # Pods created before the scheduler has synced would wait for its first
  # retry: tests start once it is ready.
  for i in $(seq 1 60); do
    if curl -sfk "https://127.0.0.1:$SCHEDULER_PORT/readyz" >/dev/null 2>&1; then break; fi
    kill -0 "$SCHEDULER_PID" 2>/dev/null || { log "kube-scheduler exited"; tail -n 30 "$DIR/kube-scheduler.log" >&2; down; exit 1; }
    [ "$i" -lt 60 ] || { log "kube-scheduler not ready within a minute"; tail -n 30 "$DIR/kube-scheduler.log" >&2; down; exit 1; }
    sleep 1
  done
  log "cluster up: source $ENV_FILE (KUBECONFIG=$DIR/admin.kubeconfig)"
  echo "$ENV_FILE"
}

down() {
  if [ -f "$ENV_FILE" ]; then
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    for pid in "${SCHEDULER_PID:-}" "${KCM_PID:-}" "${APISERVER_PID:-}" "${ETCD_PID:-}"; do
      [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    for pid in "${SCHEDULER_PID:-}" "${KCM_PID:-}" "${APISERVER_PID:-}" "${ETCD_PID:-}"; do
      [ -n "$pid" ] || continue
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    done
  else
    for pid in "${SCHEDULER_PID:-}" "${KCM_PID:-}" "${APISERVER_PID:-}" "${ETCD_PID:-}"; do
      [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    done
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down ;;
  env) [ -f "$ENV_FILE" ] && echo "$ENV_FILE" || { log "no cluster running"; exit 1; } ;;
  *) sed -n '2,28p' "$0" >&2; exit 2 ;;
esac
