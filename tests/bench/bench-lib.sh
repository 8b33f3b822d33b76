# Sourced by tests/bench/bench_*.sh: how a benchmark feeds the summary table
# and the plots of bench/report.md (tests/bench/run.sh sets BENCH_DATA and
# BENCH_SUMMARY; run alone, a benchmark just prints its section).

# bench_summary WHAT OURS REF_LABEL REF UNIT TARGET
#   one row of the summary: our figure beside a reference figure measured
#   (or published) for the same thing; run.sh adds the ratio OURS/REF.
#   TARGET: "<=1.25" or ">=0.25" (a bound on that ratio, from the issue that
#   asked for the benchmark), or "-" for none.
bench_summary() {
	[ -n "${BENCH_SUMMARY:-}" ] || return 0
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" >> "$BENCH_SUMMARY"
}

# bench_samples NAME: the file a tool should append its samples to (the
# tools read BENCH_SAMPLES), or "" when nobody collects them.  NAME becomes
# a curve of a latency plot: <plot>--<curve label>, e.g. fs--harombefs.
bench_samples() {
	[ -n "${BENCH_DATA:-}" ] || return 0
	mkdir -p "$BENCH_DATA/samples"
	printf '%s/samples/%s.dat' "$BENCH_DATA" "$1"
}
