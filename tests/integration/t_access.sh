#!/bin/bash
# Only the owner reads a view: other uids are refused on every file and do
# not see it listed; root is held to the config too; a gid or a cgroup
# pattern narrows it further; the view works bind-mounted read-only into a
# bubblewrap sandbox, as a container would see it.
. "$(dirname "$0")/lib.sh"

CG2=$(cgroup2_root)
[ -n "$CG2" ] || fail "no cgroup2 mount on this host"
ID="harombe-it-$$"
V1=$(awk '$3 == "cgroup" && $4 ~ /name=systemd/ { print $2; exit }' /proc/mounts)

cat > "$T_DIR/h.yaml" <<YAML
security:
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
    cg2:
      cgroup: "/$ID/allowed"
      secrets: { C: t/c }
    cg1:
      cgroup: "/$ID-v1/allowed*"
      secrets: { C: t/c }
    rootview:
      secrets: { R: t/r }
YAML
VA=$(rand_token) VB=$(rand_token) VG=$(rand_token) VC=$(rand_token) VR=$(rand_token)
MNT="$T_DIR/mnt"
HAROMBE_SECRET_T_A=$VA HAROMBE_SECRET_T_B=$VB HAROMBE_SECRET_T_G=$VG HAROMBE_SECRET_T_C=$VC \
	HAROMBE_SECRET_T_R=$VR start_fs "$HAROMBEFS" "$T_DIR/h.yaml" "$MNT"

# owner
[ "$(as_uid 1000 cat "$MNT/alice/secrets/A")" = "$VA" ] || fail "owner cannot read secrets/A"
for f in env docker.env env.json secrets/A; do
	as_uid 1000 cat "$MNT/alice/$f" >/dev/null || fail "owner cannot read alice/$f"
done
ok "the owner (uid 1000) reads every file of its view"
[ "$(as_uid 1000 stat -c '%u:%a' "$MNT/alice" "$MNT/alice/env" "$MNT/alice/secrets" | tr '\n' ' ')" = "1000:500 1000:400 1000:500 " ] ||
	fail "owner and modes: $(as_uid 1000 stat -c '%u:%a' "$MNT/alice" "$MNT/alice/env")"
ok "views are 0500 directories and 0400 files owned by the configured uid"

# another uid: refused on every file, cannot list, does not see it
for f in env docker.env env.json secrets/A; do
	if as_uid 1001 cat "$MNT/alice/$f" >/dev/null 2>&1; then fail "uid 1001 read alice/$f"; fi
done
if as_uid 1001 ls "$MNT/alice" >/dev/null 2>&1; then fail "uid 1001 listed alice/"; fi
ok "another uid is refused on every file of the view and cannot list it"
[ "$(as_uid 1001 ls "$MNT")" = "bob" ] || fail "uid 1001 sees: $(as_uid 1001 ls "$MNT" | tr '\n' ' ')"
[ "$(as_uid 1000 ls "$MNT")" = "alice" ] || fail "uid 1000 sees: $(as_uid 1000 ls "$MNT" | tr '\n' ' ')"
[ "$(as_uid 4242 ls "$MNT" | wc -l)" = 0 ] || fail "a stranger sees views"
ok "the root listing shows each caller only the views it may read"

# root bypasses the modes in the kernel, but the daemon holds it to the config
if cat "$MNT/alice/env" >/dev/null 2>&1; then fail "root read uid 1000's view"; fi
grep '"event":"access_denied"' "$T_DIR/audit.jsonl" | grep '"container":"alice"' |
	grep '"uid":0' | grep -q 'uid 0 is not the owner (uid 1000)' || fail "no access_denied audit for root"
# (uid 1001 was stopped by the kernel's mode check, default_permissions,
# before the daemon saw it: such refusals cannot be audited.)
[ "$(cat "$MNT/rootview/secrets/R")" = "$VR" ] || fail "root cannot read its own view"
ok "root is refused a view it does not own (audited as access_denied) and reads its own"

# gid
if as_uid 1000 cat "$MNT/grp/env" >/dev/null 2>&1; then fail "uid 1000 without gid 2000 read grp"; fi
[ "$(setpriv --reuid 1000 --regid 1000 --groups 2000 cat "$MNT/grp/secrets/G")" = "$VG" ] ||
	fail "supplementary group 2000 refused"
[ "$(setpriv --reuid 1000 --regid 2000 --clear-groups cat "$MNT/grp/secrets/G")" = "$VG" ] ||
	fail "primary group 2000 refused"
ok "a configured gid must be the caller's primary or supplementary group"

# cgroup v2: the 0:: line of /proc/PID/cgroup
mkdir -p "$CG2/$ID/allowed" "$CG2/$ID/other"
T_CGROUPS+=("$CG2/$ID/allowed" "$CG2/$ID/other" "$CG2/$ID")
in_cg() { local cg=$1; shift; sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"; }
[ "$(in_cg "$CG2/$ID/allowed" cat "$MNT/cg2/secrets/C")" = "$VC" ] || fail "process in the allowed cgroup refused"
mkdir -p "$CG2/$ID/allowed/sub"
T_CGROUPS=("$CG2/$ID/allowed/sub" "${T_CGROUPS[@]}")
[ "$(in_cg "$CG2/$ID/allowed/sub" cat "$MNT/cg2/secrets/C")" = "$VC" ] || fail "child cgroup refused"
if in_cg "$CG2/$ID/other" cat "$MNT/cg2/secrets/C" >/dev/null 2>&1; then fail "wrong cgroup read cg2"; fi
if cat "$MNT/cg2/secrets/C" >/dev/null 2>&1; then fail "a process outside any matching cgroup read cg2"; fi
grep '"container":"cg2"' "$T_DIR/audit.jsonl" | grep '"event":"access_denied"' |
	grep -q "cgroup /$ID/other of pid [0-9]* does not match /$ID/allowed" || fail "cgroup refusal not audited with paths"
[ "$(in_cg "$CG2/$ID/other" ls "$MNT" | grep -c cg2)" = 0 ] || fail "wrong cgroup sees cg2 listed"
ok "cgroup v2: the matching cgroup (and its children) reads; others are refused and audited"

# cgroup v1 name=systemd fallback: the v2 path stays "/" for this process
[ -n "$V1" ] || fail "no cgroup v1 name=systemd hierarchy to test the fallback on this host"
mkdir -p "$V1/$ID-v1/allowed1" "$V1/$ID-v1/other"
T_CGROUPS+=("$V1/$ID-v1/allowed1" "$V1/$ID-v1/other" "$V1/$ID-v1")
[ "$(in_cg "$V1/$ID-v1/allowed1" cat "$MNT/cg1/secrets/C")" = "$VC" ] ||
	fail "v1 name=systemd fallback refused the matching cgroup"
if in_cg "$V1/$ID-v1/other" cat "$MNT/cg1/secrets/C" >/dev/null 2>&1; then fail "v1: wrong cgroup read"; fi
ok "cgroup v1 name=systemd line is used when the v2 path is the root"

# bubblewrap: the view bound read-only at /run/secrets, read by uid 1000 inside
command -v bwrap >/dev/null || fail "bwrap missing (Debian package bubblewrap)"
out=$(EXP="$VA" bwrap --ro-bind /usr /usr --ro-bind /etc /etc --symlink usr/bin /bin --symlink usr/lib /lib \
	--symlink usr/lib64 /lib64 --proc /proc --dev /dev --tmpfs /run --tmpfs /tmp \
	--ro-bind "$MNT/alice" /run/secrets --unshare-pid --unshare-ipc --unshare-net --die-with-parent \
	-- setpriv --reuid 1000 --regid 1000 --clear-groups sh -c '
		set -a; . /run/secrets/env; set +a
		[ "$A" = "$EXP" ] || { echo "env differs"; exit 1; }
		[ "$(cat /run/secrets/secrets/A)" = "$EXP" ] || { echo "raw differs"; exit 1; }
		[ "$(ls /run/secrets | tr "\n" " ")" = "docker.env env env.json generation secrets " ] || { echo "listing"; exit 1; }
		if touch /run/secrets/x 2>/dev/null; then echo "writable"; exit 1; fi
		echo good') || fail "sandbox: $out"
[ "$out" = good ] || fail "sandbox: $out"
ok "the view bind-mounted read-only into a bubblewrap sandbox is read by the container's uid"

stop_fs "$T_FS_PID" "$MNT"
