#!/bin/sh
# Makes the certificates the TLS tests use, with the openssl command, into the folder $1:
#   ca.pem            a test CA (its key: ca.key)
#   server.pem/.key   localhost, 127.0.0.1 and ::1, signed by the test CA
#   wrong_host.pem/.key  wrong.example only, signed by the test CA
#   self_signed.pem/.key localhost, signed by itself (no CA knows it)
set -eu
out=$1
mkdir -p "$out"
cd "$out"
subj() { printf '/CN=%s' "$1"; }
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "$(subj 'aio test CA')" \
    -keyout ca.key -out ca.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2>/dev/null
leaf() { # name, common name, subjectAltName
    openssl req -newkey rsa:2048 -nodes -subj "$(subj "$2")" -keyout "$1.key" -out "$1.csr" \
        2>/dev/null
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$3" \
        >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}
leaf server localhost 'DNS:localhost,IP:127.0.0.1,IP:::1'
leaf wrong_host wrong.example 'DNS:wrong.example'
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "$(subj localhost)" \
    -keyout self_signed.key -out self_signed.pem \
    -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' 2>/dev/null
