#!/bin/bash
# Vault logins beside token and AppRole: TLS certificate (auth/cert, the
# certificate files re-read when they change), JWT role (auth/jwt, the JWT
# re-read from its file at every login), Kubernetes (auth/kubernetes, a
# service-account token file), each renewed and re-logged in by harombefs
# like AppRole; AppRole's secret_id from a response-wrapped token (the
# wrapping path checked before unwrapping); config errors with their place.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vault-lib.sh"
command -v openssl > /dev/null || fail "openssl is missing (scripts/deps.sh installs it)"

P="$T_DIR/pki"
mkdir -p "$P"
ossl() { openssl "$@" > /dev/null 2>&1 || fail "openssl $1 failed"; }
newkey() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ca() {
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
ca clients
ca strangers
leaf server ca "IP:127.0.0.1,DNS:localhost" serverAuth
leaf web clients "DNS:web" clientAuth
leaf stranger strangers "DNS:stranger" clientAuth
cat "$P/clients.pem" "$P/strangers.pem" > "$P/client-cas.pem"

vault_start V --tls-cert "$P/server.pem" --tls-key "$P/server.key" --tls-client-ca "$P/client-cas.pem" \
	--tls-client-optional
V_HTTPS="https://127.0.0.1:$V_PORT"
unset VAULT_ADDR VAULT_AGENT_ADDR VAULT_TOKEN VAULT_NAMESPACE VAULT_CACERT VAULT_CAPATH VAULT_CLIENT_CERT \
	VAULT_CLIENT_KEY VAULT_SKIP_VERIFY VAULT_TLS_SERVER_NAME
export HOME="$T_DIR/home"
mkdir -p "$HOME"
H=$HAROMBE
MNT="$T_DIR/mnt"
AUDIT="$T_DIR/audit.jsonl"
S1=$(rand_token 32)

# vapi over TLS: the test server's control API too
vapis() {	# vapis METHOD PATH [JSON] -> body, VAPI_STATUS
	local args=(-s -o "$T_DIR/vapi.body" -w '%{http_code}' --cacert "$P/ca.pem" -X "$1" -H "X-Vault-Token: $VROOT")
	[ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	[ -n "${WRAP_TTL:-}" ] && args+=(-H "X-Vault-Wrap-TTL: $WRAP_TTL")
	VAPI_STATUS=$(curl "${args[@]}" "$V_HTTPS/v1/$2") || VAPI_STATUS=000
	cat "$T_DIR/vapi.body"
	rm -f "$T_DIR/vapi.body"
}
need() {	# need STATUS METHOD PATH [JSON]
	local want=$1
	shift
	vapis "$@" > /dev/null
	[ "$VAPI_STATUS" = "$want" ] || fail "$1 $2: HTTP $VAPI_STATUS, expected $want"
}
vctls() {
	local code
	code=$(curl -s --cacert "$P/ca.pem" -o /dev/null -w '%{http_code}' -X POST --data-binary "${2:-{\}}" \
		"$V_HTTPS/_test/$1") || code=000
	[ "$code" = 204 ] || fail "control $1 answered HTTP $code"
}
vcounts() {
	curl -s --cacert "$P/ca.pem" "$V_HTTPS/_test/stats" | python3 -c '
import json, re, sys
d = json.load(sys.stdin)
print(sum(n for k, n in d["requests"].items() if re.search(sys.argv[1], k)))' "$1"
}

need 200 POST secret/data/app/key '{"data": {"value": "'"$S1"'"}}'
vctls policy '{"name": "app", "rules": {"secret/*": ["read", "list"]}}'

# fs_config LINES...: a config with one view, over TLS.
fs_config() {
	{
		printf 'security:\n  credentials:\n    provider: vault\n    vault_url: %s\n    ca_cert: %s\n    timeout: 3s\n' \
			"$V_HTTPS" "$P/ca.pem"
		printf '    %s\n' "$@"
		printf '  fs:\n    audit_log: %s\n' "$AUDIT"
		printf '  containers:\n    app:\n      secrets:\n        KEY: app/key\n'
	} > "$T_DIR/harombe.yaml"
}
read_for() {	# read_for SECONDS: every 0.3 s, every read must succeed
	local end=$(( $(now_ms) + $1 * 1000 )) n=0
	while [ "$(now_ms)" -lt "$end" ]; do
		got=$(cat "$MNT/app/secrets/KEY" 2> "$T_DIR/cat.err") || fail "read $n failed: $(cat "$T_DIR/cat.err")"
		assert_eq "$got" "$S1" "read $n"
		n=$((n + 1))
		sleep 0.3
	done
}
# renews_and_relogins LOGIN-PATH: the 3 s token was renewed and replaced by a login
renews_and_relogins() {
	local renews logins
	renews=$(vcounts '^POST auth/token/renew-self$')
	logins=$(vcounts "^POST $1\$")
	[ "$renews" -ge 1 ] || fail "$1: no renew-self in 7 s with a 3 s TTL"
	[ "$logins" -ge 2 ] || fail "$1: no re-login after the 5 s max TTL ($logins logins)"
	echo "$renews renewals, $((logins - 1)) re-logins"
}

# ---- config errors name the place ----
fs_config "auth_method: kerberos"
expect_rc 2 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" "harombe.yaml:7:18: 'auth_method' must be token, approle, cert, jwt or kubernetes" \
	"bad auth_method"
fs_config "auth_method: jwt" "auth_role: app"
expect_rc 2 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" "harombe.yaml:7:18: 'auth_method: jwt' needs 'jwt_file'" "jwt without jwt_file"
fs_config "auth_method: kubernetes"
expect_rc 2 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" "needs 'auth_role'" "kubernetes without a role"
fs_config "auth_method: cert"
expect_rc 2 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" "'auth_method: cert' needs 'client_cert' and 'client_key'" "cert without files"
fs_config "auth_method: jwt" "auth_role: app" "jwt_file: /x" "auth_mount: 'a b'"
expect_rc 2 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" "harombe.yaml:10:17: 'auth_mount' 'a b' is not a mount path" "bad mount"
fs_config "role_id: r" "secret_id_wrapped: maybe"
expect_rc 2 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" "harombe.yaml:8:24:" "secret_id_wrapped not a boolean"
fs_config "role_id: r" "secret_id_wrapped: true"
expect_rc 2 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" "needs 'secret_id' or 'secret_id_file'" "wrapped without a source"
ok "auth_method, auth_mount, auth_role, jwt_file, client_cert, secret_id_wrapped: errors with file:line:col"

# ---- cert ----
need 204 POST auth/cert/certs/web '{"certificate": '"$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$P/clients.pem")"', "token_policies": "app", "token_ttl": "3s", "token_max_ttl": "5s"}'
cp "$P/stranger.pem" "$P/me.pem"
cp "$P/stranger.key" "$P/me.key"
fs_config "auth_method: cert" "client_cert: $P/me.pem" "client_key: $P/me.key"
expect_rc 3 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" "POST $V_HTTPS/v1/auth/cert/login: HTTP 400: invalid certificate or no client certificate supplied" \
	"a certificate no cert role trusts"
cp "$P/web.pem" "$P/me.pem"
cp "$P/web.key" "$P/me.key"
expect_rc 0 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_eq "$(cat "$T_DIR/out")" "$S1" "cert login"
ok "cert login: Vault's refusal for an untrusted certificate; a trusted one logs in"

# the daemon starts with the stranger's certificate, then the files change
cp "$P/stranger.pem" "$P/me.pem"
cp "$P/stranger.key" "$P/me.key"
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
cat "$MNT/app/secrets/KEY" > /dev/null 2> "$T_DIR/cat.err" && fail "read with an untrusted certificate worked"
cp "$P/web.key" "$P/me.key.new"
cp "$P/web.pem" "$P/me.pem.new"
mv "$P/me.key.new" "$P/me.key"
mv "$P/me.pem.new" "$P/me.pem"
vctls stats/reset
got=$(cat "$MNT/app/secrets/KEY") || fail "read after the certificate files changed"
assert_eq "$got" "$S1" "new certificate"
read_for 7
echo "# cert: $(renews_and_relogins auth/cert/login)"
grep -q '"event":"vault_authentication".*"method":"cert".*"action":"relogin".*"result":"ok"' "$AUDIT" ||
	fail "cert re-login not audited"
stop_fs "$T_FS_PID" "$MNT"; cat "$T_LOG" >> "$T_DIR/daemons.log"
grep -q "client certificate .* changed" "$T_DIR/daemons.log" || fail "the change of certificate files is not logged"
ok "harombefs: new certificate files are used at the next login (no restart); the cert token is renewed and re-logged in"

# ---- jwt ----
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$P/jwt.key"
ossl pkey -in "$P/jwt.key" -pubout -out "$P/jwt.pub"
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$P/evil.key"
b64u() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# mkjwt KEY CLAIMS-JSON: an RS256 JWT
mkjwt() {
	local h p s
	h=$(printf '{"alg":"RS256","typ":"JWT"}' | b64u)
	p=$(printf '%s' "$2" | b64u)
	s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$1" -binary | b64u)
	printf '%s.%s.%s\n' "$h" "$p" "$s"
}
need 204 POST auth/jwt/config '{"jwt_validation_pubkeys": ['"$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$P/jwt.pub")"'], "bound_issuer": "https://issuer.test"}'
need 204 POST auth/jwt/role/app '{"role_type": "jwt", "bound_audiences": "vault", "user_claim": "sub", "token_policies": "app", "token_ttl": "3s", "token_max_ttl": "5s"}'
exp=$(( $(date +%s) + 600 ))
mkjwt "$P/jwt.key" '{"iss":"https://issuer.test","sub":"workload-1","aud":"vault","exp":'"$exp"'}' > "$T_DIR/jwt"
JWT1=$(cat "$T_DIR/jwt")
fs_config "auth_method: jwt" "auth_role: app" "jwt_file: $T_DIR/jwt"
expect_rc 0 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_eq "$(cat "$T_DIR/out")" "$S1" "jwt login"
mkjwt "$P/evil.key" '{"iss":"https://issuer.test","sub":"workload-1","aud":"vault","exp":'"$exp"'}' > "$T_DIR/jwt"
expect_rc 3 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" "auth/jwt/login: HTTP 400: error validating token: failed to verify id token signature" \
	"a JWT signed by another key"
mkjwt "$P/jwt.key" '{"iss":"https://issuer.test","sub":"workload-1","aud":"other","exp":'"$exp"'}' > "$T_DIR/jwt"
expect_rc 3 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" "invalid audience (aud) claim" "another audience"
sed -i 's/auth_role: app/auth_role: nope/' "$T_DIR/harombe.yaml"
expect_rc 3 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" 'HTTP 400: role "nope" could not be found' "unknown role"
sed -i 's/auth_role: nope/auth_role: app/' "$T_DIR/harombe.yaml"
rm "$T_DIR/jwt"
expect_rc 3 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" "jwt login: jwt_file: cannot open" "no JWT file"
ok "jwt login; a foreign signature, another audience, an unknown role and a missing JWT file are refused"

# harombefs: the JWT file is re-read at every login (a rotating workload identity)
printf '%s\n' "$JWT1" > "$T_DIR/jwt"
vctls stats/reset
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
read_for 3
mkjwt "$P/jwt.key" '{"iss":"https://issuer.test","sub":"workload-1","aud":"vault","exp":'"$exp"',"n":2}' > "$T_DIR/jwt.new"
mv "$T_DIR/jwt.new" "$T_DIR/jwt"
JWT2=$(cat "$T_DIR/jwt")
read_for 4
echo "# jwt: $(renews_and_relogins auth/jwt/login)"
# a JWT that no longer validates: the next re-login fails, reads fail once the token is gone
mkjwt "$P/evil.key" '{"iss":"https://issuer.test","sub":"workload-1","aud":"vault","exp":'"$exp"'}' > "$T_DIR/jwt"
vctls revoke '{"path": "auth/jwt/login"}'
cat "$MNT/app/secrets/KEY" > /dev/null 2> "$T_DIR/cat.err" && fail "read with a foreign JWT worked"
printf '%s\n' "$JWT2" > "$T_DIR/jwt"
got=$(cat "$MNT/app/secrets/KEY") || fail "read after the JWT was fixed"
assert_eq "$got" "$S1" "fixed JWT"
stop_fs "$T_FS_PID" "$MNT"; cat "$T_LOG" >> "$T_DIR/daemons.log"
grep -q '"method":"jwt".*"action":"relogin".*"result":"error"' "$AUDIT" || fail "failed jwt re-login not audited"
ok "harombefs: jwt token renewed and re-logged in with the JWT read anew each time; a bad JWT fails until fixed"

# ---- kubernetes (at another mount) ----
need 204 POST sys/auth/k8s-east '{"type": "kubernetes"}'
need 204 POST auth/k8s-east/config '{"kubernetes_host": "https://10.0.0.1", "pem_keys": ['"$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$P/jwt.pub")"']}'
need 204 POST auth/k8s-east/role/app '{"bound_service_account_names": "web", "bound_service_account_namespaces": "prod", "token_policies": "app", "token_ttl": "3s", "token_max_ttl": "5s"}'
mkdir -p "$T_DIR/sa"
mkjwt "$P/jwt.key" '{"iss":"kubernetes/serviceaccount","sub":"system:serviceaccount:prod:web","exp":'"$exp"'}' > "$T_DIR/sa/token"
fs_config "auth_method: kubernetes" "auth_mount: k8s-east" "auth_role: app" "jwt_file: $T_DIR/sa/token"
expect_rc 0 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_eq "$(cat "$T_DIR/out")" "$S1" "kubernetes login"
mkjwt "$P/jwt.key" '{"iss":"kubernetes/serviceaccount","sub":"system:serviceaccount:dev:web","exp":'"$exp"'}' > "$T_DIR/sa/token.dev"
sed -i "s#$T_DIR/sa/token\$#$T_DIR/sa/token.dev#" "$T_DIR/harombe.yaml"
expect_rc 3 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" "auth/k8s-east/login: HTTP 403: namespace not authorized" "another namespace"
sed -i "s#$T_DIR/sa/token.dev\$#$T_DIR/sa/token#" "$T_DIR/harombe.yaml"
vctls stats/reset
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
read_for 7
echo "# kubernetes: $(renews_and_relogins auth/k8s-east/login)"
stop_fs "$T_FS_PID" "$MNT"; cat "$T_LOG" >> "$T_DIR/daemons.log"
grep -q '"method":"kubernetes".*"action":"relogin".*"result":"ok"' "$AUDIT" || fail "kubernetes re-login not audited"
ok "kubernetes login at auth_mount k8s-east with a service-account token file; renewed and re-logged in"

# ---- AppRole secret_id from a response-wrapped token ----
need 204 POST auth/approle/role/wrapped '{"token_policies": "app", "token_ttl": "3s", "token_max_ttl": "5s"}'
ROLE_ID=$(vapis GET auth/approle/role/wrapped/role-id | json_get data.role_id)
wrapped_sid() { WRAP_TTL=120s vapis POST auth/approle/role/wrapped/secret-id '{}' | json_get wrap_info.token; }
WT=$(wrapped_sid)
printf '%s\n' "$WT" > "$T_DIR/wrap"
fs_config "role_id: $ROLE_ID" "secret_id_file: $T_DIR/wrap" "secret_id_wrapped: true"
vctls stats/reset
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
read_for 7
echo "# wrapped secret_id: $(renews_and_relogins auth/approle/login)"
[ "$(vcounts '^POST sys/wrapping/unwrap$')" = 1 ] || fail "the wrapping token was not unwrapped exactly once"
[ "$(vcounts '^POST sys/wrapping/lookup$')" = 1 ] || fail "the wrapping token was not looked up first"
stop_fs "$T_FS_PID" "$MNT"; cat "$T_LOG" >> "$T_DIR/daemons.log"
ok "AppRole with secret_id_wrapped: looked up, unwrapped once, the secret_id kept for every re-login"

# a used wrapping token (someone unwrapped it first) and one made elsewhere are refused
expect_rc 3 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" "wrapping token lookup: POST $V_HTTPS/v1/sys/wrapping/lookup: HTTP 400: wrapping token is not valid or does not exist" \
	"a used wrapping token"
WT=$(WRAP_TTL=60s vapis GET secret/data/app/key | json_get wrap_info.token)
printf '%s\n' "$WT" > "$T_DIR/wrap"
expect_rc 3 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" "the wrapping token was made at 'secret/data/app/key', not 'auth/approle/role/\*/secret-id': not unwrapping it" \
	"a wrapping token of another path"
need 200 POST sys/wrapping/lookup '{"token": "'"$WT"'"}'
printf '%s\n' "$(wrapped_sid)" > "$T_DIR/wrap"
sed -i 's#secret_id_wrapped: true#secret_id_wrapped: true\n    secret_id_wrap_path: auth/approle/role/wrapped/secret-id#' "$T_DIR/harombe.yaml"
expect_rc 0 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_eq "$(cat "$T_DIR/out")" "$S1" "wrapped secret_id from the command line"
ok "a used wrapping token and one wrapped elsewhere are refused (the latter never unwrapped); secret_id_wrap_path"

no_secret_in "$AUDIT" "$VROOT" "$S1" "$JWT1" "$JWT2" "$WT"
no_secret_in "$T_DIR/daemons.log" "$VROOT" "$S1" "$JWT1" "$JWT2" "$WT"
ok "no token, JWT or value in the audit or daemon logs"
