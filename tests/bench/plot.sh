#!/bin/bash
# Plots for bench/report.md and bench/stress.md (gnuplot, PNG).
#
#   plot.sh cdf OUT.png TITLE FILE=LABEL ...
#       latency distribution: for each FILE of samples (µs, one a line) the
#       fraction of operations that took at most x, x on a log scale.
#   plot.sh samples DIR OUTDIR
#       one cdf plot per group of DIR/<group>--<label>.dat (the files the
#       benchmarks write through BENCH_SAMPLES): OUTDIR/<group>.png; '_' in a
#       label is a space.  Prints the PNG names it wrote.
#   plot.sh throughput OUT.png TITLE FILE
#       FILE: lines "INPUT_BYTES<TAB>SERIES<TAB>MB/s[<TAB>SECONDS]" (the
#       scanner's benchmark writes bench/data/scan-throughput.tsv); one line
#       per series, MB/s against the input size, both on log scales; '_' in
#       a series name is a space.
#   plot.sh seconds OUT.png TITLE FILE
#       the same FILE, wall time of a whole run (start-up included) against
#       the input size, both on log scales.
# Fails when gnuplot is missing (BENCH_PLOTS=1 scripts/deps.sh installs it).
set -euo pipefail
command -v gnuplot > /dev/null || { echo "plot.sh: gnuplot is missing: run BENCH_PLOTS=1 scripts/deps.sh" >&2; exit 1; }

style() {
	cat <<'EOF'
set terminal pngcairo size 960,600 font "DejaVu Sans,10" noenhanced
set grid xtics ytics mxtics
set key bottom right box opaque
EOF
}

cdf() {
	local out=$1 title=$2 arg f label sep=""
	shift 2
	{
		style
		echo "set output '$out'"
		echo "set title '$title'"
		echo "set logscale x"
		echo "set xlabel 'latency (µs, log scale)'"
		echo "set ylabel 'fraction of operations at most this slow'"
		echo "set yrange [0:1]"
		echo "set ytics 0.1"
		printf 'plot '
		for arg in "$@"; do
			f=${arg%%=*}
			label=${arg#*=}
			[ -s "$f" ] || continue
			printf "%s'%s' using (\$1 > 0 ? \$1 : 0.1):(1) smooth cnormal with lines lw 2 title '%s (n=%s)'" \
				"$sep" "$f" "$label" "$(wc -l < "$f")"
			sep=", "
		done
		echo
	} | gnuplot
}

case "${1:-}" in
cdf)
	shift
	cdf "$@"
	;;
samples)
	dir=$2 outdir=$3
	mkdir -p "$outdir"
	for group in $(ls "$dir" 2>/dev/null | sed -n 's/--.*\.dat$//p' | sort -u); do
		args=()
		for f in "$dir/$group"--*.dat; do
			label=$(basename "$f" .dat)
			label=${label#"$group"--}
			args+=("$f=${label//_/ }")
		done
		case $group in
		fs-1t) title="harombefs open+read+close of a 10-secret env view, 1 thread, beside tmpfs and a minimal FUSE fs" ;;
		fs-2t) title="harombefs open+read+close of a 10-secret env view, 2 threads, beside tmpfs and a minimal FUSE fs" ;;
		vault-*) title="Vault backend, test server latency ${group#vault-}: cold open of a 10-secret view beside GET round trips" ;;
		sops) title="10-secret view from a 1,000-key SOPS file, beside the env backend" ;;
		*) title=$group ;;
		esac
		cdf "$outdir/$group.png" "$title" "${args[@]}"
		echo "$group.png"
	done
	;;
throughput|seconds)
	mode=$1 out=$2 title=$3 f=$4
	col=3 ylabel='throughput (MB/s, log scale)'
	[ "$mode" = seconds ] && col=4 ylabel='wall time of one run, start-up included (s, log scale)'

	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	{
		style
		echo "set output '$out'"
		echo "set title '$title'"
		echo "set logscale xy"
		echo "set xlabel 'input size (bytes, log scale)'"
		echo "set ylabel '$ylabel'"
		echo "set key top left box opaque"
		printf 'plot '
		sep=""
		n=0
		for s in $(cut -f 2 "$f" | sort -u); do
			n=$((n + 1))
			awk -F '\t' -v s="$s" -v c="$col" '$2 == s && $c != "" { print $1, $c }' "$f" | sort -n > "$tmp/$n.dat"
			printf "%s'%s' using 1:2 with linespoints lw 2 title '%s'" "$sep" "$tmp/$n.dat" "${s//_/ }"
			sep=", "
		done
		echo
	} | gnuplot
	;;
*)
	echo "usage: plot.sh cdf OUT TITLE FILE=LABEL... | samples DIR OUTDIR | throughput|seconds OUT TITLE FILE" >&2
	exit 2
	;;
esac
