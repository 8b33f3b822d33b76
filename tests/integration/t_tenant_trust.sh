#!/bin/bash
# Issue 13, as a hostile tenant (uid 1000, 1001) on the same host would try:
# rewrite a config or key file it can write, forge or flood the audit log
# (a process name of raw bytes and escapes, denials by the hundred, a full
# disk), plant a symlink or its own directory where the log goes, and
# squat the daemon's control socket to answer in its place.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/helpers/ops.sh"

export HAROMBE_SECRET_WEB_TOKEN="v-$(rand_token 20)"
CFG="$T_DIR/etc/harombe.yaml"
mkdir -p "$T_DIR/etc"
write_cfg() {	# write_cfg FILE [AUDIT_LOG] [EXTRA CONTAINERS]
	cat > "$1" <<YAML
security:
  credentials: { provider: env }
  fs: { audit_log: ${2:-$T_DIR/log/audit.jsonl}, mountpoint: $T_DIR/mnt }
  containers:
    web: { uid: 1000, secrets: { TOKEN: web/token } }
${3:-}
YAML
}
# fs_refused CONFIG MOUNTPOINT: harombefs must exit (non-zero) without mounting;
# its output is in $T_DIR/fs.err.
fs_refused() {
	mkdir -p "$2"
	set +e
	timeout 10 "$HAROMBEFS" "$2" -o config="$1" -f > "$T_DIR/fs.err" 2>&1
	rc=$?
	set -e
	[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "harombefs started (status $rc): $(cat "$T_DIR/fs.err")"
	grep -qs " $2 fuse" /proc/mounts && fail "$2 is mounted"
	return 0
}

# ---- 1. the config file ----
write_cfg "$CFG"
chmod 0666 "$CFG"
fs_refused "$CFG" "$T_DIR/mnt"
grep -qF "harombe.yaml: refusing '$CFG': writable by group and others (mode 0666); chmod go-w '$CFG'" "$T_DIR/fs.err" ||
	fail "0666 config: $(cat "$T_DIR/fs.err")"
expect 2 "harombe: harombe.yaml: refusing '$CFG': writable by group and others (mode 0666); chmod go-w '$CFG'" \
	"$HAROMBE" -c "$CFG" vault get web/token
chmod 0644 "$CFG"
chown 1000 "$CFG"
fs_refused "$CFG" "$T_DIR/mnt"
grep -qF "harombe.yaml: refusing '$CFG': owned by uid 1000, not root; chown root '$CFG'" "$T_DIR/fs.err" ||
	fail "config owned by uid 1000: $(cat "$T_DIR/fs.err")"
chown 0 "$CFG"
chmod 0775 "$T_DIR/etc"
fs_refused "$CFG" "$T_DIR/mnt"
grep -qF "harombe.yaml: refusing '$CFG': its directory '$T_DIR/etc' is writable by group (mode 0775); chmod g-w '$T_DIR/etc'" \
	"$T_DIR/fs.err" || fail "group-writable directory: $(cat "$T_DIR/fs.err")"
chmod 0755 "$T_DIR/etc"
ok "a config that is 0666, owned by uid 1000, or in a group-writable directory is refused at start (harombefs and harombe), naming the file and the fix"

start_fs "$HAROMBEFS" "$CFG" "$T_DIR/mnt"
assert_eq "$(as_uid 1000 cat "$T_DIR/mnt/web/secrets/TOKEN")" "$HAROMBE_SECRET_WEB_TOKEN" "view before the reload"
# The tenant's rewrite: a view of its own (uid 1001) onto web's key.
EVIL="    evil: { uid: 1001, secrets: { T: web/token } }"
for attack in mode owner; do
	if [ $attack = mode ]; then chmod 0666 "$CFG"; else chown 1001 "$CFG"; fi
	write_cfg "$CFG" "" "$EVIL"
	before=$(grep -c "reload of" "$T_LOG" || true)
	kill -HUP "$T_FS_PID"
	for _ in $(seq 100); do [ "$(grep -c "reload of" "$T_LOG" || true)" -gt "$before" ] && break; sleep 0.05; done
	grep "reload of" "$T_LOG" | tail -n 1 | grep -qF "keeping the running configuration: harombe.yaml: refusing '$CFG'" ||
		fail "SIGHUP with a $attack attack: $(tail -n 3 "$T_LOG")"
	as_uid 1001 cat "$T_DIR/mnt/evil/secrets/T" > /dev/null 2>&1 && fail "the rewritten config's view was served"
	[ -e "$T_DIR/mnt/evil" ] && fail "the rewritten config's view exists"
	assert_eq "$(as_uid 1000 cat "$T_DIR/mnt/web/secrets/TOKEN")" "$HAROMBE_SECRET_WEB_TOKEN" "view after a refused reload"
	chmod 0644 "$CFG"; chown 0 "$CFG"
done
write_cfg "$CFG"
stop_fs "$T_FS_PID" "$T_DIR/mnt"
ok "on SIGHUP a config made 0666 or chowned to uid 1001 (and rewritten with a view for it) is refused: the running config is kept and its view still reads"

# ---- 2. key files ----
cp "$TOP/tests/fixtures/sops/age-example.yaml" "$T_DIR/etc/s.enc.yaml"
cp "$TOP/tests/fixtures/sops/keys.txt" "$T_DIR/etc/keys.txt"
chmod 0600 "$T_DIR/etc/keys.txt"
cat > "$T_DIR/etc/sops.yaml" <<YAML
security:
  credentials: { provider: sops, secrets_file: $T_DIR/etc/s.enc.yaml, key_file: $T_DIR/etc/keys.txt }
  fs: { audit_log: $T_DIR/log/audit.jsonl }
YAML
expect 0 "" "$HAROMBE" -c "$T_DIR/etc/sops.yaml" vault get app2/db#user
chmod 0622 "$T_DIR/etc/keys.txt"
expect 3 "" "$HAROMBE" -c "$T_DIR/etc/sops.yaml" vault get app2/db#user
grep -qF "age key file: refusing '$T_DIR/etc/keys.txt': writable by group and others (mode 0622); chmod go-w '$T_DIR/etc/keys.txt'" \
	"$T_DIR/err" || fail "age key file 0622: $(cat "$T_DIR/err")"
chmod 0600 "$T_DIR/etc/keys.txt"
chown 1000 "$T_DIR/etc/keys.txt"
expect 3 "" "$HAROMBE" -c "$T_DIR/etc/sops.yaml" vault get app2/db#user
grep -qF "refusing '$T_DIR/etc/keys.txt': owned by uid 1000" "$T_DIR/err" || fail "age key file of uid 1000: $(cat "$T_DIR/err")"
chown 0 "$T_DIR/etc/keys.txt"
printf 'hvs.%s\n' "$(rand_token 24)" > "$T_DIR/etc/token"
chmod 0666 "$T_DIR/etc/token"
cat > "$T_DIR/etc/vault.yaml" <<YAML
security:
  credentials: { provider: vault, vault_addr: "http://127.0.0.1:9", token_file: $T_DIR/etc/token }
  fs: { audit_log: $T_DIR/log/audit.jsonl }
YAML
set +e
env -u VAULT_TOKEN "$HAROMBE" -c "$T_DIR/etc/vault.yaml" vault get a/b > "$T_DIR/out" 2> "$T_DIR/err"
rc=$?
set -e
[ $rc != 0 ] && grep -qF "Vault token file: refusing '$T_DIR/etc/token': writable by group and others (mode 0666)" "$T_DIR/err" ||
	fail "Vault token file 0666 (status $rc): $(cat "$T_DIR/err")"
ok "an age key file that others can write or that uid 1000 owns, and a 0666 Vault token file, are refused with the file and the fix"

# ---- 3. the audit log: names of raw bytes and escapes ----
# comm as prctl(PR_SET_NAME) sets it: 15 bytes, not UTF-8, with ESC, newline, DEL and a C1 CSI.
cat > "$T_DIR/rename.py" <<'PY'
import ctypes, sys
libc = ctypes.CDLL(None)
libc.prctl(15, b"\xff\xfe\x1b[2J\n\x7f\xc2\x9bevil\xe2\x82", 0, 0, 0)
try:
    open(sys.argv[1], "rb").read()
except OSError as e:
    print(e.errno)
PY
start_fs "$HAROMBEFS" "$CFG" "$T_DIR/mnt"
[ "$(stat -c %a "$T_DIR/log")" = 700 ] || fail "the audit log's new directory is not 0700"
as_uid 1000 /usr/bin/python3 "$T_DIR/rename.py" "$T_DIR/mnt/web/env"
# Root is refused: ENOENT, since views it may not read are hidden from it
# (t_tenant_hidden), or EACCES.
case "$(python3 "$T_DIR/rename.py" "$T_DIR/mnt/web/env")" in
2|13) ;;
*) fail "root read uid 1000's view" ;;
esac
stop_fs "$T_FS_PID" "$T_DIR/mnt"
python3 - "$T_DIR/log/audit.jsonl" <<'PY' || fail "audit lines are not strict UTF-8 JSON: $(cat -v "$T_DIR/log/audit.jsonl")"
import json, sys
raw = open(sys.argv[1], "rb").read()
assert raw.endswith(b"\n")
text = raw.decode("utf-8", "strict")
names = [json.loads(l).get("caller", {}).get("command") for l in text.splitlines()]
evil = [n for n in names if n and "evil" in n]
assert len(evil) == 2, names
assert evil[0] == "\ufffd\ufffd\x1b[2J\n\x7f\x9bevil\ufffd", repr(evil[0])
for b in raw[:-1]:
    assert b >= 0x20 and b != 0x7f or b == 0x0a, b
assert b"\xc2\x9b" not in raw and raw.count(b"\n") == len(text.splitlines())
PY
for fmt in table json; do
	expect 0 "" "$HAROMBE" -c "$CFG" --format $fmt audit query
	python3 - "$T_DIR/out" <<'PY' || fail "audit query --format $fmt printed raw control bytes: $(cat -v "$T_DIR/out")"
import sys
raw = open(sys.argv[1], "rb").read()
text = raw.decode("utf-8", "strict")
assert "evil" in text
for ch in text:
    o = ord(ch)
    assert ch == "\n" or not (o < 0x20 or o == 0x7f or 0x80 <= o <= 0x9f), hex(o)
PY
done
grep -q 'evil' "$T_DIR/out" && grep -qF '\u001b[2J\n\u007f\u009bevil' "$T_DIR/out" || fail "json query lost the escapes"
ok "a reader renamed (prctl) with bytes >= 0x80, ESC, newline, DEL and C1: audit lines stay strict UTF-8 JSON; audit query (table and json) prints no raw control byte"

# ---- 4. the audit log: denials by the hundred ----
start_fs "$HAROMBEFS" "$CFG" "$T_DIR/mnt"
python3 - "$T_DIR/mnt/web/env" <<'PY'
import sys
for _ in range(300):
    try:
        open(sys.argv[1], "rb").close()
    except (PermissionError, FileNotFoundError):
        pass
PY
assert_eq "$(as_uid 1000 cat "$T_DIR/mnt/web/secrets/TOKEN")" "$HAROMBE_SECRET_WEB_TOKEN" "the owner reads while denials flood"
stop_fs "$T_FS_PID" "$T_DIR/mnt"
python3 - "$T_DIR/log/audit.jsonl" <<'PY' || fail "denials were not rate-limited: $(grep -c access_denied "$T_DIR/log/audit.jsonl")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
# the denial of section 3 and 300 here, all of uid 0.  Root is refused at
# the lookup (the view is hidden from it, t_tenant_hidden), and those
# refusals are recorded once per view, uid and burst; whatever reaches the
# log is held to 10 a minute per uid besides (lib/audit.c, check_audit).
den = [r for r in recs if r["event"] == "access_denied" and r.get("caller", {}).get("uid", r.get("uid")) == 0]
assert 1 <= len(den) <= 1 + 11, len(den)
assert all("suppressed" not in r or r["suppressed"] <= 299 for r in den), den
PY
ok "300 denied opens by one uid leave at most a dozen records, not 300; the owner's reads go on"

# ---- logrotate: rename, then SIGHUP reopens the log by its path ----
start_fs "$HAROMBEFS" "$CFG" "$T_DIR/mnt"
as_uid 1000 cat "$T_DIR/mnt/web/env" > /dev/null
mv "$T_DIR/log/audit.jsonl" "$T_DIR/log/audit.jsonl.1"
as_uid 1000 cat "$T_DIR/mnt/web/env" > /dev/null
kill -HUP "$T_FS_PID"
for _ in $(seq 100); do grep -q "reloaded '$CFG'" "$T_LOG" && break; sleep 0.05; done
grep -q "reloaded '$CFG'" "$T_LOG" || fail "no reload: $(tail -n 3 "$T_LOG")"
as_uid 1000 cat "$T_DIR/mnt/web/env" > /dev/null
stop_fs "$T_FS_PID" "$T_DIR/mnt"
[ "$(grep -c '"event":"secret_read"' "$T_DIR/log/audit.jsonl")" = 1 ] || fail "the read after SIGHUP is not in the new log"
[ "$(stat -c %a "$T_DIR/log/audit.jsonl")" = 600 ] || fail "the new log is not 0600"
tail -n 2 "$T_DIR/log/audit.jsonl.1" | grep -c '"event":"secret_read"' | grep -qx 2 ||
	fail "the reads before SIGHUP are not at the end of the renamed log"
ok "logrotate: after a rename, records go on in the renamed file until SIGHUP, then to a new 0600 log at the configured path"

# ---- 5. the audit log: a full disk ----
mkdir -p "$T_DIR/small"
mount -t tmpfs -o size=64k,mode=0755 harombe-full "$T_DIR/small"
T_MOUNTS+=("$T_DIR/small")
write_cfg "$T_DIR/etc/full.yaml" "$T_DIR/small/audit.jsonl"
start_fs "$HAROMBEFS" "$T_DIR/etc/full.yaml" "$T_DIR/mnt"
as_uid 1000 cat "$T_DIR/mnt/web/env" > /dev/null
dd if=/dev/zero of="$T_DIR/small/fill" bs=1k 2>/dev/null || true
got_eio=0
for _ in $(seq 200); do
	if ! as_uid 1000 cat "$T_DIR/mnt/web/env" > /dev/null 2> "$T_DIR/cat.err"; then
		grep -q "Input/output error" "$T_DIR/cat.err" || fail "a read failed, but not with EIO: $(cat "$T_DIR/cat.err")"
		got_eio=$((got_eio + 1))
		[ $got_eio -ge 3 ] && break
	fi
done
[ $got_eio -ge 3 ] || fail "reads kept working with the audit log's filesystem full"
[ "$(tail -c 1 "$T_DIR/small/audit.jsonl" | od -An -c | tr -d ' ')" = '\n' ] || fail "a half line was left in the full log"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]' "$T_DIR/small/audit.jsonl" ||
	fail "the full log holds a line that is not a whole record"
rm -f "$T_DIR/small/fill"
assert_eq "$(as_uid 1000 cat "$T_DIR/mnt/web/secrets/TOKEN")" "$HAROMBE_SECRET_WEB_TOKEN" "read once there is room again"
stop_fs "$T_FS_PID" "$T_DIR/mnt"
grep -q "cannot write audit log '$T_DIR/small/audit.jsonl'" "$T_LOG" || fail "the full log was not reported"
ok "with the log's filesystem full (64k tmpfs) reads fail with EIO, the log holds only whole lines, and reads work again once there is room"

# ---- 6. the audit log's directory: a symlink, another uid's, others may write ----
mkdir -p "$T_DIR/real"
ln -s "$T_DIR/real" "$T_DIR/linked"
write_cfg "$T_DIR/etc/l.yaml" "$T_DIR/linked/audit.jsonl"
fs_refused "$T_DIR/etc/l.yaml" "$T_DIR/mnt"
grep -qF "audit log: refusing '$T_DIR/linked/audit.jsonl': '$T_DIR/linked' is a symlink or not a directory" "$T_DIR/fs.err" ||
	fail "symlinked audit directory: $(cat "$T_DIR/fs.err")"
mkdir -p "$T_DIR/theirs"
chown 1000:1000 "$T_DIR/theirs"
write_cfg "$T_DIR/etc/t.yaml" "$T_DIR/theirs/audit.jsonl"
fs_refused "$T_DIR/etc/t.yaml" "$T_DIR/mnt"
grep -qF "audit log: refusing '$T_DIR/theirs/audit.jsonl': its directory '$T_DIR/theirs' is owned by uid 1000" "$T_DIR/fs.err" ||
	fail "audit directory of uid 1000: $(cat "$T_DIR/fs.err")"
mkdir -p -m 1777 "$T_DIR/open"
write_cfg "$T_DIR/etc/o.yaml" "$T_DIR/open/audit.jsonl"
fs_refused "$T_DIR/etc/o.yaml" "$T_DIR/mnt"
grep -qF "its directory '$T_DIR/open' is writable by group and others (mode 1777)" "$T_DIR/fs.err" ||
	fail "sticky 1777 audit directory: $(cat "$T_DIR/fs.err")"
ln -s "$T_DIR/real/elsewhere" "$T_DIR/real/audit.jsonl"
write_cfg "$T_DIR/etc/f.yaml" "$T_DIR/real/audit.jsonl"
fs_refused "$T_DIR/etc/f.yaml" "$T_DIR/mnt"
grep -qF "audit log: refusing '$T_DIR/real/audit.jsonl': it is a symlink" "$T_DIR/fs.err" || fail "symlinked log: $(cat "$T_DIR/fs.err")"
[ ! -e "$T_DIR/real/elsewhere" ] || fail "the symlink was followed"
ok "an audit log under a symlinked directory, in uid 1000's directory, in a 1777 directory, or itself a symlink is refused"

# ---- 7. the control socket, squatted ----
mkdir -p -m 1777 "$T_DIR/pub"
mkdir -p "$T_DIR/pub/mnt"
write_cfg "$T_DIR/etc/sq.yaml"
sed -i "s#mountpoint: $T_DIR/mnt#mountpoint: $T_DIR/pub/mnt#" "$T_DIR/etc/sq.yaml"
cat > "$T_DIR/squat.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
s.listen(4)
open(sys.argv[2], "w").close()
while True:
    c, _ = s.accept()
    while c.recv(1024):
        c.send(b"ok")
    c.close()
PY
# setpriv itself in the background (not the as_uid function's subshell), so
# that $! is the squatter and killing it ends it.
setpriv --reuid 1000 --regid 1000 --clear-groups -- /usr/bin/python3 "$T_DIR/squat.py" "$T_DIR/pub/mnt.ctl" \
	"$T_DIR/pub/ready" < /dev/null > /dev/null 2>&1 &
SQUAT=$!
T_PIDS+=("$SQUAT")
for _ in $(seq 100); do [ -e "$T_DIR/pub/ready" ] && break; sleep 0.05; done
[ -S "$T_DIR/pub/mnt.ctl" ] || fail "the squatter did not bind"
fs_refused "$T_DIR/etc/sq.yaml" "$T_DIR/pub/mnt"
grep -qF "control socket: '$T_DIR/pub/mnt.ctl' is taken by uid 1000 (a socket harombefs did not make); refusing to start" \
	"$T_DIR/fs.err" || fail "squatted socket: $(cat "$T_DIR/fs.err")"
# harombe talking to the squatter: mock store, same mountpoint.
mkdir -p "$T_DIR/store"
cat > "$T_DIR/etc/m.yaml" <<YAML
security:
  credentials: { provider: mock, mock_dir: $T_DIR/store }
  fs: { audit_log: $T_DIR/log/audit.jsonl, mountpoint: $T_DIR/pub/mnt }
YAML
printf 'new' | expect 3 "harombe: control socket: '$T_DIR/pub/mnt.ctl' belongs to uid 1000, not root: it is not harombefs's socket (an impostor bound it first); harombefs was NOT told to drop its cached copies" \
	"$HT" -c "$T_DIR/etc/m.yaml" vault set api/key -
kill "$SQUAT"
wait "$SQUAT" 2>/dev/null || true
ok "a control socket squatted by uid 1000 stops harombefs from starting, and harombe vault set reports the impostor (exit 3) instead of believing its 'ok'"
