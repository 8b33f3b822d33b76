#!/bin/bash
# The harombe command on the env backend: get/set/list/delete, config
# check, exit statuses and messages (never a value).
. "$(dirname "$0")/lib.sh"

cat > "$T_DIR/h.yaml" <<YAML
security:
  credentials:
    provider: env
  fs:
    audit_log: $T_DIR/audit.jsonl
  containers:
    browser:
      uid: 1000
      secrets: { GITHUB_TOKEN: github/token }
YAML
V=$(rand_token 30)
export HAROMBE_SECRET_GITHUB_TOKEN="$V"

out=$("$HAROMBE" -c "$T_DIR/h.yaml" vault get github/token)
[ "$out" = "$V" ] || fail "vault get"
[ "$("$HAROMBE" -c "$T_DIR/h.yaml" vault get github/token | wc -c)" = $((${#V} + 1)) ] || fail "get prints value and newline only"
ok "vault get prints the value and a newline, nothing else"

set +e
"$HAROMBE" -c "$T_DIR/h.yaml" vault get no/such 2>"$T_DIR/err"; rc=$?
set -e
[ $rc = 1 ] || fail "missing key exit $rc"
grep -q "^harombe: cannot get 'no/such' from env: not found: environment variable HAROMBE_SECRET_NO_SUCH is not set$" "$T_DIR/err" ||
	fail "message: $(cat "$T_DIR/err")"
ok "a missing key exits 1 and says which variable"

[ "$("$HAROMBE" -c "$T_DIR/h.yaml" vault list)" = github/token ] || fail "list"
[ "$("$HAROMBE" vault list github/ --provider env)" = github/token ] || fail "list --provider without config"
ok "vault list (also with --provider and no config file)"

printf 'piped-value\n' | "$HAROMBE" -c "$T_DIR/h.yaml" vault set x/y - 2>"$T_DIR/err" || fail "set from stdin"
grep -q "keeps 'x/y' for this process only" "$T_DIR/err" || fail "no process-only note for env set"
ok "vault set reads the value from stdin and says the env store keeps it for the process only"

expect_usage() {	# expect_usage 'message' args...
	local msg=$1 rc
	shift
	set +e; "$HAROMBE" "$@" >/dev/null 2>"$T_DIR/err"; rc=$?; set -e
	[ $rc = 2 ] || fail "'$*' exited $rc, expected 2"
	grep -qF -- "$msg" "$T_DIR/err" || fail "'$*': expected '$msg', got: $(cat "$T_DIR/err")"
}
expect_usage "key 'a/../b' has a '.' or '..' segment" -c "$T_DIR/h.yaml" vault get a/../b
expect_usage "unknown command 'vaults'; did you mean 'vault'?" -c "$T_DIR/h.yaml" vaults get x
expect_usage "vault get: unknown option '--bogus'" -c "$T_DIR/h.yaml" vault get --bogus x
expect_usage "vault: unknown command 'gte'; did you mean 'get'?" -c "$T_DIR/h.yaml" vault gte x
expect_usage "vault get: unexpected argument 'y'" -c "$T_DIR/h.yaml" vault get x y
expect_usage "secrets scan: unknown option '--basline'; did you mean '--baseline'?" secrets scan --basline b f
expect_usage "secrets filter: --format json means nothing here" --format json secrets filter
expect_usage "secrets filter: --baseline is for secrets scan scan-git only" secrets filter --baseline b
expect_usage "usage: harombe vault get [-field NAME]" -c "$T_DIR/h.yaml" vault get
expect_usage "--format must be text or json, not 'xml'" --format xml vault list
expect_usage "cannot open config '$T_DIR/none.yaml'" -c "$T_DIR/none.yaml" vault list
expect_usage "unknown provider 'nope'" -c "$T_DIR/h.yaml" --provider nope vault list
printf 'security:\n  fs:\n    cache_ttl: soon\n' > "$T_DIR/bad.yaml"
expect_usage "$T_DIR/bad.yaml:3:16: 'cache_ttl' must be a duration" -c "$T_DIR/bad.yaml" config check
expect_usage "audit: unknown command 'qurey'; did you mean 'query'?" audit qurey
expect_usage "rotate: unknown option '--dry-rn'; did you mean '--dry-run'?" rotate --check --dry-rn
expect_usage "run: unknown option '--bogus'" run --bogus -- true
expect_usage "vault import: option '--prefix' needs a value" vault import --prefix
expect_usage "sops: unknown command 'decrpyt'; did you mean 'decrypt'?" sops decrpyt x
expect_usage "container: unknown command 'strat'; did you mean 'start'?" container strat x
expect_usage "container secrets: unexpected argument 'b'" container secrets a b
expect_usage "run: --format json is not supported" --format json run -- true
expect_usage "vault set: --format json is not supported" -c "$T_DIR/h.yaml" vault set a/b v --format json
expect_usage "sops: --format json is not supported (use --output-type json" --format json sops decrypt x.yaml
printf 'security:\n  credentials:\n    provider: nosuch\n' > "$T_DIR/prov.yaml"
expect_usage "$T_DIR/prov.yaml:3:15: unknown provider 'nosuch'" -c "$T_DIR/prov.yaml" config check
expect_usage "config: unknown command 'chek'; did you mean 'check'?" -c "$T_DIR/h.yaml" config chek
expect_usage "config check: unexpected argument 'x'" -c "$T_DIR/h.yaml" config check x
ok "bad keys, groups, commands, options, arguments, formats, configs and providers exit 2 with the reason (and a suggestion)"

out=$("$HAROMBE" -c "$T_DIR/h.yaml" config check)
echo "$out" | grep -q "provider env, 1 view" || fail "config check: $out"
echo "$out" | grep -q "GITHUB_TOKEN: github/token" || fail "config check lists mapping"
case "$out" in *"$V"*) fail "config check printed a value" ;; esac
ok "config check summarises views, names and keys"

# config check --format json: one report, parsed by python3's json
cat >> "$T_DIR/h.yaml" <<'YAML'
      templates:
        app.ini: { inline: "token = {{ secret \"github/token\" | ini }}\n", mode: "0440" }
      gid: 1000
YAML
"$HAROMBE" -c "$T_DIR/h.yaml" --format json config check > "$T_DIR/cc.json" || fail "config check --format json: $(cat "$T_DIR/cc.json")"
grep -qF "$V" "$T_DIR/cc.json" && fail "config check --format json printed a value"
python3 - "$T_DIR/cc.json" "$T_DIR/h.yaml" <<'PY' || fail "config check --format json: $(cat "$T_DIR/cc.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["valid"] is True and r["errors"] == [], r
assert r["config"] == sys.argv[2] and r["provider"] == "env", r
assert r["checked"] == ["file", "provider", "views", "rotation"], r["checked"]
(v,) = r["views"]
assert v["container"] == "browser" and v["uid"] == 1000 and v["gid"] == 1000, v
assert v["secrets"] == [{"name": "GITHUB_TOKEN", "key": "github/token"}], v
assert v["files"] == [{"name": "app.ini", "mode": "0440", "names": ["GITHUB_TOKEN"]}], v["files"]
PY
for bad in bad prov; do
	set +e; "$HAROMBE" -c "$T_DIR/$bad.yaml" config check --format json > "$T_DIR/cc.json" 2> "$T_DIR/err"; rc=$?; set -e
	[ $rc = 2 ] || fail "config check --format json of $bad.yaml exited $rc"
	[ -s "$T_DIR/err" ] && fail "config check --format json wrote to stderr: $(cat "$T_DIR/err")"
	python3 - "$T_DIR/cc.json" "$T_DIR/$bad.yaml" "$bad" <<'PY' || fail "config check --format json of $bad.yaml: $(cat "$T_DIR/cc.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["valid"] is False and len(r["errors"]) == 1, r
e = r["errors"][0]
want = {"bad": (3, 16, "file", "'cache_ttl' must be a duration"),
        "prov": (3, 15, "provider", "unknown provider 'nosuch'")}[sys.argv[3]]
assert (e["file"], e["line"], e["column"]) == (sys.argv[2], want[0], want[1]), e
assert e["message"].startswith(want[3]), e
assert r["checked"][-1] == want[2] and "views" not in r, r
PY
done
set +e; "$HAROMBE" -c "$T_DIR/none.yaml" --format json config check > "$T_DIR/cc.json"; rc=$?; set -e
[ $rc = 2 ] && python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["valid"] is False and r["errors"][0]["line"] is None and "cannot open" in r["errors"][0]["message"], r' \
	"$T_DIR/cc.json" || fail "config check --format json of a missing file: $(cat "$T_DIR/cc.json")"
ok "config check --format json: valid, what was checked, the views (names, keys, files); errors with file, line and column (exit 2)"

"$HAROMBE" --help | grep -q "^usage: harombe" || fail "--help"
"$HAROMBE" vault --help | grep -q "harombe vault get .*KEY" || fail "vault --help"
"$HAROMBE" help vault | grep -q "harombe vault get .*KEY" || fail "help vault"
"$HAROMBE" help | grep -q "^usage: harombe" || fail "help"
out=$("$HAROMBE" help secrets scan)
echo "$out" | grep -q "harombe secrets scan " && ! echo "$out" | grep -q "secrets filter" || fail "help secrets scan: $out"
out=$("$HAROMBE" vault get --help)
echo "$out" | grep -q "^usage: harombe vault get .*KEY$" && ! echo "$out" | grep -q "harombe vault set" || fail "vault get --help: $out"
out=$("$HAROMBE" help audit report)
echo "$out" | grep -q "^usage: harombe audit report" && ! echo "$out" | grep -q "harombe audit query" || fail "help audit report: $out"
out=$("$HAROMBE" sops decrypt --help)
echo "$out" | grep -q "^usage: harombe sops decrypt" && ! echo "$out" | grep -q "harombe sops encrypt" || fail "sops decrypt --help: $out"
out=$("$HAROMBE" secrets scan-git --help)
echo "$out" | grep -q -- "--staged" && ! echo "$out" | grep -q -- "--hold-ms" || fail "scan-git --help: $out"
# every command: help GROUP CMD and GROUP CMD --help print the same text,
# that command's usage, summary and options, and no sibling's usage
"$HAROMBE" help --commands > "$T_DIR/cmds"
while read -r g c; do
	[ -n "$c" ] || continue
	a=$("$HAROMBE" help "$g" "$c") || fail "help $g $c"
	b=$("$HAROMBE" "$g" "$c" --help) || fail "$g $c --help"
	[ "$a" = "$b" ] || fail "help $g $c and $g $c --help differ"
	echo "$a" | head -1 | grep -qE "^usage: harombe (\[-c FILE\] )?$g $c( |$)" || fail "$g $c --help: $a"
	for o in $(sed -n "s/^\($g\) \([a-z-]*\)$/\2/p" "$T_DIR/cmds"); do
		[ "$o" = "$c" ] && continue
		echo "$a" | grep -qE "^(usage:)? +harombe $g $o( |$)" && fail "$g $c --help shows $g $o's usage: $a"
	done
	echo "$a" | awk 'b && NF { print; exit } !NF { b = 1 }' | grep -qE '^[a-z].*\.$' || fail "$g $c --help has no summary line: $a"
	if [ -n "$("$HAROMBE" help --options "$g" "$c")" ]; then
		echo "$a" | grep -q '^options:$' || fail "$g $c --help lists no options: $a"
	fi
done < "$T_DIR/cmds"
out=$("$HAROMBE" audit query --help)
echo "$out" | grep -q -- "--log FILE" && ! echo "$out" | grep -q -- "--group-by" || fail "audit query --help: $out"
out=$("$HAROMBE" config check --help)
echo "$out" | grep -q "^usage: harombe \[-c FILE\] config check \[--format json\]" || fail "config check --help: $out"
expect_usage "vault: unknown command 'gte'; did you mean 'get'?" help vault gte
expect_usage "vault list: --purge is for vault delete only" vault list --purge
expect_usage "audit query: --group-by is for audit report only" audit query --group-by event
expect_usage "sops decrypt: --age is for sops encrypt only" sops decrypt --age x f
out=$(HAROMBE_SECRET_A_B=v "$HAROMBE" --provider env run --secret X=a/b -- sh -c 'echo "$1"' sh --help) || fail "run -- sh ... --help"
[ "$out" = "--help" ] || fail "run: --help after -- was taken as harombe's: $out"
ok "--help on the command, its groups and their commands; harombe help [GROUP [CMD]]; every command's own help"
