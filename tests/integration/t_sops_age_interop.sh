#!/bin/bash
# harombe's age and the real `age` tool read each other, in both
# directions, at sizes around the 64 KiB chunk boundary, binary and armored;
# every SOPS file harombe creates or rewrites (JSON, YAML, dotenv, INI) keeps
# a data key that `age -d` unwraps, the same key before and after writes,
# and harombe reads a file whose data key was wrapped by `age -r`.
. "$(dirname "$0")/lib.sh"

AGETOOL="$BUILD/tests/tools/agetool"
ENC="$TOP/tests/integration/helpers/sops_enc.py"
command -v age >/dev/null || fail "the age tool is missing (scripts/deps.sh installs Debian's age)"
[ -x "$AGETOOL" ] || fail "$AGETOOL is not built"
cd "$T_DIR"
age-keygen -o k1.txt 2>/dev/null
age-keygen -o k2.txt 2>/dev/null
P1=$(age-keygen -y k1.txt)
P2=$(age-keygen -y k2.txt)

for size in 0 1 32 65535 65536 65537 200000; do
	head -c "$size" /dev/urandom > p.bin
	age -r "$P1" -o c.age p.bin
	"$AGETOOL" decrypt k1.txt < c.age > out.bin || fail "harombe cannot decrypt age -r ($size bytes)"
	cmp -s p.bin out.bin || fail "harombe decrypted age -r output wrongly ($size bytes)"
	age -r "$P1" -a -o c.asc p.bin
	"$AGETOOL" decrypt k1.txt < c.asc > out.bin || fail "harombe cannot decrypt age -r -a ($size bytes)"
	cmp -s p.bin out.bin || fail "harombe decrypted age -r -a output wrongly ($size bytes)"
	"$AGETOOL" encrypt "$P1" < p.bin > h.age
	age -d -i k1.txt -o out.bin h.age || fail "age cannot decrypt harombe's file ($size bytes)"
	cmp -s p.bin out.bin || fail "age decrypted harombe's file wrongly ($size bytes)"
	"$AGETOOL" encrypt "$P1" --armor < p.bin > h.asc
	age -d -i k1.txt -o out.bin h.asc || fail "age cannot decrypt harombe's armor ($size bytes)"
	cmp -s p.bin out.bin || fail "age decrypted harombe's armor wrongly ($size bytes)"
done
ok "age <-> harombe, 0..200000 bytes, binary and armored"

age -r "$P2" -o c.age p.bin
if "$AGETOOL" decrypt k1.txt < c.age > out.bin 2> err.txt; then fail "decrypted with the wrong identity"; fi
grep -q "matches" err.txt || fail "wrong-identity message: $(cat err.txt)"
ok "a file for another recipient is refused"

V1="ghp_$(rand_token 36)"
V2="$(rand_token 20)"
for ext in json yaml env ini; do
	F="$T_DIR/s.$ext"
	printf 'security:\n  credentials:\n    provider: sops\n    secrets_file: %s\n    key_file: %s\n  fs:\n    audit_log: %s\n' \
		"$F" "$T_DIR/k1.txt" "$T_DIR/audit.jsonl" > "h.$ext.yaml"
	"$HAROMBE" vault create --provider sops --age "$P1,$P2" "$F" > /dev/null
	python3 "$ENC" get "$F" 0 | age -d -i k1.txt > key0 || fail "$ext: age cannot unwrap entry 0"
	python3 "$ENC" get "$F" 1 | age -d -i k2.txt > key1 || fail "$ext: age cannot unwrap entry 1"
	[ "$(stat -c %s key0)" = 32 ] || fail "$ext: the data key is not 32 bytes"
	cmp -s key0 key1 || fail "$ext: the two recipients unwrap different keys"
	"$HAROMBE" -c "h.$ext.yaml" vault set github/token "$V1"
	"$HAROMBE" -c "h.$ext.yaml" vault set db/password "$V2"
	assert_eq "$("$HAROMBE" -c "h.$ext.yaml" vault get github/token)" "$V1" "$ext: get github/token"
	"$HAROMBE" -c "h.$ext.yaml" vault delete github/token
	set +e
	"$HAROMBE" -c "h.$ext.yaml" vault get github/token > /dev/null 2>&1
	rc=$?
	set -e
	[ "$rc" = 1 ] || fail "$ext: a deleted key gives exit $rc, not 1"
	assert_eq "$("$HAROMBE" -c "h.$ext.yaml" vault get db/password)" "$V2" "$ext: get db/password"
	python3 "$ENC" get "$F" 0 | age -d -i k1.txt > key2 || fail "$ext: age cannot unwrap after writes"
	cmp -s key0 key2 || fail "$ext: the data key changed on set/delete"
	if grep -q -e "$V1" -e "$V2" "$F"; then fail "$ext: plaintext on disk"; fi
	[ "$(stat -c %a "$F")" = 600 ] || fail "$ext: new file is not 0600"
	cp key0 "key.$ext"
done
ok "create, set, delete in json, yaml, dotenv, ini: age unwraps the same data key throughout"

# The data key wrapped by age -r instead of harombe.
age -r "$P1" -a -o wrapped.asc key.json
cp s.json s2.json
python3 "$ENC" put s2.json 0 wrapped.asc
sed "s|$T_DIR/s.json|$T_DIR/s2.json|" h.json.yaml > h2.yaml
assert_eq "$("$HAROMBE" -c h2.yaml vault get db/password)" "$V2" "file wrapped by age -r"
ok "harombe reads a data key that age -r wrapped"
