#!/bin/bash
# A view whose store is slow, with many opens queued, does not delay
# another view's open: one view holds at most half the open workers.
. "$(dirname "$0")/lib.sh"

STORE="$T_DIR/store"
mkdir -p "$STORE"
put() { printf '%s' "$2" > "$STORE/$(printf '%s' "$1" | sed 's|/|%2F|g')"; }
put slow/v "slow-$(rand_token)"
put quick/v "quick-$(rand_token)"
echo 2500 > "$STORE/slow%2Fv.delay_ms"
echo 200 > "$STORE/quick%2Fv.delay_ms"
cat > "$T_DIR/h.yaml" <<YAML
security:
  credentials:
    provider: mock
    mock_dir: $STORE
  fs:
    audit_log: $T_DIR/audit.jsonl
  containers:
    slow:
      uid: 1000
      secrets: { V: slow/v }
    quick:
      uid: 1001
      secrets: { V: quick/v }
YAML
MNT="$T_DIR/mnt"
start_fs "$HAROMBEFS_TEST" "$T_DIR/h.yaml" "$MNT"	# 16 open workers (the default)

ms() { echo $(( $(date +%s%N) / 1000000 )); }
quick_ms() {
	local t0
	t0=$(ms)
	as_uid 1001 cat "$MNT/quick/secrets/V" >/dev/null || fail "quick: open failed"
	echo $(( $(ms) - t0 ))
}
solo=0
for _ in 1 2 3; do t=$(quick_ms); [ "$t" -gt "$solo" ] && solo=$t; done

# 48 opens of the slow view: without a per-view share they fill all 16
# workers three times over (3 x 2.5 s) and the quick view's open waits.
pids=()
for i in $(seq 48); do
	as_uid 1000 cat "$MNT/slow/secrets/V" > /dev/null 2>&1 &
	pids+=($!)
done
sleep 0.5
busy=$(quick_ms)
sleep 0.3
busy2=$(quick_ms)
for p in "${pids[@]}"; do wait "$p" || fail "a slow open failed"; done
bound=$(( 2 * solo + 1000 ))
[ "$busy" -lt "$bound" ] && [ "$busy2" -lt "$bound" ] ||
	fail "with 48 slow opens queued the quick view's open took ${busy}/${busy2} ms (solo ${solo} ms, bound ${bound} ms)"
ok "48 queued opens of a view whose store takes 2.5 s: another view's open takes ${busy}/${busy2} ms (solo ${solo} ms, bound ${bound} ms)"

stop_fs "$T_FS_PID" "$MNT"
