#!/usr/bin/env bash
# Creates the certificates kguard serve needs, with openssl:
#
#   ca.key, ca.crt                   a CA of its own for kguard (ECDSA P-256, 10 years)
#   tls.key, tls.crt                 kguard's serving certificate, signed by the CA, for
#                                    SERVICE.NAMESPACE.svc and SERVICE.NAMESPACE.svc.cluster.local
#                                    (+ 127.0.0.1 and localhost with --localhost, + every --san)
#   apiserver-client.key, .crt       the client certificate kube-apiserver presents to kguard
#                                    (needed when kguard runs with --client-ca-file)
#   ca.b64                           ca.crt in base64 on one line: the webhooks' caBundle
#
# Usage: gen-certs.sh [options] OUTDIR
#   --localhost           also name 127.0.0.1 and localhost (kguard next to kube-apiserver)
#   --san SAN             one more subject alternative name, e.g. IP:10.96.0.50 or
#                         DNS:kguard.example.com (repeatable)
#   --namespace NS        kguard's namespace (default kguard)
#   --service NAME        kguard's Service (default kguard)
#   --days N              validity of the serving and client certificates (default 365)
#
# Running it again renews the serving and client certificates with the same CA (the
# webhooks' caBundle stays valid). An existing CA key is never overwritten: the script
# reuses it, and refuses to run when ca.crt and ca.key do not belong together. For a new
# CA, use a new OUTDIR.
#
# ca.key can sign certificates kguard trusts: keep OUTDIR out of version control and the
# key offline once you are done. See README.md in this directory.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
Usage: gen-certs.sh [options] OUTDIR
  --localhost           also name 127.0.0.1 and localhost (kguard next to kube-apiserver)
  --san SAN             one more subject alternative name, e.g. IP:10.96.0.50 or
                        DNS:kguard.example.com (repeatable)
  --namespace NS        kguard's namespace (default kguard)
  --service NAME        kguard's Service (default kguard)
  --days N              validity of the serving and client certificates (default 365)
EOF
  exit "${1:-2}"
}
die() { echo "gen-certs.sh: $*" >&2; exit 1; }

namespace=kguard
service=kguard
days=365
ca_days=3650
localhost=false
extra_sans=()
outdir=

while [ $# -gt 0 ]; do
  case "$1" in
    --localhost) localhost=true ;;
    --san) [ $# -ge 2 ] || usage; extra_sans+=("$2"); shift ;;
    --namespace) [ $# -ge 2 ] || usage; namespace=$2; shift ;;
    --service) [ $# -ge 2 ] || usage; service=$2; shift ;;
    --days) [ $# -ge 2 ] || usage; days=$2; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "gen-certs.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$outdir" ] || usage; outdir=$1 ;;
  esac
  shift
done
[ -n "$outdir" ] || usage
case "$days" in ''|*[!0-9]*) die "--days must be a number of days, not '$days'" ;; esac
for s in "${extra_sans[@]+"${extra_sans[@]}"}"; do
  case "$s" in DNS:?*|IP:?*) ;; *) die "--san '$s': write DNS:name or IP:address" ;; esac
done
command -v openssl >/dev/null || die "openssl not found"

# Private keys (and everything else) readable by the owner only; certificates are
# made world-readable below.
umask 077
mkdir -p "$outdir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

host="$service.$namespace.svc"
sans="DNS:$host, DNS:$host.cluster.local"
if [ "$localhost" = true ]; then
  sans="$sans, IP:127.0.0.1, DNS:localhost"
fi
for s in "${extra_sans[@]+"${extra_sans[@]}"}"; do
  sans="$sans, $s"
done

# A configuration file of our own for every openssl call: no dependency on the
# system's openssl.cnf.
cat > "$tmp/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no

[dn]
CN = kguard-ca

[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $sans
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer

[v3_client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF

newkey() { openssl ecparam -name prime256v1 -genkey -noout -out "$1"; }

# The CA: created once, then reused.
ca_key="$outdir/ca.key" ca_crt="$outdir/ca.crt"
if [ -e "$ca_key" ]; then
  [ -e "$ca_crt" ] || die "$ca_key exists but $ca_crt does not; not overwriting the key. Restore ca.crt or use a new directory."
  if [ "$(openssl pkey -in "$ca_key" -pubout)" != "$(openssl x509 -in "$ca_crt" -noout -pubkey)" ]; then
    die "$ca_key does not belong to $ca_crt; not touching either. Use a new directory for a new CA."
  fi
  echo "Reusing the existing CA $ca_crt ($(openssl x509 -in "$ca_crt" -noout -subject), expires $(openssl x509 -in "$ca_crt" -noout -enddate | cut -d= -f2))."
  if ! openssl x509 -in "$ca_crt" -noout -checkend $((days * 86400)) >/dev/null; then
    echo "WARNING: the CA expires before the new certificates; plan a new CA (and caBundle)." >&2
  fi
else
  [ ! -e "$ca_crt" ] || die "$ca_crt exists without $ca_key; not overwriting it. Use a new directory for a new CA."
  newkey "$tmp/ca.key"
  openssl req -x509 -new -key "$tmp/ca.key" -sha256 -days "$ca_days" \
    -config "$tmp/openssl.cnf" -extensions v3_ca -out "$tmp/ca.crt"
  # The certificate first: a ca.key never exists without its ca.crt.
  cp "$tmp/ca.crt" "$ca_crt"
  cp "$tmp/ca.key" "$ca_key"
  echo "Created the CA $ca_crt."
fi

# leaf NAME COMMON_NAME EXTENSIONS: a key and a certificate signed by the CA.
leaf() {
  local name=$1 cn=$2 ext=$3
  newkey "$tmp/$name.key"
  openssl req -new -key "$tmp/$name.key" -subj "/CN=$cn" -config "$tmp/openssl.cnf" -out "$tmp/$name.csr"
  openssl x509 -req -in "$tmp/$name.csr" -CA "$ca_crt" -CAkey "$ca_key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 \
    -extfile "$tmp/openssl.cnf" -extensions "$ext" -out "$tmp/$name.crt" 2>"$tmp/err" ||
    { cat "$tmp/err" >&2; die "signing $name.crt failed"; }
  if [ -e "$outdir/$name.crt" ] || [ -e "$outdir/$name.key" ]; then
    echo "Replacing $outdir/$name.crt and $outdir/$name.key."
  fi
  cp "$tmp/$name.key" "$outdir/$name.key"
  cp "$tmp/$name.crt" "$outdir/$name.crt"
}
leaf tls "$host" v3_server
leaf apiserver-client kube-apiserver v3_client

chmod 0644 "$ca_crt" "$outdir/tls.crt" "$outdir/apiserver-client.crt"
openssl verify -CAfile "$ca_crt" "$outdir/tls.crt" "$outdir/apiserver-client.crt" >/dev/null
base64 < "$ca_crt" | tr -d '\n' > "$outdir/ca.b64"
chmod 0644 "$outdir/ca.b64"

if [ "$namespace" = kguard ]; then
  ns_step="kubectl apply -f $(cd "$(dirname "$0")/.." && pwd)/namespace.yaml"
else
  ns_step="kubectl create namespace $namespace --dry-run=client -o yaml | kubectl apply -f -"
fi
cat <<EOF

Serving certificate for: $sans
Valid until: $(openssl x509 -in "$outdir/tls.crt" -noout -enddate | cut -d= -f2)

Next (deploy/certs/README.md):
  $ns_step
  kubectl -n $namespace create secret tls kguard-tls --cert=$outdir/tls.crt --key=$outdir/tls.key \\
    --dry-run=client -o yaml | kubectl apply -f -
  caBundle of both webhooks: the contents of $outdir/ca.b64
EOF
