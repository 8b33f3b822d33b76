#!/bin/bash
# TLS to Vault: verification on by default; VAULT_CACERT, VAULT_CAPATH
# (plain file names, no c_rehash), VAULT_CLIENT_CERT/KEY (mTLS),
# VAULT_SKIP_VERIFY, VAULT_TLS_SERVER_NAME and their config equivalents,
# and harombefs reading a view over https.  Keys and certificates are made
# here, for this run only.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vault-lib.sh"
command -v openssl > /dev/null || fail "openssl is missing (scripts/deps.sh installs it)"

P="$T_DIR/pki"
mkdir -p "$P/capath" "$P/wrongpath"
ossl() { openssl "$@" > /dev/null 2>&1 || fail "openssl $1 failed"; }
newkey() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ca() {	# ca NAME
	newkey "$P/$1.key"
	ossl req -x509 -new -key "$P/$1.key" -out "$P/$1.pem" -days 2 -subj "/CN=harombe test $1" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
leaf() {	# leaf NAME CA SAN USAGE
	newkey "$P/$1.key"
	ossl req -new -key "$P/$1.key" -out "$P/$1.csr" -subj "/CN=$1"
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=%s\n' \
		"$3" "$4" > "$P/$1.ext"
	ossl x509 -req -in "$P/$1.csr" -CA "$P/$2.pem" -CAkey "$P/$2.key" -CAcreateserial \
		-out "$P/$1.pem" -days 2 -extfile "$P/$1.ext"
}
ca ca
ca other
leaf server ca "IP:127.0.0.1,DNS:localhost" serverAuth
leaf named ca "DNS:vault.harombe.test" serverAuth
leaf client ca "DNS:harombe-client" clientAuth
cp "$P/ca.pem" "$P/capath/our-ca.crt"
cp "$P/other.pem" "$P/capath/unrelated.crt"
cp "$P/other.pem" "$P/wrongpath/other.crt"

vault_start T --tls-cert "$P/server.pem" --tls-key "$P/server.key"
vault_start N --tls-cert "$P/named.pem" --tls-key "$P/named.key"
vault_start M --tls-cert "$P/server.pem" --tls-key "$P/server.key" --tls-client-ca "$P/ca.pem"
T_HTTPS="https://127.0.0.1:$T_PORT"
N_HTTPS="https://127.0.0.1:$N_PORT"
M_HTTPS="https://127.0.0.1:$M_PORT"
S1=$(rand_token 32)
for u in "$T_HTTPS" "$N_HTTPS" "$M_HTTPS"; do
	curl -s -k -o /dev/null --cert "$P/client.pem" --key "$P/client.key" \
		-H "X-Vault-Token: $VROOT" --data-binary '{"data": {"value": "'"$S1"'"}}' \
		"$u/v1/secret/data/tls/key" || fail "cannot seed $u: curl exit $?"
done

unset VAULT_CACERT VAULT_CAPATH VAULT_CLIENT_CERT VAULT_CLIENT_KEY VAULT_SKIP_VERIFY VAULT_TLS_SERVER_NAME \
	VAULT_AGENT_ADDR VAULT_NAMESPACE
export VAULT_TOKEN=$VROOT VAULT_ADDR=$T_HTTPS VAULT_CLIENT_TIMEOUT=3s
H=$HAROMBE
get() { expect_rc "$1" "$H" --provider vault vault get tls/key; }
got_it() { assert_eq "$(cat "$T_DIR/out")" "$S1" "$1"; }

get 3
assert_contains "$T_DIR/err" "TLS with $T_HTTPS failed" "unverified server"
assert_contains "$T_DIR/err" "certificate" "the reason"
VAULT_CACERT=$P/other.pem get 3
VAULT_CACERT=$P/ca.pem get 0
got_it "VAULT_CACERT"
ok "verification is on: an unknown CA fails (exit 3, TLS reason); VAULT_CACERT trusts ours"

VAULT_CAPATH=$P/capath get 0
got_it "VAULT_CAPATH"
VAULT_CAPATH=$P/wrongpath get 3
VAULT_CAPATH=$P/wrongpath VAULT_CACERT=$P/ca.pem get 0
VAULT_CAPATH=$T_DIR/nonexistent get 2
assert_contains "$T_DIR/err" "cannot open CA directory" "bad CA directory"
ok "VAULT_CAPATH loads every PEM file in the directory (no hashed names needed); VAULT_CACERT wins over it"

for v in true 1 T True; do VAULT_SKIP_VERIFY=$v get 0; done
VAULT_SKIP_VERIFY=false get 3
VAULT_SKIP_VERIFY=0 VAULT_CACERT=$P/ca.pem get 0
ok "VAULT_SKIP_VERIFY as Go's ParseBool reads it"

VAULT_ADDR=$N_HTTPS VAULT_CACERT=$P/ca.pem get 3
assert_contains "$T_DIR/err" "TLS" "name mismatch"
VAULT_ADDR=$N_HTTPS VAULT_CACERT=$P/ca.pem VAULT_TLS_SERVER_NAME=vault.harombe.test get 0
got_it "VAULT_TLS_SERVER_NAME"
ok "VAULT_TLS_SERVER_NAME: verify a name that is not in the address"

VAULT_ADDR=$M_HTTPS VAULT_CACERT=$P/ca.pem get 3
VAULT_ADDR=$M_HTTPS VAULT_CACERT=$P/ca.pem VAULT_CLIENT_CERT=$P/client.pem VAULT_CLIENT_KEY=$P/client.key get 0
got_it "mTLS"
ok "mTLS: refused without a client certificate, served with VAULT_CLIENT_CERT and VAULT_CLIENT_KEY"

cat > "$T_DIR/tls.yaml" <<EOF
security:
  credentials:
    provider: vault
    vault_url: $M_HTTPS
    token_file: $T_DIR/token
    ca_cert: $P/ca.pem
    client_cert: $P/client.pem
    client_key: $P/client.key
    timeout: 3s
  fs:
    audit_log: $T_DIR/audit.jsonl
  containers:
    app:
      secrets:
        KEY: tls/key
EOF
printf '%s\n' "$VROOT" > "$T_DIR/token"
chmod 600 "$T_DIR/token"
VAULT_CACERT=$P/other.pem expect_rc 0 "$H" -c "$T_DIR/tls.yaml" vault get tls/key
got_it "config ca_cert, client_cert, client_key (over the environment)"
sed -i 's/^    timeout: 3s$/    timeout: 3s\n    tls_skip_verify: false\n    tls_server_name: localhost/' "$T_DIR/tls.yaml"
expect_rc 0 "$H" -c "$T_DIR/tls.yaml" vault get tls/key
ok "ca_cert, client_cert, client_key, tls_server_name in harombe.yaml"

MNT="$T_DIR/mnt"
unset VAULT_ADDR VAULT_TOKEN
start_fs "$HAROMBEFS" "$T_DIR/tls.yaml" "$MNT"
for i in 1 2 3 4 5; do
	got=$(cat "$MNT/app/secrets/KEY") || fail "read $i over mTLS"
	assert_eq "$got" "$S1" "read $i over mTLS"
done
stop_fs "$T_FS_PID" "$MNT"
ok "harombefs reads views over https with a client certificate"

no_secret_in "$T_DIR/err" "$S1" "$VROOT"
