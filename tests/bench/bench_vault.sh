#!/bin/bash
# Vault benchmarks (root: mounts harombefs).  For each simulated network
# latency of the test server it measures, in the same run:
#   - one GET round trip over a keep-alive connection (libcurl), p50/p99;
#   - a cold open+read+close of a 10-secret view (cache_ttl 0: every open
#     fetches all 10 from Vault), p50/p99, and its ratio to the round trip;
#   - Vault requests per open when 2 threads (and 16) open the view
#     back to back (single flight shares fetches between concurrent opens).
# Run by tests/bench/run.sh (make bench) or alone: make bench-vault.
# Prints a Markdown section on stdout.
# The test server is Python (one GIL): at 0 ms its own CPU time dominates;
# the rows with latency show what parallel fetching buys on a real network.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/vault-lib.sh"
source "$(dirname "$0")/bench-lib.sh"

VB="$BUILD/tests/bench/vaultbench"
[ -x "$VB" ] || fail "$VB is missing (make bench builds it)"
N=${VAULT_BENCH_N:-300}
LATENCIES=${VAULT_BENCH_LATENCIES:-"0 2 10"}
OUT="$T_DIR/report.md"

vault_start V
for i in 0 1 2 3 4 5 6 7 8 9; do
	vput "$V_URL" "bench/k$i" '{"value": "'"$(rand_token 40)"'"}'
done
printf '%s\n' "$VROOT" > "$T_DIR/token"
chmod 600 "$T_DIR/token"
MNT="$T_DIR/mnt"
cat > "$T_DIR/harombe.yaml" <<EOF
security:
  credentials:
    provider: vault
    vault_url: $V_URL
    token_file: $T_DIR/token
    kv_version: 2
    timeout: 10s
  fs:
    audit_log: $T_DIR/audit.jsonl
  containers:
    app:
      secrets:
$(for i in 0 1 2 3 4 5 6 7 8 9; do printf '        K%s: bench/k%s\n' "$i" "$i"; done)
EOF
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"

field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p"; }

{
	echo "## Vault backend ($(date -u +%Y-%m-%d), $(nproc) CPUs, N=$N)"
	echo
	echo "| server latency | GET round trip p50 / p99 | 10 parallel GETs, bare libcurl, p50 | 10-secret cold open p50 / p99 | open / GET (p50) | Vault reads per open, 2 threads | 16 threads |"
	echo "|---|---|---|---|---|---|---|"
} > "$OUT.tmp"

for lat in $LATENCIES; do
	vfaults "$V_URL" '{"latency_ms": '"$lat"'}'
	r=$(BENCH_SAMPLES="$(bench_samples "vault-${lat}ms--one_GET_round_trip")" \
		"$VB" rtt "$V_URL/v1/secret/data/bench/k0" "$VROOT" "$N") || fail "rtt"
	m=$(BENCH_SAMPLES="$(bench_samples "vault-${lat}ms--10_parallel_GETs,_bare_libcurl")" \
		"$VB" multi "$V_URL/v1/secret/data/bench/k" "$VROOT" "$N" 10) || fail "multi"
	o=$(BENCH_SAMPLES="$(bench_samples "vault-${lat}ms--10-secret_cold_open")" \
		"$VB" open "$MNT/app/env" "$N") || fail "open: $o"
	m50=$(echo "$m" | field p50_us)
	r50=$(echo "$r" | field p50_us)
	r99=$(echo "$r" | field p99_us)
	o50=$(echo "$o" | field p50_us)
	o99=$(echo "$o" | field p99_us)
	ratio=$(awk -v a="$o50" -v b="$r50" 'BEGIN { printf "%.2f", a / b }')

	per=()
	for threads in 2 16; do
		opens_each=$(( N / threads > 20 ? N / threads : 20 ))
		vstats_reset "$V_URL"
		b=$("$VB" burst "$MNT/app/env" "$threads" "$opens_each") || fail "burst: $b"
		reads=$(vcount "$V_URL" '^GET secret/data/bench/')
		opens=$(echo "$b" | field opens)
		per+=("$(awk -v r="$reads" -v o="$opens" 'BEGIN { printf "%.2f (%.2f per key)", r / o, r / o / 10 }')")
		bench_summary "Vault reads per open, $threads threads opening at once, $lat ms" \
			"$(awk -v r="$reads" -v o="$opens" 'BEGIN { printf "%.2f", r / o }')" "one read per key (cache_ttl 0)" 10 \
			"reads" "<=1"
	done
	bench_summary "Vault: 10-secret cold open p50, server latency $lat ms" "$o50" "one GET round trip, same run" \
		"$r50" "µs" "<=2"
	bench_summary "Vault: 10-secret cold open p50, server latency $lat ms, beside bare libcurl" "$o50" \
		"10 parallel GETs, plain curl multi loop" "$m50" "µs" "-"
	printf '| %s ms | %.2f / %.2f ms | %.2f ms | %.2f / %.2f ms | %s | %s | %s |\n' "$lat" \
		"$(awk -v x="$r50" 'BEGIN{print x/1000}')" "$(awk -v x="$r99" 'BEGIN{print x/1000}')" \
		"$(awk -v x="$m50" 'BEGIN{print x/1000}')" \
		"$(awk -v x="$o50" 'BEGIN{print x/1000}')" "$(awk -v x="$o99" 'BEGIN{print x/1000}')" \
		"$ratio" "${per[0]}" "${per[1]}" >> "$OUT.tmp"
done
vfaults "$V_URL"
stop_fs "$T_FS_PID" "$MNT"
{
	echo
	echo "Cold open = open+read+close of app/env (10 secrets, one GET each, fetched in parallel)"
	echo "through harombefs with cache_ttl 0.  \"Bare libcurl\" is the same 10 GETs from a plain"
	echo "curl multi loop: the floor against this server, which is Python (one GIL) and serves"
	echo "parallel requests slower than sequential ones at 0 ms; the latency rows show the network"
	echo "case.  Reads per open below 10 mean concurrent opens shared fetches (single flight)."
} >> "$OUT.tmp"
cat "$OUT.tmp"
