#!/bin/bash
# Part of make bench (and make bench-sops alone): open+read+close of a
# 10-secret view (the `env` file) served from a 1,000-key SOPS file, p50 and
# p99; the first open after the file changed (re-read, unwrap, decrypt 1,000
# values, verify the MAC); and the same view from the env backend, rounds
# interleaved in the same run (the table shows the median round).  Prints a
# Markdown section.  Needs root (FUSE).
set -eu
source "$(dirname "$0")/bench-lib.sh"
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
N=${BENCH_OPENS:-2000}
ROUNDS=${BENCH_ROUNDS:-3}
C=${BENCH_CHANGES:-200}
D=$(mktemp -d /tmp/harombe-bench.XXXXXX)
mount -t tmpfs -o size=64m,mode=0755 harombe-bench "$D"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	for m in "$D/m-sops" "$D/m-env"; do mountpoint -q "$m" && fusermount3 -u -z "$m"; done
	umount -l "$D"; rmdir "$D"
}
trap cleanup EXIT
age-keygen -o "$D/k.txt" 2>/dev/null
P=$(age-keygen -y "$D/k.txt")
"$BUILD/tests/bench/sopsbench" gen "$D/s.json" 1000 "$P" "$D/k.txt" >&2
view() {	# the 10 secrets
	local i
	for i in 0 100 200 300 400 500 600 700 800 999; do printf '        S%04d: bench/k%04d\n' "$i" "$i"; done
}
for b in sops env; do
	cat > "$D/$b.yaml" <<YAML
security:
  credentials:
    provider: $b
    secrets_file: $D/s.json
    key_file: $D/k.txt
  fs:
    audit_log: $D/audit-$b.jsonl
  containers:
    app:
      secrets:
$(view)
YAML
	mkdir -p "$D/m-$b"
done
for i in 0 100 200 300 400 500 600 700 800 999; do export "HAROMBE_SECRET_BENCH_K$(printf %04d $i)=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"; done
"$BUILD/harombefs" "$D/m-sops" -o config="$D/sops.yaml" -f > "$D/sops.log" 2>&1 & pids+=($!)
"$BUILD/harombefs" "$D/m-env" -o config="$D/env.yaml" -f > "$D/env.log" 2>&1 & pids+=($!)
for i in $(seq 100); do
	grep -qs " $D/m-sops fuse" /proc/mounts && grep -qs " $D/m-env fuse" /proc/mounts && break
	sleep 0.05
done
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
: > "$D/r-sops"; : > "$D/r-env"
for r in $(seq "$ROUNDS"); do
	s1="" s2=""
	[ "$r" = "$ROUNDS" ] && s1=$(bench_samples "sops--sops,_file_unchanged") && s2=$(bench_samples "sops--env_backend")
	BENCH_SAMPLES="$s1" "$BUILD/tests/bench/sopsbench" open "$D/m-sops/app/env" "$N" >> "$D/r-sops"
	BENCH_SAMPLES="$s2" "$BUILD/tests/bench/sopsbench" open "$D/m-env/app/env" "$N" >> "$D/r-env"
done
changed=$(BENCH_SAMPLES="$(bench_samples "sops--sops,_first_open_after_a_change")" \
	"$BUILD/tests/bench/sopsbench" changed "$D/m-sops/app/env" "$D/s.json" "$C")
size=$(stat -c %s "$D/s.json")
sp50=$(field p50_us < "$D/r-sops" | median); sp99=$(field p99_us < "$D/r-sops" | median)
ep50=$(field p50_us < "$D/r-env" | median); ep99=$(field p99_us < "$D/r-env" | median)
cp50=$(echo "$changed" | field p50_us); cp99=$(echo "$changed" | field p99_us)
echo "## SOPS backend: a 10-secret view from a 1,000-key SOPS file"
echo
echo "JSON file of $size bytes, 1,000 keys, one age recipient; $N opens per round, $ROUNDS interleaved rounds (median round); $C changes."
echo
echo "| case | p50 (µs) | p99 (µs) |"
echo "|---|---|---|"
echo "| sops, file unchanged: open+read+close of app/env | $sp50 | $sp99 |"
echo "| sops, first open after the file changed (re-read, unwrap, decrypt 1,000 values, MAC) | $cp50 | $cp99 |"
echo "| env backend, same view, same run | $ep50 | $ep99 |"
echo
echo "sops/env at p50: $(awk -v a="$sp50" -v b="$ep50" 'BEGIN { printf "%.2fx", a / b }')"
bench_summary "10-secret view from a 1,000-key SOPS file, open p50" "$sp50" "env backend, same view, same run" "$ep50" "µs" "-"
bench_summary "SOPS: first open after the file changed, p50" "$cp50" "SOPS open, file unchanged, same run" "$sp50" "µs" "-"
