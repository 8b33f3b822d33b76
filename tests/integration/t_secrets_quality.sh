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
