#!/bin/bash
# harombefs with the Vault backend: views from Vault, one fetch per open by
# default and one request per secret, a parallel fetch bounded by one
# deadline, single flight, cache_ttl, stale_if_error, and a mount that
# lives through a sealed, slow, hung, flapping, killed and restarted Vault
# without a crash and recovers without a remount.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vault-lib.sh"

vault_start V
printf '%s\n' "$VROOT" > "$T_DIR/token"
chmod 600 "$T_DIR/token"
MNT="$T_DIR/mnt"
AUDIT="$T_DIR/audit.jsonl"
TIMEOUT_MS=1000
# An open may take its deadline plus this much (FUSE, rendering, a loaded CI box).
MARGIN_MS=1500

declare -A VAL
for i in 0 1 2 3 4 5 6 7 8 9; do
	VAL[$i]=$(rand_token 32)
	vput "$V_URL" "app/k$i" '{"value": "'"${VAL[$i]}"'"}'
done
DBPW=$(rand_token 32)
vput "$V_URL" db '{"user": "svc", "password": "'"$DBPW"'"}'

# config CACHE_TTL STALE_IF_ERROR
config() {
	cat > "$T_DIR/harombe.yaml" <<EOF
security:
  credentials:
    provider: vault
    vault_url: $V_URL
    token_file: $T_DIR/token
    timeout: ${TIMEOUT_MS}ms
  fs:
    audit_log: $AUDIT
    cache_ttl: $1
    stale_if_error: $2
  containers:
    app:
      secrets:
        K0: app/k0
        K1: app/k1
        K2: app/k2
        K3: app/k3
        K4: app/k4
        K5: app/k5
        K6: app/k6
        K7: app/k7
        K8: app/k8
        K9: app/k9
    db:
      secrets:
        DB_USER: db#user
        DB_PASSWORD: db#password
EOF
}

expected_env() {
	local i
	for i in 0 1 2 3 4 5 6 7 8 9; do printf 'K%s="%s"\n' "$i" "${VAL[$i]}"; done
}

# timed_cat FILE: cat it into $T_DIR/got; sets RC and DT (ms).  The
# `timeout` is only a safety net so that a bug cannot hang the suite.
timed_cat() {
	local t0
	t0=$(now_ms)
	set +e
	timeout 30 cat "$1" > "$T_DIR/got" 2> "$T_DIR/cat.err"
	RC=$?
	set -e
	DT=$(( $(now_ms) - t0 ))
	[ "$RC" != 124 ] || fail "cat $1 hung for 30 s"
	[ "$DT" -le $((TIMEOUT_MS + MARGIN_MS)) ] || fail "open of $1 took ${DT} ms (deadline ${TIMEOUT_MS} ms)"
}

expect_view() {
	timed_cat "$MNT/app/env"
	[ "$RC" = 0 ] || fail "$1: reading app/env failed: $(cat "$T_DIR/cat.err")"
	expected_env > "$T_DIR/want"
	cmp -s "$T_DIR/got" "$T_DIR/want" || fail "$1: app/env differs from Vault's values"
}

expect_eio() {
	timed_cat "$MNT/app/env"
	[ "$RC" != 0 ] || fail "$1: reading app/env worked"
	grep -q "Input/output error" "$T_DIR/cat.err" || fail "$1: not EIO: $(cat "$T_DIR/cat.err")"
}

data_reads() { vcount "$V_URL" '^GET secret/data/app/k[0-9]$'; }

alive() { kill -0 "$T_FS_PID" 2>/dev/null || fail "harombefs died ($1)"; }

# ---- defaults: every open fetches ----
config 0s 0s
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
vstats_reset "$V_URL"
expect_view "first read"
[ "$(data_reads)" = 10 ] || fail "one open of a 10-secret view made $(data_reads) reads"
expect_view "second read"
[ "$(data_reads)" = 20 ] || fail "the second open did not fetch again ($(data_reads) reads)"
VAL[3]=$(rand_token 32)
vput "$V_URL" app/k3 '{"value": "'"${VAL[3]}"'"}'
expect_view "after a change in Vault"
assert_eq "$(cat "$MNT/app/secrets/K3")" "${VAL[3]}" "secrets/K3"
ok "a view renders Vault's values; with cache_ttl 0 every open fetches (one request per secret)"

vstats_reset "$V_URL"
printf 'DB_USER="svc"\nDB_PASSWORD="%s"\n' "$DBPW" > "$T_DIR/want"
cat "$MNT/db/env" > "$T_DIR/got"
cmp -s "$T_DIR/got" "$T_DIR/want" || fail "db/env with two fields of one secret"
[ "$(vcount "$V_URL" '^GET secret/data/db$')" = 1 ] || fail "two fields of one secret took $(vcount "$V_URL" '^GET secret/data/db$') requests"
ok "two fields of one secret in a view cost one request"

# ---- the deadline covers the whole view, fetched in parallel ----
vfaults "$V_URL" '{"latency_ms": 600, "match": "/data/app/"}'
expect_view "10 secrets at 600 ms each"
[ "$DT" -lt 3000 ] || fail "10 slow secrets took ${DT} ms: not fetched in parallel"
vfaults "$V_URL"
ok "10 secrets at 600 ms each open in ${DT} ms with a 1 s deadline: fetched in parallel"

# ---- single flight ----
vfaults "$V_URL" '{"latency_ms": 500, "match": "/data/app/"}'
vstats_reset "$V_URL"
pids=()
for i in $(seq 12); do
	cat "$MNT/app/env" > "$T_DIR/burst.$i" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent open failed"; done
vfaults "$V_URL"
expected_env > "$T_DIR/want"
for i in $(seq 12); do cmp -s "$T_DIR/burst.$i" "$T_DIR/want" || fail "concurrent open $i got other bytes"; done
n=$(data_reads)
[ "$n" -le 20 ] || fail "12 concurrent opens of a 10-secret view made $n requests (single flight should share)"
ok "12 concurrent opens of a 10-secret view: $n requests to Vault (single flight)"

# ---- sealed, slow, hung, flapping: errors in time, recovery without remount ----
vseal "$V_URL"
expect_eio "sealed"
[ "$(cat "$MNT/app/secrets/K0" 2>/dev/null || true)" = "" ] || fail "sealed: secrets/K0 readable"
grep -q 'Vault is sealed' "$T_LOG" || fail "the daemon log does not say why (sealed)"
vunseal "$V_URL"
expect_view "unsealed"
ok "sealed: opens fail with EIO (the log says 'Vault is sealed'); unsealed: served again"

vfaults "$V_URL" '{"hang": true}'
worst=0
for i in 1 2 3; do
	expect_eio "hung ($i)"
	[ "$DT" -gt "$worst" ] && worst=$DT
done
vfaults "$V_URL"
expect_view "after the hang"
alive "after the hang"
ok "a hung Vault fails each open within the deadline (slowest: ${worst} ms for ${TIMEOUT_MS} ms), then recovers"

vfaults "$V_URL" '{"flap_ms": 150}'
good=0 bad=0
end=$(( $(now_ms) + 3000 ))
while [ "$(now_ms)" -lt "$end" ]; do
	timed_cat "$MNT/app/env"
	if [ "$RC" = 0 ]; then
		cmp -s "$T_DIR/got" "$T_DIR/want" || fail "flapping: a successful open returned other bytes"
		good=$((good + 1))
	else
		grep -q "Input/output error" "$T_DIR/cat.err" || fail "flapping: $(cat "$T_DIR/cat.err")"
		bad=$((bad + 1))
	fi
done
vfaults "$V_URL"
expect_view "after flapping"
alive "after flapping"
ok "flapping Vault: $good opens served, $bad failed with EIO, none slow, none wrong"

vault_kill "$V_PID"
expect_eio "Vault killed"
alive "Vault killed"
vault_start V --port "$V_PORT" --sealed
expect_eio "restarted sealed"
vunseal "$V_URL"
expect_view "restarted and unsealed"
alive "after the restart"
ok "Vault killed and restarted (sealed, then unsealed) on its port: recovered without a remount"

stop_fs "$T_FS_PID" "$MNT"
ok "harombefs exits cleanly on SIGTERM after all that (no crash)"

# ---- stale_if_error ----
config 0s 5s
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
expect_view "stale: first"
t_good=$(now_ms)
vstats_reset "$V_URL"
vfaults "$V_URL" '{"hang": true}'
expect_view "stale: hung inside the window"
vfaults "$V_URL"
vseal "$V_URL"
expect_view "stale: sealed inside the window"
[ "$(data_reads)" -ge 20 ] || fail "stale_if_error served without asking Vault first"
grep -q 'stale_if_error' "$T_LOG" || fail "serving a stale value is not logged"
[ $(( $(now_ms) - t_good )) -lt 5000 ] || fail "too slow to test the window (machine overloaded)"
sleep $(( (t_good + 5300 - $(now_ms)) / 1000 + 1 ))
expect_eio "stale: past the window"
vunseal "$V_URL"
VAL[5]=$(rand_token 32)
vput "$V_URL" app/k5 '{"value": "'"${VAL[5]}"'"}'
expect_view "stale: back"
vapi "$V_URL" DELETE secret/data/app/k1 > /dev/null
timed_cat "$MNT/app/env"
[ "$RC" != 0 ] || fail "a deleted secret was served from stale_if_error"
grep -q "No such file" "$T_DIR/cat.err" || fail "deleted secret: $(cat "$T_DIR/cat.err")"
vput "$V_URL" app/k1 '{"value": "'"${VAL[1]}"'"}'
alive "stale"
stop_fs "$T_FS_PID" "$MNT"
ok "stale_if_error: last good value while hung or sealed, EIO after the window, never for a deleted secret"

# ---- cache_ttl ----
# A TTL long enough for a sanitizer build on a busy machine; the checks
# below measure how much of it has really passed.
config 8s 0s
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
vstats_reset "$V_URL"
t_fetch=$(now_ms)
expect_view "ttl: first"
expect_view "ttl: second"
[ "$(data_reads)" = 10 ] || fail "cache_ttl: the second open fetched ($(data_reads) reads)"
OLD=${VAL[7]}
VAL[7]=$(rand_token 32)
vput "$V_URL" app/k7 '{"value": "'"${VAL[7]}"'"}'
got=$(cat "$MNT/app/secrets/K7")
[ $(( $(now_ms) - t_fetch )) -lt 7500 ] || fail "too slow to test inside the TTL (machine overloaded)"
assert_eq "$got" "$OLD" "inside cache_ttl the cached value"
sleep $(( (t_fetch + 8500 - $(now_ms)) / 1000 + 1 ))
assert_eq "$(cat "$MNT/app/secrets/K7")" "${VAL[7]}" "after cache_ttl the new value"
vseal "$V_URL"
sleep 8.5
expect_eio "ttl: sealed past the ttl (no stale_if_error)"
vunseal "$V_URL"
stop_fs "$T_FS_PID" "$MNT"
ok "cache_ttl: served without a request inside the TTL, fetched after it"

# ---- nothing secret in the logs ----
for i in 0 1 2 3 4 5 6 7 8 9; do no_secret_in "$AUDIT" "${VAL[$i]}"; no_secret_in "$T_LOG" "${VAL[$i]}"; done
no_secret_in "$AUDIT" "$VROOT" "$DBPW"
no_secret_in "$T_LOG" "$VROOT" "$DBPW"
grep -q '"event":"secret_read"' "$AUDIT" || fail "no secret_read events"
ok "audit log and daemon log hold no value and no token"
