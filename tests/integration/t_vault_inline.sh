#!/bin/bash
# Opens whose values are in memory are served on the FUSE loop thread
# (fs/open.c open_dispatch, backend_try_get_many_for): a Vault view whose
# keys the cache holds fresh (cache_ttl) never goes to the open workers,
# even while Vault hangs; a miss, and an entry past cache_ttl, do, and a
# miss that hangs holds one worker, never the loop (a cached view opens
# meanwhile).  The daemon's stats line counts the opens handed to workers.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vault-lib.sh"

vault_start V
S1=$(rand_token 32)
S2=$(rand_token 32)
vput "$V_URL" app/one '{"value": "'"$S1"'"}'
vput "$V_URL" app/two '{"value": "'"$S2"'"}'
printf '%s\n' "$VROOT" > "$T_DIR/token"
chmod 600 "$T_DIR/token"
TTL=6
cat > "$T_DIR/h.yaml" <<YAML
security:
  credentials:
    provider: vault
    vault_url: $V_URL
    token_file: $T_DIR/token
    kv_version: 2
    timeout: 3s
  fs:
    audit_log: $T_DIR/audit.jsonl
    cache_ttl: ${TTL}s
  containers:
    hot:
      secrets: { ONE: app/one }
    cold:
      secrets: { TWO: app/two }
YAML
MNT="$T_DIR/mnt"
start_fs "$HAROMBEFS" "$T_DIR/h.yaml" "$MNT"
workers() { stats | field open_to_workers; }

w0=$(workers)
t0=$(now_ms)
grep -qx "ONE=\"$S1\"" "$MNT/hot/env" || fail "hot/env does not hold ONE"
w1=$(workers)
[ "$w1" = $((w0 + 1)) ] || fail "the first open (a miss) went to the workers $((w1 - w0)) times, not once"
# many opens inside cache_ttl: every one from the cache, on the loop thread
python3 -c '
import sys
for _ in range(200):
    with open(sys.argv[1], "rb") as f:
        assert f.read().startswith(b"ONE=")' "$MNT/hot/env" || fail "cannot read hot/env 200 times"
[ $(( $(now_ms) - t0 )) -lt $((TTL * 1000 - 2000)) ] || fail "the machine is too slow for a ${TTL} s cache_ttl"
w2=$(workers)
[ "$w2" = "$w1" ] || fail "200 opens of a cached view went to the workers $((w2 - w1)) times"
ok "a Vault view's first open goes to the workers; 200 more inside cache_ttl are served on the loop thread"

# Vault hangs: a cold open waits in a worker (until the 3 s deadline); the
# cached view is served meanwhile, on the loop thread.
vfaults "$V_URL" '{"hang": true, "match": "/data/"}'
t1=$(now_ms)
( rc=0; cat "$MNT/cold/env" > "$T_DIR/cold.out" 2> "$T_DIR/cold.err" || rc=$?; echo "$rc" > "$T_DIR/cold.rc" ) &
cold=$!
sleep 0.3
for _ in $(seq 20); do
	grep -qx "ONE=\"$S1\"" "$MNT/hot/env" || fail "hot/env was not served while Vault hangs"
done
dt=$(( $(now_ms) - t1 ))
[ ! -e "$T_DIR/cold.rc" ] || fail "the cold open ended before Vault's deadline ($(cat "$T_DIR/cold.rc"))"
[ "$dt" -lt 2500 ] || fail "20 cached opens took $dt ms while a cold open waited on a hung Vault"
wait "$cold"
[ "$(cat "$T_DIR/cold.rc")" != 0 ] || fail "the cold open succeeded against a hung Vault"
w3=$(workers)
[ "$w3" = $((w2 + 1)) ] || fail "with Vault hung: $((w3 - w2)) opens went to the workers, not the cold one alone"
vfaults "$V_URL"
ok "Vault hung: the cold view's open waits in a worker and fails at the deadline; the cached view is served on the loop thread meanwhile (20 opens in $dt ms)"

# past cache_ttl the value is fetched again, by a worker
sleep $((TTL + 1))
grep -qx "ONE=\"$S1\"" "$MNT/hot/env" || fail "hot/env after cache_ttl"
w4=$(workers)
[ "$w4" = $((w3 + 1)) ] || fail "an open past cache_ttl went to the workers $((w4 - w3)) times, not once"
grep -qx "ONE=\"$S1\"" "$MNT/hot/env" || fail "hot/env after the refresh"
[ "$(workers)" = "$w4" ] || fail "the open after the refresh went to the workers"
ok "an entry past cache_ttl is fetched again by a worker, and the next open is served from the cache again"

stop_fs "$T_FS_PID" "$MNT"
