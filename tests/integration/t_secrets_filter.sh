#!/bin/bash
# harombe secrets filter: redaction that keeps the shape, alerts and audit
# without the value, line buffering, secrets cut by a pause, bad input.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scanlib.sh"

GH=$(gh_token)
PW=$(fake_password)
KEY=$(pem_block RSA)
OUT=$T_DIR/out
ERR=$T_DIR/err

# ---- redaction keeps the shape ----
{
	echo "export GITHUB_TOKEN=$GH"
	echo "{\"api_key\": \"$GH\", \"user\": \"ci\"}"
	echo "DATABASE_URL=postgresql://app:$PW@db.internal:5432/prod"
	echo "password=$PW"
	echo "$KEY"
	echo "the end"
} > "$T_DIR/in"
"$HAROMBE" secrets filter --source tool:bash --audit-log "$T_DIR/audit.jsonl" < "$T_DIR/in" > "$OUT" 2> "$ERR"
expected=$'export GITHUB_TOKEN=[REDACTED]\n{"api_key": "[REDACTED]", "user": "ci"}\nDATABASE_URL=postgresql://app:[REDACTED]@db.internal:5432/prod\npassword=[REDACTED]\n[REDACTED]\nthe end'
assert_eq "$(cat "$OUT")" "$expected" "redacted output"
python3 -c 'import json,sys; json.loads(open(sys.argv[1]).read().split("\n")[1])' "$OUT" ||
	fail "the JSON line is no longer JSON"
ok "KEY=[REDACTED], JSON stays JSON, a URL keeps all but its password, a PEM block is one marker"

no_run "$OUT" "$GH" "stdout"
no_run "$ERR" "$GH" "stderr"
no_run "$ERR" "$PW" "stderr"
grep -q 'leak detected in tool:bash: github_token (rule github_token, confidence 0.95, starts with "gh'p'_") at line 1' "$ERR" ||
	fail "no alert for the GitHub token: $(head -c 300 "$ERR")"
[ "$(grep -c 'leak detected' "$ERR")" -eq 5 ] || fail "expected 5 alerts, got $(grep -c 'leak detected' "$ERR")"
ok "alerts on stderr name source, type, rule, line and the public prefix only"

no_run "$T_DIR/audit.jsonl" "$GH" "audit log"
no_run "$T_DIR/audit.jsonl" "$PW" "audit log"
python3 - "$T_DIR/audit.jsonl" <<'EOF' || fail "audit records are wrong"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 5, len(recs)
for r in recs:
    assert r["event"] == "leak_detected", r
    assert r["source"] == "tool:bash", r
    assert r["result"] == "redacted", r
    for k in ("type", "rule", "confidence", "offset", "line", "time"):
        assert k in r, (k, r)
assert recs[0]["type"] == "github_token" and recs[0]["line"] == 1 and recs[0]["offset"] == 20
assert recs[0]["marker"] == "gh" + "p_"
assert [r["type"] for r in recs] == ["github_token", "github_token", "database_url", "password", "private_key"], recs
EOF
[ "$(stat -c %a "$T_DIR/audit.jsonl")" = 600 ] || fail "audit log mode"
ok "leak_detected in the audit log: type, rule, confidence, offset, source; never the value"

# the audit log named by the config, as every other event
cat > "$T_DIR/harombe.yaml" <<EOF
security:
  credentials:
    provider: env
  fs:
    audit_log: $T_DIR/cfg-audit.jsonl
EOF
echo "token: $GH" | "$HAROMBE" -c "$T_DIR/harombe.yaml" secrets filter --quiet > /dev/null
grep -q '"event":"leak_detected"' "$T_DIR/cfg-audit.jsonl" || fail "no leak_detected in the config's audit log"
[ ! -s "$ERR.q" ] || true
ok "without --audit-log, leak_detected goes to security.fs.audit_log"

# ---- replacement text, exit status ----
out=$(echo "password=$PW" | "$HAROMBE" secrets filter --quiet --with-type)
assert_eq "$out" "password=[REDACTED:password]" "--with-type"
out=$(echo "password=$PW" | "$HAROMBE" secrets filter --quiet --replacement '***')
assert_eq "$out" "password=***" "--replacement"
rc_of sh -c "echo 'password=$PW' | '$HAROMBE' secrets filter --quiet > /dev/null"
rc=$RC
[ "$rc" -eq 0 ] || fail "filter exits $rc with findings (a pipeline stage must not fail)"
out=$(echo "password=$PW" | "$HAROMBE" secrets filter --quiet --min-confidence 0.9)
assert_eq "$out" "password=$PW" "--min-confidence 0.9 keeps a 0.8 finding"
ok "--replacement, --with-type, --min-confidence; exit 0"

# ---- line buffered: output before the input ends ----
mkfifo "$T_DIR/fin" "$T_DIR/fout"
"$HAROMBE" secrets filter --quiet < "$T_DIR/fin" > "$T_DIR/fout" &
fpid=$!
exec {W}> "$T_DIR/fin" {R}< "$T_DIR/fout"
echo "first line password=$PW" >&"$W"
read -r -t 20 line <&"$R" || fail "a complete line did not come out while the input stayed open"
assert_eq "$line" "first line password=[REDACTED]" "first line"
printf 'Password: ' >&"$W"
read -r -t 20 -N 10 prompt <&"$R" || fail "a partial line (a prompt) did not come out after a pause"
assert_eq "$prompt" "Password: " "prompt"
# a token cut by a pause: the part after the pause is redacted too
printf 'export GITHUB_TOKEN=%s' "${GH:0:14}" >&"$W"
sleep 0.5
printf '%s done\n' "${GH:14}" >&"$W"
read -r -t 20 line <&"$R" || fail "no output after the cut token"
case "$line" in *"${GH:14:8}"*|*"${GH:20:8}"*) fail "the tail of a token cut by a pause leaked" ;; esac
[[ "$line" == *"[REDACTED]"*" done" ]] || fail "cut token: unexpected line"
# a PEM block cut by a pause
mapfile -t pem < <(pem_block EC)
printf '%s\n%s\n' "${pem[0]}" "${pem[1]}" >&"$W"
sleep 0.5
printf '%s\n' "${pem[@]:2}" >&"$W"
echo "after key" >&"$W"
exec {W}>&-
cat <&"$R" > "$OUT"
exec {R}<&-
wait "$fpid" || fail "filter failed"
for l in "${pem[@]:1:6}"; do grep -qF -- "$l" "$OUT" && fail "a PEM body line cut by a pause leaked"; done
grep -q "after key" "$OUT" || fail "lost the line after the key"
ok "line-buffered: lines out before EOF, prompts after a pause; a token or PEM block cut by a pause stays redacted"

# ---- bad input ----
{ head -c 200000 /dev/urandom; printf ' %s ' "$GH"; head -c 200000 /dev/urandom; } > "$T_DIR/bin"
"$HAROMBE" secrets filter --quiet < "$T_DIR/bin" > "$OUT"
no_run "$OUT" "$GH" "binary input"
[ "$(stat -c %s "$OUT")" -gt 390000 ] || fail "binary input was truncated"
printf 'a\0b\xff\xfe\xc0 password=%s \x80\0\n' "$PW" | "$HAROMBE" secrets filter --quiet > "$OUT"
no_run "$OUT" "$PW" "NUL bytes and invalid UTF-8"
grep -qa 'password=\[REDACTED\]' "$OUT" || fail "NUL/invalid UTF-8 line not redacted"
{ head -c 4000000 /dev/zero | tr '\0' 'x'; printf ' %s ' "$GH"; head -c 4000000 /dev/zero | tr '\0' 'y'; } |
	"$HAROMBE" secrets filter --quiet > "$OUT"
no_run "$OUT" "$GH" "8 MB line"
[ "$(stat -c %s "$OUT")" -eq $((8000000 + 2 + 10)) ] || fail "8 MB line: wrong length"
ok "binary data, NUL bytes, invalid UTF-8 and an 8 MB line"

rc_of "$HAROMBE" secrets filter --no-such-option < /dev/null 2> "$ERR"
rc=$RC
[ "$rc" -eq 2 ] || fail "unknown option: exit $rc"
rc_of "$HAROMBE" --format sarif secrets filter < /dev/null 2> "$ERR"
rc=$RC
[ "$rc" -eq 2 ] || fail "--format sarif with filter: exit $rc"
rc_of "$HAROMBE" secrets filter --rules "$T_DIR/nope.yaml" < /dev/null 2> "$ERR"
rc=$RC
[ "$rc" -eq 2 ] && grep -q "nope.yaml" "$ERR" || fail "missing rules file: exit $rc"
ok "usage errors exit 2"
