#!/bin/bash
# Known values: --known FILE and --known-from a real harombefs view, in
# every encoding the scanner promises (raw, base64, base64url, hex, URL).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scanlib.sh"

OUT=$T_DIR/out
ERR=$T_DIR/err
# Values no rule would find on their own: only knowing them catches them.
V1="correct horse $(rand_token 6) staple"
V2="tiny+$(rand_token 5)/val=ue"

b64() { printf '%s' "$1" | base64 -w0; }
b64url() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
urlenc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""), end="")' "$1"; }

check_forms() {	# check_forms ARGS...: every form of V1 and V2 is redacted
	{
		echo "raw: $V1"
		echo "b64: $(b64 "$V1")"
		echo "b64url: $(b64url "$V2")"
		echo "hex: $(hex "$V1")"
		echo "url: /login?pw=$(urlenc "$V2")&next=/"
		echo "docker: {\"auth\": \"$(b64 "deploy:$V2")\"}"
		echo "clean line"
	} | "$HAROMBE" secrets filter --no-entropy "$@" > "$OUT" 2> "$ERR"
	for v in "$V1" "$V2" "$(b64 "$V1")" "$(b64url "$V2")" "$(hex "$V1")" "$(urlenc "$V2")"; do
		no_run "$OUT" "$v" "known value form"
	done
	[ "$(grep -c '\[REDACTED\]' "$OUT")" -eq 6 ] || fail "expected 6 redacted lines: $(cat "$OUT")"
	grep -qx "clean line" "$OUT" || fail "lost the clean line"
	no_run "$ERR" "$V1" "alerts"
}

# ---- --known FILE (one per line, CRLF tolerated) ----
printf '%s\r\n%s\n\nab\n' "$V1" "$V2" > "$T_DIR/known.txt"
check_forms --known "$T_DIR/known.txt"
grep -q "known value $T_DIR/known.txt:1" "$ERR" || fail "alert does not name the line: $(cat "$ERR")"
grep -q "known.txt:4: the value is shorter than 4 bytes; not matched" "$ERR" || fail "short value not warned"
ok "--known FILE: raw, base64, base64url, hex, URL-encoded, inside a docker auth blob; named by line"

# ---- --known-from a harombefs view ----
# the env backend: HAROMBE_SECRET_<KEY>, read by the daemon
export HAROMBE_SECRET_DB_PASSWORD="$V1"
export HAROMBE_SECRET_APP_KEY="$V2"$'\n'	# stored with a final newline
cat > "$T_DIR/harombe.yaml" <<EOF
security:
  credentials:
    provider: env
  fs:
    audit_log: $T_DIR/fs-audit.jsonl
  containers:
    agent:
      secrets:
        DB_PASSWORD: db/password
        APP_KEY: app/key
EOF
MNT=$T_DIR/mnt
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
[ -r "$MNT/agent/secrets/DB_PASSWORD" ] || fail "the view is not there"
check_forms --known-from "$MNT/agent"
grep -q "known value DB_PASSWORD" "$ERR" || fail "alert does not name the secret: $(cat "$ERR")"
grep -q "known value APP_KEY" "$ERR" || fail "APP_KEY (stored with a newline) not matched"
grep -q '"event":"secret_read"' "$T_DIR/fs-audit.jsonl" || fail "values were not read through harombefs"
ok "--known-from a mounted harombefs view: its secrets/* are matched in every form, named by variable"

rc_of "$HAROMBE" secrets filter --known-from "$T_DIR/nope" < /dev/null 2> "$ERR"
rc=$RC
[ "$rc" -eq 2 ] && grep -q "cannot read the view" "$ERR" || fail "missing view: exit $rc"
ok "a missing view is an error"

stop_fs "$T_FS_PID" "$MNT"
ok "harombefs exits 0 on SIGTERM and unmounts"
