#!/bin/sh
# make-certs.sh OUTDIR -- test PKI for the Freddy API emulator (openssl CLI only).
#
# Creates in OUTDIR (EC P-256 keys, certificates valid 30 days, keys mode 0600):
#   ca.pem / ca.key                 test CA
#   server.pem / server.key         signed by ca; SAN DNS:localhost, IP:127.0.0.1, IP:::1
#   wronghost.pem / wronghost.key   signed by ca; SAN DNS:wrong.example only
#   other-ca.pem / other-ca.key     a second, unrelated CA
#   untrusted.pem / untrusted.key   right SAN as server.pem, but signed by other-ca
# Quiet on success; on failure prints openssl's output and exits non-zero.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$1
mkdir -p "$out"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

DAYS=30
GOOD_SAN="DNS:localhost,IP:127.0.0.1,IP:::1"

# Run a command silently; show its output only if it fails.
run() {
    if ! "$@" >"$tmp/log" 2>&1; then
        echo "make-certs.sh: failed: $*" >&2
        cat "$tmp/log" >&2
        exit 1
    fi
}

# genkey FILE: new EC P-256 private key, created with mode 0600.
genkey() {
    rm -f "$1"
    (umask 077 && run openssl genpkey -algorithm EC \
        -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve \
        -out "$1")
    chmod 600 "$1"
}

serial() {
    # 120 random bits, positive.
    echo "0x$(openssl rand -hex 15)"
}

# mkca NAME CN: self-signed CA certificate NAME.pem with key NAME.key.
mkca() {
    cat >"$tmp/$1.cnf" <<CNF
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = $2
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
CNF
    genkey "$out/$1.key"
    run openssl req -x509 -new -config "$tmp/$1.cnf" -key "$out/$1.key" \
        -sha256 -days "$DAYS" -set_serial "$(serial)" -out "$out/$1.pem"
    chmod 644 "$out/$1.pem"
}

# mkleaf NAME CA SAN: server certificate NAME.pem signed by CA.pem/CA.key.
mkleaf() {
    cat >"$tmp/$1.cnf" <<CNF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = pam_freddy test server ($1)
CNF
    cat >"$tmp/$1.ext" <<EXT
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $3
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT
    genkey "$out/$1.key"
    run openssl req -new -config "$tmp/$1.cnf" -key "$out/$1.key" -out "$tmp/$1.csr"
    run openssl x509 -req -in "$tmp/$1.csr" -CA "$out/$2.pem" -CAkey "$out/$2.key" \
        -set_serial "$(serial)" -days "$DAYS" -sha256 -extfile "$tmp/$1.ext" \
        -out "$out/$1.pem"
    chmod 644 "$out/$1.pem"
}

mkca ca "pam_freddy test CA"
mkca other-ca "pam_freddy other (untrusted) CA"
mkleaf server ca "$GOOD_SAN"
mkleaf wronghost ca "DNS:wrong.example"
mkleaf untrusted other-ca "$GOOD_SAN"
