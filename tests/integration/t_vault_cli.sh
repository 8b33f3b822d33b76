#!/bin/bash
# harombe vault get|set|list|delete against the Vault API test server:
# KV 2 and KV 1, fields, versions, folders, token sources, namespaces,
# addresses, exit codes and messages (that never carry a value).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vault-lib.sh"

vault_start V --kv secret=2 --kv kv1=1 --namespace eng
H=$HAROMBE
unset VAULT_ADDR VAULT_AGENT_ADDR VAULT_TOKEN VAULT_NAMESPACE VAULT_CACERT VAULT_CAPATH
export HOME="$T_DIR/home"
mkdir -p "$HOME"

S1=$(rand_token 32)
S2=$(rand_token 32)
S3=$(rand_token 32)
S4=$(rand_token 32)
SECRETS=("$S1" "$S2" "$S3" "$S4")

# ---- set / get with VAULT_ADDR and VAULT_TOKEN, no config ----
export VAULT_ADDR=$V_URL VAULT_TOKEN=$VROOT
expect_rc 0 "$H" vault set github/token "$S1" --provider vault
expect_rc 0 "$H" --provider vault vault get github/token
assert_eq "$(cat "$T_DIR/out")" "$S1" "get after set"
[ "$(wc -l < "$T_DIR/out")" = 1 ] || fail "get printed more than the value and a newline"
body=$(vapi "$V_URL" GET secret/data/github/token)
assert_eq "$(echo "$body" | json_get data.data.value)" "$S1" "set writes {\"value\": ...} (KV 2)"
ok "set then get through KV 2; the value is stored as field 'value'"

# stdin, and a value with '=' in it stays one value
printf '%s\n' "a=$S2" | "$H" --provider vault vault set app/conn -
expect_rc 0 "$H" --provider vault vault get app/conn
assert_eq "$(cat "$T_DIR/out")" "a=$S2" "value from stdin"
ok "set reads stdin; one argument with '=' is one value"

# ---- fields ----
expect_rc 0 "$H" --provider vault vault set db/main user=admin "password=$S3"
body=$(vapi "$V_URL" GET secret/data/db/main)
assert_eq "$(echo "$body" | json_get data.data.user)" admin "FIELD=VALUE pairs"
expect_rc 0 "$H" --provider vault vault get 'db/main#password'
assert_eq "$(cat "$T_DIR/out")" "$S3" "get path#field"
expect_rc 0 "$H" --provider vault vault get db/main
assert_contains "$T_DIR/out" "====== Data ======" "several fields and no #field: a table"
grep -Eq '^user +admin$' "$T_DIR/out" || fail "the table names the fields"
no_secret_in "$T_DIR/err" "${SECRETS[@]}"
expect_rc 1 "$H" --provider vault vault get 'db/main#nope'
assert_contains "$T_DIR/err" "no field 'nope'" "missing field"
vput "$V_URL" single/one '{"only": "'"$S4"'"}'
expect_rc 0 "$H" --provider vault vault get single/one
assert_eq "$(cat "$T_DIR/out")" "$S4" "a secret with one field returns it"
ok "path#field: value by default, the only field, a table of the fields, a missing field"

# KEY#FIELD VALUE changes one field and keeps the others (KV 2: PATCH)
expect_rc 0 "$H" --provider vault vault set 'db/main#user' root
body=$(vapi "$V_URL" GET secret/data/db/main)
assert_eq "$(echo "$body" | json_get data.data.user)" root "merged field"
assert_eq "$(echo "$body" | json_get data.data.password)" "$S3" "other field kept"
[ "$(vcount "$V_URL" '^PATCH secret/data/db/main$')" -ge 1 ] || fail "no PATCH for KEY#FIELD"
expect_rc 0 "$H" --provider vault vault set 'brand/new#field' x
expect_rc 0 "$H" --provider vault vault get 'brand/new#field'
assert_eq "$(cat "$T_DIR/out")" x "KEY#FIELD creates a missing secret"
ok "set KEY#FIELD merges into KV 2 (and creates a missing secret)"

# JSON values that are not strings come back as JSON text
vput "$V_URL" typed/num '{"value": 12345}'
expect_rc 0 "$H" --provider vault vault get typed/num
assert_eq "$(cat "$T_DIR/out")" 12345 "a number"
vput "$V_URL" typed/obj '{"value": {"a": [1, true, null, "x\"y"]}}'
expect_rc 0 "$H" --provider vault vault get typed/obj
assert_eq "$(cat "$T_DIR/out")" '{"a":[1,true,null,"x\"y"]}' "an object as JSON"
ok "non-string values are printed as JSON"

# ---- versions ----
expect_rc 0 "$H" --provider vault vault set ver/key one
expect_rc 0 "$H" --provider vault vault set ver/key two
expect_rc 0 "$H" --provider vault vault set ver/key three
expect_rc 0 "$H" --provider vault vault get ver/key@1
assert_eq "$(cat "$T_DIR/out")" one "path@N"
expect_rc 0 "$H" --provider vault vault get 'ver/key?version=2'
assert_eq "$(cat "$T_DIR/out")" two "path?version=N"
expect_rc 0 "$H" --provider vault vault get ver/key
assert_eq "$(cat "$T_DIR/out")" three "latest"
expect_rc 1 "$H" --provider vault vault get ver/key@9
assert_contains "$T_DIR/err" "no version 9" "missing version"
expect_rc 0 "$H" --provider vault vault delete ver/key@2
expect_rc 1 "$H" --provider vault vault get ver/key@2
assert_contains "$T_DIR/err" "version 2 of 'ver/key' was deleted" "deleted version"
expect_rc 0 "$H" --provider vault vault delete ver/key
expect_rc 1 "$H" --provider vault vault get ver/key
assert_contains "$T_DIR/err" "version 3 of 'ver/key' was deleted" "soft-deleted latest"
expect_rc 0 "$H" --provider vault vault get ver/key@1
assert_eq "$(cat "$T_DIR/out")" one "older versions survive a soft delete"
expect_rc 0 "$H" --provider vault vault delete ver/key --purge
expect_rc 1 "$H" --provider vault vault get ver/key@1
vapi "$V_URL" GET secret/metadata/ver/key > /dev/null
[ "$VAPI_STATUS" = 404 ] || fail "metadata survived --purge (HTTP $VAPI_STATUS)"
expect_rc 1 "$H" --provider vault vault delete no/such/key
assert_contains "$T_DIR/err" "not found" "delete of a missing key"
ok "versions: @N, ?version=N, delete of a version, soft delete, --purge, missing key"

# ---- list ----
expect_rc 0 "$H" --provider vault vault list
grep -qx 'github/' "$T_DIR/out" || fail "list: folder github/ missing"
grep -qx 'single/' "$T_DIR/out" || fail "list: folder single/ missing"
expect_rc 0 "$H" --provider vault vault list github
assert_eq "$(cat "$T_DIR/out")" "github/token" "list PREFIX gives full keys"
expect_rc 0 "$H" --provider vault vault list db/
assert_eq "$(cat "$T_DIR/out")" "db/main" "list PREFIX/"
expect_rc 0 "$H" --provider vault --format json vault list github/
assert_eq "$(cat "$T_DIR/out")" '["github/token"]' "list --format json"
expect_rc 1 "$H" --provider vault vault list nothing/here
assert_contains "$T_DIR/err" "nothing under 'nothing/here/'" "empty folder"
ok "list: folders end with '/', prefixes, JSON, an empty folder is exit 1"

# ---- KV version 1 (detected, and configured) ----
cat > "$T_DIR/v1.yaml" <<EOF
security:
  credentials:
    provider: vault
    vault_url: $V_URL
    mount_point: kv1
EOF
expect_rc 0 "$H" -c "$T_DIR/v1.yaml" vault set app/key "$S2"
body=$(vapi "$V_URL" GET kv1/app/key)
assert_eq "$(echo "$body" | json_get data.value)" "$S2" "KV 1 body is flat {\"value\": ...}"
expect_rc 0 "$H" -c "$T_DIR/v1.yaml" vault set 'app/key#other' "$S3"
body=$(vapi "$V_URL" GET kv1/app/key)
assert_eq "$(echo "$body" | json_get data.value)" "$S2" "KV 1 field merge keeps the others"
expect_rc 0 "$H" -c "$T_DIR/v1.yaml" vault get 'app/key#other'
assert_eq "$(cat "$T_DIR/out")" "$S3" "KV 1 get #field"
expect_rc 0 "$H" -c "$T_DIR/v1.yaml" vault list
assert_eq "$(cat "$T_DIR/out")" "app/" "KV 1 list"
expect_rc 2 "$H" -c "$T_DIR/v1.yaml" vault get app/key@1
assert_contains "$T_DIR/err" "version" "KV 1 has no versions"
expect_rc 0 "$H" -c "$T_DIR/v1.yaml" vault delete app/key
expect_rc 1 "$H" -c "$T_DIR/v1.yaml" vault get app/key
[ "$(vcount "$V_URL" '^GET sys/internal/ui/mounts/kv1$')" -ge 1 ] || fail "KV version not detected"
vstats_reset "$V_URL"
printf '    kv_version: 1\n' >> "$T_DIR/v1.yaml"
expect_rc 1 "$H" -c "$T_DIR/v1.yaml" vault get app/key
[ "$(vcount "$V_URL" 'ui/mounts')" = 0 ] || fail "kv_version: 1 still asked the server"
ok "KV 1: flat bodies, field merge, list, delete; version detected like the vault CLI, or configured"

# ---- where the token comes from ----
unset VAULT_TOKEN
expect_rc 2 "$H" --provider vault vault get github/token
assert_contains "$T_DIR/err" "no Vault token" "no token anywhere"
printf '%s\n' "$VROOT" > "$HOME/.vault-token"
chmod 600 "$HOME/.vault-token"
expect_rc 0 "$H" --provider vault vault get github/token
assert_eq "$(cat "$T_DIR/out")" "$S1" "~/.vault-token"
printf '%s\n' "$VROOT" > "$T_DIR/tokfile"
chmod 644 "$T_DIR/tokfile"
rm "$HOME/.vault-token"
cat > "$T_DIR/tf.yaml" <<EOF
security:
  credentials:
    provider: vault
    vault_url: $V_URL
    token_file: $T_DIR/tokfile
EOF
expect_rc 0 "$H" -c "$T_DIR/tf.yaml" vault get github/token
assert_eq "$(cat "$T_DIR/out")" "$S1" "token_file"
assert_contains "$T_DIR/err" "readable by group or others" "a world-readable token file is called out"
VAULT_TOKEN=wrong-token expect_rc 0 "$H" -c "$T_DIR/tf.yaml" vault get github/token
cat > "$T_DIR/te.yaml" <<EOF
security:
  credentials:
    provider: vault
    vault_url: $V_URL
    token: env:MY_VAULT_TOKEN
EOF
MY_VAULT_TOKEN=$VROOT expect_rc 0 "$H" -c "$T_DIR/te.yaml" vault get github/token
assert_eq "$(cat "$T_DIR/out")" "$S1" "token: env:NAME"
expect_rc 2 "$H" -c "$T_DIR/te.yaml" vault get github/token
assert_contains "$T_DIR/err" "MY_VAULT_TOKEN is not set" "token: env:NAME unset"
ok "token from ~/.vault-token, token_file (over VAULT_TOKEN), token: env:NAME; none is a config error"

# ---- errors: exit codes and messages ----
export VAULT_TOKEN=$VROOT
VAULT_TOKEN=not-a-token expect_rc 3 "$H" --provider vault vault get github/token
assert_contains "$T_DIR/err" "HTTP 403" "403 status in the message"
assert_contains "$T_DIR/err" "permission denied" "Vault's error text"
assert_contains "$T_DIR/err" "$V_URL" "the address"
vctl "$V_URL" policy '{"name": "reader", "rules": {"secret/data/github/*": ["read"], "secret/metadata/*": ["list"]}}'
RT=$(vtoken "$V_URL" '{"policies": ["reader"]}')
VAULT_TOKEN=$RT expect_rc 0 "$H" --provider vault vault get github/token
VAULT_TOKEN=$RT expect_rc 3 "$H" --provider vault vault get 'db/main#user'
assert_contains "$T_DIR/err" "denied" "policy denies"
VAULT_TOKEN=$RT expect_rc 3 "$H" --provider vault vault set github/token x
assert_contains "$T_DIR/err" "cannot set 'github/token' in vault: denied" "write denied"
expect_rc 2 "$H" --provider vault vault get '../etc'
expect_rc 2 "$H" --provider vault vault set 'ver/key@2' x
assert_contains "$T_DIR/err" "cannot write to a version" "write to a version"
vseal "$V_URL"
expect_rc 3 "$H" --provider vault vault get github/token
assert_contains "$T_DIR/err" "HTTP 503: Vault is sealed" "sealed"
vunseal "$V_URL"
VAULT_ADDR=http://127.0.0.1:1 expect_rc 3 "$H" --provider vault vault get github/token
assert_contains "$T_DIR/err" "cannot reach http://127.0.0.1:1" "connection refused names the address"
VAULT_ADDR=ftp://x expect_rc 2 "$H" --provider vault vault get github/token
VAULT_SKIP_VERIFY=maybe expect_rc 2 "$H" --provider vault vault get github/token
assert_contains "$T_DIR/err" "VAULT_SKIP_VERIFY='maybe' is not a boolean" "ParseBool"
for f in "$T_DIR"/err "$T_DIR"/out; do no_secret_in "$f" "$VROOT" "$RT"; done
ok "exit 3 for denied, sealed and unreachable with address, status and Vault's text; exit 2 for bad input"

# ---- addresses and namespaces ----
VAULT_ADDR=http://127.0.0.1:1 VAULT_AGENT_ADDR=$V_URL expect_rc 0 "$H" --provider vault vault get github/token
cat > "$T_DIR/url.yaml" <<EOF
security:
  credentials:
    provider: vault
    vault_url: $V_URL/
EOF
VAULT_ADDR=http://127.0.0.1:1 expect_rc 0 "$H" -c "$T_DIR/url.yaml" vault get github/token
VAPI_NS=eng vput "$V_URL" team/key '{"value": "'"$S4"'"}'
VAULT_NAMESPACE=eng expect_rc 0 "$H" --provider vault vault get team/key
assert_eq "$(cat "$T_DIR/out")" "$S4" "VAULT_NAMESPACE"
expect_rc 1 "$H" --provider vault vault get team/key
cat > "$T_DIR/ns.yaml" <<EOF
security:
  credentials:
    provider: vault
    vault_url: $V_URL
    vault_namespace: eng/
EOF
expect_rc 0 "$H" -c "$T_DIR/ns.yaml" vault list
assert_eq "$(cat "$T_DIR/out")" "team/" "vault_namespace"
[ "$(vcount "$V_URL" '^LIST secret/metadata/$')" -ge 1 ] || fail "namespace list request not seen"
ok "VAULT_AGENT_ADDR over VAULT_ADDR, vault_url over both; X-Vault-Namespace from env and config"

# the seed's example config loads and reaches the configured address
sed "s#http://127.0.0.1:8200#$V_URL#" "$TOP/tests/fixtures/seed/01-credentials-vault.yaml" > "$T_DIR/seed.yaml"
expect_rc 0 "$H" -c "$T_DIR/seed.yaml" vault get github/token
assert_eq "$(cat "$T_DIR/out")" "$S1" "seed example config"
ok "the seed's Vault config works unchanged (vault_namespace: null, auto_renew)"

# a Unix socket address
vault_start U --unix "$T_DIR/vault.sock"
vapi_unix() { curl -s --unix-socket "$T_DIR/vault.sock" -H "X-Vault-Token: $VROOT" -X POST \
	--data-binary '{"data": {"value": "via-socket"}}' http://localhost/v1/secret/data/sock/key > /dev/null; }
vapi_unix
VAULT_ADDR=unix://$T_DIR/vault.sock expect_rc 0 "$H" --provider vault vault get sock/key
assert_eq "$(cat "$T_DIR/out")" via-socket "unix:// address"
ok "VAULT_ADDR=unix:///path talks HTTP over a Unix socket"

# plain http to a non-loopback address is called out loudly
VAULT_ADDR=http://vault.invalid:8200 VAULT_CLIENT_TIMEOUT=1s expect_rc 3 "$H" --provider vault vault get github/token
assert_contains "$T_DIR/err" "plain http and not a loopback address" "http warning"
expect_rc 0 "$H" --provider vault vault get github/token
grep -q "plain http" "$T_DIR/err" && fail "loopback http was warned about"
ok "a warning for plain http to a non-loopback address, none for loopback"
