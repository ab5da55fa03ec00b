#!/usr/bin/env bash
# Usage: gen_certs.sh DIR NODE_ID...
#
# Creates throw-away credentials for a local cluster in DIR (overwriting what
# is there), with openssl alone: EC P-256 keys, valid 30 days.
#   ca.pem, ca.key          the cluster CA
#   <id>.pem, <id>.key      per node; SAN DNS:<id>, DNS:localhost, IP:127.0.0.1
#                           (serverAuth and clientAuth: the client port and the
#                           mutual-TLS peer port use the same certificate)
#                           plus $SESH_CERT_SANS if set: more SANs, comma-separated,
#                           "{id}" replaced by the node id (e.g. the pod's DNS
#                           name on Kubernetes, deploy/README.md)
#   client.pem, client.key  a client certificate, SAN DNS:sesh-client
#   tokens                  the node's token file (SHA-256 hashes only) for
#                           namespaces demo, bench, test, other, and `*` admin
#   token.<name>            each clear token, no newline (demo, bench, test,
#                           other, admin)
# Keys and tokens are mode 600. Prints nothing on success.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 DIR NODE_ID..." >&2
  exit 2
fi
dir=$1
shift
for id in "$@"; do
  # The id becomes a DNS name and a file name; ca and client are taken.
  if ! [[ $id =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] ||
     [ "$id" = ca ] || [ "$id" = client ]; then
    echo "$0: bad node id '$id' (letters, digits, '.', '-'; not ca/client)" >&2
    exit 2
  fi
done

umask 077
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Runs openssl, showing its chatter only if it fails.
ossl() {
  if ! openssl "$@" 2>"$work/err" >/dev/null; then
    cat "$work/err" >&2
    echo "$0: openssl $1 failed" >&2
    exit 1
  fi
}

days=30
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)

ossl req -x509 "${ec[@]}" -days "$days" -subj "/CN=Sesh throw-away cluster CA" \
  -keyout "$dir/ca.key" -out "$dir/ca.pem" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash"

# issue NAME CN SAN EKU: NAME.key and NAME.pem signed by the CA.
issue() {
  cat >"$work/$1.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=$4
subjectAltName=$3
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
  ossl req -new "${ec[@]}" -subj "/CN=$2" -keyout "$dir/$1.key" \
    -out "$work/$1.csr"
  ossl x509 -req -in "$work/$1.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -days "$days" -extfile "$work/$1.ext" -out "$dir/$1.pem"
}

for id in "$@"; do
  extra=${SESH_CERT_SANS:-}
  issue "$id" "$id" "DNS:$id,DNS:localhost,IP:127.0.0.1${extra:+,${extra//\{id\}/$id}}" \
    serverAuth,clientAuth
done
issue client sesh-client DNS:sesh-client clientAuth
# An existing file keeps its mode when overwritten, whatever the umask.
chmod 600 "$dir"/*.key
chmod 644 "$dir"/*.pem

# Tokens: 32 random bytes as base64url; the file holds only their hashes.
: >"$work/tokens"
for name in demo bench test other admin; do
  openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n' >"$dir/token.$name"
  hash=$(openssl dgst -sha256 -r "$dir/token.$name")
  ns=$name scope=
  [ "$name" = admin ] && ns='*' scope=' admin'
  printf '%s %s%s\n' "$ns" "${hash%% *}" "$scope" >>"$work/tokens"
done
mv "$work/tokens" "$dir/tokens"
chmod 600 "$dir"/token.*
