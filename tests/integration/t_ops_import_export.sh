#!/bin/bash
# harombe vault import / export: a backup round trip is byte-exact for
# adversarial keys and values (mock store, then SOPS); real .env files
# parse as people write them; a malformed file is refused by line number,
# without its content, and nothing is written; exports are 0600, atomic and
# never overwrite by accident; a failing store gives exit 3 and no file;
# the env backend exports too.  No value reaches the output or the audit log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/helpers/ops.sh"

CANARY="hrmbcnry$(rand_token 24)"
S1="$T_DIR/s1"
S2="$T_DIR/s2"
mock_config "$T_DIR/s1.yaml" "$S1"
mock_config "$T_DIR/s2.yaml" "$S2"

# The adversarial store, written byte for byte (NUL and invalid UTF-8 too).
CANARY="$CANARY" python3 - "$S1" <<'PY'
import os, sys
d = sys.argv[1]
c = os.environ["CANARY"].encode()
vals = {
    "adv/quote": b'say "hi" and \'bye\' ' + c,
    "adv/backslash": b"back\\slash\\\\ \\n \\" + c,
    "adv/newline": b"line1\nline2\n" + c + b"\n",
    "adv/crlf": b"a\r\nb\r",
    "adv/dollar": b"$HOME ${PATH} $$ $(id) $",
    "adv/backtick": b"`id` `" + c,
    "adv/utf8": "ünïcødé ☃ 🔑".encode(),
    "adv/invalid-utf8": b"\xff\xfe\x80 \xc3",
    "adv/empty": b"",
    "adv/spaces": b"  leading and trailing  ",
    "adv/hash": b"#not a comment # x",
    "adv/eq": b"a=b=c",
    "adv/nul": b"a\x00b\x00",
    "adv/tab": b"\tx\t",
    "adv/export": b"export X=1",
    "adv/quotes-only": b'"\'"',
    "adv/trailing-backslash": b"end\\",
    "key with spaces": b"v",
    "quote\"key'x=y": b"v2",
    "ключ/ü": b"v3",
    "adv/field#f": b"field value",
}
for i in range(40):
    vals["rand/%02d" % i] = os.urandom(i * 7)
for k, v in vals.items():
    with open(os.path.join(d, k.replace("/", "%2F").replace("#", "%23")), "wb") as f:
        f.write(v)

PY
N=$(ls "$S1" | wc -l)

expect 0 "harombe: warning: '$T_DIR/backup.env' holds $N secrets in plaintext; keep it off shared disks and delete it when done" \
	"$HT" -c "$T_DIR/s1.yaml" vault export "$T_DIR/backup.env"
[ "$(cat "$T_DIR/out")" = "exported $N keys from mock to $T_DIR/backup.env" ] || fail "export report: $(cat "$T_DIR/out")"
[ "$(stat -c %a "$T_DIR/backup.env")" = 600 ] || fail "backup mode $(stat -c %a "$T_DIR/backup.env")"
no_trace "$CANARY" "$T_DIR/out" "$T_DIR/err"
ok "vault export writes $N secrets to a 0600 file and warns that it holds plaintext"

expect 0 "" "$HT" -c "$T_DIR/s2.yaml" vault import "$T_DIR/backup.env"
no_trace "$CANARY" "$T_DIR/out" "$T_DIR/err"
grep -q "^imported $N keys into mock: " "$T_DIR/out" || fail "import report: $(cat "$T_DIR/out")"
diff -r "$S1" "$S2" > /dev/null || fail "the imported store differs from the exported one"
expect 0 "" "$HT" -c "$T_DIR/s2.yaml" vault export "$T_DIR/backup2.env"
cmp -s <(tail -n +3 "$T_DIR/backup.env") <(tail -n +3 "$T_DIR/backup2.env") || fail "export(import(export)) differs"
ok "import(export(x)) is byte-exact for every key and value: quotes, backslashes, newlines, CR, \$, backticks, UTF-8 and invalid UTF-8, NUL, empty, spaces, '#', '=', 40 random binary values"

# audit: one secret_write per imported key, one secret_read for each export, no value
[ "$(grep -c '"event":"secret_write".*"action":"import","result":"ok"' "$T_DIR/audit.jsonl")" = "$N" ] ||
	fail "expected $N secret_write records"
[ "$(grep -c '"event":"secret_read".*"action":"export"' "$T_DIR/audit.jsonl")" = 2 ] || fail "export not audited"
no_trace "$CANARY" "$T_DIR/audit.jsonl"
ok "each imported key is audited as secret_write and each export as secret_read, without values"

# --prefix both ways; --dry-run writes nothing
rm -rf "$S2"/*
expect 0 "" "$HT" -c "$T_DIR/s1.yaml" vault export --prefix adv "$T_DIR/adv.env"
head -n 2 "$T_DIR/adv.env" | grep -q "import --prefix adv/ FILE" || fail "header names the prefix"
grep -q '^quote=' "$T_DIR/adv.env" || fail "--prefix is left out of exported keys"
expect 0 "" "$HT" -c "$T_DIR/s2.yaml" vault import --dry-run --prefix backup/adv "$T_DIR/adv.env"
[ -z "$(ls "$S2")" ] || fail "--dry-run wrote"
grep -q "^would import 18 keys from $T_DIR/adv.env: backup/adv/backslash, " "$T_DIR/out" || fail "dry run: $(cat "$T_DIR/out")"
expect 0 "" "$HT" -c "$T_DIR/s2.yaml" vault import --prefix backup/adv/ "$T_DIR/adv.env"
cmp -s "$(mock_file "$S1" adv/nul)" "$(mock_file "$S2" backup/adv/nul)" || fail "prefixed import"
[ "$(ls "$S2" | wc -l)" = 18 ] || fail "prefixed import wrote $(ls "$S2" | wc -l) keys"
ok "--prefix selects and strips on export, places on import; --dry-run lists without writing"

# A .env file as people write them.
cat > "$T_DIR/real.env" <<'ENV'
# Production settings -- generated 2024-01-01
export DATABASE_URL="postgres://app:pa ss@db/app?sslmode=require" # prod db

API_KEY=abc123   # inline comment
EMPTY=
QUOTED_HASH="value # not a comment"
SINGLE='literal $HOME \n'
ESCAPED="tab\there\nnew \"line\" \$HOME"
  SPACED = spaced value
PEM="-----BEGIN KEY-----
MIIB
-----END KEY-----"
URL=https://example.com/a#frag
ENV
printf 'WINDOWS="crlf"\r\nLAST=no newline at end' >> "$T_DIR/real.env"
rm -rf "$S2"/*
expect 0 "" "$HT" -c "$T_DIR/s2.yaml" vault import "$T_DIR/real.env"
check_val() {	# check_val KEY VALUE
	cmp -s "$(mock_file "$S2" "$1")" <(printf '%s' "$2") || fail "$1 was not read as expected"
}
check_val DATABASE_URL 'postgres://app:pa ss@db/app?sslmode=require'
check_val API_KEY abc123
check_val EMPTY ''
check_val QUOTED_HASH 'value # not a comment'
check_val SINGLE 'literal $HOME \n'
check_val ESCAPED $'tab\there\nnew "line" $HOME'
check_val SPACED 'spaced value'
check_val PEM $'-----BEGIN KEY-----\nMIIB\n-----END KEY-----'
check_val URL 'https://example.com/a#frag'
check_val WINDOWS crlf
check_val LAST 'no newline at end'
[ "$(ls "$S2" | wc -l)" = 11 ] || fail "real.env gave $(ls "$S2" | wc -l) keys"
ok "a real .env: comments, export, blank lines, inline comments, both quotes with escapes, multi-line, spaces, CRLF"

# Malformed files: the line number and what is wrong, never the content,
# and nothing written.
bad() {	# bad 'TEXT' 'MESSAGE'
	printf '%s' "$1" > "$T_DIR/bad.env"
	rm -rf "$S2"/*
	expect 2 "harombe: $T_DIR/bad.env: $2; nothing was imported" "$HT" -c "$T_DIR/s2.yaml" vault import "$T_DIR/bad.env"
	[ -z "$(ls "$S2")" ] || fail "a malformed file wrote something"
	no_trace "$CANARY" "$T_DIR/err" "$T_DIR/out"
}
bad "A=1
B=2
$CANARY
C=3" "line 3: expected '=' after the key"
bad "A=1
$CANARY more words=1" "line 2: expected '=' after the key, found another character"
bad "A=1
B=\"$CANARY

C=3" "line 2: unterminated double-quoted value (no closing \")"
bad "A='$CANARY" "line 1: unterminated single-quoted value (no closing ')"
bad "A=\"x\"$CANARY" "line 1: unexpected text after the closing quote"
bad "A=1
A=$CANARY" "line 2: the key is already set on line 1"
bad "a/../b=$CANARY" "line 1: the key has a '.' or '..' segment"
bad "ghp_${CANARY}0123456789=" "line 1: the key looks like a credential (GitHub token), not a name"
bad "=$CANARY" "line 1: expected KEY=VALUE"
expect 2 "harombe: cannot open '$T_DIR/none.env': No such file or directory" \
	"$HT" -c "$T_DIR/s2.yaml" vault import "$T_DIR/none.env"
printf '# only a comment\n' > "$T_DIR/empty.env"
expect 1 "harombe: $T_DIR/empty.env: no KEY=value lines; nothing to import" "$HT" -c "$T_DIR/s2.yaml" vault import "$T_DIR/empty.env"
expect 2 "harombe: --prefix 'a//b' has an empty segment ('//')" "$HT" -c "$T_DIR/s2.yaml" vault import --prefix a//b "$T_DIR/real.env"
ok "malformed files are refused with exit 2 by line number, never echoing content, and nothing is written"

# Export safety.
echo keep > "$T_DIR/exists.env"
expect 2 "harombe: '$T_DIR/exists.env' exists; use --force to replace it" "$HT" -c "$T_DIR/s1.yaml" vault export "$T_DIR/exists.env"
[ "$(cat "$T_DIR/exists.env")" = keep ] || fail "export overwrote without --force"
expect 0 "" "$HT" -c "$T_DIR/s1.yaml" vault export --force "$T_DIR/exists.env"
cmp -s "$T_DIR/exists.env" "$T_DIR/backup.env" || fail "--force export differs"
[ "$(stat -c %a "$T_DIR/exists.env")" = 600 ] || fail "--force export is not 0600"
expect 0 "" "$HT" -c "$T_DIR/s1.yaml" vault export - 
cmp -s "$T_DIR/out" "$T_DIR/backup.env" || fail "export to stdout differs"
ok "export refuses to overwrite without --force, replaces atomically with it (0600), and can write to stdout"

# The store failing: exit 3, and no file (not even a temporary one).
echo EIO > "$S1/_all.err"
mkdir "$T_DIR/exp"
expect 3 "harombe: cannot list '' in mock: unavailable: mock store fails every key" \
	"$HT" -c "$T_DIR/s1.yaml" vault export "$T_DIR/exp/down.env"
[ -z "$(ls -A "$T_DIR/exp")" ] || fail "a failed export left $(ls -A "$T_DIR/exp")"
rm "$S1/_all.err"
echo ETIMEDOUT > "$(mock_file "$S1" adv/utf8).err"
expect 3 "harombe: cannot get 'adv/utf8' from mock: timed out: mock store fails 'adv/utf8'" \
	"$HT" -c "$T_DIR/s1.yaml" vault export "$T_DIR/exp/down.env"
grep -qx "harombe: nothing was exported" "$T_DIR/err" || fail "no 'nothing was exported'"
[ -z "$(ls -A "$T_DIR/exp")" ] || fail "a failed export left $(ls -A "$T_DIR/exp")"
rm "$(mock_file "$S1" adv/utf8).err"
echo EIO > "$S2/_all.err"
expect 3 "harombe: cannot set 'DATABASE_URL' in mock: unavailable: mock store fails every key" \
	"$HT" -c "$T_DIR/s2.yaml" vault import "$T_DIR/real.env"
grep -q "^harombe: imported 0 of 11 keys before that; not imported: DATABASE_URL, API_KEY," "$T_DIR/err" ||
	fail "partial report: $(cat "$T_DIR/err")"
grep '"keys":\["DATABASE_URL"\]' "$T_DIR/audit.jsonl" | grep -q '"result":"error","reason":"mock store fails every key"' ||
	fail "failed write not audited"
rm "$S2/_all.err"
ok "a failing store: export exits 3 and leaves no file; import exits 3, says what was and was not written, audits the failure"

# The env backend: its variables export, and import elsewhere exactly.
cat > "$T_DIR/env.yaml" <<YAML
security:
  credentials: { provider: env }
  fs: { audit_log: $T_DIR/audit.jsonl }
YAML
V_ML=$'multi\nline "q" $x'
HAROMBE_SECRET_APP_TOKEN="tok-$CANARY" HAROMBE_SECRET_APP_ML="$V_ML" \
	expect 0 "" "$HAROMBE" -c "$T_DIR/env.yaml" vault export "$T_DIR/env.env"
rm -rf "$S2"/*
expect 0 "" "$HT" -c "$T_DIR/s2.yaml" vault import "$T_DIR/env.env"
check_val app/token "tok-$CANARY"
check_val app/ml "$V_ML"
ok "the env backend exports its variables; importing them elsewhere gives the same values"

# SOPS: a real encrypted file as the store (values it can hold: UTF-8).
cp "$TOP/tests/fixtures/sops/keys.txt" "$T_DIR/keys.txt"
PUB=$(sed -n 's/^# public key: //p' "$T_DIR/keys.txt")
cat > "$T_DIR/sops.yaml" <<YAML
security:
  credentials:
    provider: sops
    secrets_file: $T_DIR/secrets.enc.json
    key_file: $T_DIR/keys.txt
  fs: { audit_log: $T_DIR/audit.jsonl }
YAML
"$HAROMBE" -c "$T_DIR/sops.yaml" vault create --age "$PUB" "$T_DIR/secrets.enc.json" > /dev/null
expect 0 "" "$HT" -c "$T_DIR/s1.yaml" vault export --prefix adv "$T_DIR/adv-all.env"
# (sops stores KEY#field as the nested KEY/field, so that one is left out)
grep -v -e '^nul=' -e '^invalid-utf8=' -e '^field#f=' "$T_DIR/adv-all.env" > "$T_DIR/adv-utf8.env"
expect 0 "" "$HAROMBE" -c "$T_DIR/sops.yaml" vault import --prefix adv "$T_DIR/adv-utf8.env"
no_trace "$CANARY" "$T_DIR/secrets.enc.json"
expect 0 "" "$HAROMBE" -c "$T_DIR/sops.yaml" vault export "$T_DIR/from-sops.env"
rm -rf "$S2"/*
expect 0 "" "$HT" -c "$T_DIR/s2.yaml" vault import "$T_DIR/from-sops.env"
for f in "$S2"/*; do
	cmp -s "$f" "$S1/$(basename "$f")" || fail "sops round trip changed $(basename "$f")"
done
[ "$(ls "$S2" | wc -l)" = 15 ] || fail "sops round trip kept $(ls "$S2" | wc -l) of 15 keys"
ok "through a SOPS file (encrypted on disk): import then export gives the same 15 UTF-8 values byte for byte"

no_trace "$CANARY" "$T_DIR/audit.jsonl"
ok "the canary never reached the audit log"
