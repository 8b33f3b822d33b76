#!/bin/bash
# Start, reload and stop: SIGHUP adds, removes and changes views without a
# remount; a bad config is rejected and the old one kept; background start
# reports success or failure truthfully; the daemon is hardened.
. "$(dirname "$0")/lib.sh"

write_cfg() {	# write_cfg EXTRA_VIEW_YAML
	cat > "$T_DIR/h.yaml.new" <<YAML
security:
  fs:
    audit_log: $T_DIR/audit.jsonl
    locked_memory: 2MiB
  containers:
    one:
      secrets: { A: t/a }
$1
YAML
	mv "$T_DIR/h.yaml.new" "$T_DIR/h.yaml"
}
reload() {	# SIGHUP and wait for the daemon to say it reloaded (or failed)
	local before
	before=$(grep -c 'reload' "$T_LOG" || true)
	kill -HUP "$T_FS_PID"
	for _ in $(seq 100); do
		[ "$(grep -c 'reload' "$T_LOG" || true)" -gt "$before" ] && return 0
		sleep 0.05
	done
	fail "no reload message after SIGHUP"
}

export HAROMBE_SECRET_T_A=aaa HAROMBE_SECRET_T_B=bbb HAROMBE_SECRET_T_C=ccc
MNT="$T_DIR/mnt"
write_cfg ""
start_fs "$HAROMBEFS" "$T_DIR/h.yaml" "$MNT"
[ "$(ls "$MNT")" = one ] || fail "initial views: $(ls "$MNT")"
exec 7< "$MNT/one/env"		# a handle held across reloads

write_cfg "    two:
      secrets: { B: t/b }"
reload
[ "$(ls "$MNT" | tr '\n' ' ')" = "one two " ] || fail "after adding: $(ls "$MNT" | tr '\n' ' ')"
[ "$(cat "$MNT/two/secrets/B")" = bbb ] || fail "new view unreadable"
ok "SIGHUP adds a view without a remount"

write_cfg "    two:
      secrets: { B: t/b, C: t/c }
      uid: 1000"
reload
[ "$(as_uid 1000 cat "$MNT/two/secrets/C")" = ccc ] || fail "changed view: new secret not served to new owner"
if cat "$MNT/two/env" >/dev/null 2>&1; then fail "old owner still reads a changed view"; fi
[ "$(stat -c %u "$MNT/two")" = 1000 ] || fail "owner not updated"
ok "SIGHUP changes a view's mapping and owner at once"

write_cfg ""
reload
[ "$(ls "$MNT")" = one ] || fail "after removing: $(ls "$MNT")"
[ ! -e "$MNT/two" ] || fail "removed view still resolves"
ok "SIGHUP removes a view"

cat >&7 /dev/null 2>&1 || true
[ "$(cat <&7)" = 'A="aaa"' ] || fail "a handle opened before the reloads lost its content"
exec 7<&-
ok "handles opened before a reload keep their content"

printf 'security:\n  containers:\n    bad name:\n      secrets: {}\n' > "$T_DIR/h.yaml"
reload
grep -q "reload of '$T_DIR/h.yaml' failed, keeping the running configuration: $T_DIR/h.yaml:3:5: container name 'bad name'" "$T_LOG" ||
	fail "bad reload not logged with file:line:col"
[ "$(cat "$MNT/one/secrets/A")" = aaa ] || fail "old config not kept after a bad reload"
ok "a bad config on SIGHUP is rejected with file:line:col and the old one keeps serving"

# hardening
st=$(stats)
case "$st" in *dumpable=0*) ;; *) fail "daemon is dumpable: $st" ;; esac
grep -q '^Max core file size *0 *0' "/proc/$T_FS_PID/limits" || fail "core size limit is not 0"
vmlck=$(awk '/^VmLck/ { print $2 }' "/proc/$T_FS_PID/status")
[ "$vmlck" -ge 2048 ] || fail "VmLck is $vmlck kB, expected the 2 MiB arena locked"
ok "the daemon is not dumpable, has core size 0 and its 2 MiB arena locked (VmLck $vmlck kB)"

stop_fs "$T_FS_PID" "$MNT"

# background start: the parent exits 0 once mounted
"$HAROMBEFS" "$MNT" -o config="$T_DIR/h.yaml.ok" 2>"$T_DIR/bg.err" && fail "background start with a missing config succeeded"
grep -q "cannot open config '$T_DIR/h.yaml.ok'" "$T_DIR/bg.err" || fail "missing config: $(cat "$T_DIR/bg.err")"
write_cfg ""
"$HAROMBEFS" "$MNT" -o config="$T_DIR/h.yaml" 2>"$T_DIR/bg.err" || fail "background start failed: $(cat "$T_DIR/bg.err")"
T_MOUNTS+=("$MNT")
grep -qs " $MNT fuse.harombefs " /proc/mounts || fail "not mounted when the parent returned"
pid=$(pgrep -f "harombefs $MNT -o config=$T_DIR/h.yaml" | head -n 1)
[ -n "$pid" ] && T_PIDS+=("$pid")
[ "$(cat "$MNT/one/secrets/A")" = aaa ] || fail "background daemon does not serve"
[ "$(awk '{ print $7 }' "/proc/$pid/stat")" = 0 ] || fail "background daemon still has a terminal"
kill -TERM "$pid"
for _ in $(seq 100); do grep -qs " $MNT fuse.harombefs " /proc/mounts || break; sleep 0.05; done
grep -qs " $MNT fuse.harombefs " /proc/mounts && fail "background daemon did not unmount on SIGTERM"
ok "background start returns 0 once mounted (and 1 with the reason when it cannot start)"

# a mountpoint that cannot be mounted
"$HAROMBEFS" "$T_DIR/nonexistent/x" -o config="$T_DIR/h.yaml" 2>"$T_DIR/bg.err" && fail "mounted on a missing dir"
grep -q "bad mount point .$T_DIR/nonexistent/x'" "$T_DIR/bg.err" || fail "no reason: $(cat "$T_DIR/bg.err")"
ok "a mountpoint that does not exist fails with a message"

# bad arguments
"$HAROMBEFS" --help | grep -q "usage: " || fail "--help"
if "$HAROMBEFS" "$MNT" -o config="$T_DIR/h.yaml" --no-such-option 2>/dev/null; then fail "bad option accepted"; fi
ok "--help works; an unknown option is an error"

# a relative config path still reloads after the daemon left its directory
cd "$T_DIR"
"$HAROMBEFS" "$MNT" -o config=h.yaml 2>"$T_DIR/bg.err" || fail "background start (relative config): $(cat "$T_DIR/bg.err")"
cd "$TOP"
pid=$(pgrep -f "harombefs $MNT -o config=h.yaml" | head -n 1)
T_PIDS+=("$pid")
write_cfg "    three:
      secrets: { A: t/a }"
kill -HUP "$pid"
for _ in $(seq 100); do [ -d "$MNT/three" ] && break; sleep 0.05; done
[ -d "$MNT/three" ] || fail "reload with a relative config path did not take effect"
kill -TERM "$pid"
for _ in $(seq 100); do grep -qs " $MNT fuse.harombefs " /proc/mounts || break; sleep 0.05; done
ok "a relative -o config= path keeps working for reloads in the background"
