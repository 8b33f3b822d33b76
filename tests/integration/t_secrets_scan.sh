#!/bin/bash
# harombe secrets scan (files, stdin, --recursive with .gitignore),
# scan-git, --format text|json|sarif, the options, and redact.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scanlib.sh"

GH=$(gh_token)
PW=$(fake_password)
AK=$(aws_id)
# A fixed 40-character token of mixed case and digits, made up for this
# test: a random one reads as words now and then (about 1 in 150 draws),
# and a test must not depend on the draw.
ENT=q7Zt2LwX9vRk4MhN8pJc3YfB6sGd1TxWe5UaHn0K
ERR=$T_DIR/err
cd "$T_DIR"

printf 'line one\nline two has the key %s in it\n\nconfig:\n  password: %s\n' "$GH" "$PW" > leaky.txt
printf 'nothing to see here\nsha256:%s\n' "$(head -c 32 /dev/urandom | sha256sum | cut -c1-64)" > clean.txt

# ---- scan FILE ----
rc_of "$HAROMBE" secrets scan clean.txt > out 2> "$ERR"
rc=$RC
[ "$rc" -eq 0 ] && [ ! -s out ] || fail "clean file: exit $rc, output '$(cat out)'"
rc_of "$HAROMBE" secrets scan leaky.txt clean.txt > out 2> "$ERR"
rc=$RC
[ "$rc" -eq 1 ] || fail "findings: exit $rc"
grep -q '^leaky.txt:2:22: github_token (rule github_token, confidence 0.95, starts with "gh'p'_")$' out ||
	fail "text report: $(cat out)"
grep -q '^leaky.txt:5:13: password (rule password, confidence 0.8)$' out || fail "text report: $(cat out)"
[ "$(wc -l < out)" -eq 2 ] || fail "expected 2 findings"
no_run out "$GH" "scan report"
no_run out "$PW" "scan report"
ok "scan FILE...: path:line:column, type, rule, confidence; exit 1 on findings, 0 when clean; no values"

rc_of sh -c "'$HAROMBE' secrets scan - < leaky.txt > out 2> '$ERR'"
rc=$RC
[ "$rc" -eq 1 ] && grep -q '^stdin:2:22: github_token' out || fail "scan -: exit $rc $(cat out)"
rc_of sh -c "'$HAROMBE' secrets scan --source tool:cat - < leaky.txt > out 2> '$ERR'"
rc=$RC
grep -q '^tool:cat:2:22:' out || fail "scan - --source"
rc_of "$HAROMBE" secrets scan missing.txt > out 2> "$ERR"
rc=$RC
[ "$rc" -eq 2 ] && grep -q "cannot open 'missing.txt'" "$ERR" || fail "missing file: exit $rc"
ok "scan - reads stdin; a missing file is exit 2"

# ---- options ----
printf 'credential %s\nPASSWORD=%s\n' "$ENT" "$PW" > opts.txt
[ "$("$HAROMBE" secrets scan opts.txt | grep -c .)" -eq 2 ] || fail "options baseline"
[ "$("$HAROMBE" secrets scan --no-entropy opts.txt | grep -c .)" -eq 1 ] || fail "--no-entropy"
[ "$("$HAROMBE" secrets scan --min-confidence 0.9 opts.txt | grep -c .)" -eq 0 ] || fail "--min-confidence"
[ "$("$HAROMBE" secrets scan --min-length 41 opts.txt | grep -c .)" -eq 1 ] || fail "--min-length"
ok "--no-entropy, --min-confidence, --min-length"

# ---- JSON and SARIF ----
"$HAROMBE" --format json secrets scan leaky.txt clean.txt > out.json || true
python3 - out.json <<'EOF' || fail "JSON report"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["summary"] == {"files": 2, "skipped": 0, "findings": 2}, d["summary"]
f = d["findings"][0]
assert f["path"] == "leaky.txt" and f["line"] == 2 and f["column"] == 22 and f["rule"] == "github_token", f
assert f["type"] == "github_token" and f["confidence"] == 0.95 and f["length"] == 40 and f["marker"] == "gh" + "p_", f
EOF
no_run out.json "$GH" "JSON report"
"$HAROMBE" secrets scan --format sarif leaky.txt > out.sarif || true
python3 - out.sarif <<'EOF' || fail "SARIF report"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == "2.1.0" and d["$schema"].endswith("sarif-2.1.0.json")
assert len(d["runs"]) == 1
run = d["runs"][0]
drv = run["tool"]["driver"]
assert drv["name"] == "harombe" and drv["version"]
ids = [r["id"] for r in drv["rules"]]
assert len(ids) == len(set(ids)) and "github_token" in ids and "high_entropy" in ids
for r in drv["rules"]:
    assert r["shortDescription"]["text"] and r["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert float(r["properties"]["security-severity"]) > 0
assert len(run["results"]) == 2
for res in run["results"]:
    assert res["ruleId"] in ids and ids[res["ruleIndex"]] == res["ruleId"]
    assert res["level"] in ("error", "warning") and res["message"]["text"]
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "leaky.txt"
    assert loc["region"]["startLine"] >= 1 and loc["region"]["startColumn"] >= 1
EOF
no_run out.sarif "$GH" "SARIF report"
ok "--format json and --format sarif (2.1.0: driver rules, results with ruleId/ruleIndex, locations, levels)"

# ---- --recursive: .gitignore and binaries ----
mk_tree() {
	rm -rf "$1" && mkdir -p "$1/src/sub" "$1/logs" "$1/build"
	printf 'logs/\n*.tmp\n' > "$1/.gitignore"
	printf 'generated.txt\n' > "$1/src/sub/.gitignore"
	echo "key = $GH" > "$1/src/app.conf"
	echo "aws: $AK" > "$1/src/sub/keys.txt"
	echo "ignored $GH" > "$1/src/sub/generated.txt"
	echo "ignored $GH" > "$1/logs/app.log"
	echo "ignored $GH" > "$1/x.tmp"
	{ printf 'BIN\0\1\2'; echo " $GH"; } > "$1/build/blob.bin"
	echo "clean" > "$1/README"
}
mk_tree tree
rc_of "$HAROMBE" secrets scan --quiet --recursive tree > out 2> "$ERR"
rc=$RC
[ "$rc" -eq 1 ] || fail "--recursive: exit $rc"
assert_eq "$(cut -d: -f1 out | sort | tr '\n' ' ')" "tree/src/app.conf tree/src/sub/keys.txt " "--recursive outside git"
"$HAROMBE" --format json secrets scan --recursive tree > out.json || true
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; assert s["skipped"] == 1 and s["files"] == 5, s' out.json ||
	fail "--recursive: binary not counted as skipped"
mk_tree repo
git -C repo init -q && git -C repo add -A . 2>/dev/null
rc_of "$HAROMBE" secrets scan --recursive repo > out 2> "$ERR"
rc=$RC
assert_eq "$(cut -d: -f1 out | sort | tr '\n' ' ')" "repo/src/app.conf repo/src/sub/keys.txt " "--recursive in a repository"
(cd repo && "$HAROMBE" secrets scan --recursive . > ../out) || true
assert_eq "$(cut -d: -f1 out | sort | tr '\n' ' ')" "src/app.conf src/sub/keys.txt " "--recursive ."
ok "--recursive honours .gitignore (nested, in and outside a repository) and skips binaries"

# ---- allowlist paths, custom rules ----
cat > rules.yaml <<'EOF'
rules:
  - id: acme_token
    regex: 'acme_(?<secret>[a-z0-9]{24})'
    type: api_key
    keywords: [acme_]
allowlist:
  paths: ['(^|/)sub/']
EOF
echo "t acme_abcdefghij0123456789klmn" >> tree/README
"$HAROMBE" secrets scan --rules rules.yaml --recursive tree > out || true
assert_eq "$(cut -d: -f1,4 out | sort | tr '\n' ' ')" "tree/README: api_key (rule acme_token, confidence 0.8) tree/src/app.conf: github_token (rule github_token, confidence 0.95, starts with \"gh""p_\") " "custom rule and path allowlist"
printf 'rules:\n  - id: x\n    regex: "(a"\n' > bad.yaml
rc_of "$HAROMBE" secrets scan --rules bad.yaml clean.txt 2> "$ERR"
rc=$RC
[ "$rc" -eq 2 ] && grep -q "bad.yaml:2:5: rule 'x': regex does not compile" "$ERR" || fail "bad rules file: $(cat "$ERR")"
ok "--rules: custom rules, allowlist by path; errors name file:line:col"

# ---- scan-git ----
git init -q hist
git -C hist config user.email t@example.com
git -C hist config user.name t
printf 'a\nb\n' > hist/app.env
git -C hist add app.env && git -C hist commit -q -m one
printf 'a\nb\nGITHUB_TOKEN=%s\n' "$GH" > hist/app.env
git -C hist commit -q -am "two: oops"
c2=$(git -C hist rev-parse HEAD)
printf 'a\nb\n' > hist/app.env
git -C hist commit -q -am "three: remove it"
echo readme > hist/README && git -C hist add README && git -C hist commit -q -m four
rc_of "$HAROMBE" secrets scan-git --repo hist --commits 2 > out 2> "$ERR"
rc=$RC
[ "$rc" -eq 0 ] && [ ! -s out ] || fail "scan-git --commits 2: exit $rc $(cat out)"
rc_of "$HAROMBE" secrets scan-git --repo hist --commits 4 > out 2> "$ERR"
rc=$RC
[ "$rc" -eq 1 ] || fail "scan-git --commits 4: exit $rc"
assert_eq "$(cut -d: -f1-4 out)" "${c2:0:12}:app.env:3:14" "scan-git finding"
"$HAROMBE" secrets scan-git --repo hist --commits 4 --format sarif > out.sarif || true
python3 - out.sarif "$c2" <<'EOF' || fail "scan-git SARIF"
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]["results"]
assert len(r) == 1 and r[0]["properties"]["commit"] == sys.argv[2]
assert r[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app.env"
assert r[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
EOF
(cd hist && "$HAROMBE" secrets scan-git > ../out) || true
[ "$(wc -l < out)" -eq 1 ] || fail "scan-git in the current repository"
rc_of "$HAROMBE" secrets scan-git --repo tree 2> "$ERR"
rc=$RC
[ "$rc" -eq 2 ] || fail "scan-git outside a repository: exit $rc"
no_run out "$GH" "scan-git report"
ok "scan-git --commits N: added lines of the last N commits, with commit, path and line; exit 1"

# ---- redact ----
printf 'user=ci\npassword=%s\nGITHUB_TOKEN=%s\n' "$PW" "$GH" > conf.env
chmod 640 conf.env
before=$(sha256sum < conf.env)
"$HAROMBE" secrets redact conf.env --output clean.env 2> "$ERR"
assert_eq "$(sha256sum < conf.env)" "$before" "redact must not touch its input"
assert_eq "$(cat clean.env)" $'user=ci\npassword=[REDACTED]\nGITHUB_TOKEN=[REDACTED]' "redacted copy"
[ "$(stat -c %a clean.env)" = 640 ] || fail "the copy lost the mode"
grep -q "conf.env: 2 secrets redacted, written to clean.env" "$ERR" || fail "redact summary: $(cat "$ERR")"
rc_of "$HAROMBE" secrets redact conf.env --output ./conf.env 2> "$ERR"
rc=$RC
[ "$rc" -eq 2 ] && assert_eq "$(sha256sum < conf.env)" "$before" "refused redact"
rc_of "$HAROMBE" secrets redact conf.env 2> "$ERR"
rc=$RC
[ "$rc" -eq 2 ] || fail "redact without --output or --in-place: exit $rc"
assert_eq "$("$HAROMBE" secrets redact conf.env --output - 2>/dev/null)" "$(cat clean.env)" "redact --output -"
"$HAROMBE" secrets redact --in-place conf.env --quiet
assert_eq "$(cat conf.env)" "$(cat clean.env)" "--in-place"
[ "$(stat -c %a conf.env)" = 640 ] || fail "--in-place lost the mode"
ls -a | grep -q 'harombe-' && fail "a temporary file was left behind"
no_run conf.env "$GH" "in place"
ok "redact --output (atomic, input untouched, mode kept), --output -, --in-place; never in place by accident"

out=$("$HAROMBE" secrets rules)
[ "$(echo "$out" | grep -c .)" -ge 50 ] && echo "$out" | grep -q '^private_key ' || fail "rules listing"
ok "secrets rules lists the rules"
