#!/bin/bash
# harombe secrets scan --threads N and scan-git --threads N: files and
# commits are scanned in parallel, and the report is the same bytes as with
# one thread (text, JSON, SARIF, --write-baseline, messages on stderr),
# with every planted secret found; bad thread counts are usage errors.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scanlib.sh"

ERR=$T_DIR/err
cd "$T_DIR"

# A tree of 600 files of uneven sizes (so that workers finish out of
# order): GitHub-shaped tokens and passwords planted in some, lines marked
# harombe:allow in others, a few binaries.  Tokens are made here from
# fragments and random characters.  planted.tree: how many should be found.
python3 - tree planted.tree <<'EOF'
import os, random, string, sys
root, count = sys.argv[1], sys.argv[2]
r = random.Random()
B62 = string.ascii_letters + string.digits
words = ["alpha", "beta", "config", "value", "the", "log", "request", "done", "retry", "cache"]
planted = 0
for i in range(600):
    d = os.path.join(root, f"d{i % 17}")
    os.makedirs(d, exist_ok=True)
    lines = [" ".join(r.choice(words) for _ in range(8)) for _ in range(r.choice([1, 5, 40, 400, 2000]))]
    if i % 3 == 0:
        lines.insert(r.randrange(len(lines) + 1), "token = " + "gh" + "p_" + "".join(r.choice(B62) for _ in range(36)))
        planted += 1
    if i % 7 == 0:
        lines.insert(r.randrange(len(lines) + 1), "password: " + "Pw" + "".join(r.choice(B62) for _ in range(10)) + "!x")
        planted += 1
    if i % 11 == 0:
        lines.insert(0, "aws = AK" + "IA" + "".join(r.choice(string.ascii_uppercase + string.digits) for _ in range(16)) + "  # harombe:allow")
    if i % 97 == 5:
        open(os.path.join(d, f"b{i}.bin"), "wb").write(b"BIN\0\1\2 " + b"gh" + b"p_" + bytes(r.choice(B62), "ascii") * 36)
    open(os.path.join(d, f"f{i}.txt"), "w").write("\n".join(lines) + "\n")
open(count, "w").write(f"{planted}\n")
EOF

for f in text json sarif; do
	for t in 1 2 4; do
		rc_of "$HAROMBE" --format $f secrets scan --color never --threads $t --recursive tree --recursive tree/d1 nope.txt \
			> "scan.$t.$f" 2> "scan.$t.$f.err"
		[ "$RC" -eq 2 ] || fail "scan --threads $t --format $f: exit $RC (a missing file is an error)"
	done
	for t in 2 4; do
		cmp -s "scan.1.$f" "scan.$t.$f" || fail "scan --format $f: --threads $t differs from --threads 1"
		cmp -s "scan.1.$f.err" "scan.$t.$f.err" || fail "scan --format $f: stderr with --threads $t differs"
	done
done
# the planted findings of the tree, then those of tree/d1 a second time
d1=$(grep -c '^tree/d1/' scan.1.text)
[ $((d1 % 2)) -eq 0 ] && [ "$d1" -gt 0 ] || fail "scan: tree/d1 findings not there twice"
want=$(($(cat planted.tree) + d1 / 2))
[ "$(wc -l < scan.1.text)" -eq "$want" ] || fail "scan: $(wc -l < scan.1.text) findings, $want planted"
grep -q "cannot open 'nope.txt'" scan.1.text.err || fail "scan: missing file not said"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; assert s["skipped"] > 0 and s["files"] > 600, s' \
	scan.4.json || fail "scan --threads 4: binaries not counted as skipped"
no_run_all() { grep -q 'gh''p_[A-Za-z0-9]\{36\}' "$1" && fail "$1 holds a token"; return 0; }
for f in scan.*; do no_run_all "$f"; done
rc_of "$HAROMBE" secrets scan --color never --recursive tree > scan.default 2> "$ERR"
grep -q 'findings left out: [1-9][0-9]* marked inline' "$ERR" || fail "scan: the harombe:allow lines were not left out"
head -n "$(cat planted.tree)" scan.1.text | cmp -s - scan.default || fail "scan: the default --threads differs"
for t in 1 4; do
	"$HAROMBE" secrets scan --quiet --threads $t --write-baseline "base.$t.json" --recursive tree 2> /dev/null || true
done
cmp -s base.1.json base.4.json || fail "--write-baseline differs with --threads 4"
ok "scan --threads 1, 2, 4 and the default: the same report, byte for byte (text, JSON, SARIF, baseline, stderr), every planted secret"

# Stdin among files: one job, on whichever thread takes it, with its own
# window of piped input.  a.txt, big.txt (5 MB, longer than the window) and
# b.txt hold tokens every ~250 lines, every other one marked harombe:allow.
# Piped or redirected, on 1, 2 or 4 threads, `--source big.txt a.txt - b.txt`
# must report what `a.txt big.txt b.txt` does, byte for byte: every marked
# line left out and every fingerprint made, wherever the window stood.
python3 - <<'EOF'
import random, string
r = random.Random()
B62 = string.ascii_letters + string.digits
words = ["alpha", "beta", "config", "value", "the", "log", "request", "done", "retry", "cache"]
for name, size in (("a.txt", 200_000), ("big.txt", 5_000_000), ("b.txt", 300_000)):
    out, n, k = [], 0, 0
    while n < size:
        if r.random() < 0.004:
            k += 1
            l = "token = " + "gh" + "p_" + "".join(r.choice(B62) for _ in range(36)) + ("  # harombe:allow" if k % 2 else "")
        else:
            l = " ".join(r.choice(words) for _ in range(r.randint(3, 30)))
        out.append(l)
        n += len(l) + 1
    open(name, "w").write("\n".join(out) + "\n")
EOF
rc_of "$HAROMBE" --format json secrets scan --color never --threads 1 a.txt big.txt b.txt > stdin.ref 2> stdin.ref.err
[ "$RC" -eq 1 ] || fail "scan a.txt big.txt b.txt: exit $RC"
python3 -c 'import json,sys; f=json.load(open(sys.argv[1]))["findings"]; assert len(f) > 50 and all(x.get("fingerprint") for x in f), len(f)' \
	stdin.ref || fail "scan a.txt big.txt b.txt: findings or fingerprints missing"
grep -q 'findings left out: [1-9][0-9]* marked inline' stdin.ref.err || fail "the marked lines were not left out"
for t in 1 2 4; do
	rc_of sh -c "cat big.txt | '$HAROMBE' --format json secrets scan --color never --threads $t --source big.txt a.txt - b.txt \
		> stdin.pipe.$t 2> stdin.pipe.$t.err"
	[ "$RC" -eq 1 ] || fail "piped stdin, --threads $t: exit $RC"
	cmp -s stdin.ref stdin.pipe.$t || fail "piped stdin, --threads $t: not the report of the file"
	cmp -s stdin.ref.err stdin.pipe.$t.err || fail "piped stdin, --threads $t: $(cat stdin.pipe.$t.err)"
	rc_of sh -c "'$HAROMBE' --format json secrets scan --color never --threads $t --source big.txt a.txt - b.txt \
		< big.txt > stdin.redir.$t 2> stdin.redir.$t.err"
	cmp -s stdin.ref stdin.redir.$t && cmp -s stdin.ref.err stdin.redir.$t.err ||
		fail "redirected stdin, --threads $t: not the report of the file"
done
for f in stdin.*; do no_run_all "$f"; done
ok "scan a.txt - b.txt with 5 MB of stdin, piped or redirected, --threads 1, 2, 4: the file's report byte for byte (every marker, every fingerprint)"

# A history of 400 commits touching 1 to 3 of 40 files each (git
# fast-import), a token added now and then.  planted.git: how many.
git init -q hist
python3 - planted.git <<'EOF' > hist.fi
import random, string, sys
r = random.Random()
B62 = string.ascii_letters + string.digits
files, planted, out = {}, 0, []
for c in range(400):
    mods = []
    for p in sorted({f"src/m{r.randrange(40)}.py" for _ in range(r.randint(1, 3))}):
        lines = files.setdefault(p, [])
        for _ in range(r.randint(1, 30)):
            lines.insert(r.randrange(len(lines) + 1), "x = " + str(r.random()))
        if r.random() < 0.3:
            lines.insert(r.randrange(len(lines) + 1), "TOKEN = '" + "gh" + "p_" + "".join(r.choice(B62) for _ in range(36)) + "'")
            planted += 1
        data = "\n".join(lines) + "\n"
        mods.append(f"M 100644 inline {p}\ndata {len(data.encode())}\n{data}")
    msg = f"commit {c}\n"
    out.append(f"commit refs/heads/master\ncommitter T <t@example.com> {1700000000 + c * 60} +0000\ndata {len(msg)}\n{msg}" + "".join(mods) + "\n")
sys.stdout.write("".join(out))
open(sys.argv[1], "w").write(f"{planted}\n")
EOF
git -C hist fast-import --quiet < hist.fi
git -C hist symbolic-ref HEAD refs/heads/master
[ "$(git -C hist rev-list --count HEAD)" -eq 400 ] || fail "the test history"
for f in text json sarif; do
	for t in 1 2 4; do
		rc_of "$HAROMBE" --format $f secrets scan-git --color never --threads $t --repo hist > "git.$t.$f" 2> "git.$t.$f.err"
		[ "$RC" -eq 1 ] || fail "scan-git --threads $t --format $f: exit $RC"
	done
	for t in 2 4; do
		cmp -s "git.1.$f" "git.$t.$f" || fail "scan-git --format $f: --threads $t differs from --threads 1"
	done
done
[ "$(wc -l < git.1.text)" -eq "$(cat planted.git)" ] || fail "scan-git: $(wc -l < git.1.text) findings, $(cat planted.git) planted"
[ "$(cut -d: -f1 git.1.text | uniq | wc -l)" -gt 50 ] || fail "scan-git: findings of too few commits"
for f in git.*; do no_run_all "$f"; done
ok "scan-git --threads 1, 2, 4: the same report (text, JSON, SARIF) over 400 commits, every planted secret"

for bad in 0 x 65 -1 ''; do
	rc_of "$HAROMBE" secrets scan --threads "$bad" tree/d1/f1.txt > out 2> "$ERR"
	[ "$RC" -eq 2 ] || fail "--threads '$bad': exit $RC"
	grep -q "^harombe: secrets scan: --threads wants a number from 1 to 64, not '$bad'$" "$ERR" ||
		fail "--threads '$bad': $(cat "$ERR")"
done
rc_of "$HAROMBE" secrets scan-git --threads 0 --repo hist > out 2> "$ERR"
[ "$RC" -eq 2 ] && grep -q -- "--threads wants a number" "$ERR" || fail "scan-git --threads 0: exit $RC"
rc_of sh -c "echo hi | '$HAROMBE' secrets filter --threads 2 > out 2> '$ERR'"
[ "$RC" -eq 2 ] && grep -q -- "--threads is for secrets scan scan-git only" "$ERR" || fail "filter --threads: exit $RC"
rc_of sh -c "echo hi | '$HAROMBE' secrets scan --threads 2 - tree/d1/f1.txt - > out 2> '$ERR'"
[ "$RC" -eq 2 ] && grep -q -- "'-' (stdin) is given more than once" "$ERR" && [ ! -s out ] ||
	fail "scan - FILE -: exit $RC: $(cat "$ERR")"
ok "--threads 0, x, 65, -1, '', --threads on filter and stdin named twice: usage errors, exit 2"
