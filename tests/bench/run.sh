#!/bin/bash
# make bench: runs every tests/bench/bench_*.sh (each prints a Markdown
# section) and writes bench/report.md.  Needs root (FUSE mounts).
set -euo pipefail
cd "$(dirname "$0")/../.."
export BUILD=${BUILD:-build}
mkdir -p bench
out=bench/report.md
{
	echo "# harombe benchmark report"
	echo
	echo "Run $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), kernel $(uname -r)."
	echo "Figures from one run; every comparison in a table was measured in that same run, interleaved."
	echo
} > "$out.tmp"
status=0
for b in tests/bench/bench_*.sh; do
	echo "# $b" >&2
	if ! bash "$b" >> "$out.tmp"; then
		echo "benchmark $b failed" >&2
		status=1
	fi
	echo >> "$out.tmp"
done
mv "$out.tmp" "$out"
cat "$out"
exit $status
