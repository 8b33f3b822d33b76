#!/bin/bash
# harombe sops as a sops user drives it, with no harombe.yaml:
#   - every fixture the real sops wrote decrypts to its expected values
#     (yaml, json, ini, binary; --extract; --output-type), tampered ones fail;
#   - what `harombe sops encrypt` writes follows specs/sops.md: the real age
#     tool opens the data key from sops.age[].enc, and an independent Python
#     check (helpers/sops_mac.py) decrypts each value with its path as AAD and
#     recomputes the MAC; round trips for yaml, json, dotenv, ini, binary;
#   - .sops.yaml creation rules (path_regex, age, encrypted_regex,
#     mac_only_encrypted, key_groups of age keys; other key types refused);
#   - updatekeys and rotate;
#   - edit through a file in memory, with EDITOR set to scripts, and its
#     failure paths (the original is kept byte for byte).
source "$(dirname "$0")/lib.sh"

H=$HAROMBE
FX="$TOP/tests/fixtures/sops"
MAC="$TOP/tests/integration/helpers/sops_mac.py"
ENCGET="$TOP/tests/integration/helpers/sops_enc.py"
command -v age >/dev/null || fail "the age tool is missing (scripts/deps.sh installs Debian's age)"
unset SOPS_AGE_KEY SOPS_AGE_RECIPIENTS HAROMBE_CONFIG EDITOR VISUAL SOPS_EDITOR VAULT_ADDR VAULT_AGENT_ADDR
export HOME="$T_DIR/home" XDG_CONFIG_HOME="$T_DIR/home/.config"
mkdir -p "$HOME"
cd "$T_DIR"
export SOPS_AGE_KEY_FILE="$FX/keys.txt"
R1=age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw
age-keygen -o k2.txt 2>/dev/null
R2=$(age-keygen -y k2.txt)

# rc RC CMD...: run CMD (stdout to out, stderr to err), check its status.
rc() {
	local want=$1 got
	shift
	set +e
	"$@" > "$T_DIR/out" 2> "$T_DIR/err"
	got=$?
	set -e
	[ "$got" = "$want" ] || fail "'$*' exited $got, expected $want: $(head -c 400 "$T_DIR/err")"
}

# same_json A B: the two JSON files hold the same values (7.0 == 7).
same_json() {
	python3 - "$1" "$2" <<'PY' || fail "$3"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
PY
}

# ---- the real sops' files ----
for f in yaml json ini; do
	rc 0 "$H" sops decrypt --output-type json "$FX/age-example.$f"
	same_json out "$FX/expected/age-example.$f.decrypted.json" "age-example.$f decrypts to the expected values"
done
rc 0 "$H" sops decrypt "$FX/age-example.yaml"
python3 -c 'import json,sys,yaml; json.dump(yaml.safe_load(open(sys.argv[1])), open(sys.argv[2],"w"))' out y.json
same_json y.json "$FX/expected/age-example.yaml.decrypted.json" "yaml output parses to the expected values"
[ "$(grep -c '^ *# ' out)" = 4 ] || fail "the 4 encrypted comments are not in the decrypted yaml"
grep -q '^ *# private key for secret operations in app2$' out || fail "comment text (AAD app2:db:)"
rc 0 "$H" sops decrypt "$FX/age-example.json"
same_json out "$FX/expected/age-example.json.decrypted.json" "json output"
rc 0 "$H" sops decrypt "$FX/age-example.txt"
cmp -s out "$FX/expected/age-example.txt.decrypted" || fail "binary store output"
rc 0 "$H" sops -d "$FX/age-example.txt"
cmp -s out "$FX/expected/age-example.txt.decrypted" || fail "sops -d"
ok "every file the real sops wrote decrypts to the expected values (yaml, json, ini, binary), comments included"

rc 0 "$H" sops decrypt --extract '["app2"]["db"]["password"]' "$FX/age-example.yaml"
assert_eq "$(cat out)" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["app2"]["db"]["password"])' \
	"$FX/expected/age-example.yaml.decrypted.json")" "--extract a scalar"
rc 0 "$H" sops decrypt --extract '["phoneNumbers"][1]' --output-type json "$FX/age-example.json"
python3 - out "$FX/expected/age-example.json.decrypted.json" <<'PY' || fail "--extract a list item"
import json, sys
sys.exit(0 if json.load(open(sys.argv[1])) == json.load(open(sys.argv[2]))["phoneNumbers"][1] else 1)
PY
rc 0 "$H" sops decrypt --extract '["an_array"]' "$FX/age-example.yaml"
grep -q '^- secretuser1$' out || fail "--extract a list as YAML"
rc 2 "$H" sops decrypt --extract '["an_array"]' --output-type dotenv "$FX/age-example.yaml"
rc 1 "$H" sops decrypt --extract '["nope"]' "$FX/age-example.json"
rc 2 "$H" sops decrypt --extract 'app2.db' "$FX/age-example.yaml"
ok "--extract '[\"a\"][\"b\"]' and [N], a missing path (1), a bad path (2)"

for n in "$FX"/negative/*.json; do
	rc 3 "$H" sops decrypt "$n"
	[ -s out ] && fail "$(basename "$n"): something was printed"
done
rc 1 "$H" sops decrypt "$T_DIR/none.yaml"
SOPS_AGE_KEY_FILE=k2.txt rc 3 "$H" sops decrypt "$FX/age-example.json"
assert_contains err "no age identity matches" "wrong identity"
# the list of identities tried is never cut (it was at 256 bytes)
LONG=$T_DIR/$(printf 'd%.0s' $(seq 1 120))/$(printf 'e%.0s' $(seq 1 120))
mkdir -p "$LONG/sops/age" && cp k2.txt "$LONG/sops/age/keys.txt" && cp k2.txt "$LONG/k2.txt"
SOPS_AGE_KEY_FILE=$LONG/k2.txt XDG_CONFIG_HOME=$LONG rc 3 "$H" sops decrypt "$FX/age-example.json"
assert_contains err "SOPS_AGE_KEY_FILE $LONG/k2.txt" "first identity source, whole"
assert_contains err "$LONG/sops/age/keys.txt" "the default identity file, whole, after a long first one"
ok "tampered files print nothing and exit 3; a missing file 1; no identity 3 (every identity tried named)"

# ---- encrypt: layout and MAC checked without harombe ----
# check_indep FILE EXPECTED.json: age opens the data key; sops_mac.py
# decrypts each value and recomputes the MAC; the values are EXPECTED.
check_indep() {
	python3 "$ENCGET" get "$1" 0 > stanza.asc || fail "$1: no sops.age[0].enc"
	age -d -i "$FX/keys.txt" -o dk.bin stanza.asc || fail "$1: the age tool cannot open the data key"
	[ "$(stat -c %s dk.bin)" = 32 ] || fail "$1: the data key is not 32 bytes"
	python3 "$MAC" "$1" dk.bin > indep.json || fail "$1: independent check failed"
	same_json indep.json "$2" "$1: independently decrypted values"
	rm -f dk.bin
}
cat > plain.yaml <<'YAML'
# a top-level comment
name: app
port: 8080
ratio: 2.5
enabled: true
nested:
  # the database login
  user: admin
  password: hunter2
  list:
    - one
    - 2
token_unencrypted: left-clear
empty: ""
none: null
YAML
python3 -c 'import json,sys,yaml; json.dump(yaml.safe_load(open(sys.argv[1])), open(sys.argv[2],"w"))' plain.yaml plain.yaml.json
rc 0 "$H" sops encrypt --age "$R1" plain.yaml
cp out enc.yaml
grep -q 'hunter2' enc.yaml && fail "a value is in clear text"
grep -q 'port: ENC\[AES256_GCM,data:.*,type:int\]' enc.yaml || fail "port is not type:int"
grep -q "enabled: ENC\[.*type:bool\]" enc.yaml || fail "enabled is not type:bool"
grep -q 'ratio: ENC\[.*type:float\]' enc.yaml || fail "ratio is not type:float"
grep -q 'token_unencrypted: left-clear' enc.yaml || fail "_unencrypted key encrypted"
grep -q '^    version: ' enc.yaml || fail "no version"
grep -q 'database login' enc.yaml && fail "a comment is in clear text"
[ "$(grep -c '^ *#ENC\[AES256_GCM,.*type:comment\]$' enc.yaml)" = 2 ] || fail "comments not encrypted"
check_indep enc.yaml plain.yaml.json
rc 0 "$H" sops decrypt --output-type json enc.yaml
same_json out plain.yaml.json "yaml round trip"
rc 0 "$H" sops decrypt enc.yaml
grep -q '^    # the database login$' out || fail "a nested comment did not come back"
ok "encrypt (yaml): types, the suffix rule; age opens the data key, the MAC checks independently"

printf '{"user": "admin", "n": 7, "f": 1.5, "b": false, "list": [1, "two", {"k": "v"}], "z": null}\n' > plain.json
rc 0 "$H" sops encrypt --age "$R1,$R2" plain.json
cp out enc.json
check_indep enc.json plain.json
SOPS_AGE_KEY_FILE=k2.txt rc 0 "$H" sops decrypt enc.json
same_json out plain.json "json round trip with the second recipient"
ok "encrypt (json) for two recipients: each opens it; the MAC checks independently"

printf 'DB_USER=admin\nDB_PASS=s3cr3t=with=equals\nEMPTY=\n' > plain.env
rc 0 "$H" sops encrypt --age "$R1" plain.env
cp out enc.env
grep -q '^DB_PASS=ENC\[AES256_GCM' enc.env || fail "dotenv value not encrypted"
grep -q '^sops_mac=ENC\[' enc.env || fail "dotenv metadata not flattened"
rc 0 "$H" sops decrypt enc.env
cmp -s out plain.env || fail "dotenv round trip: $(cat out)"
printf '[db]\nuser = admin\npass = s3cr3t\n\n[web]\nport = 80\n\n' > plain.ini
rc 0 "$H" sops encrypt --age "$R1" plain.ini
cp out enc.ini
grep -q '^pass = ENC\[AES256_GCM' enc.ini || fail "ini value not encrypted"
rc 0 "$H" sops decrypt enc.ini
cmp -s out plain.ini || fail "ini round trip: $(cat out)"
head -c 5000 /dev/urandom > plain.bin
rc 0 "$H" sops encrypt --age "$R1" plain.bin
cp out enc.bin
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert list(d)==["data","sops"]' enc.bin ||
	fail "binary store is not {data, sops}"
rc 0 "$H" sops decrypt enc.bin
cmp -s out plain.bin || fail "binary round trip"
rc 0 "$H" sops decrypt --input-type json --output-type binary enc.bin
cmp -s out plain.bin || fail "--input-type json --output-type binary"
ok "round trips: dotenv, ini, binary (5000 random bytes)"

rc 2 "$H" sops encrypt plain.json
assert_contains err "no age recipient" "no recipient"
SOPS_AGE_RECIPIENTS=$R1 rc 0 "$H" sops encrypt plain.json
rc 2 "$H" sops encrypt --age "$R1" enc.json
assert_contains err "encrypted already" "encrypting twice"
rc 2 "$H" sops encrypt --age age1nope plain.json
cp plain.json inplace.json
rc 0 "$H" sops encrypt --age "$R1" -i inplace.json
grep -q '"sops"' inplace.json || fail "-i did not write the file"
rc 0 "$H" sops encrypt --age "$R1" --output out.enc plain.json
[ ! -s out ] || fail "encrypt --output also wrote stdout"
[ "$(stat -c %a out.enc)" = 600 ] || fail "encrypt --output: a new file is not 0600"
rc 0 "$H" sops decrypt --input-type json --output dec.json out.enc
[ "$(stat -c %a dec.json)" = 600 ] || fail "decrypt --output is not 0600"
same_json dec.json plain.json "encrypt --output, decrypt --output"
rc 0 "$H" sops encrypt --age "$R1" --encrypted-regex '^pass' plain.ini
grep -q '^user = admin$' out || fail "--encrypted-regex left user encrypted"
ok "encrypt: no recipient (2), SOPS_AGE_RECIPIENTS, twice refused, a bad recipient, -i, --output, --encrypted-regex"

# ---- .sops.yaml ----
mkdir -p proj/k8s proj/deep/er
cat > proj/.sops.yaml <<YAML
creation_rules:
  - path_regex: k8s/.*\.yaml\$
    encrypted_regex: ^(data|stringData)\$
    age: >-
      $R1,
      $R2
  - path_regex: \.json\$
    key_groups:
      - age:
          - $R1
    mac_only_encrypted: true
  - path_regex: \.ini\$
    pgp: FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4
  - path_regex: \.env\$
    key_groups:
      - age: [$R1]
      - age: [$R2]
YAML
printf 'kind: Secret\nmetadata:\n  name: db\ndata:\n  password: hunter2\n' > proj/k8s/s.yaml
rc 0 "$H" sops encrypt proj/k8s/s.yaml
cp out proj/k8s/s.enc.yaml
grep -q '^    name: db$' proj/k8s/s.enc.yaml || fail "encrypted_regex: metadata.name should stay clear"
grep -q 'password: ENC\[' proj/k8s/s.enc.yaml || fail "encrypted_regex: data.password not encrypted"
[ "$(grep -c 'recipient: age1' proj/k8s/s.enc.yaml)" = 2 ] || fail "two recipients from .sops.yaml"
grep -q 'encrypted_regex: \^(data|stringData)\$' proj/k8s/s.enc.yaml || fail "encrypted_regex in metadata"
check_indep proj/k8s/s.enc.yaml <(python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' proj/k8s/s.yaml)
printf '{"a": "b", "c_unencrypted": "d"}\n' > proj/deep/er/x.json
rc 0 "$H" sops encrypt proj/deep/er/x.json
cp out proj/deep/er/x.enc.json
grep -q '"mac_only_encrypted": true' proj/deep/er/x.enc.json || fail "mac_only_encrypted from .sops.yaml"
check_indep proj/deep/er/x.enc.json proj/deep/er/x.json
rc 0 "$H" sops decrypt proj/deep/er/x.enc.json
same_json out proj/deep/er/x.json "mac_only_encrypted round trip"
printf '[a]\nb = c\n' > proj/y.ini
rc 2 "$H" sops encrypt proj/y.ini
assert_contains err "pgp keys" "pgp named in the refusal"
printf 'A=b\n' > proj/z.env
rc 2 "$H" sops encrypt proj/z.env
assert_contains err "Shamir" "two key groups refused"
printf 'x\n' > proj/none.txt
rc 2 "$H" sops encrypt proj/none.txt
rc 0 "$H" --config proj/.sops.yaml sops encrypt plain.json
grep -q mac_only_encrypted out || fail "--config names the .sops.yaml"
ok ".sops.yaml from parent directories: path_regex, age, encrypted_regex, mac_only_encrypted, key_groups; pgp and Shamir refused"

# ---- updatekeys, rotate ----
rc 0 "$H" sops encrypt --age "$R1" proj/k8s/s.yaml
cp out proj/k8s/u.yaml
SOPS_AGE_KEY_FILE=k2.txt rc 3 "$H" sops decrypt proj/k8s/u.yaml
rc 0 "$H" sops updatekeys -y proj/k8s/u.yaml
SOPS_AGE_KEY_FILE=k2.txt rc 0 "$H" sops decrypt proj/k8s/u.yaml
assert_contains out "hunter2" "updatekeys: the new recipient decrypts"
cp proj/k8s/u.yaml u.before
rc 0 "$H" sops updatekeys proj/k8s/u.yaml
assert_contains err "already" "updatekeys with nothing to do"
cmp -s u.before proj/k8s/u.yaml || fail "updatekeys rewrote an up-to-date file"
python3 "$ENCGET" get proj/k8s/u.yaml 0 > s.asc && age -d -i "$FX/keys.txt" -o dk1.bin s.asc
rc 0 "$H" sops rotate proj/k8s/u.yaml
python3 "$ENCGET" get proj/k8s/u.yaml 0 > s.asc && age -d -i "$FX/keys.txt" -o dk2.bin s.asc
cmp -s dk1.bin dk2.bin && fail "rotate kept the data key"
check_indep proj/k8s/u.yaml <(python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' proj/k8s/s.yaml)
SOPS_AGE_KEY_FILE=k2.txt rc 0 "$H" sops decrypt --extract '["data"]["password"]' proj/k8s/u.yaml
assert_eq "$(cat out)" hunter2 "rotate kept the values and the recipients"
rm -f dk1.bin dk2.bin
cp "$FX/age-example.yaml" withcomments.yaml
rc 0 "$H" sops decrypt withcomments.yaml
cp out wc.before
rc 0 "$H" sops rotate withcomments.yaml
rc 0 "$H" sops decrypt withcomments.yaml
cmp -s out wc.before || fail "rotate changed the decrypted text (comments included)"
[ "$(grep -c '^ *#ENC\[AES256_GCM,.*type:comment\]$' withcomments.yaml)" = 4 ] || fail "rotate: comments not re-encrypted"
cmp -s withcomments.yaml "$FX/age-example.yaml" && fail "rotate did not rewrite the file"
ok "updatekeys adds .sops.yaml's recipients (and leaves an up-to-date file alone); rotate makes a new data key (comments re-encrypted)"

# ---- edit ----
cp enc.yaml ed.yaml
chmod 0640 ed.yaml
cat > ed-ok.sh <<'SH'
#!/bin/sh
# a shell-script editor: replace in the file it is given, in place
t=$(sed 's/hunter2/changed-pw/' "$1") && printf '%s\n' "$t" > "$1"
SH
cat > ed-where.sh <<'SH'
#!/bin/sh
readlink "$1" > where.txt
SH
cat > ed-bad.sh <<'SH'
#!/bin/sh
printf 'a: [unclosed\n' > "$1"
SH
cat > ed-fail.sh <<'SH'
#!/bin/sh
printf 'x: y\n' > "$1"
exit 3
SH
cat > vim <<'SH'
#!/bin/sh
# stands in for vim: records its arguments; the file is the last one
printf '%s\n' "$@" > vim-args.txt
SH
chmod +x ed-*.sh vim
EDITOR="$T_DIR/ed-where.sh" rc 0 "$H" sops edit ed.yaml
grep -q '^/memfd:harombe-sops-edit' where.txt || fail "the editor's file is not a memfd: $(cat where.txt)"
assert_contains err "has not changed" "no change, no re-encryption"
cmp -s ed.yaml enc.yaml || fail "an unchanged edit rewrote the file"
EDITOR="$T_DIR/ed-ok.sh" rc 0 "$H" sops edit ed.yaml
rc 0 "$H" sops decrypt --extract '["nested"]["password"]' ed.yaml
assert_eq "$(cat out)" changed-pw "edit re-encrypted the change"
[ "$(stat -c %a ed.yaml)" = 640 ] || fail "edit changed the file's mode"
check_indep ed.yaml <(python3 -c 'import json,sys,yaml; d=yaml.safe_load(open(sys.argv[1])); d["nested"]["password"]="changed-pw"; print(json.dumps(d))' plain.yaml)
grep -rl changed-pw "$T_DIR" 2>/dev/null | grep -v -e '/out$' -e '/indep.json$' -e '/ed-ok.sh$' && fail "plaintext left in a file"
ok "edit: a memfd at /proc/self/fd/N, nothing re-encrypted without a change, a change re-encrypted (mode kept)"

cp ed.yaml ed.keep
SOPS_EDITOR="$T_DIR/ed-bad.sh" rc 2 "$H" sops edit ed.yaml
assert_contains err "cannot parse" "unparseable edit"
cmp -s ed.yaml ed.keep || fail "unparseable edit changed the file"
EDITOR="$T_DIR/ed-fail.sh" rc 2 "$H" sops edit ed.yaml
assert_contains err "exited with status 3" "editor failure"
cmp -s ed.yaml ed.keep || fail "a failed editor changed the file"
EDITOR="sed -i s/changed-pw/x/" rc 2 "$H" sops edit ed.yaml
cmp -s ed.yaml ed.keep || fail "sed -i (which cannot write beside a memfd) changed the file"
EDITOR=emacs rc 2 "$H" sops edit ed.yaml
assert_contains err "backup" "emacs refused"
SOPS_AGE_KEY_FILE=k2.txt EDITOR="$T_DIR/ed-ok.sh" rc 3 "$H" sops edit ed.yaml
cmp -s ed.yaml ed.keep || fail "edit without a key changed the file"
EDITOR="$T_DIR/vim" rc 0 "$H" sops edit ed.yaml
grep -qx -- -n vim-args.txt || fail "vim started without -n (swap file)"
grep -qx -- NONE vim-args.txt || fail "vim started with a viminfo file"
grep -q 'nobackup nowritebackup noundofile' vim-args.txt || fail "vim started with backup or undo files"
tail -n 1 vim-args.txt | grep -q '^/proc/self/fd/[0-9]*$' || fail "vim's file is not /proc/self/fd/N"
cp "$FX/age-example.yaml" edc.yaml
cat > ed-eve.sh <<'SH'
#!/bin/sh
t=$(sed 's/user: eve/user: mallory/' "$1") && printf '%s\n' "$t" > "$1"
SH
chmod +x ed-eve.sh
EDITOR="$T_DIR/ed-eve.sh" rc 0 "$H" sops edit edc.yaml
rc 0 "$H" sops decrypt edc.yaml
grep -q '^ *user: mallory$' out || fail "edit of a file with encrypted comments"
[ "$(grep -c '^ *# ' out)" = 4 ] || fail "edit lost the comments"
[ "$(grep -c '^ *#ENC\[AES256_GCM' edc.yaml)" = 4 ] || fail "edit wrote comments in clear text"
ok "edit failures keep the file: bad text, editor status, sed -i, emacs refused, no key; vim gets -n -i NONE; comments survive an edit, encrypted"

no_secret() { grep -qF -e hunter2 -e changed-pw err && fail "a value in a message"; return 0; }
no_secret
ok "no value in any message"
