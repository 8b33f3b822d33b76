#!/bin/bash
# Scanner quality: recall and false-positive rate on the labelled corpus
# (tests/tools/gen-scan-corpus.py) and on the original project's cases, and
# no partial redaction through the real `harombe secrets filter`.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scanlib.sh"

SCANEVAL="$BUILD/tests/tools/scaneval"
GEN="$TOP/tests/tools/gen-scan-corpus.py"
[ -x "$SCANEVAL" ] || fail "$SCANEVAL is missing (make $SCANEVAL)"

for seed in 1 2; do
	python3 "$GEN" --seed "$seed" --per-rule 40 > "$T_DIR/corpus.jsonl"
	"$SCANEVAL" "$T_DIR/corpus.jsonl" | tee "$T_DIR/report" | sed 's/^/# /'
	[ "${PIPESTATUS[0]}" -eq 0 ] || fail "corpus (seed $seed) misses a target"
done
grep -q "partial redactions: 0" "$T_DIR/report" || fail "partial redactions"
ok "labelled corpus: recall >= 99%, false positives <= 1%, no partial redaction (two seeds)"

"$SCANEVAL" --upstream "$TOP/tests/fixtures/harombe-upstream/cases.json" | tee "$T_DIR/up" | sed 's/^/# /'
python3 - "$T_DIR/up" <<'EOF' || fail "the original's labelled cases"
import re, sys
t = open(sys.argv[1]).read()
rec = float(re.search(r"labelled detected:.*recall ([0-9.]+)%", t).group(1))
fp = float(re.search(r"false-positive rate ([0-9.]+)%", t).group(1))
assert rec >= 99.0, rec
assert fp <= 1.0, fp
EOF
ok "the original project's labelled cases: recall >= 99%, false positives <= 1%"

# The whole corpus through the real filter: one item per line block, then
# no 8-character run of any positive's secret may be left.
python3 - "$T_DIR/corpus.jsonl" "$T_DIR/in" "$T_DIR/secrets" <<'EOF'
import json, sys
with open(sys.argv[2], "w") as text, open(sys.argv[3], "w") as secrets:
    for line in open(sys.argv[1]):
        it = json.loads(line)
        text.write(it["text"] + "\n\n")
        for s in it["secrets"]:
            secrets.write(s.replace("\n", "\\n") + "\n")
EOF
"$HAROMBE" secrets filter --quiet < "$T_DIR/in" > "$T_DIR/out"
python3 - "$T_DIR/in" "$T_DIR/out" "$T_DIR/secrets" <<'EOF' || fail "partial redaction through harombe secrets filter"
import collections, sys
inp = open(sys.argv[1], encoding="utf-8", errors="replace").read()
out = open(sys.argv[2], encoding="utf-8", errors="replace").read()
secrets = [s.replace("\\n", "\n") for s in open(sys.argv[3]).read().split("\n") if s]
# the 8-grams of the input, counted: a piece that occurs once belongs to
# one secret alone (not "-----BEGIN" or a shared prefix)
seen = collections.Counter(inp[i:i + 8] for i in range(len(inp) - 7))
pieces = {}
for k, s in enumerate(secrets):
    for i in range(len(s) - 7):
        g = s[i:i + 8]
        if "\n" not in g and seen[g] == 1:
            pieces[g] = k
left = {pieces[out[i:i + 8]] for i in range(len(out) - 7) if out[i:i + 8] in pieces}
print("# secrets:", len(secrets), "checked pieces:", len(pieces), "secrets with a piece left:", len(left))
sys.exit(1 if left else 0)
EOF
ok "after filter, no 8-character run of any secret in the corpus remains"

# ---- issue 12: a value in a secret's place never reaches the model ----
# Generated here, deterministically (seed 12), rather than committed: the
# repository holds no complete credential-shaped string, fake or not.
LABELLED="$T_DIR/labelled.jsonl"
python3 "$TOP/tests/tools/gen-labelled-corpus.py" > "$LABELLED" 2> /dev/null || fail "gen-labelled-corpus.py failed"
"$SCANEVAL" --min-recall 0.995 "$LABELLED" | tee "$T_DIR/labelled" | sed -n '1,6p' | sed 's/^/# /'
[ "${PIPESTATUS[0]}" -eq 0 ] || { grep -E 'PARTIAL|FLAGGED|%  *$' "$T_DIR/labelled" | grep -v '100.00%' | sed 's/^/# /'; fail "labelled corpus misses a target"; }
grep -q "partial redactions: 0 " "$T_DIR/labelled" || fail "labelled corpus: partial leaks"
grep -q "integrity strings [0-9]*, flagged 0 " "$T_DIR/labelled" || fail "labelled corpus: a hash was flagged"
ok "labelled corpus ($(sed -n 's/.*positives \([0-9]*\),.*/\1/p' "$T_DIR/labelled") in a secret's place): recall >= 99.5%, no partial leak, nothing on hashes, digests, UUIDs or tool output"

# The same corpus through the real filter, then the filter's output scanned
# again: what harombe redacted is clean (postgresql://app:[REDACTED]@db is
# not a password), and no 8-character run of a secret is left.
python3 - "$LABELLED" "$T_DIR/lin" "$T_DIR/lsec" <<'PY'
import json, sys
with open(sys.argv[2], "w") as text, open(sys.argv[3], "w") as secrets:
    for line in open(sys.argv[1]):
        it = json.loads(line)
        if it["label"] != "positive":
            continue
        text.write(it["text"] + "\n\n")
        for s in it["secrets"]:
            secrets.write(s + "\n")
PY
"$HAROMBE" secrets filter --quiet < "$T_DIR/lin" > "$T_DIR/lout"
rc=0
"$HAROMBE" secrets scan "$T_DIR/lout" > "$T_DIR/rescan" || rc=$?
[ "$rc" -eq 0 ] || { head -5 "$T_DIR/rescan" | sed 's/^/# /'; fail "scanning the filter's output finds $(grep -c . "$T_DIR/rescan") things (exit $rc)"; }
"$HAROMBE" secrets filter --quiet --with-type < "$T_DIR/lin" | "$HAROMBE" secrets scan - > /dev/null ||
	fail "scanning output redacted with --with-type finds something"
python3 - "$T_DIR/lin" "$T_DIR/lout" "$T_DIR/lsec" <<'PY' || fail "partial redaction of the labelled corpus through harombe secrets filter"
import collections, sys
inp = open(sys.argv[1], encoding="utf-8", errors="replace").read()
out = open(sys.argv[2], encoding="utf-8", errors="replace").read()
secrets = [s for s in open(sys.argv[3]).read().split("\n") if s]
seen = collections.Counter(inp[i:i + 8] for i in range(len(inp) - 7))
outg = set(out[i:i + 8] for i in range(len(out) - 7))
partial = missed = 0
for s in secrets:
    mine = [s[i:i + 8] for i in range(len(s) - 7) if seen[s[i:i + 8]] == 1]
    left = sum(g in outg for g in mine)
    if left and left < len(mine):
        partial += 1
    elif left:
        missed += 1
print("# labelled secrets:", len(secrets), "partly left:", partial, "missed:", missed)
sys.exit(1 if partial or missed * 200 > len(secrets) else 0)
PY
ok "labelled corpus through filter: no 8-character run left, and scanning the redacted output (plain and --with-type) finds nothing"
