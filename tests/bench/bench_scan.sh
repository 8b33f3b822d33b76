#!/bin/bash
# Scanner benchmark: throughput of `harombe secrets filter` on 100 MiB of
# mixed text beside, in the same run, `cat` (the floor), ripgrep with the
# same rule regexes (the fast-regex peer) and secretlint (the secret-scanner
# peer, npm, installed for the benchmark by tests/bench/secretlint-install.sh),
# the latency of one line through a running filter, `scan --threads 1`
# beside `--threads 2` on a tree of files, and quality beside secretlint on
# the labelled corpus.  Every secret planted in the corpus must be found and
# redacted, else the benchmark fails.  Run by tests/bench/run.sh (make
# bench) or alone: make bench-scan.  Prints a Markdown section on stdout.
set -eu
set -o pipefail
source "$(dirname "$0")/bench-lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
HAROMBE=$BUILD/harombe
MIB=${SCAN_BENCH_MIB:-100}
RUNS=${SCAN_BENCH_RUNS:-3}
PEER_RUNS=${SCAN_PEER_RUNS:-1}	# secretlint takes minutes on the whole corpus
status=0
command -v rg > /dev/null || { echo "bench-scan: ripgrep (rg) is missing: scripts/deps.sh installs it" >&2; exit 1; }

D=$(mktemp -d "${TMPDIR:-/dev/shm}/harombe-bench.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$D"' EXIT
# planted: the secret part of every planted value, one a line (in the
# throwaway directory only; never printed)
python3 "$TOP/tests/bench/gen-bench-corpus.py" "$MIB" --planted "$D/planted" > "$D/corpus" 2> "$D/gen.log"
secrets=$(awk '{ print $2 }' "$D/gen.log")
bytes=$(stat -c %s "$D/corpus")

# The rules' regexes for ripgrep -P: joined into one alternation, so names
# are dropped (ripgrep cannot have two groups called "secret"), and the PEM
# rule's named back-references become relative ones.
"$HAROMBE" --format json secrets rules | python3 -c '
import json, re, sys
for r in json.load(sys.stdin):
    x = r.get("regex")
    if not x:
        continue
    x = x.replace("(?<kind>", "(").replace("(?<blk>", "(").replace("\\g{kind}", "\\g{-2}").replace("\\g{blk}", "\\g{-1}")
    x = re.sub(r"\(\?<[A-Za-z_]+>", "(?:", x)
    print(x)
' > "$D/rules.re"
nrules=$(wc -l < "$D/rules.re")

# best (lowest) wall time of RUNS runs of a shell pipeline, in seconds
best() {
	local i t b=""
	for ((i = 0; i < RUNS; i++)); do
		t=$( { TIMEFORMAT=%R; time sh -c "$1" > /dev/null 2>&1; } 2>&1 | tail -1)
		if [ -z "$b" ] || awk -v a="$t" -v b="$b" 'BEGIN { exit !(a < b) }'; then b=$t; fi
	done
	echo "$b"
}
mbs() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.0f", (t > 0 ? b / 1e6 / t : 0) }'; }

t_cat=$(best "cat '$D/corpus' | cat > /dev/null")
t_filter=$(best "cat '$D/corpus' | '$HAROMBE' secrets filter --quiet | cat > /dev/null")
t_filter_file=$(best "'$HAROMBE' secrets filter --quiet < '$D/corpus' > /dev/null")
# Issue 19's pipe target, on a machine whose two CPUs the three processes
# share: PIPE_ROUNDS rounds of cat | cat and cat | filter | cat interleaved,
# median and best of each (the best of RUNS above can be a lucky moment).
PIPE_ROUNDS=${SCAN_PIPE_ROUNDS:-9}
pipe_cat="" pipe_filter=""
for ((i = 0; i < PIPE_ROUNDS; i++)); do
	pipe_cat+="$( { TIMEFORMAT=%R; time sh -c "cat '$D/corpus' | cat > /dev/null" > /dev/null 2>&1; } 2>&1 | tail -1) "
	pipe_filter+="$( { TIMEFORMAT=%R; time sh -c "cat '$D/corpus' | '$HAROMBE' secrets filter --quiet | cat > /dev/null" > /dev/null 2>&1; } 2>&1 | tail -1) "
done
med_of() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
t_pipe_cat_med=$(med_of "$pipe_cat")
t_pipe_filter_med=$(med_of "$pipe_filter")
t_pipe_filter_best=$(tr ' ' '\n' <<<"$pipe_filter" | grep . | sort -g | head -1)
t_rg=$(best "rg -P -c -f '$D/rules.re' '$D/corpus'")
t_rg_pipe=$(best "cat '$D/corpus' | rg -P -c -f '$D/rules.re'")
found=$("$HAROMBE" secrets filter --quiet --stats < "$D/corpus" 2>&1 > "$D/redacted" | grep -o 'findings [0-9]*' | cut -d' ' -f2)
# how many lines of the output still hold a planted value (grep -c: counts, never prints)
leaked=$(grep -c -F -f "$D/planted" "$D/redacted" || true)
rm -f "$D/redacted"
if [ "$leaked" -ne 0 ] || [ "$found" -lt "$secrets" ]; then
	echo "bench-scan: PLANTED SECRETS MISSED: $secrets planted, $found found, $leaked left in the output" >&2
	status=1
fi
lat=$("$BUILD/tests/bench/linelat" 2000 "$HAROMBE" secrets filter --quiet)
# Start-up as an agent gateway pays it, once per tool call: whole processes
# (`echo hello | X` through sh), STARTUP_RUNS of each, interleaved with cat;
# prints: filter median, filter best, cat median, cat best (ms).
startup=$(python3 - "$HAROMBE" "${STARTUP_RUNS:-30}" <<'PY'
import statistics, subprocess, sys, time
cmds = ["echo hello | cat", "echo hello | '%s' secrets filter --quiet" % sys.argv[1]]
t = {c: [] for c in cmds}
for _ in range(int(sys.argv[2])):
    for c in cmds:
        a = time.perf_counter()
        subprocess.run(c, shell=True, stdout=subprocess.DEVNULL, check=True)
        t[c].append((time.perf_counter() - a) * 1e3)
f, c = t[cmds[1]], t[cmds[0]]
print("%.1f %.1f %.1f %.1f" % (statistics.median(f), min(f), statistics.median(c), min(c)))
PY
)
read -r su_med su_best su_cat_med su_cat_best <<< "$startup"

# Quality beside speed (issue 12): the labelled corpus (recall per format,
# partial leaks, near misses) and a benign corpus of this machine's real
# tool output (tests/bench/gen-benign-corpus.sh, SCAN_BENIGN_MIB MiB):
# every finding on it is a false positive.
SCANEVAL="$BUILD/tests/tools/scaneval"
BENIGN_MIB=${SCAN_BENIGN_MIB:-50}
"$TOP/tests/bench/gen-benign-corpus.sh" "$D/benign" "$BENIGN_MIB" 2> "$D/benign.log"
"$SCANEVAL" --benign "$D"/benign/*.txt > "$D/benign.report" || true
"$TOP/tests/bench/gen-code-corpus.sh" "$D/code" 2> /dev/null
"$SCANEVAL" --benign "$D"/code/*.txt > "$D/code.report" || true
code10=$(sed -n 's/.*findings: \([0-9.]*\) per 10 MB.*/\1/p' "$D/code.report")
python3 "$TOP/tests/tools/gen-labelled-corpus.py" > "$D/labelled.jsonl" 2> /dev/null
"$SCANEVAL" --min-recall 0.995 "$D/labelled.jsonl" > "$D/labelled.report" || true
bbytes=$(stat -c %s "$D/benign/corpus")
t_bcat=$(best "cat '$D/benign/corpus' | cat > /dev/null")
t_bfilter=$(best "cat '$D/benign/corpus' | '$HAROMBE' secrets filter --quiet | cat > /dev/null")
bmbs() { awk -v b="$bbytes" -v t="$1" 'BEGIN { printf "%.0f", (t > 0 ? b / 1e6 / t : 0) }'; }
recall=$(sed -n 's/.*recall \([0-9.]*\)%.*/\1/p' "$D/labelled.report" | head -1)
partial=$(sed -n 's/.*partial redactions: \([0-9]*\).*/\1/p' "$D/labelled.report")
near=$(sed -n 's/.*near misses.* redacted [0-9]*: \([0-9.]*\)%.*/\1/p' "$D/labelled.report")
per10=$(sed -n 's/.*findings: \([0-9.]*\) per 10 MB.*/\1/p' "$D/benign.report")
hashfp=$(sed -n 's/.*integrity strings: \([0-9]*\) (target 0)/\1/p' "$D/benign.report")

# The peer: secretlint with its recommended preset, on the same corpus
# (a file, as it is meant to be run, and a pipe through its mask-result
# format, the filter's equivalent), on the labelled corpus (scored as
# scaneval scores harombe: tests/bench/peer-eval.py), and by input size.
# Without it the benchmark fails, saying why: it must not pass quietly.
SL=""
sl_why=""
if SL=$("$TOP/tests/bench/secretlint-install.sh" 2> "$D/sl-install.log"); then
	echo '{"rules":[{"id":"@secretlint/secretlint-rule-preset-recommend"}]}' > "$D/secretlintrc.json"
	SLC="'$SL' --secretlintrc '$D/secretlintrc.json' --no-color"
else
	sl_why=$(tr '\n' ' ' < "$D/sl-install.log")
	echo "bench-scan: SECRETLINT NOT MEASURED: $sl_why" >&2
	SL=""
	status=1
fi
peer_best() { local RUNS=$PEER_RUNS; best "$1"; }
# SCAN_PEER_MIB: secretlint (and harombe beside it) on a prefix of the
# corpus only; secretlint takes minutes and GiBs on the whole of it.
PEER_MIB=${SCAN_PEER_MIB:-$MIB}
PEER="$D/corpus"
if [ "$PEER_MIB" -lt "$MIB" ]; then
	PEER="$D/peer"
	head -c $((PEER_MIB << 20)) "$D/corpus" > "$PEER"
fi
pbytes=$(stat -c %s "$PEER")
pmbs() { awk -v b="$pbytes" -v t="$1" 'BEGIN { printf "%.1f", (t > 0 ? b / 1e6 / t : 0) }'; }
if [ -n "$SL" ]; then
	t_sl_file=$(peer_best "$SLC --format json '$PEER'")
	# the masked output is kept (on the same tmpfs as the corpus) to count what it left
	t_sl_pipe=$(peer_best "cat '$PEER' | $SLC --stdinFileName corpus.txt --format mask-result | cat > '$D/sl-masked'")
	t_scan_file=$(best "'$HAROMBE' secrets scan --quiet '$PEER'")
	t_pfilter=$t_filter
	[ "$PEER" = "$D/corpus" ] || t_pfilter=$(best "cat '$PEER' | '$HAROMBE' secrets filter --quiet | cat > /dev/null")
	psecrets=$(grep -c -F -f "$D/planted" "$PEER" || true)
	sl_leaked=$(grep -c -F -f "$D/planted" "$D/sl-masked" || true)
	rm -f "$D/sl-masked"
	python3 "$TOP/tests/bench/peer-eval.py" "$SL" "$D/labelled.jsonl" "$D/sl-items" > "$D/sl-labelled.report" ||
		{ echo "bench-scan: secretlint on the labelled corpus failed" >&2; status=1; }
	sl_recall=$(sed -n 's/.*recall \([0-9.]*\)%.*/\1/p' "$D/sl-labelled.report")
	sl_partial=$(sed -n 's/.*partial redactions: \([0-9]*\).*/\1/p' "$D/sl-labelled.report")
	sl_negfp=$(sed -n 's/.*negatives [0-9]*, flagged \([0-9]*\).*/\1/p' "$D/sl-labelled.report")
	sl_hashfp=$(sed -n 's/.*integrity strings [0-9]*, flagged \([0-9]*\).*/\1/p' "$D/sl-labelled.report")
	sl_near=$(sed -n 's/.*near misses.* redacted [0-9]*: \([0-9.]*\)%.*/\1/p' "$D/sl-labelled.report")
fi
negfp=$(sed -n 's/.*negatives [0-9]*, flagged \([0-9]*\).*/\1/p' "$D/labelled.report")
lhashfp=$(sed -n 's/.*integrity strings [0-9]*, flagged \([0-9]*\).*/\1/p' "$D/labelled.report")
npos=$(sed -n 's/.*positives \([0-9]*\),.*/\1/p' "$D/labelled.report")
nneg=$(sed -n 's/.*negatives \([0-9]*\),.*/\1/p' "$D/labelled.report")
nhash=$(sed -n 's/.*integrity strings \([0-9]*\), flagged.*/\1/p' "$D/labelled.report")

# scan --threads (issue 19): the corpus cut into files of 100 KiB, scanned
# with 1 thread and with 2, interleaved; the same findings either way.
mkdir -p "$D/tree"
split -a 4 -b 100k -d "$D/corpus" "$D/tree/part"
nfiles=$(ls "$D/tree" | wc -l)
t_thr1="" t_thr2=""
for ((i = 0; i < RUNS; i++)); do
	for n in 1 2; do
		t=$( { TIMEFORMAT=%R; time "$HAROMBE" secrets scan --quiet --threads $n --no-gitignore --recursive "$D/tree" > /dev/null 2>&1 || true; } 2>&1 | tail -1)
		v="t_thr$n"
		if [ -z "${!v}" ] || awk -v a="$t" -v b="${!v}" 'BEGIN { exit !(a < b) }'; then printf -v "$v" '%s' "$t"; fi
	done
done
"$HAROMBE" secrets scan --quiet --threads 1 --no-gitignore --recursive "$D/tree" > "$D/thr1.out" 2> /dev/null || true
"$HAROMBE" secrets scan --quiet --threads 2 --no-gitignore --recursive "$D/tree" > "$D/thr2.out" 2> /dev/null || true
thr_same=yes
cmp -s "$D/thr1.out" "$D/thr2.out" || { thr_same=NO; status=1; echo "bench-scan: scan --threads 2 reported differently from --threads 1" >&2; }
thr_findings=$(wc -l < "$D/thr1.out")

# Start-up and throughput by input size (issue 19's plot): prefixes of the
# corpus from 1 KB to 10 MB, and the whole corpus, through a pipe: cat,
# harombe secrets filter and secretlint (mask-result).  A small input runs
# REPS times in a loop and counts the mean; best of RUNS loops.
sizes=""
for b in ${SCAN_PLOT_SIZES:-1000 10000 100000 1000000 10000000}; do
	[ "$b" -lt "$bytes" ] && sizes="$sizes $b"
done
# MB/s of BYTES in SECONDS, three significant digits (0.0016 for 1 KB in 0.6 s)
mbs3() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.3g", (t > 0 ? b / 1e6 / t : 0) }'; }
: > "$D/sizes.tsv"
for b in $sizes; do
	head -c "$b" "$D/corpus" > "$D/part"
	reps=$((b <= 100000 ? 10 : b <= 1000000 ? 3 : 1))
	for what in cat harombe_filter secretlint; do
		case $what in
		cat) cmd="cat '$D/part' | cat > /dev/null" ;;
		harombe_filter) cmd="cat '$D/part' | '$HAROMBE' secrets filter --quiet | cat > /dev/null" ;;
		secretlint) [ -n "$SL" ] || continue
			cmd="cat '$D/part' | $SLC --stdinFileName part.txt --format mask-result | cat > /dev/null" ;;
		esac
		t=$(best "for i in \$(seq $reps); do $cmd; done")
		t=$(awk -v t="$t" -v n="$reps" 'BEGIN { printf "%.4f", t / n }')
		printf '%s\t%s\t%s\t%s\n' "$b" "$what" "$(mbs3 "$b" "$t")" "$t"
	done
done >> "$D/sizes.tsv"
{
	printf '%s\tcat\t%s\t%s\n' "$bytes" "$(mbs3 "$bytes" "$t_cat")" "$t_cat"
	printf '%s\tharombe_filter\t%s\t%s\n' "$bytes" "$(mbs3 "$bytes" "$t_filter")" "$t_filter"
	[ -z "$SL" ] || printf '%s\tsecretlint\t%s\t%s\n' "$pbytes" "$(mbs3 "$pbytes" "$t_sl_pipe")" "$t_sl_pipe"
} >> "$D/sizes.tsv"
[ -z "${BENCH_DATA:-}" ] || cp "$D/sizes.tsv" "$BENCH_DATA/scan-throughput.tsv"

{
	echo "## Scanner: harombe secrets filter"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); corpus $MIB MiB of"
	echo "logs, JSON, code, base64, hashes, with $secrets planted secrets (filter found $found); best of $RUNS runs."
	echo
	echo "| what | seconds | MB/s |"
	echo "|---|---:|---:|"
	echo "| \`cat corpus \| cat\` (floor) | $t_cat | $(mbs "$t_cat") |"
	echo "| \`cat corpus \| harombe secrets filter \| cat\` | $t_filter | $(mbs "$t_filter") |"
	echo "| \`harombe secrets filter < corpus > /dev/null\` | $t_filter_file | $(mbs "$t_filter_file") |"
	echo "| \`cat corpus \| cat\`, median of $PIPE_ROUNDS interleaved rounds | $t_pipe_cat_med | $(mbs "$t_pipe_cat_med") |"
	echo "| \`cat corpus \| harombe secrets filter \| cat\`, median of the same $PIPE_ROUNDS rounds (best $(mbs "$t_pipe_filter_best") MB/s) | $t_pipe_filter_med | $(mbs "$t_pipe_filter_med") |"
	echo "| \`rg -P -c -f rules corpus\` ($nrules rule regexes) | $t_rg | $(mbs "$t_rg") |"
	echo "| \`cat corpus \| rg -P -c -f rules\` | $t_rg_pipe | $(mbs "$t_rg_pipe") |"
	echo
	echo "filter vs cat: $(awk -v a="$t_filter" -v b="$t_cat" 'BEGIN { printf "%.1fx", a / b }') the time;"
	echo "filter vs ripgrep (same rules, file): $(awk -v a="$t_rg" -v b="$t_filter" 'BEGIN { printf "%.1fx", a / b }') faster."
	echo "Start-up and a one-line input, whole process (\`echo hello | harombe secrets filter\`, ${STARTUP_RUNS:-30} runs"
	echo "interleaved with \`echo hello | cat\`): median $su_med ms (best $su_best), \`cat\` median $su_cat_med ms (best $su_cat_best)."
	echo
	echo "Line latency through a running filter (write a line, read it back; 2000 lines; the first line, which waits for the start-up, on its own): $lat"
	echo
	echo "Planted secrets: $secrets planted, filter found $found, $leaked lines of its output still hold one (target 0)."
	echo
	echo "### The peer: secretlint (issue 19)"
	echo
	if [ -z "$SL" ]; then
		echo "**SECRETLINT NOT MEASURED: $sl_why** (tests/bench/secretlint-install.sh; the benchmark fails without it)"
	else
		echo "secretlint $("$SL" --version 2>/dev/null) with @secretlint/secretlint-rule-preset-recommend (npm, node $(node --version)),"
		echo "on $((pbytes >> 20)) MiB of the same corpus, same run; best of $PEER_RUNS run(s) for secretlint, $RUNS for harombe."
		echo
		echo "| what | seconds | MB/s |"
		echo "|---|---:|---:|"
		echo "| \`harombe secrets scan corpus\` | $t_scan_file | $(pmbs "$t_scan_file") |"
		echo "| \`secretlint --format json corpus\` | $t_sl_file | $(pmbs "$t_sl_file") |"
		echo "| \`cat corpus \| harombe secrets filter \| cat\` | $t_pfilter | $(pmbs "$t_pfilter") |"
		echo "| \`cat corpus \| secretlint --stdinFileName corpus.txt --format mask-result \| cat\` | $t_sl_pipe | $(pmbs "$t_sl_pipe") |"
		echo
		echo "Lines of secretlint's masked output that still hold a planted secret: $sl_leaked of the $psecrets planted"
		echo "(harombe, whole corpus: $leaked of $secrets)."
		echo
		echo "Labelled corpus (seed 12, scored as \`scaneval\` scores harombe: \`tests/bench/peer-eval.py\`):"
		echo
		echo "| | harombe | secretlint |"
		echo "|---|---:|---:|"
		echo "| recall on $npos positives | $recall% | $sl_recall% |"
		echo "| partial redactions (a finding, and an 8-byte run of the secret left) | $partial | $sl_partial |"
		echo "| false positives on $nneg negatives (real tool output) | $negfp | $sl_negfp |"
		echo "| flagged of $nhash hashes, digests, UUIDs, integrity strings | $lhashfp | $sl_hashfp |"
		echo "| near misses redacted (reported, no target) | $near% | $sl_near% |"
	fi
	echo
	echo "### Start-up and throughput by input size, through a pipe"
	echo
	echo "| input bytes | what | MB/s | seconds per run |"
	echo "|---:|---|---:|---:|"
	awk -F '\t' '{ gsub("_", " ", $2); printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$D/sizes.tsv"
	echo
	echo "### scan --threads (issue 19)"
	echo
	echo "\`harombe secrets scan --recursive\` of the corpus cut into $nfiles files of 100 KiB: --threads 1 $t_thr1 s"
	echo "($(mbs "$t_thr1") MB/s), --threads 2 $t_thr2 s ($(mbs "$t_thr2") MB/s): $(awk -v a="$t_thr1" -v b="$t_thr2" 'BEGIN { printf "%.2fx", a / b }');"
	echo "the same $thr_findings findings in the same order: $thr_same. Best of $RUNS, interleaved."
	echo
	echo "### Quality (issue 12)"
	echo
	echo "Labelled corpus (\`tests/tools/gen-labelled-corpus.py\`): recall $recall% (target >= 99.5%), partial leaks $partial"
	echo "(target 0), near misses redacted $near% (reported). Benign corpus: $BENIGN_MIB MiB of this machine's tool"
	echo "output, $per10 findings per 10 MB (target <= 1), $hashfp on hashes, digests, UUIDs and integrity strings"
	echo "(target 0); through a pipe, filter $(bmbs "$t_bfilter") MB/s beside \`cat | cat\` $(bmbs "$t_bcat") MB/s in the same run."
	echo "Source code and manual pages (\`tests/bench/gen-code-corpus.sh\`, reported, no target): $code10 findings per 10 MB."
	echo
	echo '```'
	cat "$D/labelled.report"
	echo
	cat "$D/benign.report"
	echo
	cat "$D/code.report"
	if [ -n "$SL" ]; then
		echo
		cat "$D/sl-labelled.report"
	fi
	echo '```'
}

# For make bench's summary: the issue's targets (at least as fast as
# ripgrep with the same rules, within 4x of cat, a line through in 1 ms).
bench_summary "Scanner: filter throughput, $MIB MiB mixed corpus, from a pipe" "$(mbs "$t_filter")" \
	"\`cat | cat\`, same run" "$(mbs "$t_cat")" "MB/s" ">=0.25"
bench_summary "Scanner: filter throughput, $MIB MiB realistic corpus, pipe to pipe, median of $PIPE_ROUNDS rounds" \
	"$(mbs "$t_pipe_filter_med")" "issue 19's target" 500 "MB/s" ">=1"
bench_summary "Scanner: filter throughput, $MIB MiB mixed corpus, from a file" "$(mbs "$t_filter_file")" \
	"ripgrep -P with the same rule regexes, same file" "$(mbs "$t_rg")" "MB/s" ">=1"
bench_summary "Scanner: recall on labelled secrets in a secret's place" "$recall" "the issue's target" 99.5 "%" ">=1"
bench_summary "Scanner: findings per 10 MB of benign tool output" "$per10" "the issue's bound" 1 "" "<=1"
bench_summary "Scanner: filter throughput, $BENIGN_MIB MiB of real tool output, from a pipe" "$(bmbs "$t_bfilter")" \
	"\`cat | cat\`, same run" "$(bmbs "$t_bcat")" "MB/s" ">=0.25"
bench_summary "Scanner: filter start-up, one line, whole process, median (\`cat\`: $su_cat_med ms)" "$su_med" \
	"the issue's bound" 5 "ms" "<=1"
bench_summary "Scanner: one line through a running filter, p99" "$(echo "$lat" | sed -n 's/.* p99 \([0-9]*\) .*/\1/p')" \
	"the issue's bound" 1000 "µs" "<=1"
if [ -n "$SL" ]; then
	bench_summary "Scanner: pipe throughput on $PEER_MIB MiB of the corpus, beside secretlint (mask-result)" "$(pmbs "$t_pfilter")" \
		"secretlint, same input, same run" "$(pmbs "$t_sl_pipe")" "MB/s" "-"
	bench_summary "Scanner: recall on the labelled corpus, beside secretlint" "$recall" \
		"secretlint, same corpus and scoring" "$sl_recall" "%" "-"
	bench_summary "Scanner: false positives on the labelled negatives and hashes, beside secretlint" \
		"$((negfp + lhashfp))" "secretlint, same items" "$((sl_negfp + sl_hashfp))" "" "-"
fi
bench_summary "Scanner: scan --recursive of $nfiles files, --threads 2" "$(mbs "$t_thr2")" \
	"--threads 1, same run" "$(mbs "$t_thr1")" "MB/s" ">=1.5"
exit $status
