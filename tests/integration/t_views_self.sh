#!/bin/bash
# MOUNT/self, hiding, shared modes and change notification.  The whole
# mount bound into bubblewrap containers of different uids (and, for one
# uid, of different cgroups): each lists only its own view and `self`, and
# finds its secrets at /run/harombe/self/; a caller with no view, or with
# several, gets ENOENT for self and an audit line.  mode 0440 with a gid
# shares a file with the view's group.  `harombe vault set` (the control
# socket's forget) counts a change in the view's generation file and wakes
# a poll() on an open file that holds the value within a second; a file
# that does not hold it stays asleep.
. "$(dirname "$0")/lib.sh"

CG2=$(cgroup2_root)
[ -n "$CG2" ] || fail "no cgroup2 mount on this host"
ID="harombe-self-$$"
STORE="$T_DIR/store"
mkdir -p "$STORE"
put() { printf '%s' "$2" > "$STORE/$(printf '%s' "$1" | sed 's|/|%2F|g; s|#|%23|g')"; }
VA="a-$(rand_token)"
put t/a "$VA"
put t/b "b-$(rand_token)"
put t/s "s-$(rand_token)"
put t/m "m-$(rand_token)"
put t/x "x-$(rand_token)"
put t/y "y-$(rand_token)"
MNT="$T_DIR/mnt"
cat > "$T_DIR/h.yaml" <<YAML
security:
  credentials:
    provider: mock
    mock_dir: $STORE
  fs:
    audit_log: $T_DIR/audit.jsonl
    mountpoint: $MNT
  containers:
    alice:
      uid: 1000
      secrets: { A: t/a }
    bob:
      uid: 1001
      secrets: { B: t/b }
    team:
      uid: 1002
      gid: 3000
      mode: "0440"
      secrets: { S: t/s }
      templates:
        shared.conf: { inline: "s={{ secret \"t/s\" | ini }}\n", mode: "0440" }
        owner.conf: { inline: "s={{ secret \"t/s\" | ini }}\n" }
    m1:
      uid: 1004
      secrets: { M: t/m }
    m2:
      uid: 1004
      secrets: { M: t/m }
    cgx:
      uid: 1006
      cgroup: "/$ID/x"
      secrets: { X: t/x }
    cgy:
      uid: 1006
      cgroup: "/$ID/y"
      secrets: { Y: t/y }
YAML
start_fs "$HAROMBEFS_TEST" "$T_DIR/h.yaml" "$MNT"

# box UID CMD: the whole mount bound at /run/harombe in a bubblewrap
# container, CMD run there as UID
box() {
	local uid=$1
	shift
	bwrap --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 \
		--proc /proc --dev /dev --tmpfs /run --ro-bind "$MNT" /run/harombe --unshare-pid --die-with-parent \
		-- setpriv --reuid "$uid" --regid "$uid" --clear-groups sh -c "$1"
}
command -v bwrap >/dev/null || fail "bwrap missing (Debian package bubblewrap)"
out=$(box 1000 'ls /run/harombe | tr "\n" " "; echo; readlink /run/harombe/self; cat /run/harombe/self/secrets/A')
assert_eq "$out" "alice 
alice
$VA" "what uid 1000 sees in its container"
out=$(box 1001 'ls /run/harombe | tr "\n" " "; echo; readlink /run/harombe/self; ls /run/harombe/alice 2>&1 | grep -c "No such file"')
assert_eq "$out" "bob 
bob
1" "what uid 1001 sees in its container"
ok "the whole mount in bubblewrap containers: uid 1000 and uid 1001 each list only their own view, and self/ leads to their own secrets"

out=$(box 1004 'ls /run/harombe | tr "\n" " "; echo; ls /run/harombe/self/ 2>&1 | grep -c "No such file"')
assert_eq "$out" "m1 m2 
1" "uid 1004 (two views) and self"
out=$(box 1005 'ls -A /run/harombe | wc -l; cat /run/harombe/self/env 2>&1 | grep -c "No such file"')
assert_eq "$out" "0
1" "uid 1005 (no view) and self"
grep '"event":"access_denied"' "$T_DIR/audit.jsonl" | grep '"view":"self"' | grep '"uid":1004' |
	grep -q "may read 2 views ('m1', 'm2'), not one" || fail "self with two views was not audited"
grep '"event":"access_denied"' "$T_DIR/audit.jsonl" | grep '"view":"self"' | grep '"uid":1005' |
	grep -q "may read no view" || fail "self with no view was not audited"
ok "self with two views or none: ENOENT and an audit line naming why"

# one uid, two cgroups: self follows the cgroup
mkdir -p "$CG2/$ID/x" "$CG2/$ID/y"
T_CGROUPS+=("$CG2/$ID/x" "$CG2/$ID/y" "$CG2/$ID")
in_cg() { local cg=$1; shift; sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"; }
out=$(in_cg "$CG2/$ID/x" setpriv --reuid 1006 --regid 1006 --clear-groups sh -c 'readlink '"$MNT"'/self; ls '"$MNT"'/self/secrets')
assert_eq "$out" "cgx
X" "uid 1006 in cgroup x"
out=$(in_cg "$CG2/$ID/y" setpriv --reuid 1006 --regid 1006 --clear-groups sh -c 'readlink '"$MNT"'/self; ls '"$MNT"'/self/secrets')
assert_eq "$out" "cgy
Y" "uid 1006 in cgroup y"
ok "one uid in two cgroups: self leads each to the view whose cgroup rule it meets"

# modes: 0440 shares with the view's group, 0400 does not
m=$(setpriv --reuid 1002 --regid 3000 --clear-groups stat -c '%a' "$MNT/team" "$MNT/team/env" "$MNT/team/shared.conf" "$MNT/team/owner.conf" | tr '\n' ' ')
assert_eq "$m" "550 440 440 400 " "the team view's modes"
got=$(setpriv --reuid 1003 --regid 1003 --groups 3000 cat "$MNT/team/shared.conf")
assert_eq "$got" "s=$(cat "$STORE/t%2Fs")" "a group member reads shared.conf"
setpriv --reuid 1003 --regid 1003 --groups 3000 cat "$MNT/team/secrets/S" >/dev/null || fail "a group member cannot read a 0440 secret"
if setpriv --reuid 1003 --regid 1003 --groups 3000 cat "$MNT/team/owner.conf" >/dev/null 2>&1; then fail "a group member read a 0400 file"; fi
if setpriv --reuid 1003 --regid 1003 --clear-groups cat "$MNT/team/shared.conf" >/dev/null 2>&1; then fail "a stranger read a 0440 file"; fi
ok "mode 0440 with a gid: a member of the group reads the shared files, not the 0400 ones; others nothing"

# generation and poll()
gen() { as_uid 1000 cat "$MNT/alice/generation"; }
assert_eq "$(gen)" "0" "alice's generation before a change"
W="$T_DIR/w"
mkdir -p "$W"
chmod 0777 "$W"
cat > "$W/waiter.py" <<'PY'
import os, select, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
os.read(fd, 65536)
p = select.poll()
p.register(fd, select.POLLIN | select.POLLPRI)
open(sys.argv[2] + ".ready", "w").close()
ev = p.poll(int(sys.argv[3]))
with open(sys.argv[2], "w") as f:
    f.write("%d %.6f\n" % (ev[0][1] if ev else 0, time.monotonic()))
PY
as_uid 1000 /usr/bin/python3 "$W/waiter.py" "$MNT/alice/secrets/A" "$W/wa" 5000 &
W1=$!
as_uid 1001 /usr/bin/python3 "$W/waiter.py" "$MNT/bob/env" "$W/wb" 1500 &
W2=$!
for _ in $(seq 50); do [ -e "$W/wa.ready" ] && [ -e "$W/wb.ready" ] && break; sleep 0.1; done
[ -e "$W/wa.ready" ] || fail "the poll() waiter did not start"
sleep 0.3
[ -e "$W/wa" ] && fail "poll() returned before any change: $(cat "$W/wa")"
t0=$(python3 -c 'import time; print("%.6f" % time.monotonic())')
"$BUILD/tests/harombe-test" -c "$T_DIR/h.yaml" vault set t/a "a2-$(rand_token)" 2>"$T_DIR/set.err" ||
	fail "vault set: $(cat "$T_DIR/set.err")"
wait "$W1" || fail "the waiter failed"
read -r ev t1 < "$W/wa"
[ "$ev" -eq $((1 | 2)) ] || fail "poll() reported events $ev, not POLLIN|POLLPRI"
ms=$(python3 -c "print(int(($t1 - $t0) * 1000))")
[ "$ms" -lt 1000 ] || fail "the waiter woke ${ms} ms after the change"
wait "$W2" || true
read -r ev2 _ < "$W/wb"
[ "$ev2" -eq 0 ] || fail "a file that does not hold t/a was woken ($ev2)"
assert_eq "$(gen)" "1" "alice's generation after a change"
assert_eq "$(as_uid 1001 cat "$MNT/bob/generation")" "0" "bob's generation after alice's change"
ok "harombe vault set woke a poll() on alice/secrets/A in ${ms} ms with POLLIN|POLLPRI; bob's open env slept; alice/generation counts 1, bob's 0"

kill -USR2 "$T_FS_PID"
for _ in $(seq 40); do grep -q 'dropping every cached value' "$T_LOG" && break; sleep 0.05; done
grep -q 'dropping every cached value' "$T_LOG" || fail "SIGUSR2 was not handled"
assert_eq "$(gen)" "1" "alice's generation after SIGUSR2"
ok "SIGUSR2 empties the cache and counts no change"

stop_fs "$T_FS_PID" "$MNT"
