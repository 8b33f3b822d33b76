#!/bin/bash
# make fuzz: each libFuzzer target for FUZZ_SECONDS (default 30) with ASan
# and UBSan, seeded from the fixtures (tests/fuzz/seeds.sh) and the corpus
# earlier runs grew (build-fuzz/corpus/<target>/), with a dictionary where
# tests/fuzz/dict/<target>.dict exists.  A crash stops that target; its
# input is kept in tests/fuzz/regressions/<target>/, minimised, and
# `make check` replays it from then on (fix the bug, keep the file).
set -u
cd "$(dirname "$0")/../.."
B=${FUZZ_BUILD:-build-fuzz}
SECS=${FUZZ_SECONDS:-30}
status=0
summary=()
for t in "$@"; do
	corpus="$B/corpus/$t"
	seeds="$B/seeds/$t"
	regress="tests/fuzz/regressions/$t"
	rm -rf "$seeds"
	mkdir -p "$corpus" "$regress"
	tests/fuzz/seeds.sh "$t" "$seeds"
	dict=()
	[ -f "tests/fuzz/dict/$t.dict" ] && dict=(-dict="tests/fuzz/dict/$t.dict")
	echo "# fuzz $t for ${SECS}s"
	if ! "$B/fuzz_$t" -max_total_time="$SECS" -rss_limit_mb=2048 -max_len=65536 -timeout=20 \
		"${dict[@]}" -artifact_prefix="$regress/" "$corpus" "$seeds" "$regress" > "$B/fuzz_$t.log" 2>&1; then
		echo "FAILED: fuzz_$t found a crash (log: $B/fuzz_$t.log)"
		tail -n 40 "$B/fuzz_$t.log"
		# Minimise what it found (in place), for the regression test.
		for a in $(git ls-files --others --exclude-standard "$regress"); do
			"$B/fuzz_$t" -minimize_crash=1 -max_total_time=30 -exact_artifact_path="$a.min" "$a" \
				> "$B/fuzz_$t.min.log" 2>&1 || true
			[ -s "$a.min" ] && mv "$a.min" "$a"
			rm -f "$a.min"
			echo "  new regression input: $a ($(stat -c %s "$a") bytes after minimising)"
		done
		status=1
		summary+=("$t: CRASH")
	else
		line=$(grep -E "^#[0-9]+.*DONE" "$B/fuzz_$t.log" | tail -n 1)
		echo "$line"
		summary+=("$t: $(echo "$line" | sed -n 's/^#\([0-9]*\).*cov: \([0-9]*\).*corp: \([0-9]*\).*exec\/s: \([0-9]*\).*/\1 runs, coverage \2, corpus \3, \4 exec\/s/p')")
	fi
done
echo
echo "fuzz summary (${SECS}s per target):"
printf '  %s\n' "${summary[@]}"
exit $status
