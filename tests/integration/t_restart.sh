#!/bin/bash
# Restarts that containers survive.  harombefs in the background (as
# mount(8) and fstab start it) keeps the FUSE connection in its keeper
# process; a sandboxed reader holding a bind mount of its view keeps reading
# across kill -9 of the daemon, SIGQUIT restarts and a crash during an open,
# and never sees an error (ENOTCONN least of all).
. "$(dirname "$0")/lib.sh"

STORE="$T_DIR/store"
mkdir -p "$STORE"
put() { printf '%s' "$2" > "$STORE/$(printf '%s' "$1" | sed 's|/|%2F|g')"; }
put app/token "tok-$(rand_token 20)"
put app/db "postgres://app@db/app"
put slow/v "late value"
write_cfg() {
	cat > "$T_DIR/h.yaml.new" <<YAML
security:
  credentials:
    provider: mock
    mock_dir: $STORE
  fs:
    audit_log: $T_DIR/audit.jsonl
    locked_memory: 2MiB
  containers:
    app:
      secrets: { TOKEN: app/token, DB: app/db }
    slow:
      secrets: { V: slow/v }
$1
YAML
	mv "$T_DIR/h.yaml.new" "$T_DIR/h.yaml"
}
write_cfg ""
MNT="$T_DIR/mnt"
mkdir -p "$MNT"

# The background start: the keeper mounts, its daemon serves.
"$HAROMBEFS_TEST" "$MNT" -o config="$T_DIR/h.yaml" 2>"$T_DIR/start.err" ||
	fail "background start: $(cat "$T_DIR/start.err")"
T_MOUNTS+=("$MNT")
KEEPER=$(pgrep -f -x "$HAROMBEFS_TEST $MNT -o config=$T_DIR/h.yaml" || true)
[ -n "$KEEPER" ] || fail "no keeper process"
T_PIDS+=("$KEEPER")
server() {	# the keeper's current daemon (waits for one)
	local p
	for _ in $(seq 200); do
		p=$(pgrep -P "$KEEPER" || true)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.05
	done
	fail "the keeper has no daemon"
}
S=$(server)
ls -l "/proc/$KEEPER/fd" | grep -q ' -> /dev/fuse$' || fail "the keeper does not hold /dev/fuse"
ls -l "/proc/$S/fd" | grep -q ' -> /dev/fuse$' || fail "the daemon does not hold /dev/fuse"
ok "the background start mounts in a keeper that holds /dev/fuse and runs the daemon (pid $S)"

# A container's view of its secrets, read in a loop.
start_reader "$MNT/app" env
for i in 1 2 3; do
	S=$(server)
	kill -KILL "$S"
	for _ in $(seq 200); do [ "$(server)" != "$S" ] && break; sleep 0.05; done
	[ "$(server)" != "$S" ] || fail "no new daemon after kill -9 number $i"
	reader_progress 200
done
ok "kill -9 of the daemon, three times: a new daemon serves the same connection and the reader goes on"

kill -QUIT "$KEEPER"
for _ in $(seq 200); do [ "$(server)" != "$S" ] && break; sleep 0.05; done
S2=$(server)
[ "$S2" != "$S" ] || fail "SIGQUIT did not restart the daemon"
reader_progress 200
ok "SIGQUIT (a restart on purpose, e.g. after an upgrade) is hitless too"

stop_reader
ok "the sandboxed reader saw no error across the restarts ($T_READER_OUT)"

# A file opened before a restart: read from its start it is served again
# (same size, fresh fetch); a read in its middle cannot be proved to match.
S=$(server)
exec 7< "$MNT/app/secrets/TOKEN"
exec 8< "$MNT/app/env"
dd bs=3 count=1 status=none <&8 >/dev/null
kill -KILL "$S"
[ "$(cat <&7)" = "$(cat "$STORE/app%2Ftoken")" ] || fail "a file opened before the restart read wrong"
if cat <&8 >/dev/null 2>"$T_DIR/stale.err"; then fail "a read in the middle of a file opened before a restart succeeded"; fi
assert_contains "$T_DIR/stale.err" "Stale file handle" "errno of a mid-file read after a restart"
exec 7<&- 8<&-
ok "files opened before a restart: read from the start they work, read from the middle they fail with ESTALE"

# An open that the dead daemon had taken but not answered is answered by the
# next one (FUSE_NOTIFY_RESEND), instead of waiting forever.
echo 1500 > "$STORE/_delay_ms"
touch "$STORE/_gets"
cat "$MNT/slow/env" > "$T_DIR/slow.out" 2>&1 &
slow=$!
for _ in $(seq 200); do grep -q 'slow/v' "$STORE/_gets" && break; sleep 0.02; done
grep -q 'slow/v' "$STORE/_gets" || fail "the slow open never reached the store"
S=$(server)
kill -KILL "$S"
rm -f "$STORE/_delay_ms"
for _ in $(seq 400); do kill -0 "$slow" 2>/dev/null || break; sleep 0.05; done
kill -0 "$slow" 2>/dev/null && fail "an open in flight when the daemon died never completed (no resend)"
wait "$slow" || fail "the open in flight failed: $(cat "$T_DIR/slow.out")"
[ "$(cat "$T_DIR/slow.out")" = 'V="late value"' ] || fail "the open in flight got the wrong content"
rm -f "$STORE/_gets"
ok "an open in flight when the daemon died is resent to the next one and completes"

# SIGHUP to the keeper reaches the daemon.
write_cfg "    two:
      secrets: { T: app/token }"
kill -HUP "$KEEPER"
for _ in $(seq 100); do [ -d "$MNT/two" ] && break; sleep 0.05; done
[ "$(cat "$MNT/two/secrets/T")" = "$(cat "$STORE/app%2Ftoken")" ] || fail "SIGHUP to the keeper did not reload"
ok "SIGHUP to the keeper reloads the daemon's config"

# Stop: SIGTERM to the keeper stops the daemon, unmounts, and both exit.
S=$(server)
kill -TERM "$KEEPER"
for _ in $(seq 200); do kill -0 "$KEEPER" 2>/dev/null || break; sleep 0.05; done
kill -0 "$KEEPER" 2>/dev/null && fail "the keeper did not exit on SIGTERM"
kill -0 "$S" 2>/dev/null && fail "the daemon did not exit with the keeper"
grep -qs " $MNT fuse.harombefs " /proc/mounts && fail "still mounted after SIGTERM to the keeper"
ok "SIGTERM to the keeper stops the daemon, unmounts and exits"

# A daemon that cannot start at all: the background start fails with its
# reason and status, and nothing stays mounted.
# (the config loads; the store refuses its settings when the daemon opens it)
printf 'security:\n  credentials:\n    provider: mock\n    mock_dir: %s\n    mock_delay_ms: 99999999\n' \
	"$STORE" > "$T_DIR/bad.yaml"
set +e
"$HAROMBEFS_TEST" "$MNT" -o config="$T_DIR/bad.yaml" 2>"$T_DIR/bad.err"
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "a daemon with a bad store setting: background start returned $rc, not 2"
grep -q "mock_delay_ms" "$T_DIR/bad.err" || fail "the reason did not reach the terminal: $(cat "$T_DIR/bad.err")"
grep -qs " $MNT fuse.harombefs " /proc/mounts && fail "still mounted after a failed start"
pgrep -f -x "$HAROMBEFS_TEST $MNT -o config=$T_DIR/bad.yaml" >/dev/null && fail "a keeper stayed after a failed start"
ok "a daemon that cannot start: the start fails (status $rc), nothing stays mounted"
