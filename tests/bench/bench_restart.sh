#!/bin/bash
# How long a reader waits when the daemon dies: harombefs in the background
# (the keeper holds the connection), a reader doing open+read+close in a
# loop, and kill -9 of the daemon now and then.  Reported: the time from
# the kill to the reader's next good read, and the reader's longest stall.
# Every read must succeed: an error fails the benchmark.
set -euo pipefail
TOP=$(pwd)
B="$TOP/${BUILD:-build}"
KILLS=${BENCH_KILLS:-5}
D=$(mktemp -d /tmp/harombe-bench.XXXXXX)
mount -t tmpfs -o size=16m,mode=0755 bench "$D"
keeper=
reader=
cleanup() {
	set +e
	[ -n "$reader" ] && kill "$reader" 2>/dev/null
	[ -n "$keeper" ] && kill "$keeper" 2>/dev/null
	sleep 0.5
	mountpoint -q "$D/mnt" && umount -l "$D/mnt"
	umount -l "$D"; rmdir "$D"
}
trap cleanup EXIT

export HAROMBE_SECRET_BENCH_T="$(head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)"
cat > "$D/h.yaml" <<YAML
security:
  fs:
    audit_log: $D/audit.jsonl
  audit:
    enabled: false
  containers:
    c:
      secrets: { T: bench/t }
YAML
mkdir -p "$D/mnt"
"$B/harombefs" "$D/mnt" -o config="$D/h.yaml" 2>/dev/null
keeper=$(pgrep -f -x "$B/harombefs $D/mnt -o config=$D/h.yaml")
cat "$D/mnt/c/env" > "$D/expect"

# The reader: the time of every good read, in one file per run.
python3 - "$D/mnt/c/env" "$D/expect" "$D/stop" "$D/times" <<'PY' &
import os, sys, time
path, expect, stop, out = sys.argv[1:]
want = open(expect, "rb").read()
times, bad = [], 0
while not os.path.exists(stop):
    try:
        with open(path, "rb") as f:
            ok = f.read() == want
    except OSError:
        ok = False
    if ok:
        times.append(time.monotonic())
    else:
        bad += 1
with open(out, "w") as f:
    f.write("%d\n" % bad)
    f.write("\n".join("%.6f" % t for t in times) + "\n")
PY
reader=$!
sleep 0.5
: > "$D/kills"
for _ in $(seq "$KILLS"); do
	s=$(pgrep -P "$keeper")
	# the monotonic clock right after the kill: the next good read is the
	# new daemon's
	python3 -c 'import os, sys, time; os.kill(int(sys.argv[1]), 9); print("%.6f" % time.monotonic())' \
		"$s" >> "$D/kills"
	sleep 11	# past KEEPER_STABLE_MS: every restart is immediate
done
touch "$D/stop"
wait "$reader"
python3 - "$D/times" "$D/kills" "$KILLS" <<'PY'
import bisect, statistics, sys
lines = open(sys.argv[1]).read().split()
bad, times = int(lines[0]), [float(t) for t in lines[1:]]
kills = [float(t) for t in open(sys.argv[2]).read().split()]
if bad:
    sys.exit("the reader saw %d failed reads" % bad)
waits = []
for k in kills:
    i = bisect.bisect_right(times, k)
    waits.append((times[i] - k) * 1000)
stalls = sorted(((b - a) * 1000 for a, b in zip(times, times[1:])), reverse=True)
print("## Restart: what a reader waits when the daemon dies\n")
print("kill -9 of the daemon %d times under a reader doing open+read+close in a loop "
      "(%d good reads, none failed); the keeper starts a new daemon on the same "
      "connection.\n" % (len(kills), len(times)))
print("| | median | max |")
print("|---|---|---|")
print("| kill -9 done to the next good read | %.1f ms | %.1f ms |" % (statistics.median(waits), max(waits)))
print("| the reader's %d longest stalls (last read before, first after) | %.1f ms | %.1f ms |"
      % (len(kills), statistics.median(stalls[:len(kills)]), stalls[0]))
print("| the reader's other reads: open+read+close | %.3f ms | %.1f ms |"
      % (statistics.median(stalls[len(kills):]), stalls[len(kills)]))
PY
