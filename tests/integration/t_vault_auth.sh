#!/bin/bash
# Vault authentication: AppRole login (secret_id from a file or the
# environment), token renewal at a safe fraction of the TTL in harombefs,
# none for non-renewable or non-expiring tokens, re-login when a token
# expires, hits its max TTL or is revoked, a re-read token file (Vault
# Agent style), and vault_authentication audit events without secrets.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vault-lib.sh"

vault_start V
unset VAULT_ADDR VAULT_AGENT_ADDR VAULT_TOKEN VAULT_NAMESPACE
export HOME="$T_DIR/home"
mkdir -p "$HOME"
H=$HAROMBE
MNT="$T_DIR/mnt"
AUDIT="$T_DIR/audit.jsonl"
S1=$(rand_token 32)
vput "$V_URL" app/key '{"value": "'"$S1"'"}'
vctl "$V_URL" policy '{"name": "app", "rules": {"secret/*": ["read", "list", "create", "update", "patch", "delete"]}}'

# role NAME JSON: create an AppRole; sets ROLE_ID and SECRET_ID.
role() {
	vapi "$V_URL" POST "auth/approle/role/$1" "$2" > /dev/null
	[ "$VAPI_STATUS" = 204 ] || fail "cannot create role $1 (HTTP $VAPI_STATUS)"
	ROLE_ID=$(vapi "$V_URL" GET "auth/approle/role/$1/role-id" | json_get data.role_id)
	SECRET_ID=$(vapi "$V_URL" POST "auth/approle/role/$1/secret-id" '{}' | json_get data.secret_id)
}

# fs_config CREDENTIAL-LINES...: a harombefs config with one view.
fs_config() {
	{
		printf 'security:\n  credentials:\n    provider: vault\n    vault_url: %s\n    timeout: 2s\n' "$V_URL"
		printf '    %s\n' "$@"
		printf '  fs:\n    audit_log: %s\n' "$AUDIT"
		printf '  containers:\n    app:\n      secrets:\n        KEY: app/key\n'
	} > "$T_DIR/harombe.yaml"
}

# read_for SECONDS: read the view every 0.3 s; every read must succeed.
read_for() {
	local end=$(( $(now_ms) + $1 * 1000 )) n=0
	while [ "$(now_ms)" -lt "$end" ]; do
		got=$(cat "$MNT/app/secrets/KEY" 2> "$T_DIR/cat.err") || fail "read $n failed: $(cat "$T_DIR/cat.err")"
		assert_eq "$got" "$S1" "read $n"
		n=$((n + 1))
		sleep 0.3
	done
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# ---- AppRole from the command line ----
role cli '{"token_policies": "app", "token_ttl": "60s"}'
printf '%s\n' "$SECRET_ID" > "$T_DIR/secret-id"
chmod 600 "$T_DIR/secret-id"
cat > "$T_DIR/cli.yaml" <<EOF
security:
  credentials:
    provider: vault
    vault_url: $V_URL
    role_id: $ROLE_ID
    secret_id_file: $T_DIR/secret-id
EOF
vstats_reset "$V_URL"
expect_rc 0 "$H" -c "$T_DIR/cli.yaml" vault get app/key
assert_eq "$(cat "$T_DIR/out")" "$S1" "AppRole get"
[ "$(vcount "$V_URL" '^POST auth/approle/login$')" = 1 ] || fail "expected one AppRole login"
CLI_SECRET=$SECRET_ID
printf 'not-the-secret-id\n' > "$T_DIR/secret-id"
expect_rc 3 "$H" -c "$T_DIR/cli.yaml" vault get app/key
assert_contains "$T_DIR/err" "HTTP 400: invalid role or secret ID" "bad secret_id"
assert_contains "$T_DIR/err" "denied" "bad secret_id is denied"
rm "$T_DIR/secret-id"
expect_rc 3 "$H" -c "$T_DIR/cli.yaml" vault get app/key
assert_contains "$T_DIR/err" "secret_id: cannot open" "missing secret_id_file"
sed -i "s#secret_id_file: .*#secret_id: env:APP_SECRET_ID#" "$T_DIR/cli.yaml"
APP_SECRET_ID=$CLI_SECRET expect_rc 0 "$H" -c "$T_DIR/cli.yaml" vault get app/key
assert_eq "$(cat "$T_DIR/out")" "$S1" "secret_id: env:NAME"
no_secret_in "$T_DIR/err" "$CLI_SECRET"
ok "AppRole login with secret_id_file or secret_id: env:NAME; bad or missing secret_id is denied with Vault's text"

# ---- harombefs: AppRole token renewed, then re-login at its max TTL ----
role renew '{"token_policies": "app", "token_ttl": "3s", "token_max_ttl": "5s"}'
printf '%s\n' "$SECRET_ID" > "$T_DIR/secret-id"
fs_config "role_id: $ROLE_ID" "secret_id_file: $T_DIR/secret-id"
vstats_reset "$V_URL"
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
read_for 7
renews=$(vcount "$V_URL" '^POST auth/token/renew-self$')
logins=$(vcount "$V_URL" '^POST auth/approle/login$')
[ "$renews" -ge 1 ] || fail "no renew-self in 7 s with a 3 s TTL"
[ "$logins" -ge 2 ] || fail "no re-login after the 5 s max TTL ($logins logins)"
grep -q '"event":"vault_authentication".*"action":"renew".*"result":"ok"' "$AUDIT" || fail "renewal not audited"
grep -q '"event":"vault_authentication".*"action":"relogin"' "$AUDIT" || fail "re-login not audited"
ok "AppRole token (TTL 3 s, max 5 s) renewed $renews times and re-logged in $((logins - 1)) times over 7 s of reads"

# revoked under our feet: the next read logs in again instead of failing
vctl "$V_URL" revoke '{"path": "auth/approle/login"}'
got=$(cat "$MNT/app/secrets/KEY") || fail "read after revocation failed"
assert_eq "$got" "$S1" "after revocation"
stop_fs "$T_FS_PID" "$MNT"
ok "a revoked AppRole token is replaced by a re-login inside the same open"

# ---- harombefs: non-renewable AppRole tokens (batch) ----
role batch '{"token_policies": "app", "token_ttl": "2s", "token_type": "batch"}'
printf '%s\n' "$SECRET_ID" > "$T_DIR/secret-id"
fs_config "role_id: $ROLE_ID" "secret_id_file: $T_DIR/secret-id"
vstats_reset "$V_URL"
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
read_for 4
[ "$(vcount "$V_URL" '^POST auth/token/renew-self$')" = 0 ] || fail "a batch token was renewed"
[ "$(vcount "$V_URL" '^POST auth/approle/login$')" -ge 2 ] || fail "no re-login for a 2 s batch token"
stop_fs "$T_FS_PID" "$MNT"
ok "non-renewable AppRole tokens are never renewed; harombefs logs in again before they expire"

# ---- harombefs: a renewable static token ----
TOK=$(vtoken "$V_URL" '{"policies": ["app"], "ttl": "4s", "renewable": true}')
printf '%s\n' "$TOK" > "$T_DIR/token"
chmod 600 "$T_DIR/token"
fs_config "token_file: $T_DIR/token"
vstats_reset "$V_URL"
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
read_for 6
[ "$(vcount "$V_URL" '^POST auth/token/renew-self$')" -ge 2 ] || fail "a 4 s token was not renewed twice"
[ "$(vcount "$V_URL" '^GET auth/token/lookup-self$')" = 1 ] || fail "lookup-self more than once"
stop_fs "$T_FS_PID" "$MNT"
ok "a renewable 4 s token stays valid through 6 s of reads (renewed at 2/3 of its TTL)"

# ---- no renewal, and no busy loop, for non-renewable or non-expiring tokens ----
for spec in '{"policies": ["app"], "ttl": "60s", "renewable": false}' '{"policies": ["app"]}'; do
	TOK=$(vtoken "$V_URL" "$spec")
	printf '%s\n' "$TOK" > "$T_DIR/token"
	vstats_reset "$V_URL"
	start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
	cat "$MNT/app/secrets/KEY" > /dev/null
	t0=$(cpu_ticks "$T_FS_PID")
	sleep 2
	t1=$(cpu_ticks "$T_FS_PID")
	[ "$(vcount "$V_URL" '^POST auth/token/renew-self$')" = 0 ] || fail "renew-self for $spec"
	[ "$(vcount "$V_URL" '^GET auth/token/lookup-self$')" -le 1 ] || fail "repeated lookup-self for $spec"
	[ $((t1 - t0)) -lt 50 ] || fail "harombefs used $((t1 - t0)) CPU ticks in 2 idle seconds"
	stop_fs "$T_FS_PID" "$MNT"
done
ok "non-renewable and TTL-0 tokens: one lookup, no renewal, an idle daemon"

# ---- a revoked, then an expired static token; a token file a Vault Agent rotates ----
TOK=$(vtoken "$V_URL" '{"policies": ["app"], "ttl": "120s", "renewable": false}')
printf '%s\n' "$TOK" > "$T_DIR/token"
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
cat "$MNT/app/secrets/KEY" > /dev/null || fail "read with a fresh token"
vctl "$V_URL" revoke '{"token": "'"$TOK"'"}'
cat "$MNT/app/secrets/KEY" > /dev/null 2> "$T_DIR/cat.err" && fail "read with a revoked token worked"
grep -q "Permission denied" "$T_DIR/cat.err" || fail "revoked token: $(cat "$T_DIR/cat.err")"
grep -q "HTTP 403: permission denied" "$T_LOG" || fail "the daemon log does not say 403"
# a new, short-lived token in the file: picked up on the next 403
TOK2=$(vtoken "$V_URL" '{"policies": ["app"], "ttl": "6s", "renewable": false}')
t_tok2=$(now_ms)
printf '%s\n' "$TOK2" > "$T_DIR/token.new"
mv "$T_DIR/token.new" "$T_DIR/token"
got=$(cat "$MNT/app/secrets/KEY") || fail "read after the token file changed"
assert_eq "$got" "$S1" "rotated token file"
[ $(( $(now_ms) - t_tok2 )) -lt 6000 ] || fail "too slow to test expiry (machine overloaded)"
# ... and refused once its TTL has really run out
sleep $(( (t_tok2 + 6500 - $(now_ms)) / 1000 + 1 ))
cat "$MNT/app/secrets/KEY" > /dev/null 2> "$T_DIR/cat.err" && fail "read with an expired token worked"
grep -q "Permission denied" "$T_DIR/cat.err" || fail "expired token: $(cat "$T_DIR/cat.err")"
TOK3=$(vtoken "$V_URL" '{"policies": ["app"], "ttl": "120s"}')
printf '%s\n' "$TOK3" > "$T_DIR/token.new"
mv "$T_DIR/token.new" "$T_DIR/token"
got=$(cat "$MNT/app/secrets/KEY") || fail "read after the second rotation"
assert_eq "$got" "$S1" "second rotation"
stop_fs "$T_FS_PID" "$MNT"
ok "revoked and expired tokens give EACCES; a new token in token_file is picked up on the next 403, no restart"

no_secret_in "$AUDIT" "$VROOT" "$TOK" "$TOK2" "$TOK3" "$SECRET_ID" "$CLI_SECRET" "$S1"
no_secret_in "$T_LOG" "$VROOT" "$TOK" "$TOK2" "$TOK3" "$SECRET_ID" "$CLI_SECRET" "$S1"
ok "no token, secret_id or value in the audit or daemon logs"
