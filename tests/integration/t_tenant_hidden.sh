#!/bin/bash
# Hidden means hidden: a caller that may not read a view gets ENOENT for its
# name, as for a name that does not exist, even right after its owner looked
# it up (no entry cached for one uid answers another); inside a view every
# lookup and listing applies the full check (uid, gid, cgroup), root
# included; a process that may bind-mount (CAP_SYS_ADMIN) sees the view's
# directory only; none of it reaches the store.
. "$(dirname "$0")/lib.sh"

CG2=$(cgroup2_root)
[ -n "$CG2" ] || fail "no cgroup2 mount on this host"
ID="harombe-hid-$$"
STORE="$T_DIR/store"
mkdir -p "$STORE"
put() { printf '%s' "$2" > "$STORE/$(printf '%s' "$1" | sed 's|/|%2F|g')"; }
put t/a "a-$(rand_token)"
put t/b "b-$(rand_token)"
put t/g "g-$(rand_token)"
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
    bob:
      uid: 1001
      secrets: { B: t/b }
    grp:
      uid: 1000
      gid: 2000
      secrets: { G: t/g }
    cg:
      uid: 1000
      cgroup: "/$ID/allowed"
      secrets: { C: t/c }
YAML
MNT="$T_DIR/mnt"
start_fs "$HAROMBEFS_TEST" "$T_DIR/h.yaml" "$MNT"
touch "$STORE/_gets"
chmod 0666 "$STORE/_gets"

# stat_err AS... PATH: the error stat gives ("ok" when it succeeds)
stat_err() {
	local out
	if out=$("$@" 2>&1 >/dev/null); then echo ok; return; fi
	case "$out" in
	*"No such file or directory"*) echo ENOENT ;;
	*"Permission denied"*) echo EACCES ;;
	*) echo "other: $out" ;;
	esac
}

# names: another uid cannot tell a view from a name that does not exist
[ "$(stat_err as_uid 1001 stat "$MNT/alice")" = ENOENT ] || fail "uid 1001: stat alice: $(stat_err as_uid 1001 stat "$MNT/alice")"
[ "$(stat_err as_uid 1001 stat "$MNT/nosuchview")" = ENOENT ] || fail "stat of a missing name"
for f in env secrets secrets/A; do
	[ "$(stat_err as_uid 1001 stat "$MNT/alice/$f")" = ENOENT ] || fail "uid 1001: stat alice/$f"
done
[ "$(stat_err as_uid 1001 stat "$MNT/bob")" = ok ] || fail "uid 1001 cannot stat its own view"
ok "stat MOUNT/<view> by another uid: ENOENT, as for a name that does not exist (and for every path inside)"

# a dentry looked up by the owner does not answer a stranger
for _ in $(seq 20); do
	as_uid 1000 stat "$MNT/alice/secrets/A" >/dev/null || fail "owner cannot stat"
	[ "$(stat_err as_uid 1001 stat "$MNT/alice")" = ENOENT ] || fail "a cached entry of the owner answered uid 1001"
	[ "$(stat_err as_uid 1001 stat "$MNT/alice/secrets/A")" = ENOENT ] || fail "a cached entry answered uid 1001 inside"
done
ok "right after the owner's lookups, the other uid still gets ENOENT (nothing is cached for the next caller)"

# root: may see the view's directory (to bind-mount it), nothing inside
[ "$(stat_err stat "$MNT/alice")" = ok ] || fail "root cannot stat alice (bind mounts need it)"
for f in env secrets secrets/A; do
	[ "$(stat_err stat "$MNT/alice/$f")" = ENOENT ] || fail "root: stat alice/$f: $(stat_err stat "$MNT/alice/$f")"
done
if ls "$MNT/alice" >/dev/null 2>&1; then fail "root listed alice/"; fi
[ "$(stat_err setpriv --bounding-set -sys_admin --inh-caps -sys_admin stat "$MNT/alice")" = ENOENT ] ||
	fail "root without CAP_SYS_ADMIN sees alice"
ok "root sees alice/ (to bind-mount it) but no name inside and cannot list it; root without CAP_SYS_ADMIN gets ENOENT"

# the right uid, the wrong gid
[ "$(stat_err as_uid 1000 stat "$MNT/grp")" = ENOENT ] || fail "uid 1000 without gid 2000 sees grp"
if as_uid 1000 ls "$MNT/grp/secrets" >/dev/null 2>&1; then fail "wrong gid listed grp/secrets"; fi
[ "$(setpriv --reuid 1000 --regid 1000 --groups 2000 ls "$MNT/grp/secrets")" = G ] || fail "gid 2000 cannot list grp/secrets"
# through a bind mount made by root, the wrong gid still cannot list
command -v bwrap >/dev/null || fail "bwrap missing (Debian package bubblewrap)"
out=$(bwrap --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 \
	--proc /proc --dev /dev --ro-bind "$MNT/grp" /run/secrets --unshare-pid --die-with-parent \
	-- setpriv --reuid 1000 --regid 1000 --clear-groups sh -c '
	ls /run/secrets/secrets >/dev/null 2>&1 && echo listed-secrets
	ls /run/secrets >/dev/null 2>&1 && echo listed-view
	cat /run/secrets/secrets/G >/dev/null 2>&1 && echo read
	echo done') || fail "bwrap: $out"
[ "$out" = done ] || fail "the wrong gid through a bind mount: $out"
ok "the right uid with the wrong gid: ENOENT for the view, cannot list secrets/, not even through a bind mount"

# the right uid, the wrong cgroup
mkdir -p "$CG2/$ID/allowed" "$CG2/$ID/other"
T_CGROUPS+=("$CG2/$ID/allowed" "$CG2/$ID/other" "$CG2/$ID")
in_cg() { local cg=$1; shift; sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"; }
[ "$(in_cg "$CG2/$ID/allowed" setpriv --reuid 1000 --regid 1000 --clear-groups ls "$MNT/cg/secrets")" = C ] ||
	fail "the allowed cgroup cannot list cg/secrets"
if in_cg "$CG2/$ID/other" setpriv --reuid 1000 --regid 1000 --clear-groups ls "$MNT/cg/secrets" >/dev/null 2>&1; then
	fail "the wrong cgroup listed cg/secrets"
fi
[ "$(stat_err in_cg "$CG2/$ID/other" setpriv --reuid 1000 --regid 1000 --clear-groups stat "$MNT/cg")" = ENOENT ] ||
	fail "the wrong cgroup sees cg"
ok "the right uid in the wrong cgroup: ENOENT for the view, cannot list secrets/"

# audited, once per burst per uid
grep '"event":"access_denied"' "$T_DIR/audit.jsonl" | grep '"container":"alice"' | grep '"uid":1001' |
	grep -q '"reason":"hidden: uid 1001 is not the owner (uid 1000)' || fail "hidden lookups not audited"
n=$(grep '"event":"access_denied"' "$T_DIR/audit.jsonl" | grep '"container":"alice"' | grep -c '"uid":1001' || true)
[ "$n" -le 2 ] || fail "over 40 hidden lookups by one uid made $n records"
ok "hidden lookups are audited with the reason, $n record(s) for 40+ refusals of one uid"

[ ! -s "$STORE/_gets" ] || fail "stat, ls and lookups reached the store: $(sort "$STORE/_gets" | uniq -c | tr '\n' ' ')"
ok "no stat, lookup or listing reached the store"

# the cost of entries that are never cached: stat of a file, 2000 times
t0=$(date +%s%N)
as_uid 1000 /usr/bin/python3 -c '
import os, sys
for _ in range(2000):
    os.stat(sys.argv[1])' "$MNT/alice/secrets/A"
t1=$(date +%s%N)
t2=$(date +%s%N)
in_cg "$CG2/$ID/allowed" setpriv --reuid 1000 --regid 1000 --clear-groups /usr/bin/python3 -c '
import os, sys
for _ in range(2000):
    os.stat(sys.argv[1])' "$MNT/cg/secrets/C"
t3=$(date +%s%N)
ok "stat of a file 4 levels deep: $(( (t1 - t0) / 2000000 )) us each for a uid view, $(( (t3 - t2) / 2000000 )) us with a cgroup rule (every level looked up and checked)"

stop_fs "$T_FS_PID" "$MNT"
