# Shared by the integration tests: sourced, not run.  Each test file runs in
# its own bash with `set -eu`; a failed check prints "not ok" and exits 1.
# Tests mount real FUSE filesystems and need root.

set -eu
set -o pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
HAROMBEFS="$BUILD/harombefs"
HAROMBEFS_TEST="$BUILD/tests/harombefs-test"
HAROMBE="$BUILD/harombe"
FSPROBE="$BUILD/tests/tools/fsprobe"

T_NAME=$(basename "$0" .sh)
T_COUNT=0
T_PIDS=()
T_MOUNTS=()
T_CGROUPS=()

if [ "$(id -u)" -ne 0 ]; then
	echo "not ok - $T_NAME: integration tests need root (FUSE allow_other, setpriv, cgroups)" >&2
	exit 1
fi

# Scratch space on a private tmpfs: test values never reach a disk, and
# nothing is left behind.
T_DIR=$(mktemp -d /tmp/harombe-it.XXXXXX)
mount -t tmpfs -o mode=0755,size=64m harombe-test "$T_DIR"
chmod 0755 "$T_DIR"

cleanup() {
	local m p c
	set +e
	for p in "${T_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${T_PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	for m in "${T_MOUNTS[@]}"; do
		mountpoint -q "$m" 2>/dev/null && { fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m"; }
	done
	for c in "${T_CGROUPS[@]}"; do
		[ -d "$c" ] || continue
		# move anything left back to the root, then remove
		while read -r p; do echo "$p" > "$(dirname "$c")/cgroup.procs"; done < "$c/cgroup.procs" 2>/dev/null
		rmdir "$c" 2>/dev/null
	done
	umount -l "$T_DIR" 2>/dev/null
	rmdir "$T_DIR" 2>/dev/null
}
trap cleanup EXIT

fail() {
	echo "not ok - $T_NAME: $*" >&2
	if [ -n "${T_LOG:-}" ] && [ -f "$T_LOG" ]; then
		echo "--- daemon log ($T_LOG):" >&2
		tail -n 20 "$T_LOG" >&2
	fi
	exit 1
}

ok() {
	T_COUNT=$((T_COUNT + 1))
	echo "ok $T_COUNT - $T_NAME: $*"
}

assert_eq() {	# assert_eq ACTUAL EXPECTED WHAT (never prints values: they may be secrets)
	[ "$1" = "$2" ] || fail "$3: got ${#1} bytes, expected ${#2} bytes (differ)"
}

assert_ne() {
	[ "$1" != "$2" ] || fail "$3: values are equal"
}

assert_contains() {	# assert_contains FILE PATTERN WHAT
	grep -q -- "$2" "$1" || fail "$3: '$2' not in $1"
}

# start_fs BINARY CONFIG MOUNTPOINT [args...]: foreground daemon, log in $T_LOG.
start_fs() {
	local bin=$1 cfg=$2 mnt=$3 i
	shift 3
	mkdir -p "$mnt"
	T_LOG="$T_DIR/daemon.$(basename "$mnt").log"
	"$bin" "$mnt" -o config="$cfg" -f "$@" > "$T_LOG" 2>&1 &
	T_FS_PID=$!
	T_PIDS+=("$T_FS_PID")
	T_MOUNTS+=("$mnt")
	for i in $(seq 100); do
		if grep -qsE " $mnt fuse\.harombefs(-test)? " /proc/mounts; then return 0; fi
		kill -0 "$T_FS_PID" 2>/dev/null || fail "harombefs exited at start"
		sleep 0.05
	done
	fail "harombefs did not mount $mnt within 5 s"
}

stop_fs() {	# stop_fs PID MOUNTPOINT: SIGTERM, wait for a clean exit and unmount
	local pid=$1 mnt=$2 i rc
	kill -TERM "$pid"
	for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$pid" 2>/dev/null && fail "harombefs did not exit on SIGTERM"
	set +e; wait "$pid"; rc=$?; set -e
	[ "$rc" -eq 0 ] || fail "harombefs exited with status $rc on SIGTERM"
	grep -qsE " $mnt fuse\.harombefs(-test)? " /proc/mounts && fail "$mnt still mounted after SIGTERM"
	return 0
}

# as_uid UID CMD...: run a command as another user, no supplementary groups.
as_uid() {
	local uid=$1
	shift
	setpriv --reuid "$uid" --regid "$uid" --clear-groups -- "$@"
}

# python3 -c "$FSTAT_WALK_PY" PATH N: open PATH N times; each time another
# thread stats it by path before fstat() and a whole read.  Prints "BAD SIZE
# LEN": BAD, the opens whose fstat() size was not what was read; SIZE, what
# stat by path gives afterwards; LEN, the bytes of the last read.
FSTAT_WALK_PY='
import os, sys, threading
p, n = sys.argv[1], int(sys.argv[2])
bad = 0
for _ in range(n):
    fd = os.open(p, os.O_RDONLY)
    t = threading.Thread(target=lambda: os.stat(p))
    t.start(); t.join()
    size = os.fstat(fd).st_size
    data = os.read(fd, 1 << 21)
    os.close(fd)
    bad += size != len(data)
print(bad, os.stat(p).st_size, len(data))'

# A random value made only of letters and digits.
rand_token() {
	head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c "${1:-24}"
}

# The cgroup v2 mount (unified hierarchy), wherever this host has it.
cgroup2_root() {
	awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts
}

# stats: SIGUSR1 the daemon ($T_FS_PID) and print its newest stats line.
stats() {
	local before
	before=$(grep -c 'stats:' "$T_LOG" || true)
	kill -USR1 "$T_FS_PID"
	for _ in $(seq 100); do
		[ "$(grep -c 'stats:' "$T_LOG" || true)" -gt "$before" ] && break
		sleep 0.05
	done
	grep 'stats:' "$T_LOG" | tail -n 1
}

# field NAME: the number after NAME= in a stats line on stdin.
field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p"; }

# A sandboxed reader, as a container holds its view: bubblewrap binds
# VIEW_DIR read-only at /run/secrets (docker run -v VIEW_DIR:/run/secrets:ro)
# and reads /run/secrets/FILE over and over (fsprobe loop), counting good
# reads, errors and ENOTCONN.  start_reader VIEW_DIR FILE
start_reader() {
	local view=$1 file=$2 io="$T_DIR/reader"
	mkdir -p "$io"
	rm -f "$io/stop" "$io/count" "$io/out"
	cat "$view/$file" > "$io/expect" || fail "cannot read $view/$file before the reader starts"
	command -v bwrap >/dev/null || fail "bwrap missing (scripts/deps.sh installs bubblewrap)"
	bwrap --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin \
		--proc /proc --dev /dev --ro-bind "$view" /run/secrets --bind "$io" /io \
		--ro-bind "$FSPROBE" /fsprobe --unshare-pid --unshare-net --unshare-ipc --die-with-parent \
		/fsprobe loop /io/stop /io/count "/run/secrets/$file" /io/expect > "$io/out" 2>&1 &
	T_READER=$!
	T_PIDS+=("$T_READER")
	reader_progress 50
}
reader_count() {
	local c
	c=$(cat "$T_DIR/reader/count" 2>/dev/null || true)
	echo "${c:-0}"
}
# reader_progress N: wait until the reader has made N more good reads.
reader_progress() {
	local want=$(( $(reader_count) + ${1:-100} ))
	for _ in $(seq 1200); do
		[ "$(reader_count)" -ge "$want" ] && return 0
		kill -0 "$T_READER" 2>/dev/null || fail "the reader ended: $(cat "$T_DIR/reader/out")"
		sleep 0.05
	done
	fail "the reader made no progress in 60 s (good reads $(reader_count), waiting for $want)"
}
# stop_reader: the reader's result line in $T_READER_OUT; fails unless every
# read was good.
stop_reader() {
	local rc
	touch "$T_DIR/reader/stop"
	set +e; wait "$T_READER"; rc=$?; set -e
	T_READER_OUT=$(cat "$T_DIR/reader/out")
	[ "$rc" -eq 0 ] || fail "the sandboxed reader saw failures: $T_READER_OUT"
	case "$T_READER_OUT" in
	*" errors=0 mismatches=0 enotconn=0 "*) ;;
	*) fail "the sandboxed reader saw failures: $T_READER_OUT" ;;
	esac
}
