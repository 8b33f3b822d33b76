#!/bin/bash
# The operations commands: what `harombe run` adds to starting a command,
# import and export of many keys, rotate --check over many policy keys, and
# audit query / report over a large log.  Stores are the mock (one file per
# key on tmpfs) and the env backend; medians of interleaved rounds.
set -euo pipefail
TOP=$(pwd)
B="$TOP/${BUILD:-build}"
HT="$B/tests/harombe-test"
ROUNDS=${BENCH_ROUNDS:-5}
RUNS=${BENCH_RUNS:-200}
KEYS=${BENCH_KEYS:-1000}
LINES=${BENCH_LINES:-200000}
D=$(mktemp -d /tmp/harombe-bench-ops.XXXXXX)
mount -t tmpfs -o size=256m,mode=0755 bench "$D"
cleanup() {
	set +e
	umount -l "$D"
	rmdir "$D"
}
trap cleanup EXIT

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

mkdir -p "$D/store"
cat > "$D/h.yaml" <<YAML
security:
  credentials: { provider: mock, mock_dir: $D/store }
  fs: { audit_log: $D/audit.jsonl, mountpoint: $D/mnt }
  rotation:
    state_file: $D/state.json
    policies:
      - secrets: [$(for i in $(seq 1 100); do printf 'rot/k%s,' "$i"; done | sed 's/,$//')]
        schedule: 30d
  containers:
    app:
      secrets:
$(for i in $(seq 1 10); do printf '        S%s: app/s%s\n' "$i" "$i"; done)
YAML
for i in $(seq 1 10); do head -c 30 /dev/urandom | base64 | tr -d '\n=' > "$D/store/app%2Fs$i"; done
for i in $(seq 1 100); do printf 'sk-%s' "$(head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9)" > "$D/store/rot%2Fk$i"; done

# 1. harombe run --container app (10 secrets) -- true, against /bin/true.
plain=() help=() wrapped=()
for r in $(seq "$ROUNDS"); do
	t0=$(now)
	for _ in $(seq "$RUNS"); do /bin/true; done
	t1=$(now)
	for _ in $(seq "$RUNS"); do "$HT" --help > /dev/null; done
	t2=$(now)
	for _ in $(seq "$RUNS"); do "$HT" -c "$D/h.yaml" run --container app -- /bin/true; done
	t3=$(now)
	plain+=($(( (t1 - t0) / RUNS / 1000 )))
	help+=($(( (t2 - t1) / RUNS / 1000 )))
	wrapped+=($(( (t3 - t2) / RUNS / 1000 )))
done
p=$(printf '%s\n' "${plain[@]}" | median)
hp=$(printf '%s\n' "${help[@]}" | median)
w=$(printf '%s\n' "${wrapped[@]}" | median)

# 2. import and export of KEYS keys (values of 40 bytes).
python3 - "$D/in.env" "$KEYS" <<'PY'
import base64, os, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write('bulk/k%05d="%s"\n' % (i, base64.b64encode(os.urandom(30)).decode()))
PY
imp=() exp=()
for r in $(seq "$ROUNDS"); do
	rm -f "$D/store"/bulk* "$D/out.env"
	t0=$(now)
	"$HT" -c "$D/h.yaml" vault import "$D/in.env" > /dev/null
	t1=$(now)
	"$HT" -c "$D/h.yaml" vault export --prefix bulk "$D/out.env" > /dev/null 2>&1
	t2=$(now)
	imp+=($(( (t1 - t0) / 1000000 )))
	exp+=($(( (t2 - t1) / 1000000 )))
done
cmp -s <(tail -n +3 "$D/out.env" | sed 's/^/bulk\//') "$D/in.env" || { echo "export differs from import" >&2; exit 1; }
i_ms=$(printf '%s\n' "${imp[@]}" | median)
e_ms=$(printf '%s\n' "${exp[@]}" | median)

# 3. rotate --check over 100 policy keys: nothing due, then all due.
chk=() rot=()
for r in $(seq "$ROUNDS"); do
	touch "$D/store"/rot*
	t0=$(now)
	"$HT" -c "$D/h.yaml" rotate --check > /dev/null
	t1=$(now)
	touch -d '40 days ago' "$D/store"/rot*
	"$HT" -c "$D/h.yaml" rotate --check > /dev/null
	t2=$(now)
	chk+=($(( (t1 - t0) / 1000000 )))
	rot+=($(( (t2 - t1) / 1000000 )))
done
c_ms=$(printf '%s\n' "${chk[@]}" | median)
r_ms=$(printf '%s\n' "${rot[@]}" | median)

# 4. audit query and report over LINES records.
python3 - "$D/big.jsonl" "$LINES" <<'PY'
import json, sys
ev = ["secret_read", "secret_read", "secret_read", "access_denied", "secret_rotation", "injection_start"]
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        t = "2024-01-%02dT%02d:%02d:%02d.000Z" % (1 + i // 86400 % 28, i // 3600 % 24, i // 60 % 60, i % 60)
        f.write(json.dumps({"time": t, "event": ev[i % 6], "source": "harombefs", "container": "c%d" % (i % 20),
                            "view": "env", "names": ["A", "B"], "keys": ["k/%d" % (i % 50), "k/x"],
                            "caller": {"pid": i, "uid": 1000, "gid": 1000, "command": "cat"}, "result": "ok"},
                           separators=(",", ":")) + "\n")
PY
size=$(stat -c %s "$D/big.jsonl")
qa=() qf=() rp=()
for r in $(seq "$ROUNDS"); do
	t0=$(now)
	"$HT" audit query --log "$D/big.jsonl" > /dev/null
	t1=$(now)
	"$HT" audit query --log "$D/big.jsonl" --event access_denied --container c3 > /dev/null
	t2=$(now)
	"$HT" audit report --log "$D/big.jsonl" --since 2024-01-01 --group-by secret > /dev/null
	t3=$(now)
	qa+=($(( (t1 - t0) / 1000000 )))
	qf+=($(( (t2 - t1) / 1000000 )))
	rp+=($(( (t3 - t2) / 1000000 )))
done
qa_ms=$(printf '%s\n' "${qa[@]}" | median)
qf_ms=$(printf '%s\n' "${qf[@]}" | median)
rp_ms=$(printf '%s\n' "${rp[@]}" | median)
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.0f", n / (ms / 1000) }'; }

cat <<MD
## Operations commands (bench_ops.sh)

Median of $ROUNDS interleaved rounds; mock store (a file per key, tmpfs).

| what | time | note |
|---|---|---|
| \`/bin/true\` | $p µs | fork+exec from bash, the floor |
| \`harombe --help\` | $hp µs | starting harombe: exec and dynamic linking (libcurl, OpenSSL, libfuse, ...) |
| \`harombe run --container app -- /bin/true\` (10 secrets) | $w µs | config, audit log, 10 fetches into locked memory, spawn, wait |
| \`vault import\` of $KEYS keys | $i_ms ms | $(rate "$KEYS" "$i_ms") keys/s, one audit record per key |
| \`vault export\` of $KEYS keys | $e_ms ms | $(rate "$KEYS" "$e_ms") keys/s, 0600 file, atomic rename |
| \`rotate --check\`, 100 policy keys, none due | $c_ms ms | one metadata call per key |
| \`rotate --check\`, 100 policy keys, all due | $r_ms ms | get, generate, set, audit per key; state file once |
| \`audit query\`, $LINES records ($((size / 1048576)) MiB), all printed | $qa_ms ms | $(rate "$LINES" "$qa_ms") records/s |
| \`audit query --event access_denied --container c3\` | $qf_ms ms | $(rate "$LINES" "$qf_ms") records/s |
| \`audit report --group-by secret\` | $rp_ms ms | $(rate "$LINES" "$rp_ms") records/s |
MD
