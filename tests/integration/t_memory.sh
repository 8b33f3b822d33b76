#!/bin/bash
# Freshness, the page cache, locked memory, failing stores and concurrency,
# on the mock store (values in files the test changes under the mount).
. "$(dirname "$0")/lib.sh"

STORE="$T_DIR/store"
mkdir -p "$STORE"
put() { printf '%s' "$2" > "$STORE/$(printf '%s' "$1" | sed 's|/|%2F|g')"; }

names10=""
for i in $(seq 1 10); do names10="$names10 S$i: ten/s$i,"; put "ten/s$i" "value-$i-$(rand_token 40)"; done
put big/a "$(head -c 300000 /dev/urandom | base64 -w 0)"
put big/b "$(head -c 300000 /dev/urandom | base64 -w 0)"
put ch/v "first"
put ok/v "fine"
cat > "$T_DIR/h.yaml" <<YAML
security:
  credentials:
    provider: mock
    mock_dir: $STORE
  fs:
    audit_log: $T_DIR/audit.jsonl
    locked_memory: 4MiB
  containers:
    ten:
      secrets: { ${names10%,} }
    big:
      # the whole arena, so that its opens exhaust it (t_tenant_quota
      # proves the default quarter)
      limits: { locked_memory: 4MiB }
      secrets: { A: big/a, B: big/b }
    change:
      secrets: { V: ch/v }
    good:
      secrets: { V: ok/v }
    missing:
      secrets: { V: no/such }
    denied:
      secrets: { V: den/v }
    down:
      secrets: { V: down/v }
    slow:
      secrets: { V: slow/v }
YAML
echo EACCES > "$STORE/den%2Fv.err"
echo EIO > "$STORE/down%2Fv.err"
MNT="$T_DIR/mnt"
start_fs "$HAROMBEFS_TEST" "$T_DIR/h.yaml" "$MNT"

# freshness: every open fetches
[ "$(cat "$MNT/change/secrets/V")" = first ] || fail "first value"
put ch/v "second"
[ "$(cat "$MNT/change/secrets/V")" = second ] || fail "changed value not served at once"
ok "a changed value is served on the very next open"

# no store I/O in lookup, getattr or readdir
: > "$STORE/_gets"
ls -lR "$MNT" >/dev/null
stat "$MNT"/*/env "$MNT"/*/secrets/* >/dev/null
find "$MNT" -type f >/dev/null
[ ! -s "$STORE/_gets" ] || fail "lookup/getattr/readdir reached the store: $(sort -u "$STORE/_gets" | tr '\n' ' ')"
cat "$MNT/change/env" >/dev/null
[ "$(cat "$STORE/_gets")" = ch/v ] || fail "open did not fetch exactly its key"
rm "$STORE/_gets"
ok "ls -lR, stat and find never reach the store; open fetches exactly its keys"

# the page cache holds nothing of a view, even after many reads
"$FSPROBE" cachestat /etc/passwd | grep -q '^cached=[1-9]' || { cat /etc/passwd >/dev/null; "$FSPROBE" cachestat /etc/passwd | grep -q '^cached=[1-9]' || fail "cachestat cannot see cached pages (sanity)"; }
before=$(awk '/^Cached:/ { print $2 }' /proc/meminfo)
for _ in $(seq 200); do cat "$MNT/big/env" >/dev/null; done
# A private mmap is the one way a direct_io file's bytes enter the page
# cache; they must be there while mapped (or this test proves nothing) and
# gone shortly after the last close.
# (cachestat through a descriptor opened before the mapping: a new open
# would itself make the kernel drop the cache.)
# With "reopen", the file is opened and closed again right after the
# mapping's close: that open takes the queued drop back (the kernel empties
# the cache on open), so the pages must be gone all the same.
mmap_probe() {
python3 - "$@" <<'PY'
import ctypes, mmap, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
class Range(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]
class Stat(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("cache", "dirty", "wb", "evicted", "recent")]
def cached(fd):
    r, st = Range(0, 0), Stat()
    if libc.syscall(451, fd, ctypes.byref(r), ctypes.byref(st), 0) != 0:
        raise OSError(ctypes.get_errno(), "cachestat")
    return st.cache
path = sys.argv[1]
probe = os.open(path, os.O_RDONLY)
fd = os.open(path, os.O_RDONLY)
size = os.fstat(fd).st_size
m = mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
sum(m[i] for i in range(0, size, 4096))
during = cached(probe)
m.close()
os.close(fd)
if len(sys.argv) > 2 and sys.argv[2] == "reopen":
    os.close(os.open(path, os.O_RDONLY))
for _ in range(200):
    after = cached(probe)
    if after == 0:
        break
    time.sleep(0.01)
os.close(probe)
print(f"cached={during} cached={after}")
PY
}
for mode in close reopen; do
	out=$(mmap_probe "$MNT/big/secrets/A" $mode)
	case "$out" in "cached=0 "*) fail "a private mmap did not use the page cache (test proves nothing): $out" ;; esac
	[ "${out#* }" = "cached=0" ] || fail "pages stayed in the page cache after the mmap was closed ($mode): $out"
done
for f in env env.json secrets/A secrets/B; do
	c=$("$FSPROBE" cachestat "$MNT/big/$f")
	[ "$c" = "cached=0" ] || fail "big/$f has pages in the page cache after close: $c"
done
after=$(awk '/^Cached:/ { print $2 }' /proc/meminfo)
ok "no view has pages in the page cache after 200 reads of 800 KiB; a private mmap's pages ($out) are dropped after close (system Cached: $before -> $after kB)"

# locked memory exhaustion: opens fail with ENOMEM, and recover
base=$(stats | field locked_in_use)
out=$("$FSPROBE" holdopen 20 "$MNT/big/env")
opened=$(echo "$out" | sed -n 's/opened=\([0-9]*\).*/\1/p')
echo "$out" | grep -q 'errno=ENOMEM' || fail "exhaustion did not give ENOMEM: $out"
[ "$opened" -ge 1 ] || fail "not even one open fit: $out"
echo "$out" | grep -q 'reopen=ok' || fail "did not recover after closing: $out"
grep '"view":"env"' "$T_DIR/audit.jsonl" | grep '"container":"big"' | grep -q 'locked memory exhausted' ||
	fail "exhaustion not audited"
[ "$(stats | field locked_in_use)" = "$base" ] || fail "locked memory not back to baseline"
[ "$(cat "$MNT/good/secrets/V")" = fine ] || fail "other views broken after exhaustion"
ok "locked memory exhaustion fails opens with ENOMEM after $opened handles, then recovers"

# failing store: errno per failure kind, reason audited, other views fine
check_errno() {	# view expected-message audit-text
	if cat "$MNT/$1/env" >/dev/null 2>"$T_DIR/err"; then fail "$1 served"; fi
	grep -q "$2" "$T_DIR/err" || fail "$1: expected '$2', got $(cat "$T_DIR/err")"
	grep "\"container\":\"$1\"" "$T_DIR/audit.jsonl" | grep '"result":"error"' | grep -q "$3" ||
		fail "$1: audit reason missing '$3'"
}
check_errno missing "No such file or directory" "V (no/such): not found"
check_errno denied "Permission denied" "V (den/v): denied"
check_errno down "Input/output error" "V (down/v): unavailable"
[ "$(cat "$MNT/good/secrets/V")" = fine ] || fail "a good view failed beside failing ones"
ls "$MNT/down" >/dev/null || fail "listing a failing view"
ok "a failing store gives ENOENT/EACCES/EIO on open with the reason audited; other views keep working"

# a slow store holds one caller, not the mount
put slow/v "late"
echo 3000 > "$STORE/_delay_ms"
cat "$MNT/slow/env" > "$T_DIR/slow.out" 2>&1 &
slowpid=$!
sleep 0.3
rm "$STORE/_delay_ms"
ls "$MNT" >/dev/null || fail "listing during a slow fetch"
[ "$(cat "$MNT/good/secrets/V")" = fine ] || fail "another view during a slow fetch"
kill -0 "$slowpid" 2>/dev/null || fail "slow fetch ended early"
wait "$slowpid" || fail "slow fetch failed"
ok "while one open waits on a slow store, listing and other views are served"

# two threads x thousands of cycles: no errors, no growth
cat "$MNT/ten/env" > "$T_DIR/expect.env"
base=$(stats | field locked_in_use)
out=$("$FSPROBE" hammer 2 3000 "$MNT/ten/env" "$T_DIR/expect.env") || fail "hammer: $out"
st=$(stats)
[ "$(echo "$st" | field locked_in_use)" = "$base" ] || fail "locked memory grew: $base -> $st"
[ "$(echo "$st" | field open_handles)" = 0 ] || fail "handles leaked: $st"
ok "2 threads x 3000 open/read/close cycles: $out, locked memory back to $base bytes"

stop_fs "$T_FS_PID" "$MNT"
