#!/bin/bash
# make stress: two harombefs mounts under 2 x N client threads of
# open/read/close on many views for STRESS_SECONDS, while
#   - the Vault test server behind one mount is made slow, failing,
#     throttled, sealed, flapping, broken (resets, truncated and garbage
#     bodies), hung, and killed and restarted;
#   - the mock store behind the other is made slow, failing, timing out,
#     denying and flapping, and its big views exhaust the locked arena;
#   - both configs are reloaded (SIGHUP) every STRESS_RELOAD seconds,
#     alternating between two configs (caches on and off, a view added and
#     removed);
#   - a hostile tenant (uid 1000, its own view on the mock mount) holds as
#     many files of its view as it can and keeps asking for more: it must
#     stop at its cap (EMFILE at limits.open_files) while every other open
#     goes on succeeding.
# Reports errors by kind and phase, open latency (p50, p99, max), peak
# locked memory (SIGUSR1 stats) and peak RSS; asserts zero crashes, zero
# wrong content, no error but ENOMEM while the stores are healthy, locked
# memory back to its baseline and no open handle at the end, and no value
# on disk (the canary search of tests/integration/t_zz_canary.sh).
#
#   STRESS_SECONDS (60)  STRESS_THREADS (N, per mount; 4)  STRESS_PHASE (3 s)
#   STRESS_RELOAD (0.3 s)  BUILD (build; build-san / build-tsan for sanitizers)
#   STRESS_DISK_SEARCH (1; 0 leaves the search for values on disk out)
# Writes bench/stress.md (and open-latency samples under bench/data/stress/).
# Needs root (FUSE).
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/vault-lib.sh"
T_NAME=stress

SECS=${STRESS_SECONDS:-60}
N=${STRESS_THREADS:-4}
PHASE=${STRESS_PHASE:-3}
RELOAD=${STRESS_RELOAD:-0.3}
VIEWS=16
CLIENT="$BUILD/tests/stress/stressclient"
[ -x "$CLIENT" ] || fail "$CLIENT is missing (make stress builds it)"
[ -x "$HAROMBEFS_TEST" ] || fail "$HAROMBEFS_TEST is missing"
OUT_DIR="$TOP/bench"
SAMPLES="$OUT_DIR/data/stress"
mkdir -p "$SAMPLES"
rm -f "$SAMPLES"/*.dat

# Every value carries the canary, so the search at the end finds any copy.
CANARY="hrmbstress$(rand_token 24)"
STORE="$T_DIR/store"
mkdir -p "$STORE"
put_mock() { printf '%s' "$2" > "$STORE/$(printf '%s' "$1" | sed 's|/|%2F|g')"; }

# ---- the stores ----
vault_start V
printf '%s\n' "$VROOT" > "$T_DIR/token"
chmod 600 "$T_DIR/token"
for v in $(seq -w 0 $((VIEWS - 1))); do
	for k in 0 1 2 3; do
		vput "$V_URL" "stress/v$v/k$k" '{"value": "'"$CANARY-v$v-k$k-$(rand_token 20)"'"}'
		put_mock "stress/m$v/k$k" "$CANARY-m$v-k$k-$(rand_token 20)"
	done
done
# Big views: five 60 KiB values each (a docker.env line must stay under
# 64 KiB), so that concurrent opens of them exhaust the 2 MiB locked arena
# of the mock mount (ENOMEM, by design).
put_mock stress/hog/k0 "$CANARY-hog-$(rand_token 20)"
for b in 0 1; do
	for k in 0 1 2 3 4; do
		put_mock "stress/big$b/k$k" "$CANARY-$(head -c 45000 /dev/urandom | base64 -w 0)"
	done
done

views() {	# views PREFIX KEYPREFIX
	local v k
	for v in $(seq -w 0 $((VIEWS - 1))); do
		printf '    %s%s:\n      secrets:\n' "$1" "$v"
		for k in 0 1 2 3; do printf '        S%s: stress/%s%s/k%s\n' "$k" "$2" "$v" "$k"; done
	done
}

# config DAEMON VARIANT: variant a is the baseline (no cache); b turns the
# cache on and adds a view.
config() {
	local d=$1 var=$2
	{
		echo "security:"
		echo "  credentials:"
		if [ "$d" = vault ]; then
			printf '    provider: vault\n    vault_url: %s\n    token_file: %s\n    timeout: 2s\n' \
				"$V_URL" "$T_DIR/token"
			[ "$var" = b ] && echo "    kv_version: 2"
		else
			printf '    provider: mock\n    mock_dir: %s\n' "$STORE"
		fi
		echo "  fs:"
		echo "    audit_log: $T_DIR/audit-$d.jsonl"
		if [ "$d" = mock ]; then echo "    locked_memory: 2MiB"; else echo "    locked_memory: 4MiB"; fi
		[ "$var" = b ] && printf '    cache_ttl: 300ms\n    stale_if_error: 5s\n'
		echo "  containers:"
		if [ "$d" = vault ]; then views v v; else views m m; fi
		if [ "$d" = mock ]; then
			for b in 0 1; do
				printf '    big%s:\n      secrets: { A: stress/big%s/k0, B: stress/big%s/k1, C: stress/big%s/k2, D: stress/big%s/k3, E: stress/big%s/k4 }\n' \
					"$b" "$b" "$b" "$b" "$b" "$b"
			done
		fi
		# the hostile tenant: root's clients do not see its view
		[ "$d" = mock ] && printf '    hog:\n      uid: 1000\n      secrets: { H: stress/hog/k0 }\n'
		[ "$var" = b ] && printf '    extra:\n      secrets: { X: stress/%s00/k0 }\n' "${d:0:1}"
	} > "$T_DIR/$d.yaml.new"
	mv "$T_DIR/$d.yaml.new" "$T_DIR/$d.yaml"
}
config vault a
config mock a

start_fs "$HAROMBEFS" "$T_DIR/vault.yaml" "$T_DIR/mnt-vault"
PID_V=$T_FS_PID LOG_V=$T_LOG
start_fs "$HAROMBEFS_TEST" "$T_DIR/mock.yaml" "$T_DIR/mnt-mock"
PID_M=$T_FS_PID LOG_M=$T_LOG

# stats_of PID LOG MNT: SIGUSR1 and print the newest stats line.  The stat
# of the mount gives the FUSE loop a request: under ThreadSanitizer a
# signal is handled only when the thread leaves its blocking read.
stats_of() {
	local before
	before=$(grep -c 'stats:' "$2" || true)
	kill -USR1 "$1"
	for _ in $(seq 200); do
		stat "$3" > /dev/null 2>&1 || true
		[ "$(grep -c 'stats:' "$2" || true)" -gt "$before" ] && break
		sleep 0.05
	done
	grep 'stats:' "$2" | tail -n 1
}
# reload_wait PID LOG MNT: SIGHUP and wait for the daemon to say it reloaded.
reload_wait() {
	local before
	before=$(grep -c 'reloaded' "$2" || true)
	kill -HUP "$1"
	for _ in $(seq 200); do
		stat "$3" > /dev/null 2>&1 || true
		[ "$(grep -c 'reloaded' "$2" || true)" -gt "$before" ] && return 0
		sleep 0.05
	done
	fail "no reload of $3 within 10 s"
}
alive() {
	kill -0 "$PID_V" 2>/dev/null || fail "harombefs (Vault) crashed: $(tail -n 5 "$LOG_V")"
	kill -0 "$PID_M" 2>/dev/null || fail "harombefs (mock) crashed: $(tail -n 5 "$LOG_M")"
}
rss_kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }

# Values as the store holds them must come out of the mounts unchanged.
for v in 00 07 $(printf '%02d' $((VIEWS - 1))); do
	got=$(cat "$T_DIR/mnt-vault/v$v/secrets/S2") || fail "reading v$v at the start"
	[[ "$got" == "$CANARY-v$v-k2-"* ]] || fail "v$v/secrets/S2 is not the value the test server holds"
	cmp -s "$T_DIR/mnt-mock/m$v/secrets/S1" "$STORE/stress%2Fm$v%2Fk1" || fail "m$v/secrets/S1 differs from the mock store"
done
BASE_V=$(stats_of "$PID_V" "$LOG_V" "$T_DIR/mnt-vault" | field locked_in_use)
BASE_M=$(stats_of "$PID_M" "$LOG_M" "$T_DIR/mnt-mock" | field locked_in_use)
[ -n "$BASE_V" ] && [ -n "$BASE_M" ] || fail "no stats from the daemons"

# ---- faults ----
PH_V="$T_DIR/phase-vault"
PH_M="$T_DIR/phase-mock"
echo normal > "$PH_V"
echo normal > "$PH_M"
phase() { echo "$2" > "$1.new"; mv "$1.new" "$1"; }

vault_faults() {
	local end=$1 p
	local seq=(slow failing normal sealed restarted normal flapping hung normal broken throttled normal)
	while :; do
		for p in "${seq[@]}"; do
			[ "$(now_ms)" -lt "$end" ] || return 0
			phase "$PH_V" switching
			sleep 0.1	# the client sees "switching" before anything changes
			vfaults "$V_URL"
			vunseal "$V_URL"
			case $p in
			slow) vfaults "$V_URL" '{"latency_ms": 300}' ;;
			failing) vfaults "$V_URL" '{"status": 500, "status_count": -1}' ;;
			throttled) vfaults "$V_URL" '{"status": 429, "status_count": -1}' ;;
			sealed) vseal "$V_URL" ;;
			flapping) vfaults "$V_URL" '{"flap_ms": 150}' ;;
			broken) vfaults "$V_URL" '{"reset_count": 40, "truncate_count": 40, "garbage_count": 40}' ;;
			hung) vfaults "$V_URL" '{"hang": true}' ;;
			restarted)
				vault_kill "$V_PID"
				phase "$PH_V" restarted
				sleep 1
				vault_start V --port "$V_PORT"
				echo "$V_PID" >> "$T_DIR/vault-pids"	# for the cleanup
				;;
			esac
			sleep 0.5
			phase "$PH_V" "$p"
			sleep "$PHASE"
		done
	done
}

mock_faults() {
	local end=$1 p i
	local seq=(slow failing normal timeouts denied normal flapping normal)
	while :; do
		for p in "${seq[@]}"; do
			[ "$(now_ms)" -lt "$end" ] || return 0
			phase "$PH_M" switching
			sleep 0.1
			rm -f "$STORE"/_delay_ms "$STORE"/*.err
			case $p in
			slow) echo 150 > "$STORE/_delay_ms" ;;
			failing) echo EIO > "$STORE/_all.err" ;;
			timeouts) for i in $(seq -w 0 $((VIEWS - 1))); do echo ETIMEDOUT > "$STORE/stress%2Fm$i%2Fk1.err"; done ;;
			denied) echo EACCES > "$STORE/_all.err" ;;
			esac
			sleep 0.5
			phase "$PH_M" "$p"
			if [ "$p" = flapping ]; then
				for i in $(seq $((PHASE * 5))); do
					if [ $((i % 2)) = 0 ]; then echo EIO > "$STORE/_all.err"; else rm -f "$STORE/_all.err"; fi
					sleep 0.2
				done
				rm -f "$STORE/_all.err"
			else
				sleep "$PHASE"
			fi
		done
	done
}

reloads=0
reload_loop() {
	local end=$1 var=a n=0
	while [ "$(now_ms)" -lt "$end" ]; do
		if [ $var = a ]; then var=b; else var=a; fi
		config vault $var
		config mock $var
		kill -HUP "$PID_V" "$PID_M" 2>/dev/null || return 0
		n=$((n + 1))
		echo "$n" > "$T_DIR/reloads"
		sleep "$RELOAD"
	done
}

# Every 2 s: the daemons' stats, and the audit logs searched for the
# canary and emptied once they pass 8 MiB (they are opened append-only, so
# the daemons go on writing at the new end): a minute of failing opens
# writes more audit records than the scratch tmpfs holds.
sampler() {
	local end=$1 a
	while [ "$(now_ms)" -lt "$end" ]; do
		kill -USR1 "$PID_V" "$PID_M" 2>/dev/null || return 0
		for a in "$T_DIR"/audit-*.jsonl; do
			[ "$(stat -c %s "$a" 2>/dev/null || echo 0)" -gt 8388608 ] || continue
			grep -qsF -- "$CANARY" "$a" && echo "$a" >> "$T_DIR/leaks"
			: > "$a"
		done
		sleep 2
	done
}

# The hostile tenant fills its quota while the store is healthy, then holds it.
HOG_IO="$T_DIR/hog"
mkdir -p "$HOG_IO" && chmod 0777 "$HOG_IO"
( ulimit -n 8192; exec setpriv --reuid 1000 --regid 1000 --clear-groups -- /usr/bin/python3 \
	"$TOP/tests/integration/helpers/hold.py" "$T_DIR/mnt-mock/hog/secrets/H" 5000 20 \
	"$HOG_IO/out" "$HOG_IO/stop" 20 ) > "$T_DIR/hog.log" 2>&1 &
HOG=$!
T_PIDS+=("$HOG")
for _ in $(seq 600); do [ -s "$HOG_IO/out" ] && break; sleep 0.05; done
[ -s "$HOG_IO/out" ] || fail "the hostile tenant did not start: $(cat "$T_DIR/hog.log")"

echo "# stress: $SECS s, $N threads on each of 2 mounts, $VIEWS views each (+2 big views on the mock mount)" >&2
SAMPLES_DIR="$SAMPLES" READY_FILE="$T_DIR/client-ready" "$CLIENT" "$SECS" "$N" \
	"vault=$T_DIR/mnt-vault:$PH_V" "mock=$T_DIR/mnt-mock:$PH_M" > "$T_DIR/client.out" 2> "$T_DIR/client.err" &
CL=$!
T_PIDS+=("$CL")
for _ in $(seq 600); do
	[ -e "$T_DIR/client-ready" ] && break
	kill -0 "$CL" 2>/dev/null || break
	sleep 0.05
done
[ -e "$T_DIR/client-ready" ] || fail "stressclient did not start: $(tail -n 3 "$T_DIR/client.err")"

end=$(( $(now_ms) + SECS * 1000 ))
vault_faults "$end" > "$T_DIR/faults-vault.log" 2>&1 &
FV=$!
mock_faults "$end" > "$T_DIR/faults-mock.log" 2>&1 &
FM=$!
reload_loop "$end" > "$T_DIR/reload.log" 2>&1 &
RL=$!
sampler "$end" &
SP=$!
T_PIDS+=("$FV" "$FM" "$RL" "$SP")
set +e
wait "$CL"
client_rc=$?
wait "$FV" "$FM" "$RL" "$SP" 2>/dev/null
set -e
[ -s "$T_DIR/vault-pids" ] && while read -r p; do T_PIDS+=("$p"); done < "$T_DIR/vault-pids"
alive
HOG_OUT=$(cat "$HOG_IO/out" 2>/dev/null || echo "no report: $(cat "$T_DIR/hog.log")")
touch "$HOG_IO/stop"
set +e; wait "$HOG"; set -e
HOG_FINAL=$(cat "$HOG_IO/out.final" 2>/dev/null || echo "no report: $(cat "$T_DIR/hog.log")")
[ "$client_rc" -ne 2 ] || fail "stressclient could not start: $(tail -n 3 "$T_DIR/client.err")"

# ---- back to health and to the baseline config ----
vfaults "$V_URL" 2>/dev/null || { vault_start V --port "$V_PORT"; vfaults "$V_URL"; }
vunseal "$V_URL"
rm -f "$STORE"/_delay_ms "$STORE"/*.err
config vault a
config mock a
reload_wait "$PID_V" "$LOG_V" "$T_DIR/mnt-vault"
reload_wait "$PID_M" "$LOG_M" "$T_DIR/mnt-mock"
sleep 2.5	# opens still waiting on the old generation end within their 2 s deadline
for v in 00 $(printf '%02d' $((VIEWS - 1))); do
	cat "$T_DIR/mnt-vault/v$v/env" > /dev/null || fail "v$v unreadable after the run"
	cat "$T_DIR/mnt-mock/m$v/env" > /dev/null || fail "m$v unreadable after the run"
done
alive
END_V=$(stats_of "$PID_V" "$LOG_V" "$T_DIR/mnt-vault")
END_M=$(stats_of "$PID_M" "$LOG_M" "$T_DIR/mnt-mock")
HWM_V=$(rss_kib "$PID_V" VmHWM) RSS_V=$(rss_kib "$PID_V" VmRSS)
HWM_M=$(rss_kib "$PID_M" VmHWM) RSS_M=$(rss_kib "$PID_M" VmRSS)
RELOADS=$(cat "$T_DIR/reloads" 2>/dev/null || echo 0)
stop_fs "$PID_V" "$T_DIR/mnt-vault"
stop_fs "$PID_M" "$T_DIR/mnt-mock"
[ -n "${STRESS_KEEP_LOGS:-}" ] && cp "$LOG_V" "$LOG_M" "$STRESS_KEEP_LOGS"/

# ---- the report ----
kib() { awk -v b="$1" 'BEGIN { if (b < 10240) printf "%d bytes", b; else printf "%.0f KiB", b / 1024 }'; }
fmt_ms() { awk -v u="$1" 'BEGIN { if (u >= 10000) printf "%.0f ms", u / 1000; else printf "%.2f ms", u / 1000 }'; }
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
REPORT="$OUT_DIR/stress.md"
{
	echo "## make stress"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, build \`$(basename "$BUILD")\`: $SECS s, $N client threads on each of 2 mounts"
	echo "($((N * 2)) in all) doing open/read-to-EOF/close of every file of $VIEWS views per mount; faults change every"
	echo "${PHASE} s; $RELOADS config reloads (SIGHUP every ${RELOAD} s, alternating two configs). Each open is counted"
	echo "under the phase it started and ended in; \"switching\": a fault was set or cleared while it ran."
	echo
	echo "| mount | phase | opens | ok | wrong content | failed opens by errno | open p50 | open p99 | open max |"
	echo "|---|---|---|---|---|---|---|---|---|"
	while read -r line; do
		g=$(echo "$line" | sed -n 's/^group=\([^ ]*\).*/\1/p')
		p=$(echo "$line" | kv phase)
		[ "$p" = all ] && p="**all**"
		echo "| $g | $p | $(echo "$line" | kv opens) | $(echo "$line" | kv ok) | $(echo "$line" | kv wrong) |" \
			"$(echo "$line" | kv errors | tr ',' ' ') | $(fmt_ms "$(echo "$line" | kv p50_us)") |" \
			"$(fmt_ms "$(echo "$line" | kv p99_us)") | $(fmt_ms "$(echo "$line" | kv max_us)") |"
	done < "$T_DIR/client.out"
	echo
	echo "| daemon | locked at start | locked at end | peak locked (arena high-water) | arena | ENOMEM refusals | open handles at end | peak RSS (VmHWM) | RSS at end |"
	echo "|---|---|---|---|---|---|---|---|---|"
	echo "| harombefs, Vault | $(kib "$BASE_V") | $(kib "$(echo "$END_V" | field locked_in_use)") | $(kib "$(echo "$END_V" | field locked_peak)") | $(kib "$(echo "$END_V" | field locked_capacity)") | $(echo "$END_V" | field locked_failures) | $(echo "$END_V" | field open_handles) | $HWM_V KiB | $RSS_V KiB |"
	echo "| harombefs-test, mock | $(kib "$BASE_M") | $(kib "$(echo "$END_M" | field locked_in_use)") | $(kib "$(echo "$END_M" | field locked_peak)") | $(kib "$(echo "$END_M" | field locked_capacity)") | $(echo "$END_M" | field locked_failures) | $(echo "$END_M" | field open_handles) | $HWM_M KiB | $RSS_M KiB |"
	echo
	echo "Vault timeout 2 s (retries within it); the Vault test server is Python, so its own CPU time shows in"
	echo "the latencies. ENOMEM on the mock mount is each big view's quota (a quarter of the 2 MiB arena) or the"
	echo "arena itself (two big views at their quota and the cache's copies) refusing opens of the big views"
	echo "(5 values of 60 KiB each) when several are open at once: by design, never a fallback to unlocked memory."
	echo
	echo "A hostile tenant (uid 1000, its own view \`hog\` on the mock mount) opened its file as often as it could:"
	echo "\`$HOG_OUT\`; then, holding those, it asked for one more every 20 ms for the whole run: \`$HOG_FINAL\`."
} > "$REPORT.tmp"
# Open latency by phase, one plot per mount, when gnuplot is there (make
# bench installs it; the stress itself does not need it).
if command -v gnuplot > /dev/null; then
	for g in vault mock; do
		args=()
		for f in "$SAMPLES/$g".*.dat; do
			p=$(basename "$f" .dat)
			p=${p#"$g".}
			[ "$p" = all ] || args+=("$f=$p")
		done
		"$TOP/tests/bench/plot.sh" cdf "$OUT_DIR/stress-$g.png" \
			"make stress: open+read+close latency on the $g mount, by what was done to the store" "${args[@]}" &&
			printf '\n![stress-%s](stress-%s.png)\n' "$g" "$g" >> "$REPORT.tmp"
	done
fi
mv "$REPORT.tmp" "$REPORT"

# ---- the verdict ----
[ "$client_rc" != 1 ] || fail "wrong content was served: $(grep -c WRONG "$T_DIR/client.err") reads: $(grep WRONG "$T_DIR/client.err" | head -n 3)"
[ "$client_rc" = 0 ] || fail "stressclient exited with status $client_rc (66: a sanitizer report)"
ok "no crash: both daemons ran to the end and exited 0 on SIGTERM"
ok "zero wrong content in $(grep ' phase=all ' "$T_DIR/client.out" | kv ok | awk '{ s += $1 } END { print s }') successful reads"
while read -r line; do
	errs=$(echo "$line" | kv errors | tr ',' '\n' | grep -v '^ENOMEM:' | grep -v '^none$' || true)
	[ -z "$errs" ] || fail "errors while the store was healthy: $line"
done < <(grep ' phase=normal ' "$T_DIR/client.out")
ok "while the stores were healthy, every open succeeded (or was refused ENOMEM by the full arena)"
case "$HOG_OUT" in "opened=1024 errno=EMFILE extra_failed=20") ;; *) fail "the hostile tenant: $HOG_OUT" ;; esac
case "$HOG_FINAL" in "retries="*" ok=0 errors=EMFILE:"*) ;; *) fail "the hostile tenant's retries: $HOG_FINAL" ;; esac
ok "a tenant holding 1024 files of its view got EMFILE for every further open ($HOG_FINAL) while the others' opens went on"
for d in V M; do
	base=BASE_$d end=END_$d
	[ "$(echo "${!end}" | field locked_in_use)" = "${!base}" ] || fail "locked memory of $d: ${!base} at the start, ${!end} at the end"
	[ "$(echo "${!end}" | field open_handles)" = 0 ] || fail "open handles left: ${!end}"
done
ok "locked memory back to its baseline ($BASE_V and $BASE_M bytes) with no open handle"

search() {
	local d
	find "$T_DIR" -xdev \( -path "$STORE" -o -path "$T_DIR/vault-V" \) -prune -o -type f -print0 2>/dev/null |
		xargs -0 -r grep -lsF -D skip -- "$CANARY" || true
	for d in /tmp /var/tmp /var/log /var/lib /var/cache /var/spool /root /home /etc /run /dev/shm /srv /opt "$TOP"; do
		[ -d "$d" ] || continue
		find "$d" -xdev -type f -print0 2>/dev/null | xargs -0 -r grep -lsF -D skip -- "$CANARY" || true
	done
}
[ ! -s "$T_DIR/leaks" ] || fail "a value was found in an audit log during the run"
if [ "${STRESS_DISK_SEARCH:-1}" = 1 ]; then
	hits=$(search)
	[ -z "$hits" ] || fail "a value was found on disk in: $hits"
	printf '%s' "$CANARY" > "$T_DIR/planted"
	search | grep -q planted || fail "the search cannot find a planted canary"
	rm -f "$T_DIR/planted"
	ok "no value on disk: not in the daemons' logs or audit logs, /tmp, /var, /etc, /root, /run or the tree (the stores' own files excepted)"
else
	echo "# NOT CHECKED: no value on disk (STRESS_DISK_SEARCH=0: make check-tsan looks for races only)"
fi
cat "$REPORT"
[ -n "${STRESS_KEEP_LOGS:-}" ] && cp "$T_DIR/client.err" "$STRESS_KEEP_LOGS"/
echo
echo "stress: report in bench/stress.md"
