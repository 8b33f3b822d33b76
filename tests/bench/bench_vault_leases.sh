#!/bin/bash
# Vault requests per hour for 50 containers that read one dynamic secret
# (database/creds/app: a username and a password with a lease), counted from
# the test server's request log in the same run for:
#   - harombefs: one lease per container, shared by every open and both
#     fields, renewed at 2/3 of its TTL (sys/leases/renew);
#   - one lease per open: the same reads, each minting its own lease (what a
#     client without lease sharing does: a template re-rendered per read, an
#     init container per start), GET database/creds/app per read.
# The hour is simulated: every duration is divided by SCALE (default 120, so
# the hour takes 30 s per run): the role's default_ttl (10 min), max_ttl
# (2 h), each container's read interval (1 min), lease_idle (5 min).
# Run by tests/bench/run.sh (make bench) or alone: make bench-vault-leases.
# Prints a Markdown section on stdout.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/vault-lib.sh"
source "$(dirname "$0")/bench-lib.sh"

SCALE=${LEASE_BENCH_SCALE:-120}
NC=${LEASE_BENCH_CONTAINERS:-50}
TTL_S=600		# the role's default_ttl, real seconds
MAX_S=7200		# its max_ttl
READ_S=60		# each container reads its view once a minute
IDLE_S=300		# lease_idle
HOUR_S=3600
sc() { awk -v s="$1" -v k="$SCALE" 'BEGIN { printf "%.3f", s / k }'; }
OUT="$T_DIR/report.md"

# the test server without --state: it would rewrite its whole storage (every
# lease) on each mint, and fall behind the per-read schedule
mkdir -p "$T_DIR/vault-V"
python3 "$VAULTSRV" --port-file "$T_DIR/vault-V/port" --root-token "$VROOT" >> "$T_DIR/vault-V/log" 2>&1 &
T_PIDS+=("$!")
for _ in $(seq 100); do [ -s "$T_DIR/vault-V/port" ] && break; sleep 0.05; done
[ -s "$T_DIR/vault-V/port" ] || fail "the test server did not start"
V_URL="http://127.0.0.1:$(cat "$T_DIR/vault-V/port")"
unset VAULT_ADDR VAULT_AGENT_ADDR VAULT_TOKEN VAULT_NAMESPACE
vapi "$V_URL" POST database/roles/app \
	"{\"db_name\": \"pg\", \"default_ttl\": $((TTL_S / SCALE)), \"max_ttl\": $((MAX_S / SCALE))}" > /dev/null
[ "$VAPI_STATUS" = 204 ] || fail "cannot create the database role (HTTP $VAPI_STATUS)"
printf '%s\n' "$VROOT" > "$T_DIR/token"
chmod 600 "$T_DIR/token"
MNT="$T_DIR/mnt"
{
	printf 'security:\n  credentials:\n    provider: vault\n    vault_url: %s\n    token_file: %s\n' "$V_URL" "$T_DIR/token"
	printf '    lease_idle: %sms\n    timeout: 10s\n' "$(awk -v s=$IDLE_S -v k="$SCALE" 'BEGIN { printf "%d", s * 1000 / k }')"
	printf '  fs:\n    audit_log: %s\n  containers:\n' "$T_DIR/audit.jsonl"
	for c in $(seq "$NC"); do
		printf '    c%s:\n      secrets:\n        DB_USER: database/creds/app#username\n' "$c"
		printf '        DB_PASS: database/creds/app#password\n'
	done
} > "$T_DIR/harombe.yaml"

# drive MODE: every container reads once per (scaled) minute for a (scaled)
# hour, spread evenly over the minute; fs: cat MNT/cN/env, direct: GET.
cat > "$T_DIR/drive.py" <<'PY'
import http.client, json, sys, time
mode, nc, read_s, hour_s, url, token, mnt = sys.argv[1:8]
nc, read_s, hour_s = int(nc), float(read_s), float(hour_s)
host = url.split("//")[1]
conn = http.client.HTTPConnection(host, timeout=10)
t0 = time.monotonic()
reads = errors = 0
k = 0
while True:
    # read k is container k % nc in round k // nc, at its slot of the minute
    at = (k // nc) * read_s + (k % nc) * read_s / nc
    if at >= hour_s:
        break
    d = t0 + at - time.monotonic()
    if d > 0:
        time.sleep(d)
    c = k % nc + 1
    try:
        if mode == "fs":
            with open("%s/c%d/env" % (mnt, c), "rb") as f:
                f.read()
        else:
            conn.request("GET", "/v1/database/creds/app", headers={"X-Vault-Token": token})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise OSError("HTTP %d" % r.status)
        reads += 1
    except OSError:
        errors += 1
    k += 1
print("reads=%d errors=%d seconds=%.1f" % (reads, errors, time.monotonic() - t0))
PY

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
nleases() { curl -s "$V_URL/_test/leases" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["leases"]))'; }

# harombefs
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
vstats_reset "$V_URL"
d=$(python3 "$T_DIR/drive.py" fs "$NC" "$(sc $READ_S)" "$(sc $HOUR_S)" "$V_URL" "$VROOT" "$MNT") || fail "drive fs"
h_reads=$(echo "$d" | field reads)
h_err=$(echo "$d" | field errors)
h_secs=$(echo "$d" | field seconds)
# one snapshot of the server's counts (renewals go on while we ask)
curl -s "$V_URL/_test/stats" > "$T_DIR/stats.json"
h_live=$(nleases)
count() { python3 -c 'import json,re,sys; d=json.load(open(sys.argv[1]))["requests"]; print(sum(n for k, n in d.items() if re.search(sys.argv[2], k)))' "$T_DIR/stats.json" "$1"; }
h_mint=$(count '^GET database/creds/app$')
h_renew=$(count '^PUT sys/leases/renew$')
h_all=$(count '.')
h_other=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["requests"]
print(", ".join("%s: %d" % (k, n) for k, n in sorted(r.items())
                if k not in ("GET database/creds/app", "PUT sys/leases/renew")) or "none")' "$T_DIR/stats.json")
vstats_reset "$V_URL"
stop_fs "$T_FS_PID" "$MNT"
h_revoke=$(vcount "$V_URL" '^PUT sys/leases/revoke$')
[ "$h_err" = 0 ] || fail "$h_err reads through harombefs failed"

# one lease per read, same schedule
vstats_reset "$V_URL"
d=$(python3 "$T_DIR/drive.py" direct "$NC" "$(sc $READ_S)" "$(sc $HOUR_S)" "$V_URL" "$VROOT" "$MNT") || fail "drive direct"
n_reads=$(echo "$d" | field reads)
n_secs=$(echo "$d" | field seconds)
n_err=$(echo "$d" | field errors)
n_all=$(vcount "$V_URL" '.')
n_live=$(nleases)
[ "$n_err" = 0 ] || fail "$n_err direct reads failed"

ratio=$(awk -v a="$h_all" -v b="$n_all" 'BEGIN { printf "%.3f", a / b }')
bench_summary "Vault requests per hour, $NC containers reading one dynamic path once a minute (harombefs: one lease per container, renewed)" \
	"$h_all" "one lease per read, same reads, same run" "$n_all" "requests" "<=0.25"
bench_summary "Live Vault leases at the end of the hour, $NC containers" "$h_live" "one lease per read" "$n_live" "leases" "-"
{
	echo "## Vault leases: requests per hour ($(date -u +%Y-%m-%d), $NC containers, one dynamic path)"
	echo
	echo "$NC containers each read a view holding \`database/creds/app#username\` and \`#password\`"
	echo "once a minute for an hour; the role's default_ttl is 10 min, max_ttl 2 h, lease_idle 5 min."
	echo "The hour is simulated at $SCALE× (every duration divided by $SCALE: ${h_secs} s of wall time through"
	echo "harombefs, ${n_secs} s for the reads that mint; more than $(sc $HOUR_S) s means the test server fell behind);"
	echo "requests are counted by the test server."
	echo
	echo "| | reads | Vault requests in the hour | mints | renewals | live leases at the end |"
	echo "|---|---|---|---|---|---|"
	echo "| harombefs (one lease per container, renewed at 2/3 TTL) | $h_reads | $h_all | $h_mint | $h_renew | $h_live |"
	echo "| one lease per read | $n_reads | $n_all | $n_all | 0 | $n_live |"
	echo
	echo "Other requests of harombefs: $h_other."
	echo
	echo "harombefs costs $ratio of one-lease-per-read here: $h_mint mints (one per container, the first"
	echo "hour's), then renewals every 2/3 of the 10-minute TTL; its shutdown revoked $h_revoke leases."
	echo "Per read, every read mints (and Vault holds a lease per read for its TTL: $n_live live)."
	echo "In later hours harombefs's count is the renewals alone, plus $NC mints each max_ttl (2 h)."
} > "$OUT"
cat "$OUT"
