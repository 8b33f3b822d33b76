#!/bin/bash
# Rotation: harombe vault rotate (generators, prefixes, errors), the
# on_rotate hooks (environment, exit status audited, deadline), container
# rotate-secrets, harombe rotate --check by the store's clock and by the
# state file, and a running harombefs serving the new value at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/helpers/ops.sh"

S="$T_DIR/store"
HOOKLOG="$T_DIR/hook.log"
write_cfg() {	# write_cfg [EXTRA YAML under security.rotation]
	mock_config "$T_DIR/h.yaml" "$S" "  rotation:
    state_file: $T_DIR/state/rotation.json
    hook_timeout: 1s
    policies:
      - secrets: [api/key, gh/token]
        schedule: 30d
      - secrets: [db/pass]
        schedule: 12h
        generator: hex
        length: 40
${1:-}
  containers:
    web:
      on_rotate: 'printf \"%s|%s|%s|%s\\n\" \"\$HAROMBE_CONTAINER\" \"\$HAROMBE_ROTATED_KEYS\" \"\$HAROMBE_ROTATED_NAMES\" \"\${VAULT_TOKEN:-none}\" >> $HOOKLOG'
      secrets: { API_KEY: api/key, DB: db/pass }
    worker:
      on_rotate: [/bin/sh, -c, 'exit 3']
      secrets: { TOKEN: gh/token }
    slow:
      on_rotate: [/bin/sleep, '30']
      secrets: { H: hex/key }
    plain:
      secrets: { API_KEY: api/key }"
}
write_cfg
OLD_API="sk-proj-$(rand_token 32)"
printf '%s' "$OLD_API" > "$(mock_file "$S" api/key)"
printf 'ghp_%s' "$(rand_token 36)" > "$(mock_file "$S" gh/token)"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$(mock_file "$S" hex/key)"
printf 'hunter2' > "$(mock_file "$S" db/pass)"
val() { cat "$(mock_file "$S" "$1")"; }
R() { expect "$@"; }	# readability: R RC 'LINE' CMD...

export VAULT_TOKEN="hvs.must-not-reach-hooks"
R 0 "" "$HT" -c "$T_DIR/h.yaml" vault rotate api/key
NEW=$(val api/key)
[ "$(cat "$T_DIR/out")" = "rotated api/key (urlsafe, 32 characters, prefix kept)
on_rotate web: exit status 0" ] || fail "rotate report: $(cat "$T_DIR/out")"
[[ "$NEW" =~ ^sk-proj-[A-Za-z0-9_-]{32}$ ]] || fail "new api/key does not keep sk-proj- and 32 urlsafe characters"
[ "$NEW" != "$OLD_API" ] || fail "api/key did not change"
[ "$(cat "$HOOKLOG")" = "web|api/key|API_KEY|none" ] || fail "hook saw: $(cat "$HOOKLOG")"
no_trace "$NEW" "$T_DIR/out" "$T_DIR/err" "$T_DIR/audit.jsonl" "$HOOKLOG"
no_trace "$OLD_API" "$T_DIR/out" "$T_DIR/err" "$T_DIR/audit.jsonl" "$HOOKLOG"
grep '"event":"secret_rotation"' "$T_DIR/audit.jsonl" | grep '"keys":\["api/key"\]' |
	grep -q '"action":"rotate","trigger":"manual","generator":"urlsafe","length":32,"result":"ok"' ||
	fail "rotation not audited as expected"
grep '"event":"secret_rotation","source":"harombe","container":"web","names":\["API_KEY"\]' "$T_DIR/audit.jsonl" |
	grep -q '"action":"on_rotate","exit_status":0,"result":"ok"' || fail "hook not audited"
ok "vault rotate: a new urlsafe value with the sk-proj- prefix kept, audited; the web hook ran with names only and no VAULT_TOKEN"

R 1 "harombe: on_rotate of container 'worker' failed: exit status 3" \
	"$HT" -c "$T_DIR/h.yaml" vault rotate gh/token --generator hex --length 40
[[ "$(val gh/token)" =~ ^ghp_[0-9a-f]{40}$ ]] || fail "gh/token is not ghp_ + 40 hex"
grep '"container":"worker"' "$T_DIR/audit.jsonl" |
	grep -q '"action":"on_rotate","exit_status":3,"result":"error","reason":"exit status 3"' || fail "failed hook not audited"
ok "a failing hook makes rotate exit 1, and its exit status is audited"

R 0 "" "$HT" -c "$T_DIR/h.yaml" vault rotate db/pass --generator uuid --no-hooks
[[ "$(val db/pass)" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || fail "not a v4 uuid"
[ "$(wc -l < "$HOOKLOG")" = 1 ] || fail "--no-hooks ran a hook"
R 0 "" "$HT" -c "$T_DIR/h.yaml" vault rotate api/key --no-prefix --generator random --length 64 --no-hooks
[[ "$(val api/key)" =~ ^[A-Za-z0-9\!@#\$%^\&*]{64}$ ]] || fail "random generator charset or length"
[[ "$(val api/key)" != sk-proj-* ]] || fail "--no-prefix kept the prefix"
OLD_HEX=$(val hex/key)
R 1 "harombe: on_rotate of container 'slow' failed: timed out (killed by signal 15)" \
	"$HT" -c "$T_DIR/h.yaml" vault rotate hex/key
[[ "$(val hex/key)" =~ ^[0-9a-f]{64}$ ]] && [ "$(val hex/key)" != "$OLD_HEX" ] || fail "auto did not keep 64 hex"
grep '"container":"slow"' "$T_DIR/audit.jsonl" | grep -q '"result":"error","reason":"timed out' || fail "timeout not audited"
ok "uuid, random and hex (auto, from the old value's shape) generators; --no-prefix, --no-hooks; a hook past hook_timeout is killed and audited"

R 1 "harombe: cannot rotate 'no/such' in mock: not found: no mock file for 'no/such' (vault set creates a key; rotate replaces one)" \
	"$HT" -c "$T_DIR/h.yaml" vault rotate no/such
R 2 "harombe: --generator must be auto, urlsafe, random, hex or uuid, not 'base64'" \
	"$HT" -c "$T_DIR/h.yaml" vault rotate api/key --generator base64
R 2 "harombe: --length must be a number from 16 to 1024, not '8'" "$HT" -c "$T_DIR/h.yaml" vault rotate api/key --length 8
R 2 "harombe: --length does not apply to --generator uuid (always 36 characters)" \
	"$HT" -c "$T_DIR/h.yaml" vault rotate api/key --generator uuid --length 40
R 2 "harombe: key 'a//b' has an empty segment ('//')" "$HT" -c "$T_DIR/h.yaml" vault rotate a//b
R 2 "" "$HT" -c "$T_DIR/h.yaml" vault rotate
grep -q "^usage: harombe rotate --check" "$T_DIR/err" || fail "no usage"
before=$(val api/key)
echo EIO > "$S/_all.err"
R 3 "harombe: cannot rotate 'api/key' in mock: unavailable: mock store fails every key" \
	"$HT" -c "$T_DIR/h.yaml" vault rotate api/key
rm "$S/_all.err"
[ "$(val api/key)" = "$before" ] || fail "a failed rotation changed the value"
ok "bad input: unknown key exits 1, bad generator, length, key or usage 2, store down 3 (value unchanged)"

: > "$HOOKLOG"
R 0 "" "$HT" -c "$T_DIR/h.yaml" container rotate-secrets web
grep -q "^rotated api/key (" "$T_DIR/out" && grep -q "^rotated db/pass (hex, 40 characters)" "$T_DIR/out" ||
	fail "rotate-secrets: $(cat "$T_DIR/out")"
[ "$(cat "$HOOKLOG")" = "web|api/key db/pass|API_KEY DB|none" ] || fail "one hook run with both keys: $(cat "$HOOKLOG")"
grep -q '"trigger":"container"' "$T_DIR/audit.jsonl" || fail "trigger container not audited"
R 2 "harombe: no container 'nope' in $T_DIR/h.yaml (known: web, worker, slow, plain)" \
	"$HT" -c "$T_DIR/h.yaml" container rotate-secrets nope
ok "container rotate-secrets rotates each key of the container (db/pass by its policy: hex 40) and runs its hook once"

# ---- rotate --check: by the store's clock (the mock reports mtimes) ----
rm -rf "$T_DIR/state"
touch -d '1 hour ago' "$S"/*
R 0 "" "$HT" -c "$T_DIR/h.yaml" rotate --check
grep -qE "^ok       api/key: changed \(store's clock\) 1h 0m ago, schedule 30d, due in 29d 2[0-9]h$" "$T_DIR/out" ||
	fail "check report: $(cat "$T_DIR/out")"
[ "$(grep -c '^ok ' "$T_DIR/out")" = 3 ] || fail "not all ok: $(cat "$T_DIR/out")"
touch -d '40 days ago' "$(mock_file "$S" api/key)"
touch -d '13 hours ago' "$(mock_file "$S" db/pass)"
before=$(val api/key)
R 0 "" "$HT" -c "$T_DIR/h.yaml" rotate --check --dry-run
grep -q "^due      api/key: changed (store's clock) 40d 0h ago, schedule 30d$" "$T_DIR/out" || fail "dry run: $(cat "$T_DIR/out")"
grep -q "^due      db/pass: " "$T_DIR/out" || fail "dry run db/pass"
[ "$(val api/key)" = "$before" ] || fail "--dry-run rotated"
: > "$HOOKLOG"
R 0 "" "$HT" -c "$T_DIR/h.yaml" rotate --check
grep -q "^rotated  api/key: " "$T_DIR/out" && grep -q "^rotated  db/pass: " "$T_DIR/out" &&
	grep -q "^ok       gh/token: " "$T_DIR/out" || fail "check: $(cat "$T_DIR/out")"
[ "$(val api/key)" != "$before" ] || fail "api/key not rotated"
[[ "$(val db/pass)" =~ ^[0-9a-f]{40}$ ]] || fail "db/pass not rotated by its policy"
grep -qx "on_rotate web: exit status 0" "$T_DIR/out" || fail "no hook after --check"
[ "$(cat "$HOOKLOG")" = "web|api/key db/pass|API_KEY DB|none" ] || fail "hook: $(cat "$HOOKLOG")"
grep -q '"trigger":"policy"' "$T_DIR/audit.jsonl" || fail "policy trigger not audited"
R 0 "" "$HT" -c "$T_DIR/h.yaml" --format json rotate --check
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["rotated"]==0 and len(d["secrets"])==3 and all(s["status"]=="ok" and s["source"]=="store" for s in d["secrets"]), d' "$T_DIR/out" ||
	fail "json: $(cat "$T_DIR/out")"
ok "rotate --check by the store's timestamps: --dry-run reports, then what is due is rotated (by its policy) and the hook runs; --format json"

# ---- a store without timestamps: the state file ----
touch "$S/_nometa"
rm -rf "$T_DIR/state"
R 0 "" "$HT" -c "$T_DIR/h.yaml" rotate --check
[ "$(grep -c '^tracking ' "$T_DIR/out")" = 3 ] || fail "first check: $(cat "$T_DIR/out")"
grep -qx "tracking api/key: the store keeps no change time; the 30d clock starts now" "$T_DIR/out" || fail "tracking line"
[ "$(stat -c %a "$T_DIR/state/rotation.json")" = 600 ] && [ "$(stat -c %a "$T_DIR/state")" = 700 ] || fail "state modes"
no_trace "$(val api/key)" "$T_DIR/state/rotation.json"
R 0 "" "$HT" -c "$T_DIR/h.yaml" rotate --check
grep -qE "^ok       api/key: first seen [0-9]s ago, schedule 30d, due in 29d 2[0-9]h$" "$T_DIR/out" || fail "second check: $(cat "$T_DIR/out")"
python3 - "$T_DIR/state/rotation.json" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["secrets"]["api/key"]["seen"] = "2000-01-01T00:00:00Z"
json.dump(d, open(p, "w"))
PY
before=$(val api/key)
R 0 "" "$HT" -c "$T_DIR/h.yaml" rotate --check --no-hooks
grep -q "^rotated  api/key: first seen " "$T_DIR/out" || fail "state-due: $(cat "$T_DIR/out")"
[ "$(val api/key)" != "$before" ] || fail "not rotated"
R 0 "" "$HT" -c "$T_DIR/h.yaml" rotate --check
grep -qE "^ok       api/key: rotated by harombe [0-9]s ago" "$T_DIR/out" || fail "after: $(cat "$T_DIR/out")"
R 0 "" "$HT" -c "$T_DIR/h.yaml" rotate --check --all --no-hooks
[ "$(grep -c '^rotated ' "$T_DIR/out")" = 3 ] || fail "--all: $(cat "$T_DIR/out")"
rm "$S/_nometa"
ok "without store timestamps: the clock starts at the first --check, the state file (0600, names and times only) decides, --all rotates everything"

# ---- rotate --check: bad input ----
printf 'x' > "$(mock_file "$S" tmp)"
write_cfg "      - secrets: [missing/key]
        schedule: 1d"
R 1 "" "$HT" -c "$T_DIR/h.yaml" rotate --check
grep -qx "failed   missing/key: not found: no mock file for 'missing/key'" "$T_DIR/out" || fail "missing: $(cat "$T_DIR/out")"
echo EIO > "$S/_all.err"
R 3 "" "$HT" -c "$T_DIR/h.yaml" rotate --check
grep -qx "failed   api/key: unavailable: mock store fails every key" "$T_DIR/out" || fail "down: $(cat "$T_DIR/out")"
rm "$S/_all.err"
write_cfg "      - secrets: [x/y]
        schedule: \"30 days\""
L=$(grep -n '30 days' "$T_DIR/h.yaml" | cut -d: -f1)
R 2 "harombe: $T_DIR/h.yaml:$L:19: 'schedule' must be a whole number with a unit s, m, h, d or w (such as 30d or 12h), not '30 days'" \
	"$HT" -c "$T_DIR/h.yaml" rotate --check
write_cfg "      - secrets: [x/y]
        schedule: 0w"
L=$(grep -n 'schedule: 0w' "$T_DIR/h.yaml" | cut -d: -f1)
R 2 "harombe: $T_DIR/h.yaml:$L:19: 'schedule' must be longer than 0" "$HT" -c "$T_DIR/h.yaml" rotate --check
write_cfg "      - secrets: [api/key]
        schedule: 1d"
L=$(grep -n 'secrets: \[api/key\]' "$T_DIR/h.yaml" | cut -d: -f1)
P=$(grep -n 'secrets: \[api/key, gh/token\]' "$T_DIR/h.yaml" | cut -d: -f1)
R 2 "harombe: $T_DIR/h.yaml:$L:19: 'api/key' is already in the rotation policy at line $P" "$HT" -c "$T_DIR/h.yaml" rotate --check
R 2 "harombe: $T_DIR/h.yaml:$L:19: 'api/key' is already in the rotation policy at line $P" "$HT" -c "$T_DIR/h.yaml" config check
write_cfg "    enabled: false"
R 0 "" "$HT" -c "$T_DIR/h.yaml" rotate --check
[ "$(cat "$T_DIR/out")" = "rotation is disabled (security.rotation.enabled: false)" ] || fail "disabled"
R 2 "harombe: 'harombe rotate' takes no keys: use harombe vault rotate KEY, or --check" "$HT" -c "$T_DIR/h.yaml" rotate api/key
write_cfg
ok "rotate --check: a missing key exits 1, a failing store 3, bad schedules and duplicate keys 2 with file:line:column (config check too)"

# ---- a running harombefs serves the new value at once ----
FS_EXTRA="    cache_ttl: 1h" write_cfg
start_fs "$HAROMBEFS_TEST" "$T_DIR/h.yaml" "$T_DIR/mnt"
[ -S "$T_DIR/mnt.ctl" ] && [ "$(stat -c %a "$T_DIR/mnt.ctl")" = 600 ] || fail "no 0600 control socket next to the mount"
first=$(cat "$T_DIR/mnt/plain/secrets/API_KEY")
[ "$first" = "$(val api/key)" ] || fail "first read"
printf 'behind-its-back' > "$(mock_file "$S" api/key)"
[ "$(cat "$T_DIR/mnt/plain/secrets/API_KEY")" = "$first" ] || fail "no cache: a change outside harombe was served at once"
R 0 "" "$HT" -c "$T_DIR/h.yaml" vault rotate api/key --no-hooks
[ "$(cat "$T_DIR/mnt/plain/secrets/API_KEY")" = "$(val api/key)" ] || fail "harombefs served the old value after rotate"
[ "$first" != "$(val api/key)" ] && [ "$(val api/key)" != behind-its-back ] || fail "not rotated"
grep -q "control: dropping cached copies of 'api/key'" "$T_LOG" || fail "the daemon was not told"
printf 'set-by-hand' | R 0 "" "$HT" -c "$T_DIR/h.yaml" vault set api/key -
[ "$(cat "$T_DIR/mnt/plain/secrets/API_KEY")" = set-by-hand ] || fail "harombefs served the old value after vault set"
[ "$(grep -c "control: dropping cached copies of 'api/key'" "$T_LOG")" = 2 ] || fail "vault set did not tell the daemon"
set +e
as_uid 1000 python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])' \
	"$T_DIR/mnt.ctl" 2>/dev/null
rc=$?
set -e
[ $rc != 0 ] || fail "uid 1000 could connect to the control socket"
kill -USR2 "$T_FS_PID"
for _ in $(seq 100); do grep -q "dropping every cached value (SIGUSR2)" "$T_LOG" && break; sleep 0.05; done
grep -q "dropping every cached value (SIGUSR2)" "$T_LOG" || fail "SIGUSR2 not handled"
stop_fs "$T_FS_PID" "$T_DIR/mnt"
[ ! -e "$T_DIR/mnt.ctl" ] || fail "control socket left behind"
ok "harombefs (cache_ttl 1h) serves the new value on the next open: rotate and vault set tell it through its 0600 control socket; SIGUSR2 drops everything"

# ---- SOPS: rotation writes through re-encryption; no per-key clock ----
cp "$TOP/tests/fixtures/sops/keys.txt" "$T_DIR/keys.txt"
PUB=$(sed -n 's/^# public key: //p' "$T_DIR/keys.txt")
cat > "$T_DIR/sops.yaml" <<YAML
security:
  credentials:
    provider: sops
    secrets_file: $T_DIR/secrets.enc.yaml
    key_file: $T_DIR/keys.txt
  fs: { audit_log: $T_DIR/audit.jsonl, mountpoint: $T_DIR/mnt }
  rotation:
    state_file: $T_DIR/sops-state.json
    policies: [{ secrets: [svc/token], schedule: 7d }]
YAML
"$HAROMBE" -c "$T_DIR/sops.yaml" vault create --age "$PUB" "$T_DIR/secrets.enc.yaml" > /dev/null
OLD="xoxb-$(rand_token 30)"
"$HAROMBE" -c "$T_DIR/sops.yaml" vault set svc/token "$OLD"
R 0 "" "$HAROMBE" -c "$T_DIR/sops.yaml" vault rotate svc/token
NEW=$("$HAROMBE" -c "$T_DIR/sops.yaml" vault get svc/token)
[[ "$NEW" =~ ^xoxb-[A-Za-z0-9_-]{30}$ ]] && [ "$NEW" != "$OLD" ] || fail "sops rotation"
no_trace "$NEW" "$T_DIR/secrets.enc.yaml" "$T_DIR/out" "$T_DIR/audit.jsonl"
R 0 "" "$HAROMBE" -c "$T_DIR/sops.yaml" rotate --check
grep -qE "^ok       svc/token: rotated by harombe [0-9]s ago, schedule 7d" "$T_DIR/out" ||
	fail "sops check (a file's lastmodified is not a key's): $(cat "$T_DIR/out")"
ok "sops: rotate re-encrypts a new value (prefix kept); --check uses the state file, not the file-wide lastmodified"

# ---- env: works, and says it is for this process only ----
cat > "$T_DIR/env.yaml" <<YAML
security:
  credentials: { provider: env }
  fs: { audit_log: $T_DIR/audit.jsonl, mountpoint: $T_DIR/mnt }
YAML
HAROMBE_SECRET_E_K="sk-$(rand_token 30)" R 0 "harombe: note: the env backend keeps new values for this process only" \
	"$HAROMBE" -c "$T_DIR/env.yaml" vault rotate e/k
ok "env: rotate works and notes that the value lives in this process only"
