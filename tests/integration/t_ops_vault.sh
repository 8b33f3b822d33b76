#!/bin/bash
# The operations commands on the Vault backend (KV 2, the test server):
# export/import between two Vaults keeps every secret's fields exactly;
# rotate writes a new version; rotate --check goes by Vault's own
# updated_time; harombefs with a one-hour cache serves a rotated value on
# the next open (told through its control socket) and SIGUSR2 empties the
# cache; container secrets, run and start work, and a Vault that is down
# gives exit 3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vault-lib.sh"
. "$(dirname "$0")/helpers/ops.sh"

vault_start V --kv secret=2
vault_start W --kv secret=2
unset VAULT_ADDR VAULT_AGENT_ADDR VAULT_TOKEN VAULT_NAMESPACE
printf '%s\n' "$VROOT" > "$T_DIR/token"
chmod 600 "$T_DIR/token"
HOOKLOG="$T_DIR/hook.log"
config() {	# config FILE URL
	cat > "$1" <<YAML
security:
  credentials:
    provider: vault
    vault_url: $2
    token_file: $T_DIR/token
    timeout: 2s
  fs:
    audit_log: $T_DIR/audit.jsonl
    mountpoint: $T_DIR/mnt
    cache_ttl: 1h
  rotation:
    state_file: $T_DIR/rotation.json
    policies: [{ secrets: [api/key], schedule: 30d }]
  containers:
    web:
      on_rotate: 'echo "\$HAROMBE_CONTAINER \$HAROMBE_ROTATED_KEYS" >> $HOOKLOG'
      secrets: { API: api/key, DB_USER: db#user, DB_PASSWORD: db#password }
YAML
}
config "$T_DIR/v.yaml" "$V_URL"
config "$T_DIR/w.yaml" "$W_URL"
H=$HAROMBE

API="sk-live-$(rand_token 32)"
PW=$(rand_token 32)
vput "$V_URL" api/key '{"value": "'"$API"'"}'
vput "$V_URL" db '{"user": "svc", "password": "'"$PW"'"}'
vput "$V_URL" single/one '{"only": "just one field"}'
vput "$V_URL" deep/a/b/c '{"value": "deep"}'
# adversarial values, written through harombe itself (JSON strings hold any Unicode, NUL too)
cat > "$T_DIR/adv.env" <<'ENV'
quote="say \"hi\" and 'bye'"
backslash="back\\slash\\\\ \\n"
newline="line1\nline2\n"
crlf="a\r\nb\r"
dollar="\$HOME \${PATH} \$(id)"
backtick="\`id\`"
utf8="ünïcødé ☃ 🔑"
empty=""
spaces="  leading and trailing  "
hash="#not a comment"
nul="a\0b"
ENV
expect 0 "" "$H" -c "$T_DIR/v.yaml" vault import --prefix adv "$T_DIR/adv.env"

expect 0 "" "$H" -c "$T_DIR/v.yaml" vault export "$T_DIR/backup.env"
grep -qx "exported 16 keys from vault to $T_DIR/backup.env" "$T_DIR/out" || fail "export: $(cat "$T_DIR/out")"
grep -q '^db#password=' "$T_DIR/backup.env" && grep -q '^db#user="svc"$' "$T_DIR/backup.env" &&
	grep -q '^single/one#only="just one field"$' "$T_DIR/backup.env" && grep -q '^deep/a/b/c="deep"$' "$T_DIR/backup.env" ||
	fail "export does not name fields as KEY#FIELD"
expect 0 "" "$H" -c "$T_DIR/w.yaml" vault import "$T_DIR/backup.env"
python3 - "$V_URL" "$W_URL" "$VROOT" <<'PY' || fail "the two Vaults differ after export and import"
import json, sys, urllib.request
def call(url, method, path):
    req = urllib.request.Request(url + "/v1/" + path, method=method, headers={"X-Vault-Token": sys.argv[3]})
    return json.load(urllib.request.urlopen(req))
def walk(url, folder=""):
    out = {}
    for k in call(url, "LIST", "secret/metadata/" + folder)["data"]["keys"]:
        if k.endswith("/"):
            out.update(walk(url, folder + k))
        else:
            out[folder + k] = call(url, "GET", "secret/data/" + folder + k)["data"]["data"]
    return out
a, b = walk(sys.argv[1]), walk(sys.argv[2])
assert a == b, (sorted(a), sorted(b))
assert len(a) == 15 and a["db"] == {"user": "svc", "password": a["db"]["password"]} and a["adv/nul"] == {"value": "a\x00b"}
PY
no_trace "$PW" "$T_DIR/out" "$T_DIR/err" "$T_DIR/audit.jsonl"
ok "export from one Vault, import into another: every secret with exactly its fields (db#user/db#password, single#only, nested folders) and adversarial values, NUL included"

OLDV=$(vapi "$V_URL" GET secret/metadata/api/key | json_get data.current_version)
expect 0 "" "$H" -c "$T_DIR/v.yaml" vault rotate api/key
NEW=$(vapi "$V_URL" GET secret/data/api/key | json_get data.data.value)
[[ "$NEW" =~ ^sk-live-[A-Za-z0-9_-]{32}$ ]] && [ "$NEW" != "$API" ] || fail "rotated value"
[ "$(vapi "$V_URL" GET secret/metadata/api/key | json_get data.current_version)" = $((OLDV + 1)) ] || fail "no new version"
grep -qx "web api/key" "$HOOKLOG" || fail "hook"
no_trace "$NEW" "$T_DIR/out" "$T_DIR/audit.jsonl" "$HOOKLOG"
expect 0 "" "$H" -c "$T_DIR/v.yaml" vault rotate 'db#password' --no-hooks
[ "$(vapi "$V_URL" GET secret/data/db | json_get data.data.user)" = svc ] || fail "rotating one field lost another"
[ "$(vapi "$V_URL" GET secret/data/db | json_get data.data.password)" != "$PW" ] || fail "db#password not rotated"
ok "vault rotate writes a new KV 2 version (prefix sk-live- kept), rotates one field and keeps the others"

expect 0 "" "$H" -c "$T_DIR/v.yaml" rotate --check
grep -qE "^ok       api/key: changed \(store's clock\) [0-9]+s ago, schedule 30d" "$T_DIR/out" || fail "check: $(cat "$T_DIR/out")"
vctl "$V_URL" age '{"path": "api/key", "seconds": 3456000}'
: > "$HOOKLOG"
expect 0 "" "$H" -c "$T_DIR/v.yaml" --format json rotate --check
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s=d["secrets"][0]; assert d["rotated"]==1 and s["status"]=="rotated" and s["source"]=="store", d' \
	"$T_DIR/out" || fail "json: $(cat "$T_DIR/out")"
grep -qx "web api/key" "$HOOKLOG" || fail "no hook after --check"
ok "rotate --check goes by Vault's updated_time: fresh is ok, 40 days old is rotated (and the hook runs)"

# harombefs with cache_ttl 1h
start_fs "$HAROMBEFS" "$T_DIR/v.yaml" "$T_DIR/mnt"
A=$(cat "$T_DIR/mnt/web/secrets/API")
[ "$A" = "$(vapi "$V_URL" GET secret/data/api/key | json_get data.data.value)" ] || fail "first read"
vput "$V_URL" api/key '{"value": "changed-behind-its-back"}'
[ "$(cat "$T_DIR/mnt/web/secrets/API")" = "$A" ] || fail "no cache: a change made outside harombe was served at once"
expect 0 "" "$H" -c "$T_DIR/v.yaml" vault rotate api/key --no-hooks
C=$(vapi "$V_URL" GET secret/data/api/key | json_get data.data.value)
[ "$(cat "$T_DIR/mnt/web/secrets/API")" = "$C" ] || fail "harombefs served a cached value after the rotation"
vput "$V_URL" api/key '{"value": "set-by-the-vault-cli"}'
[ "$(cat "$T_DIR/mnt/web/secrets/API")" = "$C" ] || fail "cache"
kill -USR2 "$T_FS_PID"
for _ in $(seq 100); do grep -q "dropping every cached value (SIGUSR2)" "$T_LOG" && break; sleep 0.05; done
[ "$(cat "$T_DIR/mnt/web/secrets/API")" = set-by-the-vault-cli ] || fail "SIGUSR2 did not empty the cache"
stop_fs "$T_FS_PID" "$T_DIR/mnt"
ok "harombefs with a 1h cache: a change outside harombe waits for the cache, a rotation is served on the next open, SIGUSR2 empties the cache"

expect 0 "" "$H" -c "$T_DIR/v.yaml" container secrets web
[ "$(grep -c ' ok$' "$T_DIR/out")" = 3 ] || fail "container secrets: $(cat "$T_DIR/out")"
expect 0 "" "$H" -c "$T_DIR/v.yaml" run --container web -- sh -c '[ "$DB_USER" = svc ] && [ -n "$DB_PASSWORD" ] && [ "$API" = set-by-the-vault-cli ]'
expect 0 "" "$H" -c "$T_DIR/v.yaml" container start web --dry-run -- img:1
grep -q -- "--env-file=$T_DIR/mnt/web/docker.env" "$T_DIR/out" || fail "start --dry-run"
ok "container secrets, run and start --dry-run on Vault"

vault_kill "$V_PID"
expect 3 "" "$H" -c "$T_DIR/v.yaml" container secrets web
grep -q "^API  *api/key  *unavailable" "$T_DIR/out" || fail "down listing: $(cat "$T_DIR/out")"
expect 3 "" "$H" -c "$T_DIR/v.yaml" run --container web -- touch "$T_DIR/ran"
[ ! -e "$T_DIR/ran" ] || fail "run started the command without its secrets"
expect 3 "" "$H" -c "$T_DIR/v.yaml" vault rotate api/key
expect 3 "" "$H" -c "$T_DIR/v.yaml" rotate --check
mkdir "$T_DIR/exp"
expect 3 "" "$H" -c "$T_DIR/v.yaml" vault export "$T_DIR/exp/x.env"
[ -z "$(ls -A "$T_DIR/exp")" ] || fail "a failed export left a file"
expect 3 "" "$H" -c "$T_DIR/v.yaml" vault import "$T_DIR/adv.env"
grep -q "unavailable" "$T_DIR/err" || fail "import error: $(cat "$T_DIR/err")"
ok "Vault down: container secrets, run, rotate, rotate --check, export and import exit 3 (no file, no command)"
