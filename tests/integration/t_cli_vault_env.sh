#!/bin/bash
# harombe vault as a user of the vault CLI drives it: no config, VAULT_ADDR
# and VAULT_TOKEN from the environment, -mount, -field, -format=json (and
# the --double-dash spellings), the table for several fields, and a config
# that still wins over the environment.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vault-lib.sh"

vault_start V --kv secret=2 --kv team/kv=2 --kv kv1=1
H=$HAROMBE
unset VAULT_ADDR VAULT_AGENT_ADDR VAULT_TOKEN VAULT_NAMESPACE VAULT_CACERT VAULT_CAPATH HAROMBE_CONFIG
export HOME="$T_DIR/home"
mkdir -p "$HOME"
cd "$T_DIR"

S1=$(rand_token 32)
S2=$(rand_token 32)

# ---- no config, nothing in the environment: the hint names the providers ----
expect_rc 2 "$H" vault get db/main
assert_contains "$T_DIR/err" "--provider vault" "the hint names --provider vault"
assert_contains "$T_DIR/err" "VAULT_ADDR" "the hint names VAULT_ADDR"
ok "no config and no VAULT_ADDR: a usage error that says what to do"

# ---- VAULT_ADDR alone picks Vault ----
export VAULT_ADDR=$V_URL VAULT_TOKEN=$VROOT
expect_rc 0 "$H" vault set db/main user=admin "password=$S1"
body=$(vapi "$V_URL" GET secret/data/db/main)
assert_eq "$(echo "$body" | json_get data.data.password)" "$S1" "written to mount secret"
expect_rc 0 "$H" vault get 'db/main#user'
assert_eq "$(cat "$T_DIR/out")" admin "get through VAULT_ADDR"
ok "no config, VAULT_ADDR set: the vault group uses Vault at mount 'secret'"

# ---- several fields: a table, as vault kv get prints it ----
expect_rc 0 "$H" vault get db/main
assert_contains "$T_DIR/out" "====== Data ======" "table header"
grep -Eq '^user +admin$' "$T_DIR/out" || fail "table row for user: $(cat "$T_DIR/out")"
grep -Eq "^password +$S1\$" "$T_DIR/out" || fail "table row for password"
ok "get of a secret with several fields prints a Key/Value table"

# ---- -field in each spelling ----
for f in "-field password" "-field=password" "--field password" "--field=password"; do
	# shellcheck disable=SC2086
	expect_rc 0 "$H" vault get $f db/main
	assert_eq "$(cat "$T_DIR/out")" "$S1" "get $f"
done
expect_rc 0 "$H" vault get db/main -field=user
assert_eq "$(cat "$T_DIR/out")" admin "-field after the key"
expect_rc 1 "$H" vault get -field=nope db/main
expect_rc 2 "$H" vault get -field=user 'db/main#user'
ok "-field NAME, -field=NAME, --field NAME, --field=NAME print one field raw"

# ---- -format=json: vault kv get -format=json ----
for f in "-format=json" "-format json" "--format json" "--format=json"; do
	# shellcheck disable=SC2086
	expect_rc 0 "$H" vault get $f db/main
	python3 - "$T_DIR/out" "$S1" <<'PY' || fail "get $f is not vault kv get -format=json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["data"]["data"] == {"user": "admin", "password": sys.argv[2]}, d
assert d["data"]["metadata"]["version"] == 1, d
assert d["data"]["metadata"]["created_time"].endswith("Z"), d
assert d["lease_duration"] == 0 and d["renewable"] is False
PY
done
expect_rc 0 "$H" vault get -format=json -field=password db/main
assert_eq "$(cat "$T_DIR/out")" "\"$S1\"" "-field with -format=json is a JSON string"
expect_rc 2 "$H" vault get -format=yaml db/main
ok "-format=json (and --format json) print data.data and data.metadata"

# ---- -mount ----
expect_rc 0 "$H" vault set -mount=team/kv app/key "$S2"
body=$(vapi "$V_URL" GET team/kv/data/app/key)
assert_eq "$(echo "$body" | json_get data.data.value)" "$S2" "written under team/kv"
expect_rc 0 "$H" vault get -mount team/kv app/key
assert_eq "$(cat "$T_DIR/out")" "$S2" "-mount for get"
expect_rc 1 "$H" vault get app/key
expect_rc 2 "$H" vault get -mount=../x app/key
ok "-mount PATH picks the KV mount"

# ---- VAULT_AGENT_ADDR alone is enough too ----
( unset VAULT_ADDR; export VAULT_AGENT_ADDR=$V_URL; expect_rc 0 "$H" vault get 'db/main#user' ) ||
	fail "VAULT_AGENT_ADDR"
assert_eq "$(cat "$T_DIR/out")" admin "VAULT_AGENT_ADDR"
ok "VAULT_AGENT_ADDR alone also picks Vault"

# ---- a config still wins ----
cat > "$T_DIR/harombe.yaml" <<YAML
security:
  credentials:
    provider: env
YAML
expect_rc 1 "$H" -c "$T_DIR/harombe.yaml" vault get db/main
expect_rc 2 "$H" -c "$T_DIR/harombe.yaml" vault get -mount=team/kv app/key
assert_contains "$T_DIR/err" "without a config" "-mount with a config"
ok "a config wins over VAULT_ADDR (its provider is used; -mount is refused)"

no_secret_in "$T_DIR/err" "$S1" "$S2"
ok "no value in any message"
