#!/bin/bash
# The scanner where gitleaks and detect-secrets sit: inline allow markers,
# a discovered .harombe-scan.yaml, baselines and .harombeignore with keyed
# fingerprints (JSON, SARIF), scan-git ranges, --staged and the pre-commit
# hook run by a real `git commit`, --no-gitignore, binary files, filter
# FILE..., exit codes, colour and confidences as written.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scanlib.sh"

GH=$(gh_token)
GH2=$(gh_token)
AK=$(aws_id)
ERR=$T_DIR/err
cd "$T_DIR"
export GIT_CONFIG_NOSYSTEM=1 HOME=$T_DIR
git config --global user.email t@example.com
git config --global user.name t
git config --global init.defaultBranch main

# ---- inline allow ----
mkdir inl && cd inl
printf 'a=%s\nb=%s # harombe:allow\nc=%s // gitleaks:allow\nd=%s # pragma: allowlist secret\n' \
	"$GH" "$GH2" "$AK" "$(gh_token)" > f.txt
rc_of "$HAROMBE" secrets scan f.txt > out 2> "$ERR"
[ "$RC" -eq 1 ] && [ "$(wc -l < out)" -eq 1 ] && grep -q '^f.txt:1:' out || fail "inline allow: exit $RC $(cat out)"
grep -q '3 findings left out: 3 marked inline' "$ERR" || fail "inline allow: summary $(cat "$ERR")"
rc_of "$HAROMBE" secrets scan --no-inline-allow f.txt > out 2> "$ERR"
[ "$RC" -eq 1 ] && [ "$(wc -l < out)" -eq 4 ] || fail "--no-inline-allow: $(cat out)"
# filter ignores the markers: the text comes from tools, not from reviewers
"$HAROMBE" secrets filter --quiet < f.txt > out
no_run out "$GH2" "filter with a harombe:allow marker"
no_run out "$AK" "filter with a gitleaks:allow marker"
cd ..
ok "inline allow: harombe:allow, gitleaks:allow, pragma: allowlist secret leave a finding out of scan; filter redacts them all"

# ---- discovered config, --config, --no-config ----
mkdir cfg && cd cfg
printf 'token = %s\nfixture = %s\n' "$GH" "$AK" > app.conf
printf 'x=%s\n' "$GH2" > testdata.txt
cat > .harombe-scan.yaml <<'END'
disable: [aws_access_key_id]
allowlist:
  paths: ['^testdata']
END
rc_of "$HAROMBE" secrets scan --recursive . > out 2> "$ERR"
[ "$RC" -eq 1 ] && [ "$(wc -l < out)" -eq 1 ] && grep -q 'app.conf:1:.*github_token' out ||
	fail "discovered config: exit $RC $(cat out)"
rc_of "$HAROMBE" secrets scan --recursive . --no-config > out 2> "$ERR"
[ "$(wc -l < out)" -eq 3 ] || fail "--no-config: $(cat out)"
printf 'disable: [github_token]\n' > other.yaml
rc_of "$HAROMBE" secrets scan --config other.yaml app.conf > out 2> "$ERR"
[ "$RC" -eq 1 ] && grep -q aws_access_key_id out && ! grep -q github_token out || fail "--config: $(cat out)"
rc_of "$HAROMBE" secrets scan --config missing.yaml app.conf > out 2> "$ERR"
[ "$RC" -eq 2 ] && grep -q "cannot read the scan config 'missing.yaml'" "$ERR" || fail "--config missing: $RC"
# allowlist: stopwords, extend: use_default: false (gitleaks' [extend] useDefault)
printf 'a=%s\n' "$(printf 'gh%s_EXAMPLE%s' p "$(rand_token 29)")" > stop.txt
printf 'allowlist:\n  stopwords: [example]\n' > stop.yaml
rc_of "$HAROMBE" secrets scan --config stop.yaml stop.txt app.conf > out 2> "$ERR"
[ "$RC" -eq 1 ] && ! grep -q stop.txt out && grep -q 'app.conf:1:' out && grep -q '1 with a stop word' "$ERR" ||
	fail "stopwords: $(cat out "$ERR")"
cat > own.yaml <<'END'
extend:
  use_default: false
rules:
  - id: acme_token
    regex: 'acme_(?<secret>[a-z0-9]{24})'
    keywords: [acme_]
END
printf 'acme_abcdefghij0123456789wxyz\n' >> app.conf
rc_of "$HAROMBE" secrets scan --config own.yaml app.conf > out 2> "$ERR"
[ "$RC" -eq 1 ] && [ "$(wc -l < out)" -eq 1 ] && grep -q 'acme_token' out || fail "use_default: false: $(cat out "$ERR")"
printf 'allowlist:\n  stopwords: [x]\nrules:\n  - id: y\n    regex: "(a"\n' > bad.yaml
rc_of "$HAROMBE" secrets scan --config bad.yaml app.conf > out 2> "$ERR"
[ "$RC" -eq 2 ] && grep -q "bad.yaml:4:5: rule 'y'" "$ERR" || fail "positions after the taken keys: $(cat "$ERR")"
printf 'extend: {use_default: maybe}\n' > bad.yaml
rc_of "$HAROMBE" secrets scan --config bad.yaml app.conf > out 2> "$ERR"
[ "$RC" -eq 2 ] && grep -q "bad.yaml:1:.*true or false" "$ERR" || fail "bad use_default: $(cat "$ERR")"
cd ..
ok ".harombe-scan.yaml at the root is read without --rules (disable, allowlist, stopwords, extend: use_default); --config overrides; --no-config"

# ---- baselines, fingerprints, .harombeignore ----
mkdir bl && cd bl
printf 'old=%s\n' "$GH" > a.txt
rc_of "$HAROMBE" secrets scan a.txt --write-baseline base.json > out 2> "$ERR"
[ "$RC" -eq 0 ] && [ ! -s out ] || fail "--write-baseline: exit $RC"
no_run base.json "$GH" "baseline file"
FP=$(python3 -c 'import json,sys; print(json.load(open("base.json"))["findings"][0]["fingerprint"])')
case "$FP" in github_token:a.txt:[0-9a-f]*) ;; *) fail "fingerprint shape: $FP" ;; esac
[ ${#FP} -eq $((19 + 32)) ] || fail "fingerprint length: $FP"
printf 'new=%s\n' "$GH2" >> a.txt
rc_of "$HAROMBE" secrets scan a.txt --baseline base.json > out 2> "$ERR"
[ "$RC" -eq 1 ] && [ "$(wc -l < out)" -eq 1 ] && grep -q '^a.txt:2:' out || fail "--baseline: $(cat out)"
# the same fingerprint in JSON, SARIF and an ignore file
"$HAROMBE" secrets scan a.txt --format json > rep.json 2> "$ERR" || true
"$HAROMBE" secrets scan a.txt --format sarif > rep.sarif 2> "$ERR" || true
python3 - "$FP" <<'END' || fail "fingerprint in JSON and SARIF"
import json, sys
fp = sys.argv[1]
j = json.load(open("rep.json"))
assert fp in [f["fingerprint"] for f in j["findings"]], j
s = json.load(open("rep.sarif"))
assert fp in [r["partialFingerprints"]["harombe/v1"] for r in s["runs"][0]["results"]]
END
# a JSON report is a baseline too
rc_of "$HAROMBE" secrets scan a.txt --baseline rep.json > out 2> "$ERR"
[ "$RC" -eq 0 ] || fail "a report as the baseline: exit $RC"
printf '# reviewed\n%s\n' "$FP" > .harombeignore
rc_of "$HAROMBE" secrets scan a.txt > out 2> "$ERR"
[ "$RC" -eq 1 ] && [ "$(wc -l < out)" -eq 1 ] && grep -q '^a.txt:2:' out || fail ".harombeignore: $(cat out)"
# a different value on the same line has another fingerprint
printf 'old=%s\n' "$(gh_token)" > a.txt
rc_of "$HAROMBE" secrets scan a.txt > out 2> "$ERR"
[ "$RC" -eq 1 ] || fail "a changed value is not in the ignore file"
printf '{"findings": [{"fingerprint": 3}]}' > bad.json
rc_of "$HAROMBE" secrets scan a.txt --baseline bad.json > out 2> "$ERR"
[ "$RC" -eq 2 ] && grep -q "baseline 'bad.json': finding 1 has no" "$ERR" || fail "bad baseline: $RC $(cat "$ERR")"
cd ..
ok "baselines: --write-baseline, --baseline (its own or a JSON report), .harombeignore; one fingerprint in JSON and SARIF, never the value"

# ---- stdin (scan -) is scanned as a file is ----
mkdir in && cd in
printf 'a=%s\nb=%s # harombe:allow\nc=%s // gitleaks:allow\nd=%s # pragma: allowlist secret\n' \
	"$GH" "$GH2" "$AK" "$(gh_token)" > f.txt
for how in pipe file; do
	if [ $how = pipe ]; then
		rc_of sh -c "cat f.txt | '$HAROMBE' secrets scan - > out 2> '$ERR'"
	else
		rc_of sh -c "'$HAROMBE' secrets scan - < f.txt > out 2> '$ERR'"
	fi
	[ "$RC" -eq 1 ] && [ "$(wc -l < out)" -eq 1 ] && grep -q '^stdin:1:' out || fail "stdin ($how): inline allow: exit $RC $(cat out)"
	grep -q '3 findings left out: 3 marked inline' "$ERR" || fail "stdin ($how): inline allow summary: $(cat "$ERR")"
done
rc_of sh -c "cat f.txt | '$HAROMBE' secrets scan --no-inline-allow - > out 2> '$ERR'"
[ "$RC" -eq 1 ] && [ "$(wc -l < out)" -eq 4 ] || fail "stdin --no-inline-allow: $(cat out)"
# fingerprints: --source NAME is its path, so a file's baseline applies
printf 'old=%s\n' "$GH" > app.env
"$HAROMBE" secrets scan app.env --write-baseline base.json 2> "$ERR" || fail "--write-baseline app.env: $(cat "$ERR")"
printf 'new=%s\n' "$GH2" >> app.env
rc_of sh -c "cat app.env | '$HAROMBE' secrets scan --source app.env --baseline base.json - > out 2> '$ERR'"
[ "$RC" -eq 1 ] && [ "$(wc -l < out)" -eq 1 ] && grep -q '^app.env:2:' out || fail "stdin --baseline: exit $RC $(cat out "$ERR")"
rc_of sh -c "cat app.env | '$HAROMBE' secrets scan --source app.env --format json - > rep.json 2> '$ERR'"
python3 - <<'END' || fail "stdin --format json: $(cat rep.json)"
import json
j = json.load(open("rep.json"))
fps = [f["fingerprint"] for f in j["findings"]]
assert len(fps) == 2 and all(fp.startswith("github_token:app.env:") for fp in fps), fps
assert json.load(open("base.json"))["findings"][0]["fingerprint"] in fps
END
no_run rep.json "$GH" "stdin JSON report"
# the discovered .harombe-scan.yaml (stop words) and .harombeignore of the current directory
FP2=$(python3 -c 'import json; print(json.load(open("rep.json"))["findings"][1]["fingerprint"])')
printf '%s\n' "$FP2" > .harombeignore
rc_of sh -c "cat app.env | '$HAROMBE' secrets scan --source app.env - > out 2> '$ERR'"
[ "$RC" -eq 1 ] && [ "$(wc -l < out)" -eq 1 ] && grep -q '^app.env:1:' out || fail "stdin .harombeignore: exit $RC $(cat out "$ERR")"
rm .harombeignore
printf 'a=%s\n' "$(printf 'gh%s_EXAMPLE%s' p "$(rand_token 29)")" > stop.txt
printf 'allowlist:\n  stopwords: [example]\n' > .harombe-scan.yaml
rc_of sh -c "cat stop.txt | '$HAROMBE' secrets scan - > out 2> '$ERR'"
[ "$RC" -eq 0 ] && [ ! -s out ] && grep -q '1 with a stop word' "$ERR" || fail "stdin stop words: exit $RC $(cat out "$ERR")"
rc_of sh -c "cat stop.txt | '$HAROMBE' secrets scan --no-config - > out 2> '$ERR'"
[ "$RC" -eq 1 ] || fail "stdin --no-config: the stop word still applied"
rm .harombe-scan.yaml
# a piped stdin longer than the window: a marked line 3 MiB in is still left out, a finding still reported
{ head -c 3000000 /dev/zero | tr '\0' 'x' | fold -w 100; echo; printf 'z=%s # harombe:allow\ny=%s\n' "$(gh_token)" "$GH"; } > big.txt
rc_of sh -c "cat big.txt | '$HAROMBE' secrets scan --source big.txt --format json - > rep.json 2> '$ERR'"
[ "$RC" -eq 1 ] && grep -q '1 marked inline' "$ERR" || fail "big stdin: exit $RC $(cat "$ERR")"
python3 -c 'import json; f=json.load(open("rep.json"))["findings"]; assert len(f) == 1 and f[0]["line"] == 30002 and f[0]["fingerprint"].startswith("github_token:big.txt:"), f' ||
	fail "big stdin: $(cat rep.json)"
# filter keeps ignoring the markers (documented): a tool's output must not let a secret through
printf 'b=%s # harombe:allow\n' "$GH2" | "$HAROMBE" secrets filter --quiet > out
no_run out "$GH2" "filter of stdin with a harombe:allow marker"
cd ..
ok "scan - (piped or redirected) as a file: inline markers, fingerprints with --source as path (baselines, .harombeignore, JSON), discovered .harombe-scan.yaml stop words; filter still ignores markers"

# ---- scan-git: history, ranges, --since, --all, --staged ----
mkdir repo && cd repo && git init -q .
printf 'k=%s\n' "$GH" > one.txt && git add one.txt && git commit -qm one
printf 'clean\n' > two.txt && git add two.txt && git commit -qm two
for i in $(seq 3 14); do echo "$i" > n.txt; git add n.txt; git commit -qm "$i"; done
git checkout -qb side && printf 'k=%s\n' "$AK" > side.txt && git add side.txt && git commit -qm side && git checkout -q main
rc_of "$HAROMBE" secrets scan-git > out 2> "$ERR"
[ "$RC" -eq 1 ] && grep -q 'one.txt:1:.*github_token' out && ! grep -q side.txt out ||
	fail "scan-git: whole history of HEAD by default: $(cat out)"
rc_of "$HAROMBE" secrets scan-git HEAD~2..HEAD > out 2> "$ERR"
[ "$RC" -eq 0 ] || fail "scan-git A..B: exit $RC $(cat out)"
rc_of "$HAROMBE" secrets scan-git --all > out 2> "$ERR"
grep -q side.txt out && grep -q one.txt out || fail "scan-git --all: $(cat out)"
rc_of "$HAROMBE" secrets scan-git --since=2000-01-01 > out 2> "$ERR"
[ "$RC" -eq 1 ] || fail "scan-git --since"
rc_of "$HAROMBE" secrets scan-git nosuchrev > out 2> "$ERR"
[ "$RC" -eq 2 ] || fail "scan-git with a bad revision: exit $RC"
printf 'staged=%s\n' "$AK" > s.txt && git add s.txt
rc_of "$HAROMBE" secrets scan-git --staged > out 2> "$ERR"
[ "$RC" -eq 1 ] && [ "$(wc -l < out)" -eq 1 ] && grep -q '^s.txt:1:' out || fail "--staged: $(cat out)"
git reset -q s.txt && rm s.txt
cd ..
ok "scan-git: the history of HEAD by default, A..B, --all refs, --since, --staged"

# ---- the pre-commit hook, by a real git commit ----
# The pre-commit framework cannot be installed here (no PyPI): the hook runs
# .pre-commit-hooks.yaml's entry as the framework would (pass_filenames:
# false, in the repository's root, exit status non-zero blocks the commit).
ENTRY=$(sed -n 's/^  entry: //p' "$TOP/.pre-commit-hooks.yaml")
[ "$ENTRY" = "harombe secrets scan-git --pre-commit" ] || fail "hook entry: $ENTRY"
mkdir hooked && cd hooked && git init -q .
printf '#!/bin/sh\nPATH=%s:$PATH\nexec %s\n' "$(dirname "$HAROMBE")" "$ENTRY" > .git/hooks/pre-commit
chmod +x .git/hooks/pre-commit
printf 'hello\n' > ok.txt && git add ok.txt
git commit -qm clean 2> "$ERR" || fail "a clean commit was refused: $(cat "$ERR")"
printf 'token=%s\n' "$GH" > leak.txt && git add leak.txt
if git commit -qm leak > out 2> "$ERR"; then fail "a commit with a secret went through"; fi
grep -q 'leak.txt:1:.*github_token' out "$ERR" || fail "the hook does not say where: $(cat out "$ERR")"
no_run out "$GH" "hook output"
no_run "$ERR" "$GH" "hook errors"
[ "$(git rev-list --count HEAD)" -eq 1 ] || fail "the leak was committed"
printf 'token=%s # harombe:allow\n' "$GH" > leak.txt && git add leak.txt
git commit -qm allowed 2> "$ERR" || fail "an allowed line was refused: $(cat "$ERR")"
# speed: a typical commit, and a history of a thousand lines behind it
seq 1 2000 > big.txt && git add big.txt
t0=$(date +%s%N)
"$HAROMBE" secrets scan-git --pre-commit > /dev/null 2>&1 || fail "pre-commit on a clean change"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "# pre-commit scan of a 2000-line change: $ms ms"
[ "$ms" -lt 1000 ] || fail "pre-commit took $ms ms"
cd ..
ok "pre-commit hook (.pre-commit-hooks.yaml's entry) in a throwaway repository: git commit refused with a secret, allowed when clean or marked; under a second"

# ---- files: --no-gitignore, binary, filter FILE... ----
mkdir files && cd files && git init -q .
printf '.env\n' > .gitignore
printf 'TOKEN=%s\n' "$GH" > .env
rc_of "$HAROMBE" secrets scan --recursive . > out 2> "$ERR"
[ "$RC" -eq 0 ] || fail "a gitignored .env is skipped by default"
rc_of "$HAROMBE" secrets scan --recursive . --no-gitignore > out 2> "$ERR"
[ "$RC" -eq 1 ] && grep -q '^./.env:1:\|^.env:1:' out || fail "--no-gitignore: $(cat out)"
printf 'x\0y %s\n' "$GH" > blob.bin
rc_of "$HAROMBE" secrets scan blob.bin > out 2> "$ERR"
[ "$RC" -eq 0 ] && grep -q "skipped 'blob.bin': a binary file" "$ERR" || fail "binary: $RC $(cat "$ERR")"
printf 'a %s\n' "$GH" > f1 && printf 'b %s\n' "$AK" > f2
"$HAROMBE" secrets filter --quiet f1 f2 < /dev/null > out
[ "$(wc -l < out)" -eq 2 ] && grep -q '^a \[REDACTED\]$' out && grep -q '^b \[REDACTED\]$' out || fail "filter FILE...: $(cat out)"
rc_of "$HAROMBE" secrets filter f1 nope > out 2> "$ERR"
[ "$RC" -eq 2 ] && grep -q "cannot open 'nope'" "$ERR" || fail "filter of a missing file"
cd ..
ok "--no-gitignore scans a gitignored .env; scan of a binary says it skipped it; filter FILE... reads the files"

# ---- exit codes, colour, confidences ----
cd files
rc_of "$HAROMBE" secrets scan f1 nope > out 2> "$ERR"
[ "$RC" -eq 2 ] && [ -s out ] || fail "findings and an error: exit $RC"
rc_of "$HAROMBE" secrets scan f1 nope --exit-code-on-error 1 > out 2> "$ERR"
[ "$RC" -eq 1 ] || fail "--exit-code-on-error 1: exit $RC"
rc_of "$HAROMBE" secrets scan nope --exit-code-on-error 7 > out 2> "$ERR"
[ "$RC" -eq 7 ] || fail "--exit-code-on-error 7: exit $RC"
"$HAROMBE" secrets scan f1 --color=always > out 2>&1 || true
grep -q $'\033\\[1;31m' out || fail "--color=always"
script -qec "'$HAROMBE' secrets scan f1" /dev/null > out 2>&1 || true
grep -q $'\033' out || fail "a terminal has colour"
NO_COLOR=1 script -qec "'$HAROMBE' secrets scan f1" /dev/null > out 2>&1 || true
! grep -q $'\033' out || fail "NO_COLOR"
TERM=dumb script -qec "'$HAROMBE' secrets scan f1" /dev/null > out 2>&1 || true
! grep -q $'\033' out || fail "TERM=dumb"
NO_COLOR=1 "$HAROMBE" secrets scan f1 --color=always > out 2>&1 || true
grep -q $'\033' out || fail "--color=always over NO_COLOR"
rc_of "$HAROMBE" secrets filter --color=always < f1 > out 2> "$ERR"
[ "$RC" -eq 2 ] && grep -q "secrets filter: --color is for secrets scan scan-git only" "$ERR" || fail "filter --color is not ignored"
rc_of "$HAROMBE" secrets scan f1 --with-type > out 2> "$ERR"
[ "$RC" -eq 2 ] || fail "scan --with-type is not ignored"
rc_of "$HAROMBE" secrets scan f1 --color=sometimes > out 2> "$ERR"
[ "$RC" -eq 2 ] || fail "--color=sometimes"
"$HAROMBE" secrets scan f1 --format json > out || true
grep -q '"confidence":0.95,' out || fail "JSON confidence as written: $(grep confidence out)"
"$HAROMBE" secrets rules --format json > out
! grep -q '0\.9[0-9]\{5,\}' out || fail "rules: confidence as written"
cd ..
ok "exit codes: 1 findings, 2 errors (also with findings), --exit-code-on-error N; --color, NO_COLOR, TERM=dumb; 0.95 as written; an option for another command is an error"

# ---- filter beside a broken harombe.yaml it does not need ----
mkdir broken && cd broken
printf 'security:\n  fs: [not, a, map\n' > harombe.yaml
printf 'a %s\n' "$GH" | "$HAROMBE" secrets filter > out 2> "$ERR" || fail "filter beside a broken harombe.yaml: $(cat "$ERR")"
grep -q '^a \[REDACTED\]$' out || fail "filter output beside a broken harombe.yaml"
grep -q 'warning: .*harombe.yaml.*leak_detected is not audited' "$ERR" || fail "no warning: $(cat "$ERR")"
rc_of "$HAROMBE" secrets scan harombe.yaml > out 2> "$ERR"
[ "$RC" -eq 0 ] || fail "scan beside a broken harombe.yaml: $RC"
# asked for by name, it is an error
rc_of sh -c "printf 'x\n' | '$HAROMBE' -c harombe.yaml secrets filter > out 2> '$ERR'"
[ "$RC" -eq 2 ] || fail "-c broken.yaml secrets filter: exit $RC"
cd ..
ok "secrets filter works beside a broken ./harombe.yaml (a warning, no audit); -c with it is an error"
