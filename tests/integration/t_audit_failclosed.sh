#!/bin/bash
# An open whose secret_read record cannot be written is refused (EIO) and
# serves nothing: the record is written on the open's own path, before the
# reply, never after it or beside it.  Here the audit log's file system is
# full; once there is room again, opens succeed and every line of the log
# is whole JSON.
. "$(dirname "$0")/lib.sh"

STORE="$T_DIR/store"
mkdir -p "$STORE"
printf '%s' "a-$(rand_token)" > "$STORE/t%2Fa"
LOGDIR="$T_DIR/log"
mkdir -p "$LOGDIR"
mount -t tmpfs -o size=64k,mode=0755 harombe-audit "$LOGDIR"
T_MOUNTS+=("$LOGDIR")
cat > "$T_DIR/h.yaml" <<YAML
security:
  credentials:
    provider: mock
    mock_dir: $STORE
  fs:
    audit_log: $LOGDIR/audit.jsonl
  containers:
    alice:
      secrets: { A: t/a }
YAML
MNT="$T_DIR/mnt"
start_fs "$HAROMBEFS_TEST" "$T_DIR/h.yaml" "$MNT"

cat "$MNT/alice/env" > /dev/null || fail "the first open failed"
grep -q '"event":"secret_read"' "$LOGDIR/audit.jsonl" || fail "the first open was not audited"

# Fill the log's file system; the file's last page may still take a few
# records, then one finds no room.
dd if=/dev/zero of="$LOGDIR/fill" bs=4k 2>/dev/null || true
refused=0 served=0
for _ in $(seq 60); do
	if out=$(cat "$MNT/alice/env" 2>"$T_DIR/err"); then
		[ "$refused" = 0 ] || fail "an open served after an earlier one was refused, with the disk still full"
		served=$((served + 1))
	else
		grep -q "Input/output error" "$T_DIR/err" || fail "a refused open said: $(cat "$T_DIR/err")"
		[ -z "$out" ] || fail "a refused open served ${#out} bytes"
		refused=$((refused + 1))
	fi
done
[ "$refused" -gt 0 ] || fail "60 opens with the audit log's disk full: none refused"
lines=$(wc -l < "$LOGDIR/audit.jsonl")
ok "audit log full: every open from the first whose record found no room on refused with EIO ($refused of 60), none of them served a byte ($served records fitted in the log's last page first)"

rm -f "$LOGDIR/fill"
cat "$MNT/alice/env" > /dev/null || fail "an open failed once the log had room again"
[ "$(wc -l < "$LOGDIR/audit.jsonl")" -gt "$lines" ] || fail "the open after the disk had room was not audited"
/usr/bin/python3 -c '
import json, sys
for n, line in enumerate(open(sys.argv[1]), 1):
    json.loads(line)' "$LOGDIR/audit.jsonl" || fail "the audit log holds a line that is not JSON"
[ "$(tail -c 1 "$LOGDIR/audit.jsonl" | od -An -c | tr -d ' ')" = '\n' ] || fail "the audit log ends in a partial line"
ok "with room again, opens succeed and are audited; every line of the log is whole JSON"

stop_fs "$T_FS_PID" "$MNT"
