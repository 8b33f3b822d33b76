#!/bin/bash
# The real mount(8) and umount(8): `mount -t fuse.harombefs` and an fstab
# line, through Debian's mount.fuse3 and through our installed helper, with
# mount(8)'s own options (_netdev, nofail, x-systemd.*, rw, dev, suid)
# tolerated or overridden; and harombe-bind putting a view into a running
# sandbox's mount namespace.  The installed tree is put in place in a
# private mount namespace, so the host's /usr and /etc stay untouched.
. "$(dirname "$0")/lib.sh"

D="$T_DIR/root"
make -s -C "$TOP" BUILD="$BUILD" DESTDIR="$D" SYSCONFDIR=/etc MOUNTHELPERDIR=/sbin install > "$T_DIR/install.out" 2>&1 ||
	fail "make install: $(cat "$T_DIR/install.out")"
TOKEN="tok-$(rand_token 24)"
cat > "$T_DIR/h.yaml" <<YAML
security:
  fs:
    audit_log: $T_DIR/audit.jsonl
    locked_memory: 1MiB
  containers:
    app:
      secrets: { TOKEN: app/token }
YAML
MNT="$T_DIR/mnt"
mkdir -p "$MNT"
T_MOUNTS+=("$MNT")
printf 'harombe %s fuse.harombefs config=%s,_netdev,nofail,x-systemd.requires=network-online.target 0 0\n' \
	"$MNT" "$T_DIR/h.yaml" > "$T_DIR/fstab"
printf '%s' "$TOKEN" > "$T_DIR/expect"
command -v unshare >/dev/null && command -v findmnt >/dev/null || fail "util-linux tools missing"

# Everything below runs in a private mount namespace; it prints one line
# per passed check and fails with its reason on stderr.
cat > "$T_DIR/inner.sh" <<'EOF'
set -eu
D=$1 MNT=$2 CFG=$3 T=$4 FSPROBE=$5
die() { echo "$*" >&2; exit 1; }
gone() {	# wait for the daemon of MNT to exit after an unmount
	for _ in $(seq 100); do pgrep -f "harombefs harombe $MNT" >/dev/null || return 0; sleep 0.05; done
	die "the daemon did not exit after umount"
}
mount --bind "$D/usr/local" /usr/local

# A: Debian's mount.fuse3 runs `harombefs harombe MNT -o rw,config=...,dev,suid`.
mount -t fuse.harombefs harombe "$MNT" -o "config=$CFG,_netdev,nofail,x-systemd.requires=network-online.target" ||
	die "mount -t fuse.harombefs through mount.fuse3 failed"
read -r fstype src opts < <(findmnt -n -o FSTYPE,SOURCE,OPTIONS "$MNT")
[ "$fstype" = fuse.harombefs ] && [ "$src" = harombe ] || die "mounted as '$fstype' from '$src'"
case ",$opts," in *,ro,*nosuid,nodev,noexec,*) ;; *) die "mount options '$opts' (rw/dev/suid not overridden)" ;; esac
cmp -s "$MNT/app/secrets/TOKEN" "$T/expect" || die "the view is wrong after mount(8)"
echo "mount -t fuse.harombefs (Debian's mount.fuse3): fuse.harombefs from 'harombe', $opts"
umount "$MNT" || die "umount failed"
gone
mountpoint -q "$MNT" && die "still mounted after umount"
echo "umount unmounts and the daemon exits"

# B: our helper, the only one left in /sbin.
mount --bind "$D/sbin" /usr/sbin
[ -x /sbin/mount.fuse.harombefs ] && [ ! -e /sbin/mount.fuse3 ] || die "helper setup"
mount -T "$T/fstab" "$MNT" || die "mount of the fstab line through mount.fuse.harombefs failed"
read -r fstype src opts < <(findmnt -n -o FSTYPE,SOURCE,OPTIONS "$MNT")
[ "$fstype" = fuse.harombefs ] && [ "$src" = harombe ] || die "fstab: mounted as '$fstype' from '$src'"
cmp -s "$MNT/app/secrets/TOKEN" "$T/expect" || die "the view is wrong after the fstab mount"
echo "an fstab line with _netdev,nofail,x-systemd.* mounts through /sbin/mount.fuse.harombefs"
keeper=$(pgrep -f "harombefs harombe $MNT -o [^ ]*$")
[ -n "$keeper" ] || die "no keeper"
if grep -a -q -- "$HAROMBE_SECRET_APP_TOKEN" "/proc/$keeper/environ"; then die "the keeper's environment still holds the secret"; fi
[ "$(awk '/^VmLck/ { print $2 }' "/proc/$keeper/status")" -gt 0 ] || die "the keeper locks no memory"
echo "the keeper keeps the environment (HAROMBE_SECRET_*) in locked memory, not in /proc/PID/environ"

# C: harombe-bind into a sandbox that started before it had its view.
bwrap --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin \
	--proc /proc --dev /dev --tmpfs /run --bind "$T/box" /box --die-with-parent \
	sh -c 'echo $$ > /box/pid
	       for i in $(seq 400); do [ -e /run/secrets/secrets/TOKEN ] && break; sleep 0.05; done
	       cat /run/secrets/secrets/TOKEN > /box/got
	       if touch /run/secrets/x 2>/box/touch.err; then echo writable > /box/touch.err; fi
	       while [ ! -e /box/stop ]; do sleep 0.05; done
	       cat /run/secrets/secrets/TOKEN > /box/after' &
box=$!
for _ in $(seq 100); do pid=$(cat "$T/box/pid" 2>/dev/null || true); [ -n "$pid" ] && break; sleep 0.05; done
[ -n "$pid" ] || die "no sandbox process"
[ "$(readlink /proc/$pid/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] || die "the sandbox shares our namespace"
/usr/local/sbin/harombe-bind -m "$MNT" app "$pid" > "$T/bind.out" 2>&1 || die "harombe-bind: $(cat "$T/bind.out")"
for _ in $(seq 200); do [ -s "$T/box/touch.err" ] && break; sleep 0.05; done
cmp -s "$T/box/got" "$T/expect" || die "the sandbox did not read its view through harombe-bind"
grep -q "Read-only file system" "$T/box/touch.err" || die "the bound view is writable: $(cat "$T/box/touch.err")"
echo "harombe-bind app PID: a running sandbox reads its view at /run/secrets, read-only"
# the bound view survives a crash of the daemon (the keeper)
kill -KILL "$(pgrep -f "harombefs harombe $MNT -o .* -f$")"
touch "$T/box/stop"
wait "$box" || die "the sandbox failed"
cmp -s "$T/box/after" "$T/expect" || die "the bound view broke after kill -9 of the daemon"
echo "the bound view is still read after kill -9 of the daemon (its new daemon got the environment from the keeper)"
umount "$MNT"
gone
EOF
mkdir -p "$T_DIR/box"
set +e
HAROMBE_SECRET_APP_TOKEN="$TOKEN" unshare --mount --propagation private \
	bash "$T_DIR/inner.sh" "$D" "$MNT" "$T_DIR/h.yaml" "$T_DIR" "$FSPROBE" > "$T_DIR/inner.out" 2> "$T_DIR/inner.err"
rc=$?
set -e
while read -r line; do ok "$line"; done < "$T_DIR/inner.out"
[ "$rc" -eq 0 ] || fail "$(cat "$T_DIR/inner.err")"
pgrep -f "harombefs harombe $MNT" >/dev/null && fail "a daemon outlived the test's namespace"
ok "nothing left running"
