#!/bin/sh
# TLS material for docker-tutor's engines on Kubernetes, made with openssl.
#
#   deploy/kubernetes/make-certs.sh [OUT]          (OUT defaults to ./tutor-certs)
#
# Makes, under OUT:
#   ca/ca.pem, ca/ca-key.pem     the CA; keep ca-key.pem offline, never in the cluster
#   server/ca.pem                the CA certificate, for every engine
#   server/sandbox-N-cert.pem    engine N's certificate, valid only for engine N's names
#   server/sandbox-N-key.pem     (sandbox-N.sandbox.<namespace>.svc.<domain> and shorter)
#   client/ca.pem, client/cert.pem, client/key.pem
#                                the bot's client certificate (engines accept only
#                                clients signed by the CA: dockerd --tlsverify)
# then prints the two `kubectl create secret` commands that load them.
#
# Settings (environment): ENGINES (how many engines, 2), NAMESPACE (the engines'
# namespace, docker-tutor-sandbox), BOT_NAMESPACE (docker-tutor), SERVICE (the headless
# Service, sandbox), CLUSTER_DOMAIN (cluster.local), DAYS (validity, 365).
#
# Run it again with a larger ENGINES to add engines: an existing CA is kept, so the
# bot's client certificate stays valid; certificates are made anew each run.
set -eu

OUT=${1:-./tutor-certs}
ENGINES=${ENGINES:-2}
NAMESPACE=${NAMESPACE:-docker-tutor-sandbox}
BOT_NAMESPACE=${BOT_NAMESPACE:-docker-tutor}
SERVICE=${SERVICE:-sandbox}
CLUSTER_DOMAIN=${CLUSTER_DOMAIN:-cluster.local}
DAYS=${DAYS:-365}

case $ENGINES in
  '' | *[!0-9]*) echo "make-certs.sh: ENGINES must be a whole number, not '$ENGINES'" >&2; exit 2 ;;
esac
if [ "$ENGINES" -lt 1 ]; then
  echo "make-certs.sh: ENGINES must be at least 1" >&2
  exit 2
fi
command -v openssl >/dev/null 2>&1 || { echo "make-certs.sh: openssl is not installed" >&2; exit 2; }

umask 077
mkdir -p "$OUT/ca" "$OUT/server" "$OUT/client"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

newkey() { # FILE: a new P-256 private key
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

sign() { # CSR EXTFILE OUT: a certificate signed by the CA
  openssl x509 -req -in "$1" -CA "$OUT/ca/ca.pem" -CAkey "$OUT/ca/ca-key.pem" \
    -CAcreateserial -CAserial "$work/ca.srl" -days "$DAYS" -sha256 \
    -extfile "$2" -out "$3" 2>/dev/null
}

if [ -s "$OUT/ca/ca.pem" ] && [ -s "$OUT/ca/ca-key.pem" ]; then
  echo "keeping the CA in $OUT/ca"
else
  newkey "$OUT/ca/ca-key.pem"
  cat >"$work/ca.ext" <<EOF
[req]
distinguished_name = dn
prompt = no
x509_extensions = ca
[dn]
CN = docker-tutor engines CA
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  openssl req -new -x509 -key "$OUT/ca/ca-key.pem" -days "$DAYS" -sha256 \
    -config "$work/ca.ext" -out "$OUT/ca/ca.pem"
  echo "made a new CA in $OUT/ca"
fi

rm -f "$OUT"/server/sandbox-*-cert.pem "$OUT"/server/sandbox-*-key.pem
cp "$OUT/ca/ca.pem" "$OUT/server/ca.pem"
i=0
while [ "$i" -lt "$ENGINES" ]; do
  pod="$SERVICE-$i"
  fqdn="$pod.$SERVICE.$NAMESPACE.svc.$CLUSTER_DOMAIN"
  newkey "$OUT/server/$pod-key.pem"
  openssl req -new -key "$OUT/server/$pod-key.pem" -subj "/CN=$pod" -out "$work/$pod.csr"
  cat >"$work/$pod.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:$fqdn, DNS:$pod.$SERVICE.$NAMESPACE.svc, DNS:$pod.$SERVICE.$NAMESPACE, DNS:$pod.$SERVICE
EOF
  sign "$work/$pod.csr" "$work/$pod.ext" "$OUT/server/$pod-cert.pem"
  echo "engine $pod: $fqdn"
  i=$((i + 1))
done

newkey "$OUT/client/key.pem"
openssl req -new -key "$OUT/client/key.pem" -subj "/CN=docker-tutor bot" -out "$work/client.csr"
cat >"$work/client.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
sign "$work/client.csr" "$work/client.ext" "$OUT/client/cert.pem"
cp "$OUT/ca/ca.pem" "$OUT/client/ca.pem"

cat <<EOF

Load them into the cluster (after namespaces.yaml is applied):
  kubectl -n $NAMESPACE create secret generic sandbox-tls --from-file=$OUT/server/
  kubectl -n $BOT_NAMESPACE create secret generic engine-client-tls --from-file=$OUT/client/
To replace existing Secrets, add: --dry-run=client -o yaml | kubectl apply -f -
EOF
