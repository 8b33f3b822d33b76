#!/bin/bash
# tests/fuzz/seeds.sh TARGET DIR: write the seed corpus of one fuzz target
# into DIR, from the test fixtures and a few hand-written inputs.  Used by
# `make fuzz` (tests/fuzz/run.sh) and by `make check`, which replays every
# seed through every target (tests/fuzz/replay.c).
set -eu
cd "$(dirname "$0")/../.."
t=$1 d=$2
mkdir -p "$d"
case "$t" in
sops_json) cp tests/fixtures/sops/*.json tests/fixtures/sops/negative/*.json tests/fixtures/sops/age-example.txt "$d"/ ;;
sops_yaml) cp tests/fixtures/sops/*.yaml tests/fixtures/seed/*.yaml "$d"/ ;;
sops_ini) cp tests/fixtures/sops/*.ini "$d"/ ;;
sops_rules)
	cp tests/fixtures/sops/dot-sops.yaml "$d"/
	printf 'creation_rules:\n  - path_regex: k8s/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: >-\n      age1a,\n      age1b\n  - key_groups:\n      - age: [age1c]\n    mac_only_encrypted: true\n  - path_regex: x\n    pgp: ABC\n' > "$d/rules.yaml"
	printf '["a"]["b"][0]' > "$d/extract"
	printf "['k'][12]" > "$d/extract-single" ;;
sops_dotenv) printf 'A=ENC[AES256_GCM,data:AA==,iv:AA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n#c\nsops_mac=\nsops_lastmodified=2022-03-15T22:11:15Z\nsops_age__list_0__map_recipient=x\nsops_age__list_0__map_enc=-----BEGIN\\n\n' > "$d/seed.env" ;;
dotenv)
	cat > "$d/mixed.env" <<'END'
# a comment

export A=plain value # inline
B = "double \"quoted\" \$HOME \n"
C='single \' quoted'
D="multi
line" # after the quote
"E F"="quoted key"
G=
END
	printf '\357\273\277A=1\r\nB="\\0\\a\\b\\f\\v\\t\\r"\r\n' > "$d/bom-crlf.env"
	printf 'A="unterminated\n' > "$d/bad-quote.env"
	printf 'A=1\nA=2\n' > "$d/dup.env" ;;
baseline)
	printf '{"harombe_baseline": 1, "findings": [{"fingerprint": "github_token:.env:0123456789abcdef0123456789abcdef", "rule": "github_token", "path": ".env", "line": 3}]}\n' > "$d/baseline.json"
	printf '{"version": "0.1.0", "findings": [], "summary": {"files": 1, "skipped": 0, "findings": 0}}' > "$d/report.json"
	printf '# .harombeignore\n\n  password:src/a b.py:00112233445566778899aabbccddeeff  \r\naws:x:ff\n' > "$d/ignore"
	printf '{"findings": [{"fingerprint": 3}]}' > "$d/bad.json" ;;
scan_config)
	printf 'extend:\n  use_default: false\nrules:\n  - id: acme_token\n    regex: %s\n    keywords: [acme_]\nallowlist:\n  stopwords:\n    - example\n  paths: [x]\n' "'acme_(?<secret>[a-z0-9]{24})'" > "$d/own.yaml"
	printf '# c\nallowlist: {stopwords: [a, B]}\ndisable: [jwt]\n' > "$d/flow.yaml"
	printf 'extend: {use_default: maybe}\n' > "$d/bad-bool.yaml"
	printf 'allowlist:\n  paths: [a]\n  stopwords: [x]\nrules:\n  - id: y\n    regex: "(a"\n' > "$d/bad-rule.yaml"
	printf 'a: 1\nextend: [1]\n' > "$d/bad-extend.yaml" ;;
when)
	i=0
	for w in 2024-01-31 2024-01-31T10:00 "2024-01-31 10:00:05" 2024-01-31T10:00:05.123Z \
		2024-01-31T10:00:05,5+02:00 2024-02-29T23:59:60-0130 1969-12-31T23:59:59Z now 30m 12h 7d 2w 0s; do
		printf '%s' "$w" > "$d/$i"; i=$((i + 1))
	done ;;
age) for f in tests/fixtures/age-vectors/testdata/*; do
	awk 'f { print } /^$/ && !f { f = 1 }' "$f" > "$d/$(basename "$f")"; done ;;
config)
	for f in tests/fixtures/seed/*.yaml examples/*.yaml; do cp "$f" "$d/$(basename "$(dirname "$f")")-$(basename "$f")"; done
	printf 'security:\n  credentials:\n    provider: env\n    secret_prefix: APP_\n  fs:\n    cache_ttl: 500ms\n    stale_if_error: 2w\n    locked_memory: 512KiB\n  audit:\n    log_events: [secret_read, access_denied]\n  containers:\n    a.b-c_1:\n      uid: 1000\n      gid: 1000\n      cgroup: "/system.slice/docker-*.scope"\n      secrets: { GITHUB_TOKEN: "github/token#value", DB: db/creds@3 }\n' > "$d/full.yaml"
	printf 'x: &a [1, 2]\ny: *a\nsecurity: {containers: {c: {secrets: {A: k}}}}\n' > "$d/alias.yaml" ;;
sjson)
	cp tests/fixtures/sops/kat.json "$d/"
	printf '{"request_id":"r","lease_id":"","renewable":false,"lease_duration":0,"data":{"data":{"value":"s3cr\\u00e9t","n":1.5e3,"b":true,"z":null,"a":[1,"x",{"k":-7}]},"metadata":{"version":3,"created_time":"2018-03-22T02:24:06.945319214Z","destroyed":false}},"wrap_info":null,"warnings":null,"auth":null}' > "$d/kv2.json"
	printf '{"errors":["permission denied","1 error occurred:\\n\\t* x\\n\\n"]}' > "$d/errors.json"
	printf '{"data":{"keys":["a","b/","c d"]}}\n' > "$d/list.json" ;;
vault)
	# byte 0: config bits (KV auto/1/2, AppRole, namespace, no retries); byte 1: operation
	mounts='200 {"data":{"type":"kv","options":{"version":"2"}}}'
	kv2='200 {"data":{"data":{"value":"A","f":"F"},"metadata":{"version":2}}}'
	kv1='200 {"data":{"value":"A","f":"F"}}'
	login='200 {"auth":{"client_token":"s.new","lease_duration":60,"renewable":true}}'
	printf '\x00\x00%s\n--\n%s\n--\n%s\n--\n%s' "$mounts" "$kv2" "$kv2" "$kv2" > "$d/get-auto"
	printf '\x02\x00%s\n--\n404 {"data":{"metadata":{"version":2,"deletion_time":"2020-01-01T00:00:00Z","destroyed":false}}}\n--\n%s' "$kv2" "$kv2" > "$d/get-deleted"
	printf '\x01\x00%s\n--\n%s\n--\n500 {"errors":["internal"]}' "$kv1" "$kv1" > "$d/get-kv1"
	printf '\x06\x00%s\n--\n%s\n--\n%s\n--\n%s' "$login" "$kv2" "$kv2" "$kv2" > "$d/get-approle"
	printf '\x06\x00%s\n--\n403 {"errors":["permission denied"]}\n--\n%s\n--\n%s' "$login" "$login" "$kv2" > "$d/get-relogin"
	printf '\x02\x01200 {"data":{"keys":["a","b/","c"]}}' > "$d/list"
	printf '\x02\x02200 {"data":{"current_version":2,"created_time":"2018-03-22T02:24:06.945319214Z","versions":{"1":{"created_time":"2018-03-22T02:24:06.945319214Z"},"2":{"created_time":"2019-03-22T02:24:06Z"}}}}' > "$d/meta"
	printf '\x02\x03200 {"data":{"version":3}}' > "$d/set"
	printf '\x02\x04%s\n--\n200 {"data":{"version":3}}' "$kv2" > "$d/set-fields"
	printf '\x02\x05204 \n--\n204 ' > "$d/delete"
	printf '\x12\x07db/main@3#user\n%s' "$kv2" > "$d/get-key"
	printf '\x02\x00T\n--\nI\n--\n429 {"errors":["rate"]}' > "$d/transport"
	# bits 5-6: wrapped secret_id (with AppRole), jwt, kubernetes, cert
	printf '\x26\x00200 {"data":{"creation_path":"auth/approle/role/r/secret-id","creation_ttl":60}}\n--\n200 {"data":{"secret_id":"sid","secret_id_accessor":"a"}}\n--\n%s\n--\n%s\n--\n%s\n--\n%s' "$login" "$kv2" "$kv2" "$kv2" > "$d/get-wrapped"
	printf '\x26\x00200 {"data":{"creation_path":"secret/data/x"}}' > "$d/get-wrapped-elsewhere"
	printf '\x26\x00400 {"errors":["wrapping token is not valid or does not exist"]}' > "$d/get-wrapped-used"
	printf '\x22\x00%s\n--\n%s\n--\n%s\n--\n%s' "$login" "$kv2" "$kv2" "$kv2" > "$d/get-jwt"
	printf '\x42\x00400 {"errors":["invalid role name \\"fuzz\\""]}' > "$d/get-k8s-denied"
	# dynamic secrets (dynamic_paths: database/creds/): a lease minted, none, a refusal
	printf '\x12\x07database/creds/r#username\n200 {"lease_id":"database/creds/r/abc","lease_duration":60,"renewable":true,"data":{"username":"u","password":"p"}}' > "$d/get-lease"
	printf '\x12\x07database/creds/r\n200 {"lease_id":"","data":{"username":"u"}}' > "$d/get-lease-none"
	printf '\x12\x07database/creds/r#password\n400 {"errors":["unknown role: r"]}' > "$d/get-lease-denied"
	printf '\x62\x00%s\n--\n403 {"errors":["permission denied"]}\n--\n%s\n--\n%s' "$login" "$login" "$kv2" > "$d/get-cert-relogin" ;;
names)
	printf '\000browser' > "$d/container"
	printf '\001GITHUB_TOKEN' > "$d/env"
	printf '\002github/token#value' > "$d/key"
	printf '\0030::/system.slice/docker-1.scope\n1:name=systemd:/x\n\000/system.slice/docker-*.scope\000/system.slice/docker-1.scope/child' > "$d/cgroup"
	printf '\004plain\376\375a "quoted" $HOME `x` \\ back\nslash\376\375' > "$d/render-env"
	printf '\005plain\376\375caf\303\251' > "$d/render-docker"
	printf '\006tab\there\376\375\001\037\177 \342\202\254' > "$d/render-json"
	printf '\007raw\000bytes\377' > "$d/render-raw" ;;
fs)
	# ops: 0 lookup(ino, name) 1 getattr 2 opendir 3 readdir 4 releasedir 5 open(ino, flags)
	# 6 read(h, size, off) 7 release 8 reload 9 statfs 10 caller; pool: 0 a, 8 secrets, 9 A1, 5 env
	printf '\000\000\000\000\001\010\000\002\011\005\003\000\006\000\377\000\007\000' > "$d/read-secret"
	printf '\000\000\000\002\001\003\000\017\000\002\000\003\000\017\000\004\000' > "$d/readdir"
	printf '\000\000\000\000\001\005\005\002\000\010\006\000\377\000\001\001\007\000\010' > "$d/open-reload"
	printf '\012\001\000\000\001\000\001\010\005\002\000\011\000\000\202\003abc' > "$d/caller"
	# pool 21 generation, 22 self, 23 t.ini, 24 t.sh: a template, the generation file, self
	printf '\000\000\000\000\000\001\027\005\002\000\006\000\377\000\007\000\000\001\025\005\003\000\006\000\377\000\007\000\000\000\026\000\001\030\005\005\000\006\000\377\000' > "$d/template" ;;
scan)
	# the first byte seeds how the stream is cut into reads
	python3 - "$d" <<'PY'
import json, sys
cases = json.load(open("tests/fixtures/harombe-upstream/cases.json"))
n = 0
for c in cases:
    if c.get("component") == "scanner" and isinstance(c.get("input"), str):
        with open("%s/case-%03d" % (sys.argv[1], n), "wb") as f:
            f.write(bytes([n % 256]) + c["input"].encode())
        n += 1
PY
	for f in tests/fixtures/scan/negatives/*; do { printf '\007'; cat "$f"; } > "$d/neg-$(basename "$f")"; done
	printf '\001-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\nknown hrmbKnown-Value_42 aHJtYktub3duLVZhbHVlXzQy 68726d624b6e6f776e2d56616c75655f3432\n' > "$d/pem-known" ;;
scan_rules)
	printf 'rules:\n  - id: acme_token\n    description: ACME internal API token\n    regex: '"'"'acme_(?<secret>[a-z0-9]{24})'"'"'\n    type: api_key\n    confidence: 0.9\n    keywords: [acme_]\n  - id: order_code\n    regex: '"'"'ORDER-([0-9]{6})-X'"'"'\n    secret_group: 1\ndisable: [jwt, high_entropy]\nallowlist:\n  regexes: ['"'"'^AKIA0000'"'"']\n  paths: ['"'"'(^|/)testdata/'"'"', '"'"'\\.lock$'"'"']\n' > "$d/docs-example.yaml"
	printf 'rules:\n  - id: slow\n    regex: '"'"'(a+)+$'"'"'\n' > "$d/backtrack.yaml"
	printf 'rules:\n  - id: x\n    regex: '"'"'(?<secret>[^\\n]{4,})'"'"'\n    keywords: [password, "://"]\n' > "$d/wide.yaml"
	printf 'disable: [github_token, aws_access_key, private_key]\n' > "$d/disable.yaml" ;;
template)
	# byte 0: 0 parse and render; 1-12 one filter (raw sh json yaml toml ini xml url base64 pgpass netrc dotenv)
	printf '\000[db]\nuser = {{ secret "a/b" }}\npass = {{ secret "c/d#e" | pgpass }}\nx={{ "{{" }} {{ secret "a/b" | base64 | json }}\n' > "$d/parse"
	printf '\000{"all": {{ secret "c/d" | json }}, "b64": {{ secret "c/d" | json | base64 }}, "e": {{ secret "c/d#e" | json }}}' > "$d/parse-whole"
	printf '\000{{ secret "c/d" | sh }}' > "$d/parse-whole-not-json"
	printf '\000{{ secret "x/y" }}' > "$d/parse-unknown-key"
	printf '\000{{ secret "a/b" | nope }}' > "$d/parse-bad-filter"
	printf '\000a {{ secret "a/b"' > "$d/parse-unclosed"
	printf '\000password = hunter2hunter2\n' > "$d/parse-credential"
	v='a b\t"q" '"'"'s'"'"' \\ $x `y` %%25 :*# & < > \n\r \001 \177 \302\205 \342\200\250 caf\303\251 \360\237\224\221'
	i=1
	for f in raw sh json yaml toml ini xml url base64 pgpass netrc dotenv; do
		printf "\\$(printf '%03o' $i)$v" > "$d/filter-$f"
		printf "\\$(printf '%03o' $i)plainValue-42.x" > "$d/filter-$f-plain"
		printf "\\$(printf '%03o' $i)" > "$d/filter-$f-empty"
		printf "\\$(printf '%03o' $i) lead\\377" > "$d/filter-$f-bad"
		i=$((i + 1))
	done ;;
*) echo "seeds.sh: unknown target $t" >&2; exit 2 ;;
esac
