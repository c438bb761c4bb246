#!/usr/bin/env bash
# Writes what docker-compose.yml mounts from files and that must not be in version control:
# the group CA and one peer certificate per member (certs/member-<id>/peer-{ca,cert,key}.pem,
# made with OpenSSL as docs/security.md describes), and the passwords (secrets/*).
# Existing files are kept; run it again after deleting some to make them anew.
set -euo pipefail
cd "$(dirname "$0")"
umask 077
mkdir -p certs secrets

for s in mariadb_root_password grproxy_password; do
    [[ -s secrets/$s ]] || openssl rand -hex 16 > "secrets/$s"
done

if [[ ! -s certs/peer-ca.pem ]]; then
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout certs/peer-ca-key.pem -out certs/peer-ca.pem -days 3650 \
        -subj "/CN=grproxy compose group CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi
for id in 1 2 3; do
    d=certs/member-$id
    mkdir -p "$d"
    [[ -s $d/peer-cert.pem ]] && continue
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$d/peer-key.pem" -out "$d/member.csr" -subj "/CN=member-$id.grproxy" 2>/dev/null
    openssl x509 -req -in "$d/member.csr" -CA certs/peer-ca.pem -CAkey certs/peer-ca-key.pem \
        -CAcreateserial -out "$d/peer-cert.pem" -days 825 -extfile <(printf '%s\n' \
            "subjectAltName=DNS:member-$id.grproxy" \
            "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature" \
            "extendedKeyUsage=serverAuth,clientAuth") 2>/dev/null
    cp certs/peer-ca.pem "$d/peer-ca.pem"
    rm -f "$d/member.csr"
done
# The containers run as other users (grproxy: uid 10001, mysql: 999) and bind mounts keep
# these modes, so the files must be readable by them: this is for a single-user machine.
# Elsewhere, chown the member keys to uid 10001 with mode 0600 (and the passwords likewise),
# or use the Kubernetes manifests, which hand each member only its own key.
chmod 0755 certs certs/member-* secrets
chmod 0644 certs/member-*/*.pem secrets/*
echo "certificates in $(pwd)/certs, passwords in $(pwd)/secrets; now: docker compose up -d"
