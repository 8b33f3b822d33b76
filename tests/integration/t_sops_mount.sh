#!/bin/bash
# harombefs with provider sops serves views from a real sops-written YAML
# file (flat and nested keys, a float), follows edits made underneath it
# (atomic replace by `harombe vault set`, an in-place rewrite of the same
# inode, a delete) without a restart, and refuses a tampered file on open:
# EIO, the reason in the audit log, and no stale value served.
. "$(dirname "$0")/lib.sh"

FIX="$TOP/tests/fixtures/sops"
S="$T_DIR/secrets.enc.yaml"
cp "$FIX/age-example.yaml" "$S"
cp "$FIX/keys.txt" "$T_DIR/keys.txt"
cat > "$T_DIR/h.yaml" <<YAML
security:
  credentials:
    provider: sops
    secrets_file: $S
    key_file: $T_DIR/keys.txt
  fs:
    audit_log: $T_DIR/audit.jsonl
  containers:
    app:
      secrets:
        GITHUB_TOKEN: github/token
        DB_PASSWORD: app2/db/password
        DB_USER: app2/db#user
        NUMBER: number
YAML
T1="ghp_$(rand_token 36)"
T2="ghp_$(rand_token 36)"
"$HAROMBE" -c "$T_DIR/h.yaml" vault set github/token "$T1"
MNT="$T_DIR/mnt"
start_fs "$HAROMBEFS" "$T_DIR/h.yaml" "$MNT"

assert_eq "$(cat "$MNT/app/secrets/GITHUB_TOKEN")" "$T1" "flat key"
assert_eq "$(cat "$MNT/app/secrets/DB_PASSWORD")" "c4r1b0u" "nested key"
assert_eq "$(cat "$MNT/app/secrets/DB_USER")" "eve" "path#field"
assert_eq "$(cat "$MNT/app/secrets/NUMBER")" "1234568000" "float value"
out=$(bash -c 'set -a; . "$1"; printf "%s|%s" "$GITHUB_TOKEN" "$DB_USER"' _ "$MNT/app/env")
assert_eq "$out" "$T1|eve" "env view sourced by bash"
ok "views from a sops-written YAML file"

# The file decrypted and unchanged: opens are served on the loop thread
# (fs/open.c), none handed to the open workers (the daemon's stats).
w0=$(stats | field open_to_workers)
for _ in $(seq 50); do cat "$MNT/app/env" "$MNT/app/secrets/GITHUB_TOKEN" > /dev/null; done
w1=$(stats | field open_to_workers)
[ -n "$w0" ] && [ "$w1" = "$w0" ] || fail "100 opens of an unchanged SOPS file went to the workers $((w1 - w0)) times"
ok "100 opens of an unchanged, decrypted file: served on the loop thread"

"$HAROMBE" -c "$T_DIR/h.yaml" vault set github/token "$T2"
assert_eq "$(cat "$MNT/app/secrets/GITHUB_TOKEN")" "$T2" "after an atomic replace"
w2=$(stats | field open_to_workers)
[ "$w2" = $((w1 + 1)) ] || fail "the first open after an edit went to the workers $((w2 - w1)) times, not once (to decrypt it again)"
ok "an edit underneath (new inode) is served on the next open, decrypted again by a worker"

# In place, same inode: the file as it was before the last edit.
cp "$S" "$T_DIR/after-t2.yaml"
"$HAROMBE" -c "$T_DIR/h.yaml" vault set github/token "$T1"
cp "$S" "$T_DIR/after-t1.yaml"
ino=$(stat -c %i "$S")
cat "$T_DIR/after-t2.yaml" > "$S"
[ "$(stat -c %i "$S")" = "$ino" ] || fail "the in-place rewrite changed the inode"
assert_eq "$(cat "$MNT/app/secrets/GITHUB_TOKEN")" "$T2" "after an in-place rewrite"
ok "an in-place rewrite (same inode) is served on the next open"

# Tampered: one ENC value moved to another key.  Refused, and the value
# from before is not served either.
awk '/^myapp1:/ { m = $2 } /^number:/ { sub(/ENC.*/, m) } { print }' "$T_DIR/after-t1.yaml" > "$T_DIR/bad.yaml"
cat "$T_DIR/bad.yaml" > "$S"
if cat "$MNT/app/secrets/GITHUB_TOKEN" > "$T_DIR/out" 2> "$T_DIR/err"; then
	fail "a tampered file was served"
fi
grep -q "Input/output error" "$T_DIR/err" || fail "tampered file: not EIO: $(cat "$T_DIR/err")"
[ ! -s "$T_DIR/out" ] || fail "tampered file: bytes were returned"
grep -q '"result":"error"\|tampered' "$T_DIR/audit.jsonl" || fail "no audit record of the refusal"
grep -q "tampered\|authenticate" "$T_DIR/audit.jsonl" || fail "the audit record does not say tampered"
ok "a tampered file is refused with EIO and audited"

cat "$T_DIR/after-t1.yaml" > "$S"
assert_eq "$(cat "$MNT/app/secrets/GITHUB_TOKEN")" "$T1" "after the fix"
"$HAROMBE" -c "$T_DIR/h.yaml" vault delete github/token
if cat "$MNT/app/secrets/GITHUB_TOKEN" > /dev/null 2> "$T_DIR/err"; then
	fail "a deleted key was served"
fi
grep -q "No such file" "$T_DIR/err" || fail "deleted key: not ENOENT: $(cat "$T_DIR/err")"
assert_eq "$(cat "$MNT/app/secrets/DB_PASSWORD")" "c4r1b0u" "other keys after the delete"
ok "a repaired file is served again; a deleted key is ENOENT"

if grep -q -e "$T1" -e "$T2" -e c4r1b0u "$T_DIR/audit.jsonl" "$T_LOG" "$S"; then
	fail "a value reached the audit log, the daemon log or the file"
fi
stop_fs "$T_FS_PID" "$MNT"
ok "no value in the audit log, the daemon log or on disk"
