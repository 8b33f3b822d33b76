#!/bin/bash
# Templates read by their real consumers: a .pgpass through libpq (psql
# against a stand-in server that asks for the password in clear), a .netrc
# through curl --netrc-file, a git credential store file through `git
# credential fill`, an .npmrc through `npm config get`, an app.ini through
# Python's configparser, JSON, TOML, YAML and XML through Python's parsers,
# a shell file through sh -c '. FILE'.  Every value is adversarial (quotes,
# backslashes, ':', '#', ';', '%', '$', spaces, UTF-8) and comes back byte
# for byte.  A template naming a key outside its container's secrets, a
# template file others may write, and a credential in a template are
# refused at start with file:line:column.
. "$(dirname "$0")/lib.sh"

STORE="$T_DIR/store"
mkdir -p "$STORE"
put() { printf '%s' "$2" > "$STORE/$(printf '%s' "$1" | sed 's|/|%2F|g; s|#|%23|g')"; }
PW='p:a\ss*#w;"x" '\''q'\'' $HOME %(x)s `id` é'
USER_='app'
TOKEN='tok;#en\"'"$(rand_token 12)"
NPM='npm-tok"en;#x\y'
put db/creds#password "$PW"
put db/creds#user "$USER_"
put api/token "$TOKEN"
put npm/token "$NPM"
CA=$'-----BEGIN CERTIFICATE-----\nMIIB\x01\xff\n-----END CERTIFICATE-----\n'
put k8s/deployer#ca "$CA"
put k8s/deployer#token "eyK8s.$(rand_token 20)"

mkdir -p "$T_DIR/tmpl"
cat > "$T_DIR/tmpl/app.ini.tmpl" <<'T'
[db]
user = {{ secret "db/creds#user" | ini }}
password = {{ secret "db/creds#password" | ini }}
T
cat > "$T_DIR/tmpl/creds.json.tmpl" <<'T'
{"user": {{ secret "db/creds#user" | json }}, "password": {{ secret "db/creds#password" | json }},
 "token": {{ secret "api/token" | json }}}
T
# docs/templates.md's kubeconfig, as written there
sed -n '/^`kubeconfig.tmpl`/,/^```$/p' "$TOP/docs/templates.md" | sed '1,2d;$d' > "$T_DIR/tmpl/kubeconfig.tmpl"
grep -q 'certificate-authority-data' "$T_DIR/tmpl/kubeconfig.tmpl" || fail "no kubeconfig template in docs/templates.md"
cat > "$T_DIR/h.yaml" <<YAML
security:
  credentials:
    provider: mock
    mock_dir: $STORE
  fs:
    audit_log: $T_DIR/audit.jsonl
    mountpoint: $T_DIR/mnt
  containers:
    app:
      uid: 1000
      secrets:
        DB_PASSWORD: "db/creds#password"
        DB_USER: "db/creds#user"
        API_TOKEN: api/token
        NPM_TOKEN: npm/token
        K8S_TOKEN: k8s/deployer#token
        K8S_CA: k8s/deployer#ca
      templates:
        kubeconfig: { source: tmpl/kubeconfig.tmpl }
        app.ini: { source: $T_DIR/tmpl/app.ini.tmpl }
        creds.json: { source: tmpl/creds.json.tmpl }
        .pgpass: { inline: "*:*:*:app:{{ secret \"db/creds#password\" | pgpass }}\n" }
        .netrc: { inline: "machine 127.0.0.1 login app password {{ secret \"api/token\" | netrc }}\n" }
        git-credentials: { inline: "http://app:{{ secret \"db/creds#password\" | url }}@git.example.com\n" }
        .npmrc: { inline: "//registry.example.com/:_authToken={{ secret \"npm/token\" | json }}\nharombe-probe={{ secret \"npm/token\" | json }}\n" }
        conf.toml: { inline: "[db]\npassword = {{ secret \"db/creds#password\" | toml }}\n" }
        conf.yaml: { inline: "db:\n  password: {{ secret \"db/creds#password\" | yaml }}\n" }
        conf.xml: { inline: "<c p=\"{{ secret \"db/creds#password\" | xml }}\">{{ secret \"api/token\" | xml }}</c>\n" }
        env.sh: { inline: "PW={{ secret \"db/creds#password\" | sh }}\nT={{ secret \"api/token\" | sh }}\n" }
        pem: { inline: "{{ secret \"api/token\" }}" }
YAML
MNT="$T_DIR/mnt"
start_fs "$HAROMBEFS_TEST" "$T_DIR/h.yaml" "$MNT"
V="$MNT/app"

# the listing and the modes
ls_out=$(as_uid 1000 ls -A "$V" | tr '\n' ' ')
for f in env docker.env env.json secrets generation app.ini creds.json .pgpass .netrc git-credentials .npmrc; do
	case " $ls_out " in *" $f "*) ;; *) fail "'$f' missing from the view's listing: $ls_out" ;; esac
done
m=$(as_uid 1000 stat -c %a "$V/.pgpass"); [ "$m" = 400 ] || fail ".pgpass mode $m"
ok "template files are listed in the view beside env, secrets/ and generation, mode 0400"

# libpq: a stand-in server on a Unix socket asks for a cleartext password
SOCK="$T_DIR/pg"
mkdir -p "$SOCK"
chmod 0777 "$SOCK"
python3 - "$SOCK/.s.PGSQL.5432" "$T_DIR/pg.got" <<'PY' &
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777); s.listen(1)
c, _ = s.accept()
n = struct.unpack("!I", c.recv(4))[0]
c.recv(n - 4)                                   # the startup message
c.sendall(b"R" + struct.pack("!II", 8, 3))      # AuthenticationCleartextPassword
t = c.recv(1); n = struct.unpack("!I", c.recv(4))[0]
data = b""
while len(data) < n - 4:
    data += c.recv(n - 4 - len(data))
open(sys.argv[2], "wb").write(data.rstrip(b"\0"))
msg = b"SFATAL\0C28P01\0Mstand-in\0\0"
c.sendall(b"E" + struct.pack("!I", len(msg) + 4) + msg)
c.close()
PY
PGPID=$!
for _ in $(seq 50); do [ -S "$SOCK/.s.PGSQL.5432" ] && break; sleep 0.1; done
as_uid 1000 env -i HOME=/nonexistent PGPASSFILE="$V/.pgpass" psql -w -h "$SOCK" -U app -d app -c 'select 1' \
	>/dev/null 2>"$T_DIR/psql.err" || true
wait "$PGPID" || fail "the stand-in server got no password ($(cat "$T_DIR/psql.err"))"
assert_eq "$(cat "$T_DIR/pg.got")" "$PW" "libpq's password from .pgpass"
ok ".pgpass | pgpass: libpq (psql, PGPASSFILE) sends the value byte for byte"

# curl --netrc-file: the Basic credentials a local server receives
python3 - "$T_DIR/http.port" "$T_DIR/http.got" <<'PY' &
import base64, http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        a = self.headers.get("Authorization", "")
        open(sys.argv[2], "wb").write(base64.b64decode(a[6:]) if a.startswith("Basic ") else b"")
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(srv.server_port))
srv.handle_request()
PY
HTTPPID=$!
for _ in $(seq 50); do [ -s "$T_DIR/http.port" ] && break; sleep 0.1; done
as_uid 1000 curl -s -o /dev/null --netrc-file "$V/.netrc" "http://127.0.0.1:$(cat "$T_DIR/http.port")/" ||
	fail "curl --netrc-file failed"
wait "$HTTPPID"
assert_eq "$(cat "$T_DIR/http.got")" "app:$TOKEN" "curl's Basic credentials from .netrc"
ok ".netrc | netrc: curl --netrc-file sends login and password byte for byte"

# git credential: the store helper reads URL-encoded user:password@host
got=$(printf 'protocol=http\nhost=git.example.com\n\n' |
	as_uid 1000 env -i HOME=/nonexistent git -c credential.helper= \
		-c credential.helper="store --file=$V/git-credentials" credential fill 2>/dev/null |
	sed -n 's/^password=//p')
assert_eq "$got" "$PW" "git credential fill's password"
ok "git-credentials | url: git credential fill returns the value byte for byte"

# npm: the .npmrc's values (JSON strings) as npm reads them (node and npm
# are not Debian packages here: checked where they are installed)
if command -v npm >/dev/null; then
got=$(cd "$T_DIR" && as_uid 1000 env -i HOME=/nonexistent PATH="$PATH" npm_config_cache="$T_DIR/npmcache" \
	npm --userconfig "$V/.npmrc" config get harombe-probe 2>/dev/null)
assert_eq "$got" "$NPM" "npm config get of the .npmrc value"
ok ".npmrc | json: npm config get reads the value byte for byte"
else
ok "# SKIP npm is not installed"
fi

# Python's parsers
chmod 0755 "$STORE"
as_uid 1000 env PW="$PW" TOKEN="$TOKEN" USER_="$USER_" V="$V" STORE="$STORE" /usr/bin/python3 - <<'PY' || fail "python parsers"
import configparser, json, os, sys, tomllib, xml.etree.ElementTree as ET
import yaml
V, PW, TOKEN = os.environ["V"], os.environ["PW"], os.environ["TOKEN"]
c = configparser.ConfigParser(interpolation=None); c.read(V + "/app.ini", encoding="utf-8")
assert c["db"]["password"] == PW and c["db"]["user"] == os.environ["USER_"], "configparser"
j = json.load(open(V + "/creds.json", encoding="utf-8"))
assert j == {"user": os.environ["USER_"], "password": PW, "token": TOKEN}, "json"
assert tomllib.load(open(V + "/conf.toml", "rb"))["db"]["password"] == PW, "toml"
assert yaml.safe_load(open(V + "/conf.yaml", encoding="utf-8"))["db"]["password"] == PW, "yaml"
e = ET.parse(V + "/conf.xml").getroot()
assert e.get("p") == PW and e.text == TOKEN, "xml"
import base64
k = yaml.safe_load(open(V + "/kubeconfig", encoding="utf-8"))
ca = base64.b64decode(k["clusters"][0]["cluster"]["certificate-authority-data"])
assert ca == open(os.environ["STORE"] + "/k8s%2Fdeployer%23ca", "rb").read(), "kubeconfig ca"
assert k["users"][0]["user"]["token"] == open(os.environ["STORE"] + "/k8s%2Fdeployer%23token").read(), "kubeconfig token"
PY
ok "app.ini | ini, creds.json | json, conf.toml | toml, conf.yaml | yaml, conf.xml | xml, docs' kubeconfig (base64 | yaml): Python's parsers read every value back"

# sh: sourcing assigns and runs nothing
got=$(as_uid 1000 sh -c '. "$1"; printf "%s|%s" "$PW" "$T"' sh "$V/env.sh")
assert_eq "$got" "$PW|$TOKEN" "sh's variables"
got=$(as_uid 1000 cat "$V/pem")
assert_eq "$got" "$TOKEN" "a raw value"
ok "env.sh | sh: sourced by sh, byte for byte; no filter: the value as it is"

# audited by name, never by value
grep '"view":".pgpass"' "$T_DIR/audit.jsonl" | grep -q '"names":\["DB_PASSWORD"\]' ||
	fail "the .pgpass read was not audited with its names"
grep -qF "$USER_$PW" "$T_DIR/audit.jsonl" && fail "a value in the audit log"
for v in "$PW" "$TOKEN" "$NPM"; do grep -qF -- "$v" "$T_DIR/audit.jsonl" "$T_LOG" && fail "a value in the audit log or the daemon's log"; done
ok "each template read is audited with its names and keys, and no value reaches a log"

# the cost of a template file's open beside env's (same keys, same store)
cost=$(as_uid 1000 /usr/bin/python3 - "$V" <<'PY'
import sys, time
v = sys.argv[1]
def per(path, n=400):
    t = time.perf_counter()
    for _ in range(n):
        with open(path, "rb") as f:
            f.read()
    return (time.perf_counter() - t) / n * 1e6
per(v + "/env", 20)
print("%d us for env, %d us for app.ini (two keys), %d us for creds.json (three)" %
      (per(v + "/env"), per(v + "/app.ini"), per(v + "/creds.json")))
PY
)
ok "open+read+close, mock store: $cost"

# refusals at start, with file:line:column
bad() {	# bad NAME TEMPLATE-YAML PATTERN
	sed "/^      templates:/q" "$T_DIR/h.yaml" > "$T_DIR/bad-$1.yaml"
	printf '%s\n' "$2" >> "$T_DIR/bad-$1.yaml"
	if "$HAROMBEFS_TEST" "$T_DIR/mnt-bad" -o config="$T_DIR/bad-$1.yaml" -f > "$T_DIR/bad-$1.log" 2>&1; then
		fail "$1: harombefs started"
	fi
	grep -q -- "$3" "$T_DIR/bad-$1.log" || fail "$1: '$3' not in: $(cat "$T_DIR/bad-$1.log")"
}
mkdir -p "$T_DIR/mnt-bad"
bad key '        x: { inline: "a\n{{ secret \"other/key\" }}" }' \
	"bad-key.yaml:[0-9]*:[0-9]*: template 'x' of container 'app', line 2 column 11 of the text: key 'other/key' is not one of the container's secrets"
printf 'x = {{ secret "nope/nope" }}\n' > "$T_DIR/tmpl/bad.tmpl"
bad srckey "        x: { source: $T_DIR/tmpl/bad.tmpl }" "tmpl/bad.tmpl:1:15: template 'x' of container 'app': key 'nope/nope'"
chmod 0666 "$T_DIR/tmpl/bad.tmpl"
bad mode "        x: { source: $T_DIR/tmpl/bad.tmpl }" "writable by group and others"
bad cred '        x: { inline: "token = ghp_abcdefghijklmnopqrstuvwxyz0123456789" }' "looks like a credential (GitHub token)"
bad filter '        x: { inline: "{{ secret \"api/token\" | shell }}" }' "unknown filter 'shell'"
bad name '        env: { inline: "x" }' "'env' is a file every view has"
bad gid '        x: { inline: "x", mode: "0440" }' "mode 0440 shares the file with the view's group: set 'gid' too"
ok "refused at start with file:line:column: a key outside the container's secrets, a template file others may write, a credential, an unknown filter, a reserved name, 0440 without a gid"

# A whole secret as one JSON object: {{ secret "path" | json }} with only
# fields of path declared, against the Vault test server (KV v2) and a SOPS
# file; Python's json reads every field back byte for byte.
. "$(dirname "$0")/vault-lib.sh"
vault_start V --kv secret=2
unset VAULT_ADDR VAULT_AGENT_ADDR VAULT_TOKEN VAULT_NAMESPACE
printf '%s\n' "$VROOT" > "$T_DIR/vtoken"
chmod 600 "$T_DIR/vtoken"
cat > "$T_DIR/whole.py" <<'PY'
import json, sys
# the fields as written to the store, then the files to check
fields = {"user": "app", "password": 'p"w\\d\n\t\u00e9\u2028 {{x}}', "port": "5432",
          "n\"ame": "\u0001\u007f"}
if sys.argv[1] == "fields":
    print(json.dumps(fields))
    sys.exit(0)
got = json.load(open(sys.argv[2], encoding="utf-8"))
want = json.loads(sys.argv[3]) if len(sys.argv) > 3 else fields
assert got["all"] == want, "the whole secret read back"
assert list(got["all"]) == list(want), "field order"
for k, v in want.items():
    assert got["all"][k].encode() == v.encode() if isinstance(v, str) else got["all"][k] == v, k
assert got["one"] == want["user"], "a single field beside it"
PY
FIELDS=$(python3 "$T_DIR/whole.py" fields)
vput "$V_URL" db/app "$FIELDS"
cat > "$T_DIR/wv.yaml" <<YAML
security:
  credentials:
    provider: vault
    vault_url: $V_URL
    token_file: $T_DIR/vtoken
    timeout: 2s
  fs:
    audit_log: $T_DIR/audit-whole.jsonl
  containers:
    app:
      uid: 1000
      secrets: { DB_USER: "db/app#user" }
      templates:
        creds.json: { inline: "{\"all\": {{ secret \"db/app\" | json }}, \"one\": {{ secret \"db/app#user\" | json }}}\n" }
YAML
start_fs "$HAROMBEFS_TEST" "$T_DIR/wv.yaml" "$T_DIR/mnt-wv"
as_uid 1000 cat "$T_DIR/mnt-wv/app/creds.json" > "$T_DIR/wv.json" || fail "cannot read creds.json (vault)"
python3 "$T_DIR/whole.py" check "$T_DIR/wv.json" || fail "the whole Vault secret did not read back"
grep '"view":"creds.json"' "$T_DIR/audit-whole.jsonl" | grep -q '"keys":\["db/app#","db/app#user"\]' ||
	fail "the whole-secret read was not audited by its key: $(cat "$T_DIR/audit-whole.jsonl")"
no_secret_in "$T_DIR/audit-whole.jsonl" 'p\"w'
ok "{{ secret \"db/app\" | json }}: every field of a Vault KV v2 secret as one JSON object (Python's json, byte for byte), fetched in the view's one batch"

cp "$TOP/tests/fixtures/sops/age-example.yaml" "$T_DIR/whole.enc.yaml"
cp "$TOP/tests/fixtures/sops/keys.txt" "$T_DIR/keys.txt"
cat > "$T_DIR/ws.yaml" <<YAML
security:
  credentials:
    provider: sops
    secrets_file: $T_DIR/whole.enc.yaml
    key_file: $T_DIR/keys.txt
  fs:
    audit_log: $T_DIR/audit-whole.jsonl
  containers:
    app:
      uid: 1000
      secrets: { DB_USER: "app2/db#user", FIRST: "an_array#0" }
      templates:
        creds.json: { inline: "{\"all\": {{ secret \"app2/db\" | json }}, \"one\": {{ secret \"app2/db#user\" | json }}}" }
        list.json: { inline: "{{ secret \"an_array\" | json }}" }
YAML
start_fs "$HAROMBEFS_TEST" "$T_DIR/ws.yaml" "$T_DIR/mnt-ws"
as_uid 1000 cat "$T_DIR/mnt-ws/app/creds.json" > "$T_DIR/ws.json" || fail "cannot read creds.json (sops)"
python3 "$T_DIR/whole.py" check "$T_DIR/ws.json" '{"user": "eve", "password": "c4r1b0u"}' ||
	fail "the whole SOPS map did not read back"
as_uid 1000 cat "$T_DIR/mnt-ws/app/list.json" > /dev/null 2>&1 && fail "a list served as a whole secret"
grep '"view":"list.json"' "$T_DIR/audit-whole.jsonl" | grep -q "a list, not a map" ||
	fail "the refused list is not in the audit log"
ok "{{ secret \"app2/db\" | json }}: the map at a SOPS path as one JSON object; a list there fails the open (EIO), audited"

bad whole '        x: { inline: "{{ secret \"db/creds\" | sh }}" }' \
	"key 'db/creds' is not one of the container's secrets; its fields are, and the whole secret is offered as one JSON object only"
ok "a whole secret other than through json is refused at start with file:line:column"
