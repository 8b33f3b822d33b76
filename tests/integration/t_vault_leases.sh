#!/bin/bash
# Dynamic secrets with leases (database/creds/ROLE): N containers x M opens
# mint exactly N leases, the username and password of a container come
# from one lease, leases are renewed while in use, revoked when idle past
# lease_idle and at shutdown (not with revoke_on_exit: false), audited
# with hashed lease ids, and listed by `harombe vault leases`.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vault-lib.sh"

vault_start V
unset VAULT_ADDR VAULT_AGENT_ADDR VAULT_TOKEN VAULT_NAMESPACE
H=$HAROMBE
MNT="$T_DIR/mnt"
AUDIT="$T_DIR/audit.jsonl"
S1=$(rand_token 32)
vput "$V_URL" app/key '{"value": "'"$S1"'"}'
vapi "$V_URL" POST database/roles/readonly '{"db_name": "pg", "default_ttl": "3s", "max_ttl": "120s"}' > /dev/null
[ "$VAPI_STATUS" = 204 ] || fail "cannot create the database role (HTTP $VAPI_STATUS)"
printf '%s\n' "$VROOT" > "$T_DIR/token"
chmod 600 "$T_DIR/token"

N=3
M=4
config() {	# config EXTRA-CREDENTIAL-LINES...
	{
		printf 'security:\n  credentials:\n    provider: vault\n    vault_url: %s\n    token_file: %s\n' \
			"$V_URL" "$T_DIR/token"
		case "$*" in *lease_idle*) ;; *) printf '    lease_idle: 4s\n' ;; esac
		printf '    %s\n' "$@"
		printf '  fs:\n    audit_log: %s\n    mountpoint: %s\n  containers:\n' "$AUDIT" "$MNT"
		for c in $(seq $N); do
			printf '    c%s:\n      secrets:\n' "$c"
			printf '        DB_USER: database/creds/readonly#username\n'
			printf '        DB_PASS: database/creds/readonly#password\n'
			printf '        KEY: app/key\n'
		done
	} > "$T_DIR/harombe.yaml"
}
leases() { curl -s "$V_URL/_test/leases"; }
nleases() { leases | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["leases"]))'; }
read_all() {	# every container, every file
	local c
	for c in $(seq $N); do
		cat "$MNT/c$c/env" > /dev/null || fail "c$c/env"
		cat "$MNT/c$c/secrets/DB_USER" > /dev/null || fail "c$c/secrets/DB_USER"
		cat "$MNT/c$c/secrets/DB_PASS" > /dev/null || fail "c$c/secrets/DB_PASS"
	done
}
wait_leases() {	# wait_leases COUNT SECONDS
	local end=$(( $(now_ms) + $2 * 1000 ))
	while [ "$(nleases)" != "$1" ]; do
		[ "$(now_ms)" -lt "$end" ] || fail "still $(nleases) leases after $2 s, expected $1"
		sleep 0.2
	done
}

config
vstats_reset "$V_URL"
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
for m in $(seq $M); do read_all; done
[ "$(vcount "$V_URL" '^GET database/creds/readonly$')" = $N ] ||
	fail "$N containers x $M opens minted $(vcount "$V_URL" '^GET database/creds/readonly$') leases, not $N"
[ "$(nleases)" = $N ] || fail "$(nleases) live leases, expected $N"
[ "$(cat "$MNT/c1/secrets/KEY")" = "$S1" ] || fail "a KV key beside the dynamic ones"
ok "$N containers x $M opens of 3 files each minted exactly $N leases (one per container and path)"

leases > "$T_DIR/leases.json"
for c in $(seq $N); do
	u=$(cat "$MNT/c$c/secrets/DB_USER")
	p=$(cat "$MNT/c$c/secrets/DB_PASS")
	python3 - "$T_DIR/leases.json" "$u" "$p" <<'EOF' || fail "c$c: user and password are not one lease's"
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if any(l["username"] == sys.argv[2] and l["password"] == sys.argv[3] for l in d["leases"]) else 1)
EOF
	echo "$u" >> "$T_DIR/users"
done
[ "$(sort -u "$T_DIR/users" | wc -l)" = $N ] || fail "two containers share a lease"
ok "each container's username and password come from one lease; no two containers share one"

# in use: reads every second for 6 s with a 3 s TTL
vstats_reset "$V_URL"
end=$(( $(now_ms) + 6000 ))
while [ "$(now_ms)" -lt "$end" ]; do read_all; sleep 1; done
renews=$(vcount "$V_URL" '^PUT sys/leases/renew$')
[ "$renews" -ge $N ] || fail "only $renews renewals of $N leases in 6 s with a 3 s TTL"
[ "$(vcount "$V_URL" '^GET database/creds/readonly$')" = 0 ] || fail "a lease was minted again instead of renewed"
[ "$(nleases)" = $N ] || fail "$(nleases) live leases after the renewals, expected $N"
ok "leases in use are renewed ($renews renewals in 6 s), never re-minted"

expect_rc 0 "$H" -c "$T_DIR/harombe.yaml" vault leases
for c in $(seq $N); do grep -q "^c$c  *database/creds/readonly " "$T_DIR/out" || fail "vault leases lacks c$c"; done
expect_rc 0 "$H" -c "$T_DIR/harombe.yaml" --format json vault leases
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d) == int(sys.argv[2]) and all(l["path"] == "database/creds/readonly" for l in d)' \
	"$T_DIR/out" $N || fail "vault leases --format json"
leases | python3 -c 'import json,sys; [print(l["id"]) for l in json.load(sys.stdin)["leases"]]' > "$T_DIR/ids"
while read -r id; do
	grep -qF "$id" "$T_DIR/out" && fail "a lease id in the output of vault leases"
	grep -qF "$id" "$AUDIT" && fail "a lease id in the audit log"
	grep -qF "$id" "$T_LOG" && fail "a lease id in the daemon log"
done < "$T_DIR/ids"
ok "harombe vault leases lists the $N leases (text and JSON), with no lease id"

# idle past lease_idle (4 s): revoked (counted since the reads above: on a loaded
# machine the window may pass while vault leases is checked)
wait_leases 0 10
[ "$(vcount "$V_URL" '^PUT sys/leases/revoke$')" = $N ] || fail "expected $N revocations on idle"
expect_rc 0 "$H" -c "$T_DIR/harombe.yaml" vault leases
[ ! -s "$T_DIR/out" ] || fail "vault leases still lists leases after they were revoked"
read_all
[ "$(nleases)" = $N ] || fail "no new leases after the idle ones were revoked"
ok "idle past lease_idle: the $N leases are revoked; the next opens mint new ones"

# shutdown revokes
stop_fs "$T_FS_PID" "$MNT"
[ "$(nleases)" = 0 ] || fail "$(nleases) leases left after shutdown"
ok "shutdown revokes every lease"

grep -c '"event":"vault_lease".*"action":"minted".*"result":"ok"' "$AUDIT" > "$T_DIR/n"
[ "$(cat "$T_DIR/n")" = $((2 * N)) ] || fail "$(cat "$T_DIR/n") minted records, expected $((2 * N))"
grep -q '"event":"vault_lease".*"container":"c1".*"action":"renewed".*"lease":"[0-9a-f]\{32\}"' "$AUDIT" ||
	fail "renewal not audited with the container and a hashed lease id"
[ "$(grep -c '"event":"vault_lease".*"action":"revoked".*"result":"ok"' "$AUDIT")" = $((2 * N)) ] ||
	fail "revocations not audited"
no_secret_in "$AUDIT" "$VROOT" "$S1" $(sort -u "$T_DIR/users")
ok "vault_lease audit records: minted, renewed, revoked, per container, lease ids hashed, no value"

# revoke_on_exit: false keeps them for their TTL
config "revoke_on_exit: false"
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
cat "$MNT/c1/env" > /dev/null
stop_fs "$T_FS_PID" "$MNT"
[ "$(nleases)" = 1 ] || fail "revoke_on_exit: false: $(nleases) leases left, expected 1"
ok "revoke_on_exit: false leaves the lease to its TTL"

# max_ttl: renewals get capped; before the lease runs out harombefs mints its successor,
# and that wakes a poll() waiter on the open file and counts in the view's generation;
# reads never see expired credentials
vapi "$V_URL" POST database/roles/short '{"db_name": "pg", "default_ttl": "3s", "max_ttl": "5s"}' > /dev/null
[ "$VAPI_STATUS" = 204 ] || fail "cannot create the short role (HTTP $VAPI_STATUS)"
sed -i 's#database/creds/readonly#database/creds/short#' "$T_DIR/harombe.yaml"
sed -i 's#revoke_on_exit: false#revoke_on_exit: true#' "$T_DIR/harombe.yaml"
cat > "$T_DIR/waiter.py" <<'PY'
import os, select, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
os.read(fd, 65536)
p = select.poll()
p.register(fd, select.POLLIN | select.POLLPRI)
open(sys.argv[2] + ".ready", "w").close()
ev = p.poll(int(sys.argv[3]))
with open(sys.argv[2], "w") as f:
    f.write("%d %.3f\n" % (ev[0][1] if ev else 0, time.time()))
PY
vstats_reset "$V_URL"
: > "$AUDIT"
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
u0=$(cat "$MNT/c1/secrets/DB_USER")
g0=$(cat "$MNT/c1/generation")
python3 "$T_DIR/waiter.py" "$MNT/c1/secrets/DB_USER" "$T_DIR/woke" 9000 &
wpid=$!
: > "$T_DIR/short-users"
end=$(( $(now_ms) + 8000 ))
while [ "$(now_ms)" -lt "$end" ]; do
	u=$(cat "$MNT/c1/secrets/DB_USER") || fail "read across the max_ttl rollover"
	leases | python3 -c 'import json,sys; u=sys.argv[1]; sys.exit(0 if any(l["username"] == u for l in json.load(sys.stdin)["leases"]) else 1)' "$u" ||
		fail "served credentials whose lease is gone"
	echo "$u" >> "$T_DIR/short-users"
	sleep 0.4
done
wait "$wpid" || fail "the poll() waiter failed"
read -r ev t_woke < "$T_DIR/woke"
[ "$ev" -eq $((1 | 2)) ] || fail "poll() on secrets/DB_USER reported events $ev across the max_ttl rollover, not POLLIN|POLLPRI"
g1=$(cat "$MNT/c1/generation")
[ "$g1" -gt "$g0" ] || fail "the generation did not move across the rollover ($g0 -> $g1)"
u1=$(cat "$MNT/c1/secrets/DB_USER")
[ "$u1" != "$u0" ] || fail "the same credentials after the rollover"
ms=$(python3 -c '
import calendar, json, sys, time
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("event") == "vault_lease" and r.get("action") == "reminted" and r.get("container") == "c1":
        t = calendar.timegm(time.strptime(r["time"][:19], "%Y-%m-%dT%H:%M:%S")) + float(r["time"][19:-1] or 0)
        print(int((float(sys.argv[2]) - t) * 1000))
        break
else:
    print("none")' "$AUDIT" "$t_woke")
[ "$ms" != none ] || fail "the re-mint before max_ttl is not audited ('reminted')"
[ "$ms" -lt 1000 ] || fail "the poll() waiter woke $ms ms after the re-mint, not within a second"
stop_fs "$T_FS_PID" "$MNT"
[ "$(sort -u "$T_DIR/short-users" | wc -l)" -ge 2 ] || fail "no new credentials after max_ttl"
ok "max_ttl 5 s: the lease is minted again before it runs out; the poll() waiter woke $ms ms after it, generation $g0 -> $g1; $(sort -u "$T_DIR/short-users" | wc -l) leases over 8 s of reads, never an expired one"

config "dynamic_paths: [database/creds/, '#bad']"
expect_rc 2 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" "harombe.yaml:7:.*'dynamic_paths': '#bad' is not a Vault path" "bad dynamic path"
config "lease_idle: 0"
expect_rc 2 "$H" -c "$T_DIR/harombe.yaml" vault get app/key
assert_contains "$T_DIR/err" "'lease_idle' must be at least 1s" "lease_idle 0"
ok "dynamic_paths and lease_idle errors name the place"
