#!/bin/bash
# Runs last.  A canary value goes through every path harombefs has (reads of
# every format, a sandbox, refusals, failures, debug logging, reloads), and
# then the host is searched for it: no file on the host, not the audit log,
# not the daemon's log, nothing under /tmp, may hold it.
. "$(dirname "$0")/lib.sh"

CANARY="hrmbcnry$(rand_token 32)"
C_NL="$CANARY"$'\n'"second-line-of-$CANARY"
cat > "$T_DIR/h.yaml" <<YAML
security:
  fs:
    audit_log: $T_DIR/audit.jsonl
  containers:
    c:
      uid: 1000
      secrets: { CANARY: canary/one, MULTI: canary/multi }
    d:
      secrets: { CANARY: canary/one, GONE: canary/missing }
YAML
MNT="$T_DIR/mnt"
HAROMBE_SECRET_CANARY_ONE="$CANARY" HAROMBE_SECRET_CANARY_MULTI="$C_NL" \
	start_fs "$HAROMBEFS" "$T_DIR/h.yaml" "$MNT" -d

for f in env env.json secrets/CANARY secrets/MULTI; do
	as_uid 1000 cat "$MNT/c/$f" | grep -qF "$CANARY" || fail "c/$f does not carry the canary"
done
as_uid 1000 bash -c 'set -a; . "$1"; [ -n "$CANARY" ]' _ "$MNT/c/env" || fail "sourcing"
as_uid 1000 cat "$MNT/c/docker.env" >/dev/null 2>&1 && fail "docker.env with a newline value served"
cat "$MNT/c/env" >/dev/null 2>&1 && fail "root read uid 1000's view"
as_uid 1001 cat "$MNT/c/env" >/dev/null 2>&1 && fail "uid 1001 read the view"
cat "$MNT/d/env" >/dev/null 2>&1 && fail "a view with a missing key was served"
bwrap --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 \
	--proc /proc --dev /dev --tmpfs /run --ro-bind "$MNT/c" /run/secrets --die-with-parent \
	-- setpriv --reuid 1000 --regid 1000 --clear-groups cat /run/secrets/env.json > /dev/null ||
	fail "sandbox read"
kill -HUP "$T_FS_PID"; sleep 0.3
kill -USR1 "$T_FS_PID"; sleep 0.3
as_uid 1000 cat "$MNT/c/secrets/CANARY" | grep -qF "$CANARY" || fail "after reload"
stop_fs "$T_FS_PID" "$MNT"
[ -s "$T_DIR/audit.jsonl" ] && [ -s "$T_LOG" ] || fail "no audit or daemon log to search"
ok "the canary went through every view format, a sandbox, refusals, failures, a reload and debug logging"

# The search: what the run wrote, then the places anything could land.
# -xdev keeps the walk off other filesystems mounted below (other tests'
# FUSE mounts); the ones that matter are listed explicitly.
search() {
	local d
	for d in "$@"; do
		[ -d "$d" ] || continue
		find "$d" -xdev -type f -print0 2>/dev/null | xargs -0 -r grep -lsF -D skip -- "$CANARY" || true
	done
}
hits=$(search "$T_DIR" /tmp /var/tmp /var/log /var/lib /var/cache /var/spool /root /home /etc /run \
	/dev/shm /srv /opt "$TOP")
[ -z "$hits" ] || fail "the canary was found in: $hits"
ok "the canary is in no file: not the audit log, not the daemon log (with -d), not /tmp, /var, /etc, /root, /run or the tree"

# The search must be able to find it: plant it in the scratch tmpfs once.
printf '%s' "$CANARY" > "$T_DIR/planted"
search "$T_DIR" | grep -q planted || fail "the search cannot find a planted canary"
rm -f "$T_DIR/planted"
ok "the search finds a planted copy (so it could have found a leak)"
