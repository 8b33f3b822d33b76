#!/bin/bash
# harombefs open+read+close of a 10-secret env view (env backend), beside
# (a) the same bytes on tmpfs and (b) minfs, a minimal FUSE filesystem with
# the same kernel-facing behaviour serving a constant buffer, and beside a
# template file of the same view (app.ini: the same 10 keys through the ini
# filter, docs/templates.md).  Rounds are interleaved; the table reports the
# median round.
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"
TOP=$(pwd)
B="$TOP/${BUILD:-build}"
CYCLES=${BENCH_CYCLES:-20000}
ROUNDS=${BENCH_ROUNDS:-5}
D=$(mktemp -d /tmp/harombe-bench.XXXXXX)
# The audit log of the audit-on target grows ~100 MB over the default rounds.
# mode 0755: harombefs refuses an audit log in a directory others may write (a tmpfs root is 1777)
mount -t tmpfs -o size=512m,mode=0755 bench "$D"
pids=()
cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for m in "$D/hfs" "$D/hfs-noaudit" "$D/min" "$D/min-s"; do mountpoint -q "$m" && fusermount3 -u -z "$m"; done
	umount -l "$D"; rmdir "$D"
}
trap cleanup EXIT

for i in $(seq 1 10); do
	export "HAROMBE_SECRET_BENCH_S$i=$(head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)"
done
mapping=$(for i in $(seq 1 10); do printf '        S%s: bench/s%s\n' "$i" "$i"; done)
tmpl=$(printf '[bench]\\n'; for i in $(seq 1 10); do printf 's%s = {{ secret \\"bench/s%s\\" | ini }}\\n' "$i" "$i"; done)
for v in audit noaudit; do
	cat > "$D/$v.yaml" <<YAML
security:
  fs:
    audit_log: $D/audit.jsonl
  audit:
    enabled: $([ $v = audit ] && echo true || echo false)
  containers:
    c:
      secrets:
$mapping
      templates:
        app.ini: { inline: "$tmpl" }
YAML
done
mkdir -p "$D/hfs" "$D/hfs-noaudit" "$D/min" "$D/min-s" "$D/tmpfs/c"
"$B/harombefs" "$D/hfs" -o config="$D/audit.yaml" -f 2>/dev/null & pids+=($!)
"$B/harombefs" "$D/hfs-noaudit" -o config="$D/noaudit.yaml" -f 2>/dev/null & pids+=($!)
for i in $(seq 1 10); do unset "HAROMBE_SECRET_BENCH_S$i"; done
for _ in $(seq 100); do mountpoint -q "$D/hfs" && mountpoint -q "$D/hfs-noaudit" && break; sleep 0.05; done
cat "$D/hfs/c/env" > "$D/tmpfs/c/env"
"$B/tests/bench/minfs" "$D/min" "$D/tmpfs/c/env" & pids+=($!)
"$B/tests/bench/minfs" "$D/min-s" "$D/tmpfs/c/env" -s & pids+=($!)
for _ in $(seq 100); do mountpoint -q "$D/min" && mountpoint -q "$D/min-s" && break; sleep 0.05; done
cmp -s "$D/min/c/env" "$D/hfs/c/env" || { echo "minfs and harombefs serve different bytes" >&2; exit 1; }
size=$(stat -c %s "$D/tmpfs/c/env")
tsize=$(wc -c < "$D/hfs/c/app.ini")
[ "$tsize" -gt 0 ] || { echo "the template app.ini is empty" >&2; exit 1; }
# the target's file: every target serves c/env, but hfs-tmpl is the view's template
target_file() { case $1 in hfs-tmpl) echo "$D/hfs/c/app.ini" ;; *) echo "$D/$1/c/env" ;; esac; }

label() {
	case $1 in
	tmpfs) echo "(a) tmpfs, same bytes" ;;
	min-s) echo "(b) minfs, single-threaded loop" ;;
	min) echo "(b) minfs, multi-threaded loop" ;;
	hfs-noaudit) echo "harombefs, audit off" ;;
	hfs) echo "**harombefs** (audit on, default)" ;;
	hfs-tmpl) echo "harombefs, template \`app.ini\` (audit on)" ;;
	esac
}
curve() {	# the plot's name for a target (samples of the last round)
	case $1 in
	tmpfs) echo "tmpfs" ;;
	min-s) echo "minfs_single-threaded" ;;
	min) echo "minfs_multi-threaded" ;;
	hfs-noaudit) echo "harombefs_audit_off" ;;
	hfs) echo "harombefs" ;;
	hfs-tmpl) echo "harombefs_template" ;;
	esac
}
declare -A P50 P99 OPS
targets="tmpfs min-s min hfs-noaudit hfs hfs-tmpl"
for r in $(seq 1 "$ROUNDS"); do
	for t in 1 2; do
		for k in $targets; do
			samples=""
			[ "$r" = "$ROUNDS" ] && samples=$(bench_samples "fs-${t}t--$(curve "$k")")
			line=$(BENCH_SAMPLES="$samples" "$B/tests/bench/openbench" "$(target_file "$k")" "$t" $((CYCLES / t)))
			P50[$k.$t]="${P50[$k.$t]:-} $(sed 's/.*p50_us=\([0-9.]*\).*/\1/' <<< "$line")"
			P99[$k.$t]="${P99[$k.$t]:-} $(sed 's/.*p99_us=\([0-9.]*\).*/\1/' <<< "$line")"
			OPS[$k.$t]="${OPS[$k.$t]:-} $(sed 's/.*ops_per_s=\([0-9]*\).*/\1/' <<< "$line")"
		done
	done
done
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "## harombefs: open + read + close of a 10-secret \`env\` view (env backend)"
echo
echo "$size-byte file; each cycle is what \`cat\` does (open, read to EOF, close). $ROUNDS interleaved rounds of $CYCLES cycles; median round shown."
echo "The template row opens \`app.ini\` of the same view ($tsize bytes: the same 10 keys, each through the \`ini\` filter), rendered on each open."
echo "minfs has harombefs's mount options, tree depth and timeouts (direct_io, file attributes uncached) and serves a constant buffer."
echo
echo "| target | threads | p50 µs | p99 µs | opens/s | p50 vs best minfs |"
echo "|---|---|---|---|---|---|"
for t in 1 2; do
	m1=$(median <<< "${P50[min.$t]}")
	m2=$(median <<< "${P50[min-s.$t]}")
	floor=$(awk -v a="$m1" -v b="$m2" 'BEGIN { print (a < b ? a : b) }')
	for k in $targets; do
		p50=$(median <<< "${P50[$k.$t]}")
		echo "| $(label "$k") | $t | $p50 | $(median <<< "${P99[$k.$t]}") | $(median <<< "${OPS[$k.$t]}") | $(awk -v a="$p50" -v b="$floor" 'BEGIN { printf "%.2fx", a / b }') |"
	done
done
echo
echo "Target (issue 2): harombefs within 1.25x of (b) at p50."
for t in 1 2; do
	m1=$(median <<< "${P50[min.$t]}")
	m2=$(median <<< "${P50[min-s.$t]}")
	floor=$(awk -v a="$m1" -v b="$m2" 'BEGIN { print (a < b ? a : b) }')
	bench_summary "harombefs open+read+close p50, env view, $t thread$([ $t = 2 ] && echo s)" \
		"$(median <<< "${P50[hfs.$t]}")" "minimal FUSE fs (b), same run" "$floor" "µs" "<=1.25"
	bench_summary "harombefs open+read+close p50, $t thread$([ $t = 2 ] && echo s), beside tmpfs" \
		"$(median <<< "${P50[hfs.$t]}")" "tmpfs (a), same run" "$(median <<< "${P50[tmpfs.$t]}")" "µs" "-"
	bench_summary "harombefs open+read+close p50, template view, $t thread$([ $t = 2 ] && echo s), beside env" \
		"$(median <<< "${P50[hfs-tmpl.$t]}")" "the env view, same run" "$(median <<< "${P50[hfs.$t]}")" "µs" "-"
done
