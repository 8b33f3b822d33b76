#!/bin/bash
# harombefs.service, run the way systemd runs it (helpers/fake-systemd.py
# stands in: systemd cannot be started here).  ExecStartPre=+ mounts in the
# host's namespace and leaves the connection in the fd store; the daemon
# runs sandboxed like the unit's settings make it (its own mount namespace
# with a read-only root, no capabilities, no_new_privs, LimitMEMLOCK) and
# still serves containers; a crash restarts it on the stored connection
# while a sandboxed reader keeps reading; reload and stop behave; a stale
# mount heals itself.
. "$(dirname "$0")/lib.sh"

STORE="$T_DIR/store"
mkdir -p "$STORE"
put() { printf '%s' "$2" > "$STORE/$(printf '%s' "$1" | sed 's|/|%2F|g')"; }
put app/token "tok-$(rand_token 20)"
write_cfg() {
	cat > "$T_DIR/h.yaml.new" <<YAML
security:
  credentials:
    provider: mock
    mock_dir: $STORE
  fs:
    audit_log: $T_DIR/log/audit.jsonl
    locked_memory: 2MiB
  containers:
    app:
      secrets: { TOKEN: app/token }
$1
YAML
	mv "$T_DIR/h.yaml.new" "$T_DIR/h.yaml"
}
write_cfg ""
MNT="$T_DIR/mnt"
mkdir -p "$MNT" "$T_DIR/log"
T_MOUNTS+=("$MNT")
SD_LOG="$T_DIR/sd.log"
command -v prlimit >/dev/null && command -v setpriv >/dev/null && command -v unshare >/dev/null ||
	fail "prlimit, setpriv and unshare are needed (Debian package util-linux)"

# LimitMEMLOCK=: at most 64 MiB as in the unit, and no more than the hard
# limit we have (raising it needs CAP_SYS_RESOURCE, which CI may lack).
hard=$(ulimit -Hl)
MEMLOCK=$(( 65536 * 1024 ))
[ "$hard" = unlimited ] || [ "$((hard * 1024))" -ge "$MEMLOCK" ] || MEMLOCK=$((hard * 1024))
[ "$MEMLOCK" -ge $((4 << 20)) ] || fail "the memlock hard limit ($hard kB) is below the 4 MiB this test needs"

# ReadWritePaths=: the control socket MOUNTPOINT.ctl beside the mount point
# (the unit's /run), and the sanitizer runs (make check-sanitize) write their
# reports from the sandboxed daemon too.
RW=$(dirname "$MNT")
case "${ASAN_OPTIONS:-}" in *log_path=*)
	RW="$RW $(dirname "$(sed 's/.*log_path=\([^:]*\).*/\1/' <<< "$ASAN_OPTIONS")")" ;;
esac
export RW

# The unit's ExecStartPre=+, ExecStart= under its sandbox, ExecStopPost=+.
start_service() {
	: > "$SD_LOG"
	python3 "$(dirname "$0")/helpers/fake-systemd.py" "$SD_LOG" "$T_DIR/notify" \
		-- "$HAROMBEFS_TEST" --mount-only "$MNT" -o config="$T_DIR/h.yaml" \
		-- prlimit --memlock="$MEMLOCK:$MEMLOCK" --core=0 \
		unshare --mount --propagation slave \
		sh -c 'for d in $RW; do mount --bind "$d" "$d" || exit 1; done
		       mount -o remount,bind,ro / && exec "$@"' sandbox \
		setpriv --no-new-privs --bounding-set=-all --inh-caps=-all --ambient-caps=-all \
		"$HAROMBEFS_TEST" "$MNT" -f --resume-only -o config="$T_DIR/h.yaml" \
		-- "$HAROMBEFS_TEST" --cleanup "$MNT" \
		2> "$T_DIR/sd.err" &
	SD=$!
	T_PIDS+=("$SD")
}
sd_wait() {	# sd_wait PATTERN [COUNT]: until SD_LOG has COUNT lines matching
	local n=${2:-1}
	for _ in $(seq 300); do
		[ "$(grep -c -- "$1" "$SD_LOG" || true)" -ge "$n" ] && return 0
		kill -0 "$SD" 2>/dev/null || break
		sleep 0.05
	done
	fail "no '$1' (x$n) from the service: $(tail -n 5 "$SD_LOG") $(tail -n 20 "$T_DIR/sd.err")"
}
main_pid() { awk '$1 == "main" { p = $2 } END { print p }' "$SD_LOG"; }

start_service
sd_wait "main READY=1"
MAIN=$(main_pid)
grep -q "control FDSTORE=1" "$SD_LOG" && grep -q "^fdstore fuse$" "$SD_LOG" &&
	grep -q "^fdstore fuse-init$" "$SD_LOG" || fail "ExecStartPre did not store the connection: $(cat "$SD_LOG")"
grep -q "control BARRIER=1" "$SD_LOG" || fail "ExecStartPre did not wait for the store (BARRIER=1)"
grep -qs " $MNT fuse.harombefs " /proc/mounts || fail "the mount is not visible in the host's namespace"
ok "ExecStartPre mounts in the host's namespace and stores the connection (fuse, fuse-init); the daemon reports READY=1"

[ "$(readlink "/proc/$MAIN/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] || fail "the daemon shares our mount namespace"
grep -q '^CapEff:[[:space:]]*0000000000000000$' "/proc/$MAIN/status" || fail "the daemon has capabilities"
grep -q '^CapBnd:[[:space:]]*0000000000000000$' "/proc/$MAIN/status" || fail "the daemon's bounding set is not empty"
grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$MAIN/status" || fail "no_new_privs is not set"
awk '$5 == "/" { print $6 }' "/proc/$MAIN/mountinfo" | grep -q '^ro' || fail "the daemon's / is writable"
vmlck=$(awk '/^VmLck/ { print $2 }' "/proc/$MAIN/status")
[ "$vmlck" -ge 2048 ] || fail "VmLck is $vmlck kB: the arena is not locked under LimitMEMLOCK alone"
[ -S "$MNT.ctl" ] || fail "the sandboxed daemon has no control socket at $MNT.ctl: $(tail -n 20 "$T_DIR/sd.err")"
ok "the daemon serves from its own mount namespace, read-only /, no capabilities, no_new_privs, memory locked (VmLck $vmlck kB)"

start_reader "$MNT/app" env
kill -KILL "$MAIN"
sd_wait "stop-post signal rc=0"
sd_wait "main READY=1" 2
grep -q "main-exit killed KILL" "$SD_LOG" || fail "no record of the kill"
grep -q "is mounted already: the daemon resumes the stored connection" "$T_DIR/sd.err" ||
	fail "ExecStartPre did not leave the existing mount alone: $(cat "$T_DIR/sd.err")"
[ "$(grep -c "^fdstore fuse$" "$SD_LOG")" -eq 1 ] || fail "the connection was stored again after the crash: $(cat "$SD_LOG")"
if grep -q "^fdstore carry$" "$SD_LOG"; then
	[ "$(grep -c "^fdstore carry$" "$SD_LOG")" -eq 1 ] || fail "the carried state was stored again after the crash"
	grep -q "carried over" "$T_DIR/sd.err" || fail "the new daemon did not take the carried state: $(tail -n 5 "$T_DIR/sd.err")"
else
	grep -q "no memfd_secret" "$T_DIR/sd.err" || fail "the daemon stored no carried state, and said nothing"
fi
MAIN=$(main_pid)
reader_progress 200
ok "kill -9: ExecStopPost keeps the mount, ExecStartPre leaves it, the new daemon resumes the stored connection (and the carried state)"

write_cfg "    two:
      secrets: { T: app/token }"
kill -HUP "$SD"
sd_wait "main RELOADING=1"
sd_wait "main READY=1" 3
[ "$(cat "$MNT/two/secrets/T")" = "$(cat "$STORE/app%2Ftoken")" ] || fail "reload did not add the view"
ok "ExecReload (SIGHUP): RELOADING=1, then READY=1, and the new view is there"

kill -QUIT "$MAIN"
sd_wait "main-exit exited 75"
sd_wait "main READY=1" 4
reader_progress 200
stop_reader
ok "SIGQUIT (exit 75) restarts on the stored connection; the sandboxed reader never saw an error ($T_READER_OUT)"

kill -TERM "$SD"
sd_wait "stopped"
grep -q "main STOPPING=1" "$SD_LOG" || fail "no STOPPING=1"
grep -q "stop-post success rc=0" "$SD_LOG" || fail "ExecStopPost after a stop: $(tail -n 3 "$SD_LOG")"
grep -q "main FDSTOREREMOVE=1" "$SD_LOG" || fail "the daemon did not drop the stored connection on stop"
grep -qs " $MNT fuse.harombefs " /proc/mounts && fail "still mounted after the service stopped"
ok "stop: STOPPING=1, the stored connection dropped, ExecStopPost unmounts"

# A stale mount (its connection lost with the fd store): the daemon finds
# nothing to resume (exit 76), ExecStopPost unmounts, the restart mounts anew.
"$HAROMBEFS_TEST" "$MNT" -f -o config="$T_DIR/h.yaml" 2>/dev/null &
dead=$!
for _ in $(seq 100); do grep -qs " $MNT fuse.harombefs " /proc/mounts && break; sleep 0.05; done
kill -KILL "$dead"
wait "$dead" 2>/dev/null || true
if stat "$MNT/app" >/dev/null 2>&1; then fail "the stale mount still answers"; fi
start_service
sd_wait "main-exit exited 76"
sd_wait "stop-post exit-code rc=0"
sd_wait "main READY=1"
[ "$(cat "$MNT/app/secrets/TOKEN")" = "$(cat "$STORE/app%2Ftoken")" ] || fail "no service after healing the stale mount"
ok "a stale mount: exit 76, ExecStopPost unmounts it, the restart mounts and serves"
kill -TERM "$SD"
sd_wait "stopped"
grep -qs " $MNT fuse.harombefs " /proc/mounts && fail "still mounted after the second stop"
ok "the second stop unmounts too"
