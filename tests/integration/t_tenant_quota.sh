#!/bin/bash
# A hostile tenant hogs handles and locked memory of its own view: it hits
# its view's cap (EMFILE for files, ENOMEM for locked bytes), for it alone;
# other views, another view of the same uid and root's view keep working;
# the refusals are audited once per burst, not once per open; limits set per
# container in harombe.yaml apply.
. "$(dirname "$0")/lib.sh"

HOLD="$(dirname "$0")/helpers/hold.py"
cat > "$T_DIR/h.yaml" <<YAML
security:
  credentials:
    provider: env
  fs:
    audit_log: $T_DIR/audit.jsonl
    locked_memory: 1MiB
  containers:
    hog:
      uid: 1000
      secrets: { H: t/h }
    mine2:
      uid: 1000
      secrets: { M: t/m }
    tight:
      uid: 1000
      limits: { open_files: 3 }
      secrets: { M: t/m }
    fat:
      uid: 1002
      secrets: { F: t/f }
    fat2:
      uid: 1003
      secrets: { F: t/f }
    other:
      uid: 1001
      secrets: { O: t/o }
    rootview:
      secrets: { R: t/r }
YAML
VH=$(rand_token) VM=$(rand_token) VO=$(rand_token) VR=$(rand_token)
VF=$(head -c 45000 /dev/urandom | base64 -w 0)
MNT="$T_DIR/mnt"
HAROMBE_SECRET_T_H=$VH HAROMBE_SECRET_T_M=$VM HAROMBE_SECRET_T_O=$VO HAROMBE_SECRET_T_R=$VR \
	HAROMBE_SECRET_T_F=$VF start_fs "$HAROMBEFS" "$T_DIR/h.yaml" "$MNT"

# hold UID PATH MAX EXTRA NAME: a tenant holding descriptors in the background;
# its report in $out
IO="$T_DIR/io"
mkdir -p "$IO" && chmod 0777 "$IO"
hold() {
	local uid=$1 path=$2 max=$3 extra=$4 name=$5
	rm -f "$IO/$name.out" "$IO/$name.stop"
	( ulimit -n 8192; exec setpriv --reuid "$uid" --regid "$uid" --clear-groups -- \
		/usr/bin/python3 "$HOLD" "$path" "$max" "$extra" "$IO/$name.out" "$IO/$name.stop" ) >/dev/null 2>&1 &
	T_PIDS+=($!)
	for _ in $(seq 600); do [ -s "$IO/$name.out" ] && break; sleep 0.05; done
	[ -s "$IO/$name.out" ] || fail "$name: the holder did not report"
	out=$(cat "$IO/$name.out")
}
others_work() {
	[ "$(as_uid 1001 cat "$MNT/other/secrets/O")" = "$VO" ] || fail "$1: another uid's view failed"
	[ "$(cat "$MNT/rootview/secrets/R")" = "$VR" ] || fail "$1: root's view failed"
	[ "$(as_uid 1000 cat "$MNT/mine2/secrets/M")" = "$VM" ] || fail "$1: another view of the same uid failed"
}
quota_records() { grep '"event":"access_denied"' "$T_DIR/audit.jsonl" | grep "\"container\":\"$1\"" | grep -c '"reason":"quota: ' || true; }

# 1. open files: the default cap (1024) per view
hold 1000 "$MNT/hog/secrets/H" 5000 50 hog
case "$out" in "opened=1024 errno=EMFILE extra_failed=50") ;; *) fail "hog: $out" ;; esac
others_work "while one view holds 1024 files"
ok "a uid holding its view's files gets EMFILE at 1024 ($out); other views, root's and its own other view keep working"
[ "$(quota_records hog)" = 1 ] || fail "51 refused opens made $(quota_records hog) quota records (want 1)"
grep '"container":"hog"' "$T_DIR/audit.jsonl" | grep '"reason":"quota: ' |
	grep -q "view 'hog' has 1024 files open (limits.open_files 1024)" || fail "the quota record does not say why"
grep -q "refused hog/secrets/H to pid [0-9]* uid 1000: quota" "$T_LOG" || fail "the refusal is not logged"
ok "51 refusals in one burst make one access_denied record with the reason"
touch "$IO/hog.stop"
wait "${T_PIDS[-1]}"
[ "$(as_uid 1000 cat "$MNT/hog/secrets/H")" = "$VH" ] || fail "hog does not recover after closing"
# The kernel sends RELEASE after the holder's close() returns: give it a moment.
for _ in $(seq 50); do [ "$(stats | field open_handles)" = 0 ] && break; sleep 0.1; done
[ "$(stats | field open_handles)" = 0 ] || fail "handles left open"
ok "closing the files gives the view its quota back"

# 2. locked bytes: a quarter of locked_memory per view by default
base=$(stats | field locked_in_use)
hold 1002 "$MNT/fat/env" 1000 5 fat
FAT_PID=${T_PIDS[-1]}
case "$out" in "opened="*" errno=ENOMEM extra_failed=5") ;; *) fail "fat: $out" ;; esac
n=${out#opened=}; n=${n%% *}
[ "$n" -ge 2 ] && [ "$n" -le 6 ] || fail "fat held $n files of 60 KiB under a 256 KiB cap"
used=$(( $(stats | field locked_in_use) - base ))
[ "$used" -le 262144 ] || fail "one view holds $used locked bytes (cap 256 KiB)"
others_work "while one view holds its locked bytes"
hold 1003 "$MNT/fat2/env" 2 0 fat2
case "$out" in "opened=2 errno=0 "*) ;; *) fail "fat2 (another uid, the same size) while fat is at its cap: $out" ;; esac
touch "$IO/fat2.stop"
wait "${T_PIDS[-1]}"
[ "$(quota_records fat)" = 1 ] || fail "6 refusals made $(quota_records fat) records"
grep '"container":"fat"' "$T_DIR/audit.jsonl" | grep -q "limits.locked_memory 262144" || fail "ENOMEM quota record"
ok "a view holding a quarter of locked memory gets ENOMEM after $n files of 60 KiB ($used bytes locked); other views, a second large view included, still open"
touch "$IO/fat.stop"
wait "$FAT_PID"

# 3. limits set per container
out=$(as_uid 1000 "$FSPROBE" holdopen 10 "$MNT/tight/env")
case "$out" in "opened=3 errno=EMFILE"*"reopen=ok"*) ;; *) fail "tight: $out" ;; esac
ok "containers.NAME.limits.open_files: 3 caps that view at 3"

# 4. config errors name the place
cat > "$T_DIR/bad.yaml" <<YAML
security:
  fs:
    locked_memory: 1MiB
  containers:
    a:
      limits: { open_files: 0 }
YAML
out=$("$HAROMBE" -c "$T_DIR/bad.yaml" config check 2>&1) && fail "open_files: 0 accepted"
case "$out" in *"bad.yaml:6:"*"'open_files' must be at least 1"*) ;; *) fail "open_files 0: $out" ;; esac
sed -i 's/open_files: 0/locked_memory: 2MiB/' "$T_DIR/bad.yaml"
out=$("$HAROMBE" -c "$T_DIR/bad.yaml" config check 2>&1) && fail "a view cap above the arena accepted"
case "$out" in *"bad.yaml:6:"*"exceeds security.fs.locked_memory"*) ;; *) fail "cap above arena: $out" ;; esac
ok "a bad limit is refused with file:line:col"

stop_fs "$T_FS_PID" "$MNT"
