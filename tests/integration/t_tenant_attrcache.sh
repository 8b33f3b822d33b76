#!/bin/bash
# The kernel keeps a view's attributes, never its names (fs/fs.c): an open
# costs no GETATTR, yet every walk still sends one LOOKUP per name, checked
# with the walker's credentials; so attributes the owner's walks left in the
# cache never show a view, or a name in it, to another uid, to the right uid
# in the wrong cgroup, or to root; they never carry one caller's exact size;
# and fstat() after open() stays exact while others walk to the same file.
# The same holds through a bind mount of a view, as a container holds it,
# where an open costs the owner one LOOKUP (the file's name).
. "$(dirname "$0")/lib.sh"

CG2=$(cgroup2_root)
[ -n "$CG2" ] || fail "no cgroup2 mount on this host"
ID="harombe-attr-$$"
STORE="$T_DIR/store"
mkdir -p "$STORE"
put() { printf '%s' "$2" > "$STORE/$(printf '%s' "$1" | sed 's|/|%2F|g')"; }
put t/a "a-$(rand_token 40)"
put t/b "b-$(rand_token)"
put t/c "c-$(rand_token)"
cat > "$T_DIR/h.yaml" <<YAML
security:
  credentials:
    provider: mock
    mock_dir: $STORE
  fs:
    audit_log: $T_DIR/audit.jsonl
  containers:
    alice:
      uid: 1000
      secrets: { A: t/a }
      templates:
        app.ini: { inline: "[app]\\na = {{ secret \\"t/a\\" | ini }}\\n" }
    bob:
      uid: 1001
      secrets: { B: t/b }
    cg:
      uid: 1000
      cgroup: "/$ID/allowed"
      secrets: { C: t/c }
YAML
MNT="$T_DIR/mnt"
start_fs "$HAROMBEFS_TEST" "$T_DIR/h.yaml" "$MNT"
mkdir -p "$CG2/$ID/allowed" "$CG2/$ID/other"
T_CGROUPS+=("$CG2/$ID/allowed" "$CG2/$ID/other" "$CG2/$ID")
in_cg() { local cg=$1; shift; sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"; }

stat_err() {
	local out
	if out=$("$@" 2>&1 >/dev/null); then echo ok; return; fi
	case "$out" in
	*"No such file or directory"*) echo ENOENT ;;
	*"Permission denied"*) echo EACCES ;;
	*) echo "other: $out" ;;
	esac
}

# What N opens cost in requests, from the daemon's own counters (open, read
# to the end, close, as cat does but without its fstat()).
s0=$(stats)
as_uid 1000 /usr/bin/python3 -c '
import os, sys
for _ in range(200):
    fd = os.open(sys.argv[1], os.O_RDONLY)
    while os.read(fd, 65536):
        pass
    os.close(fd)' "$MNT/alice/env"
s1=$(stats)
d() { echo $(( $(field "$1" <<< "$s1") - $(field "$1" <<< "$s0") )); }
lookups=$(d req_lookup) getattrs=$(d req_getattr) opens=$(d req_open)
[ "$opens" -ge 200 ] || fail "200 opens made $opens OPEN requests"
[ "$lookups" -ge 400 ] || fail "200 opens of alice/env made $lookups LOOKUPs: names are cached (a stranger's walk could skip the check)"
[ "$getattrs" -lt 20 ] || fail "200 opens made $getattrs GETATTRs: attributes are not cached"
ok "200 opens of alice/env: $lookups LOOKUPs (every name checked on every walk), $getattrs GETATTRs (attributes cached)"

# Right after the owner's walks and opens, with its attributes cached:
# nothing answers a stranger, and nothing inside answers root.
for _ in $(seq 20); do
	as_uid 1000 cat "$MNT/alice/env" >/dev/null || fail "owner cannot read alice/env"
	as_uid 1000 stat "$MNT/alice" "$MNT/alice/env" "$MNT/alice/secrets/A" >/dev/null || fail "owner cannot stat"
	for p in alice alice/env alice/secrets alice/secrets/A; do
		[ "$(stat_err as_uid 1001 stat "$MNT/$p")" = ENOENT ] || fail "uid 1001: stat $p right after the owner's: $(stat_err as_uid 1001 stat "$MNT/$p")"
	done
	[ "$(stat_err as_uid 1001 cat "$MNT/alice/env")" = ENOENT ] || fail "uid 1001: cat alice/env"
	for p in alice/env alice/secrets/A; do
		[ "$(stat_err stat "$MNT/$p")" = ENOENT ] || fail "root: stat $p right after the owner's: $(stat_err stat "$MNT/$p")"
	done
done
ok "after the owner's walks, uid 1001 gets ENOENT for alice and every name in it, root for every name in it"

for _ in $(seq 10); do
	in_cg "$CG2/$ID/allowed" setpriv --reuid 1000 --regid 1000 --clear-groups cat "$MNT/cg/env" >/dev/null ||
		fail "the allowed cgroup cannot read cg/env"
	for p in cg cg/env cg/secrets/C; do
		[ "$(stat_err in_cg "$CG2/$ID/other" setpriv --reuid 1000 --regid 1000 --clear-groups stat "$MNT/$p")" = ENOENT ] ||
			fail "the same uid in the wrong cgroup: stat $p right after the allowed one's"
	done
done
ok "after reads from the allowed cgroup, the same uid in another cgroup gets ENOENT for cg and every name in it"

# The size in the cache is the bound, never a caller's exact size; fstat()
# on an open file is exact even while another thread walks to the file.
exp=$(as_uid 1000 cat "$MNT/alice/secrets/A" | wc -c)
out=$(as_uid 1000 /usr/bin/python3 -c "$FSTAT_WALK_PY" "$MNT/alice/secrets/A" 100)
read -r bad seen _ <<< "$out"
[ "$bad" = 0 ] || fail "fstat after open was not the content's size $bad times in 100 with another thread walking"
[ "$seen" -gt "$exp" ] || fail "stat by path gave $seen, not the bound (the content is $exp bytes)"
held=$(as_uid 1000 /usr/bin/python3 -c '
import os, sys, subprocess
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fstat(fd)
print(subprocess.run(["stat", "-c", "%s", sys.argv[1]], capture_output=True, text=True).stdout.strip())' "$MNT/alice/secrets/A")
[ "$held" -gt "$exp" ] || fail "another process saw the holder's exact size ($held) by path"
ok "fstat after open is exact with another thread walking (100 of 100); stat by path, even while another process holds the file, gives the bound ($seen), never a size"

# A template file, rendered on each open, under the same rules.
exp=$(as_uid 1000 cat "$MNT/alice/app.ini" | wc -c)
[ "$exp" -gt 10 ] || fail "the template app.ini rendered $exp bytes"
out=$(as_uid 1000 /usr/bin/python3 -c "$FSTAT_WALK_PY" "$MNT/alice/app.ini" 100)
read -r bad seen _ <<< "$out"
[ "$bad" = 0 ] || fail "app.ini: fstat after open was not the content's size $bad times in 100 with another thread walking"
[ "$seen" -gt "$exp" ] || fail "app.ini: stat by path gave $seen, not the bound (the content is $exp bytes)"
[ "$(stat_err as_uid 1001 stat "$MNT/alice/app.ini")" = ENOENT ] || fail "uid 1001: stat alice/app.ini right after the owner's"
ok "template app.ini: fstat after open exact (100 of 100, another thread walking), stat by path the bound, ENOENT for uid 1001"

# Through a bind mount of the view's directory, made by root, as a container
# holds it (docker -v /run/harombe/alice:/run/secrets, harombe-bind, bwrap):
# the walk starts at the mount's root, which the kernel never looks up
# again, so the owner's open costs one LOOKUP (the file's name; what
# bench_fs.sh's bind rows measure).  Nothing cached by the owner's opens
# answers anyone else, and each attempt asks the daemon: uid 1001 fails the
# mode check of the view's directory (0500, uid 1000) on its cached
# attributes, so the kernel asks again (GETATTR) and harombefs answers
# ENOENT; root, and the same uid from the wrong cgroup, pass the mode check
# and get ENOENT from the LOOKUP of the file's name.
for v in alice cg; do
	mkdir -p "$T_DIR/bind-$v"
	mount --bind "$MNT/$v" "$T_DIR/bind-$v"
	T_MOUNTS=("$T_DIR/bind-$v" "${T_MOUNTS[@]}")	# unmounted before the FUSE mount
done
BA="$T_DIR/bind-alice" BC="$T_DIR/bind-cg"
opens='
import os, sys
for _ in range(int(sys.argv[2])):
    fd = os.open(sys.argv[1], os.O_RDONLY)
    while os.read(fd, 65536):
        pass
    os.close(fd)'
# N stats and N opens of a path; prints how many of them ended how.
tries='
import errno, os, sys
seen = {}
for _ in range(int(sys.argv[2])):
    for f in (os.stat, lambda p: os.close(os.open(p, os.O_RDONLY))):
        try:
            f(sys.argv[1])
            e = "ok"
        except OSError as x:
            e = errno.errorcode[x.errno]
        seen[e] = seen.get(e, 0) + 1
print(" ".join("%s=%d" % kv for kv in sorted(seen.items())))'
[ "$(as_uid 1000 cat "$BA/env" | sha256sum)" = "$(as_uid 1000 cat "$MNT/alice/env" | sha256sum)" ] ||
	fail "the owner reads other bytes through the bind mount"
s0=$(stats)
as_uid 1000 /usr/bin/python3 -c "$opens" "$BA/env" 200
s1=$(stats)
lookups=$(d req_lookup) getattrs=$(d req_getattr) opens=$(d req_open)
[ "$opens" -ge 200 ] || fail "200 opens through the bind mount made $opens OPEN requests"
[ "$lookups" -ge 200 ] || fail "200 opens through the bind mount made $lookups LOOKUPs: the file's name is cached"
[ "$lookups" -lt 400 ] || fail "200 opens through the bind mount made $lookups LOOKUPs: the mount's root is looked up too"
[ "$getattrs" -lt 20 ] || fail "200 opens through the bind mount made $getattrs GETATTRs"
ok "200 opens of alice/env through a bind mount of alice: $lookups LOOKUPs (the file's name on every walk, never the mount's root), $getattrs GETATTRs"

# The hostile tenant, right after the owner's opens.
as_uid 1000 cat "$BA/env" >/dev/null || fail "owner cannot read through the bind mount"
s0=$(stats)
out=$(as_uid 1001 /usr/bin/python3 -c "$tries" "$BA/env" 50)
s1=$(stats)
[ "$out" = "ENOENT=100" ] || fail "uid 1001 through a bind mount of alice, 50 stats and 50 opens of env: $out"
asked=$(( $(d req_lookup) + $(d req_getattr) ))
[ "$asked" -ge 100 ] || fail "uid 1001's 100 attempts through the bind mount asked the daemon $asked times: a cache answered"
[ "$(d req_open)" = 0 ] || fail "uid 1001's attempts through the bind mount reached OPEN"
for p in env secrets/A app.ini; do
	[ "$(stat_err as_uid 1001 stat "$BA/$p")" = ENOENT ] || fail "uid 1001: stat $p through the bind mount: $(stat_err as_uid 1001 stat "$BA/$p")"
	[ "$(stat_err as_uid 1001 cat "$BA/$p")" = ENOENT ] || fail "uid 1001: cat $p through the bind mount: $(stat_err as_uid 1001 cat "$BA/$p")"
done
ok "uid 1001 through root's bind mount of alice: ENOENT for 50 of 50 stats and opens of env (daemon asked $asked times: $(d req_lookup) LOOKUPs, $(d req_getattr) GETATTRs), and for secrets/A and app.ini"

s0=$(stats)
out=$(/usr/bin/python3 -c "$tries" "$BA/env" 50)
s1=$(stats)
[ "$out" = "ENOENT=100" ] || fail "root through a bind mount of alice, 50 stats and 50 opens of env: $out"
[ "$(d req_lookup)" -ge 100 ] || fail "root's 100 attempts through the bind mount sent $(d req_lookup) LOOKUPs"
in_cg "$CG2/$ID/allowed" setpriv --reuid 1000 --regid 1000 --clear-groups cat "$BC/env" >/dev/null ||
	fail "the allowed cgroup cannot read cg/env through the bind mount"
s0=$(stats)
out=$(in_cg "$CG2/$ID/other" setpriv --reuid 1000 --regid 1000 --clear-groups /usr/bin/python3 -c "$tries" "$BC/env" 50)
s1=$(stats)
[ "$out" = "ENOENT=100" ] || fail "uid 1000 in the wrong cgroup through a bind mount of cg: $out"
[ "$(d req_lookup)" -ge 100 ] || fail "the wrong cgroup's 100 attempts through the bind mount sent $(d req_lookup) LOOKUPs"
[ "$(d req_open)" = 0 ] || fail "the wrong cgroup's attempts through the bind mount reached OPEN"
as_uid 1000 cat "$BA/env" >/dev/null || fail "the owner cannot read alice/env through the bind mount after the others' attempts"
ok "through the bind mounts, root (alice) and uid 1000 in the wrong cgroup (cg) get ENOENT for 50 of 50 stats and opens of env, one LOOKUP each; the owner still reads"
for v in alice cg; do umount "$T_DIR/bind-$v"; done

stop_fs "$T_FS_PID" "$MNT"
